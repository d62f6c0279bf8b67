package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// maxBodyBytes bounds every JSON request body.
const maxBodyBytes = 64 << 10

// decodeBody reads exactly one JSON value of type T from the request body.
// See decodeJSON for what it refuses.
func decodeBody[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return v, registry.FieldErrorf(registry.EUNSUPPORTED, "Content-Type", "Send the body as application/json.")
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return v, registry.Errorf(registry.ETOOLARGE, "The body is larger than %d bytes.", maxErr.Limit)
		}
		return v, registry.Errorf(registry.EMALFORMED, "The body could not be read.")
	}
	return v, decodeJSON(raw, &v)
}

// decodeJSON decodes exactly one JSON value into v, strictly: it refuses
// unknown fields, field names that differ from the declared ones in case,
// a field given twice, invalid UTF-8 and lone surrogates (which a lenient
// decoder would silently replace with U+FFFD), trailing data and wrong
// types. Each error is an application error that names the field where one
// applies, in the form "payment.amount" or "doses[2].date".
func decodeJSON(raw []byte, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return registry.Errorf(registry.EMALFORMED, "The body is empty.")
	}
	err := jsonv2.Unmarshal(raw, v, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var (
		synErr *jsontext.SyntacticError
		semErr *jsonv2.SemanticError
		appErr *registry.Error
	)
	switch {
	case errors.As(err, &synErr):
		field := fieldOf(synErr.JSONPointer)
		switch {
		case errors.Is(err, jsontext.ErrDuplicateName):
			return registry.FieldErrorf(registry.EINVALID, field, "The field is given twice.")
		case strings.Contains(synErr.Err.Error(), "UTF-8"), strings.Contains(synErr.Err.Error(), "surrogate"):
			return registry.FieldErrorf(registry.EINVALID, fieldOr(field, "body"), "The text is not valid UTF-8.")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return registry.Errorf(registry.EMALFORMED, "The body ends in the middle of a JSON value.")
		case strings.Contains(synErr.Err.Error(), "after top-level value"):
			return registry.Errorf(registry.EMALFORMED, "The body must hold a single JSON value.")
		}
		return registry.Errorf(registry.EMALFORMED, "Malformed JSON at byte %d.", synErr.ByteOffset)
	case errors.As(err, &appErr):
		if appErr.Field == "" && errors.As(err, &semErr) {
			return &registry.Error{Code: appErr.Code, Message: appErr.Message, Field: fieldOf(semErr.JSONPointer)}
		}
		return appErr
	case errors.As(err, &semErr):
		field := fieldOr(fieldOf(semErr.JSONPointer), "body")
		if errors.Is(err, jsonv2.ErrUnknownName) {
			return registry.FieldErrorf(registry.EINVALID, field, "Unknown field.")
		}
		if semErr.GoType != nil && semErr.JSONKind != 0 {
			return registry.FieldErrorf(registry.EINVALID, field, "Expected %s, got %s.", typeName(semErr.GoType.String()), semErr.JSONKind)
		}
		return registry.FieldErrorf(registry.EINVALID, field, "Invalid value.")
	}
	return registry.Errorf(registry.EMALFORMED, "The body is not valid JSON.")
}

// typeName is a Go type as a client reads it.
func typeName(t string) string {
	switch {
	case strings.Contains(t, "int"), strings.Contains(t, "float"):
		return "a number"
	case t == "string", strings.HasSuffix(t, "Date"):
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	}
	return "an object"
}

// fieldOf turns a JSON pointer such as /doses/2/date into the field name
// doses[2].date.
func fieldOf(p jsontext.Pointer) string {
	var b strings.Builder
	for _, tok := range strings.Split(string(p), "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func fieldOr(f, def string) string {
	if f == "" {
		return def
	}
	return f
}

// Encode writes v as JSON with the given status.
func Encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the client may have gone; nothing to do about it
}

// errorBody is the error shape every API error uses.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// Error writes err in the API's error shape, with the status its code maps
// to (httpx.StatusOf). Internal errors are logged with the request ID and
// shown only as "Internal error." with that ID to quote, never their detail.
func (h *API) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := registry.ErrorCode(err)
	var body errorBody
	body.Error.Code = code
	body.Error.Message = registry.ErrorMessage(err)
	body.Error.Field = registry.ErrorField(err)
	if code == registry.EINTERNAL {
		// The detail goes to the log under the request ID; the caller gets
		// the ID to quote, never the detail.
		id := httpx.RequestID(r.Context())
		h.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", id), slog.String("route", r.Pattern), slog.String("error", err.Error()))
		body.Error.Message = "Internal error. Reference: " + id
		body.Error.Field = ""
	}
	switch code {
	case registry.EUNAUTHORIZED:
		w.Header().Set("WWW-Authenticate", `Bearer realm="haven"`)
	case registry.EUNAVAILABLE:
		w.Header().Set("Retry-After", "5")
	case registry.ERATELIMITED:
		w.Header().Set("Retry-After", "30")
	}
	status := httpx.StatusOf(code)
	if code == registry.EUNSUPPORTED && body.Error.Field != "Content-Type" {
		status = http.StatusUnprocessableEntity // understood, but Haven does not do it
	}
	Encode(w, status, body)
}
