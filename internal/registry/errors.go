package registry

import (
	"errors"
	"fmt"
)

// Application error codes. They are stable: clients and tests match on them, and
// the HTTP layer maps each one to a status code at the edge.
const (
	EINTERNAL     = "internal"     // a fault inside Haven; details are logged, never shown
	EINVALID      = "invalid"      // the input was understood but is not acceptable
	EMALFORMED    = "malformed"    // the input could not be parsed
	ENOTFOUND     = "not_found"    // the thing asked for does not exist, or the caller may not see it
	ECONFLICT     = "conflict"     // the request clashes with the current state
	EUNAUTHORIZED = "unauthorized" // no valid credentials were given
	EFORBIDDEN    = "forbidden"    // the credentials do not allow this action
	ETOOLARGE     = "too_large"    // the input exceeds a size limit
	ERATELIMITED  = "rate_limited" // too many requests; retry later
	ESEALED       = "sealed"       // the vault is sealed; nothing can be served until it is unlocked
	EUNAVAILABLE  = "unavailable"  // a dependency is not ready
	EUNSUPPORTED  = "unsupported"  // the request asks for something Haven does not do
	ESTALESCHEMA  = "stale_schema" // the database schema is older than this binary; run haven migrate
	EIDEMPOTENCY  = "idempotency"  // an Idempotency-Key was reused with a different request
	EDISKFULL     = "disk_full"    // the disk is full: nothing was saved
)

// Error is Haven's application error. Code is one of the E* constants, Message
// is safe to show to the caller, and Field, when set, names the input field or
// processing step that failed (for example "doses[2].date" or "cose").
type Error struct {
	Code    string
	Message string
	Field   string
	Err     error // optional cause, never shown to callers
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Field != "" {
		s = e.Code + ": " + e.Field + ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error that names the failing field or step.
func FieldErrorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode unwraps an application error and returns its code. Errors that are
// not application errors return EINTERNAL; nil returns "".
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorField returns the field named by an application error, or "".
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorMessage returns the caller-safe message of an application error.
// Internal errors (EINTERNAL, and errors that are not application errors)
// return a generic message, whatever their own message says, so that
// internal details never reach a caller: they belong in the log.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error."
}
