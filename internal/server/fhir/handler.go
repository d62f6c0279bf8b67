package fhir

import (
	"bytes"
	"context"
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

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// Body limits: a created Immunization is small; an $immds-forecast request
// carries a whole history.
const (
	maxResourceBytes   = 64 << 10
	maxParametersBytes = 512 << 10
)

// History and HistoryDose are the clinic's: a given history, stored
// nowhere.
type (
	History     = clinic.History
	HistoryDose = clinic.HistoryDose
)

// Evaluator evaluates a history with the server's schedule and forecasts it,
// storing nothing: the clinic action behind $immds-forecast. It returns
// EINVALID naming birth_date, as_of, doses[i].date or doses[i].cvx.
type Evaluator interface {
	EvaluateHistory(ctx context.Context, a clinic.Actor, h History) (*clinic.Forecast, error)
}

// Options configure a Handler.
type Options struct {
	// Logger receives internal errors (nil: discarded).
	Logger *slog.Logger
	// Evaluator serves $immds-forecast; without one the operation answers
	// unavailable.
	Evaluator Evaluator
	// BaseURL is the service base URL that fullUrl, Location and the
	// CapabilityStatement use, for example "https://haven.example/fhir/r4".
	// Empty means the request's own scheme and host followed by /fhir/r4
	// (set it behind a proxy that terminates TLS).
	BaseURL string
}

// Handler holds the FHIR API's handlers. Create it with New.
type Handler struct {
	svc    *clinic.Service
	eval   Evaluator
	logger *slog.Logger
	base   string
}

// New returns the FHIR handlers on svc.
func New(svc *clinic.Service, opt Options) *Handler {
	h := &Handler{svc: svc, eval: opt.Evaluator, logger: opt.Logger, base: strings.TrimSuffix(opt.BaseURL, "/")}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	return h
}

// Prefix is the path under which the API is served.
const Prefix = "/fhir/r4"

// baseURL is the service base URL for r.
func (h *Handler) baseURL(r *http.Request) string {
	if h.base != "" {
		return h.base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Prefix
}

// handle adapts a FHIR handler that returns an error: the answer's format is
// checked first (406 when the client accepts no JSON), the handler gets the
// request's actor, and an error is written as an OperationOutcome.
func (h *Handler) handle(fn func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkFormat(r)
		if err == nil {
			err = fn(w, r, httpx.ActorOf(r.Context()))
		}
		if err != nil {
			h.Error(w, r, err)
		}
	})
}

// checkFormat refuses a request whose _format or Accept asks for anything
// but JSON: Haven speaks FHIR JSON only.
func checkFormat(r *http.Request) error {
	if f := r.URL.Query().Get("_format"); f != "" {
		switch f {
		case "json", "application/json", "application/fhir+json", "application/json+fhir":
		default:
			return registry.FieldErrorf(registry.EUNSUPPORTED, "http._format", "Haven answers in FHIR JSON only (_format=json).")
		}
		return nil
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		switch mt {
		case "application/fhir+json", "application/json", "application/json+fhir", "application/*", "*/*":
			return nil
		}
	}
	return registry.FieldErrorf(registry.EUNSUPPORTED, "http.Accept", "Haven answers in application/fhir+json only.")
}

// contentType is the Content-Type of an answer to r: application/json for a
// client that asked for it and not for FHIR's own type, otherwise
// application/fhir+json.
func contentType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if f := r.URL.Query().Get("_format"); f == "application/json" ||
		(f == "" && strings.Contains(accept, "application/json") && !strings.Contains(accept, "fhir")) {
		return "application/json; charset=utf-8"
	}
	return "application/fhir+json; charset=utf-8"
}

// write encodes v with the given status.
func write(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", contentType(r))
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the client may have gone; nothing to do about it
}

// issueCode maps Haven's error codes to the FHIR issue-type codes.
func issueCode(code string) string {
	switch code {
	case registry.EINVALID:
		return "invalid"
	case registry.EMALFORMED:
		return "structure"
	case registry.ENOTFOUND:
		return "not-found"
	case registry.EFORBIDDEN:
		return "forbidden"
	case registry.EUNAUTHORIZED:
		return "login"
	case registry.ERATELIMITED:
		return "throttled"
	case registry.ECONFLICT, registry.EIDEMPOTENCY:
		return "conflict"
	case registry.EUNAVAILABLE, registry.ESEALED, registry.ESTALESCHEMA:
		return "transient"
	case registry.ETOOLARGE:
		return "too-long"
	case registry.EUNSUPPORTED:
		return "not-supported"
	}
	return "exception"
}

// statusOf is the HTTP status of an error: the JSON API's (httpx.StatusOf),
// except that what Haven does not do answers 406 for Accept, 415 for
// Content-Type, 400 for a search parameter and 422 for a resource's element.
func statusOf(code, field string) int {
	if code == registry.EUNSUPPORTED {
		switch {
		case field == "http.Accept" || field == "http._format":
			return http.StatusNotAcceptable
		case field == "http.Content-Type":
			return http.StatusUnsupportedMediaType
		case strings.HasPrefix(field, "http."):
			return http.StatusBadRequest
		}
		return http.StatusUnprocessableEntity
	}
	return httpx.StatusOf(code)
}

