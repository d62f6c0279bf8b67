package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
)

// maxBodyBytes bounds every JSON request body.
const maxBodyBytes = 64 << 10

// decodeBody reads exactly one JSON value of type T from the request body
// and also returns the raw body (for idempotency hashing). It rejects unknown
// fields, trailing data, wrong types and bodies over maxBodyBytes, each with
// an error that names the field where one applies.
func decodeBody[T any](w http.ResponseWriter, r *http.Request) (T, []byte, error) {
	var v T
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return v, nil, registry.FieldErrorf(registry.EUNSUPPORTED, "Content-Type", "Send the body as application/json.")
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return v, nil, jsonError(err)
	}
	err = decodeJSON(bytes.NewReader(raw), &v)
	return v, raw, err
}

// decodeJSON is decode without the HTTP parts, shared with the fuzz tests.
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return jsonError(err)
		}
		return registry.Errorf(registry.EMALFORMED, "The body must hold a single JSON value.")
	}
	return nil
}

// jsonError turns an encoding/json error into an application error that names
// the offending field.
func jsonError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
		appErr    *registry.Error
	)
	switch {
	case errors.As(err, &maxErr):
		return registry.Errorf(registry.ETOOLARGE, "The body is larger than %d bytes.", maxErr.Limit)
	case errors.As(err, &appErr):
		return err
	case errors.As(err, &syntaxErr):
		return registry.Errorf(registry.EMALFORMED, "Malformed JSON at byte %d.", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return registry.FieldErrorf(registry.EINVALID, field, "Expected %s, got %s.", typeErr.Type, typeErr.Value)
	case errors.Is(err, io.EOF):
		return registry.Errorf(registry.EMALFORMED, "The body is empty.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return registry.Errorf(registry.EMALFORMED, "The body ends in the middle of a JSON value.")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return registry.FieldErrorf(registry.EINVALID, strings.Trim(name, `"`), "Unknown field.")
	}
	// Errors from UnmarshalText/UnmarshalJSON of field types.
	return &registry.Error{Code: registry.EINVALID, Message: "Invalid JSON value: " + err.Error()}
}

// encode writes v as JSON with the given status.
func encode(w http.ResponseWriter, status int, v any) {
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

// statusOf maps an application error code to an HTTP status.
func statusOf(code string) int {
	switch code {
	case registry.EINVALID, registry.EIDEMPOTENCY:
		return http.StatusUnprocessableEntity
	case registry.EMALFORMED:
		return http.StatusBadRequest
	case registry.ENOTFOUND:
		return http.StatusNotFound
	case registry.ECONFLICT:
		return http.StatusConflict
	case registry.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case registry.EFORBIDDEN:
		return http.StatusForbidden
	case registry.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case registry.ERATELIMITED:
		return http.StatusTooManyRequests
	case registry.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case registry.ESEALED, registry.EUNAVAILABLE, registry.ESTALESCHEMA:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError writes err in the API's error shape. Internal errors are logged
// with the request ID and shown only as a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := registry.ErrorCode(err)
	var body errorBody
	body.Error.Code = code
	body.Error.Message = registry.ErrorMessage(err)
	body.Error.Field = registry.ErrorField(err)
	if code == registry.EINTERNAL {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", requestID(r.Context())), slog.String("route", r.Pattern),
			slog.String("error", err.Error()))
	}
	if code == registry.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="haven"`)
	}
	status := statusOf(code)
	if code == registry.EUNSUPPORTED && body.Error.Field != "Content-Type" {
		status = http.StatusUnprocessableEntity // understood, but Haven does not do it
	}
	encode(w, status, body)
}

func fieldErr(field, format string, args ...any) error {
	return registry.FieldErrorf(registry.EINVALID, field, format, args...)
}