// Error writes err as an OperationOutcome with the status its code maps to.
// The field an error names becomes the issue's expression (a FHIRPath into
// the resource sent), or its location when it is an HTTP parameter or
// header ("http." and its name, as FHIR says). Internal errors are logged
// with the request ID and shown only with that ID to quote, never their
// detail. The server's middleware uses it for the /fhir/r4/ routes.
func (h *Handler) Error(w http.ResponseWriter, r *http.Request, err error) {
	code := registry.ErrorCode(err)
	field := registry.ErrorField(err)
	issue := Issue{Severity: "error", Code: issueCode(code), Diagnostics: registry.ErrorMessage(err)}
	switch {
	case code == registry.EINTERNAL:
		id := httpx.RequestID(r.Context())
		h.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("request_id", id), slog.String("route", r.Pattern), slog.String("error", err.Error()))
		issue.Diagnostics = "Internal error. Reference: " + id
		field = ""
	case field == "Authorization" || field == "Content-Type" || field == "Idempotency-Key" || field == "If-None-Exist":
		field = "http." + field
	}
	if strings.HasPrefix(field, "http.") {
		issue.Location = []string{field}
	} else if field != "" {
		issue.Expression = []string{field}
	}
	switch code {
	case registry.EUNAUTHORIZED:
		w.Header().Set("WWW-Authenticate", `Bearer realm="haven"`)
	case registry.EUNAVAILABLE:
		w.Header().Set("Retry-After", "5")
	case registry.ERATELIMITED:
		w.Header().Set("Retry-After", "30")
	}
	if code == registry.EINTERNAL {
		issue.Severity = "fatal"
	}
	write(w, r, statusOf(code, field), OperationOutcome{ResourceType: "OperationOutcome", Issue: []Issue{issue}})
}

// NotFound answers a path under /fhir/r4/ that no route serves.
func (h *Handler) NotFound() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		return registry.Errorf(registry.ENOTFOUND, "Haven's FHIR API does not serve this; see %s/metadata.", Prefix)
	})
}

// fields maps the field names of Haven's errors to FHIR paths.
type fields map[string]string

// fhirError returns err with its field renamed by m: a Haven field name
// becomes the FHIRPath or "http." location of the request that caused it.
// A field m does not name is kept as it is.
func (m fields) fhirError(err error) error {
	var e *registry.Error
	if err == nil || !errors.As(err, &e) || e.Field == "" {
		return err
	}
	to, ok := m[e.Field]
	if !ok {
		for prefix, p := range m {
			// payment.amount and the like: the whole group maps to one path.
			if strings.HasSuffix(prefix, ".*") && strings.HasPrefix(e.Field, strings.TrimSuffix(prefix, "*")) {
				to, ok = p, true
			}
		}
	}
	if !ok {
		return err
	}
	return &registry.Error{Code: e.Code, Message: e.Message, Field: to, Err: e.Err}
}

// readBody reads a FHIR JSON request body of at most limit bytes. The
// Content-Type, when given, must be FHIR JSON or JSON.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/fhir+json" && mt != "application/json" && mt != "application/json+fhir") {
			return nil, registry.FieldErrorf(registry.EUNSUPPORTED, "http.Content-Type", "Send the body as application/fhir+json.")
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, registry.Errorf(registry.ETOOLARGE, "The body is larger than %d bytes.", maxErr.Limit)
		}
		return nil, registry.Errorf(registry.EMALFORMED, "The body could not be read.")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, registry.Errorf(registry.EMALFORMED, "The body is empty.")
	}
	return raw, nil
}

// decodeResource decodes one JSON value into v. It refuses invalid UTF-8,
// lone surrogates, a name given twice and trailing data, and with strict an
// element v does not declare. root names the resource in the FHIRPath of an
// error ("Immunization.vaccineCode.coding[0].system").
func decodeResource(raw []byte, v any, root string, strict bool) error {
	err := jsonv2.Unmarshal(raw, v, jsonv2.RejectUnknownMembers(strict))
	if err == nil {
		return nil
	}
	var (
		synErr *jsontext.SyntacticError
		semErr *jsonv2.SemanticError
	)
	switch {
	case errors.As(err, &synErr):
		path := fhirPath(root, synErr.JSONPointer)
		msg := synErr.Err.Error()
		switch {
		case errors.Is(err, jsontext.ErrDuplicateName):
			return registry.FieldErrorf(registry.EINVALID, path, "The element is given twice.")
		case strings.Contains(msg, "UTF-8"), strings.Contains(msg, "surrogate"):
			return registry.FieldErrorf(registry.EINVALID, path, "The text is not valid UTF-8.")
		case strings.Contains(msg, "after top-level value"):
			return registry.Errorf(registry.EMALFORMED, "The body must hold a single JSON value.")
		}
		return registry.Errorf(registry.EMALFORMED, "Malformed JSON at byte %d.", synErr.ByteOffset)
	case errors.As(err, &semErr):
		path := fhirPath(root, semErr.JSONPointer)
		if errors.Is(err, jsonv2.ErrUnknownName) {
			return registry.FieldErrorf(registry.EINVALID, path, "Unknown element.")
		}
		if semErr.JSONKind != 0 {
			return registry.FieldErrorf(registry.EINVALID, path, "Unexpected JSON %s.", semErr.JSONKind)
		}
		return registry.FieldErrorf(registry.EINVALID, path, "Invalid value.")
	}
	return registry.Errorf(registry.EMALFORMED, "The body is not valid JSON.")
}

// fhirPath turns a JSON pointer such as /vaccineCode/coding/0/system into
// root.vaccineCode.coding[0].system.
func fhirPath(root string, p jsontext.Pointer) string {
	var b strings.Builder
	b.WriteString(root)
	for _, tok := range strings.Split(string(p), "/")[1:] {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		b.WriteString("." + tok)
	}
	return b.String()
}
