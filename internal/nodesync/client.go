// Package nodesync is the offline clinic node's side of sync with the
// central registry (docs/adr/0006-offline-clinic-nodes.md): Client speaks
// the sync routes over HTTPS, and Syncer runs the loop that enrols the
// node, pushes its outbox and pulls the central's feed, through the Local
// the clinic actions implement.
package nodesync

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/haven-registry/haven/internal/mllp"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// Config is what a node needs to reach the central.
type Config struct {
	// Upstream is the central's base URL (--upstream), https://, or
	// http:// to a loopback address only. A path is kept as a prefix of
	// the routes.
	Upstream string
	// Token is the node token (HAVEN_UPSTREAM_TOKEN, then the vault),
	// sent as "Authorization: Bearer <token>".
	Token string
	// CAFile (--upstream-ca) is a PEM file of CA certificates the central's
	// chain must lead to; Pin (--upstream-pin) is the SHA-256 of its key
	// (see mllp.ClientTLS). With neither, the system's roots are used.
	CAFile string
	Pin    string
	// HTTPClient replaces the client NewClient builds (tests); its TLS
	// settings are then its own, and CAFile and Pin are not used.
	HTTPClient *http.Client
	// Logger gets a debug line per request (nil: discarded).
	Logger *slog.Logger
	// Now is the node's clock (nil: time.Now), for Retry-After dates.
	Now func() time.Time
}

// Client calls the central's sync routes as one node. It is safe for
// concurrent use. Every method returns ctx's error when ctx ends first,
// and otherwise fails with an *Error.
type Client struct {
	base   string // scheme://host[:port][/prefix], without a trailing slash
	host   string // host[:port], for messages
	token  string
	hc     *http.Client
	logger *slog.Logger
	now    func() time.Time
}

// Codes of Error: stable, for translation and for the Syncer's decisions.
const (
	CodeUnreachable  = "unreachable"  // no connection: dial, DNS, timeout, connection lost
	CodeTLS          = "tls"          // the central's certificate is not trusted
	CodeUnauthorized = "unauthorized" // 401: the token is revoked or unknown
	CodeForbidden    = "forbidden"    // 403: the central refuses this node (bound to another token)
	CodeTooLarge     = "too_large"    // 413: the body was too large
	CodeBusy         = "busy"         // 429, or 503 with Retry-After: come back after RetryAfter
	CodeServer       = "server"       // 5xx: the central failed
	CodeProtocol     = "protocol"     // an answer this node cannot use (not Haven, another version, malformed)
	CodeBehind       = "behind"       // 409 sync_behind: the central lost acknowledged events
	CodeNotFound     = "not_found"    // 404 from Haven: the card looked up is not at the central
)

// Error is a failed exchange with the central. Message is one line, safe to
// show (it holds no personal data and no token), and names what to check.
type Error struct {
	Code    string // one of the Code* constants
	Message string
	// RetryAfter is the wait the central asked for (busy); zero otherwise.
	RetryAfter time.Duration
	// Status is the HTTP status, or 0 when there was no answer.
	Status int

	cause error // the transport's error or the decoder's, for the log
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying transport or decoding error, if any.
func (e *Error) Unwrap() error { return e.cause }

// ErrorCode returns the Code of an *Error in err's chain, or "".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// DefaultPullLimit is the page size a node asks for.
const DefaultPullLimit = 1000

// Limits on answers read into memory.
const (
	maxJSONAnswer  = syncwire.MaxDecompressed // hello, push, lookup answers and the trust list
	maxErrorAnswer = 64 << 10
)

const userAgent = "haven-node (" + syncwire.Format + ")"

// NewClient checks cfg and returns a client. It refuses an Upstream that is
// not an absolute http(s) URL, that carries a user, query or fragment, or
// that is http:// to a host other than a loopback address (127.0.0.0/8,
// ::1, localhost); CAFile or Pin with http://; an unreadable CAFile; a
// malformed Pin; and an empty token. Each error is one line naming the
// flag. TLS is 1.2 at least, verified against CAFile, the Pin, or both, or
// the system's roots (mllp.ClientTLS). Redirects are not followed.
func NewClient(cfg Config) (*Client, error) {
	raw := strings.TrimSpace(cfg.Upstream)
	if raw == "" {
		return nil, errors.New("--upstream is empty: give the central's URL, such as https://central.example")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("--upstream %q is not an https:// URL, such as https://central.example", clipLine(raw))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--upstream %q: give the central's URL without a user, password, query or fragment", clipLine(u.Redacted()))
	}
	if u.Scheme == "http" {
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("--upstream %s: plain http:// is allowed only to this computer (127.0.0.1, ::1, localhost); use https://", u.Redacted())
		}
		if cfg.CAFile != "" || cfg.Pin != "" {
			return nil, fmt.Errorf("--upstream-ca and --upstream-pin need an https:// --upstream, not %s", u.Redacted())
		}
	}
	if cfg.Token == "" {
		return nil, errors.New("no token for --upstream: set HAVEN_UPSTREAM_TOKEN to a node token made at the central (haven token create --role node)")
	}
	for _, r := range cfg.Token {
		if r <= ' ' || r > '~' {
			return nil, errors.New("the token for --upstream holds spaces or characters a token cannot")
		}
	}
	c := &Client{
		base:   strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		host:   u.Host,
		token:  cfg.Token,
		logger: cfg.Logger,
		now:    cfg.Now,
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		hc.CheckRedirect = noRedirect
		c.hc = &hc
		return c, nil
	}
	tc, err := clientTLS(cfg.CAFile, cfg.Pin)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 15 * time.Second
	tr.ResponseHeaderTimeout = 2 * time.Minute
	tr.MaxIdleConnsPerHost = 2
	c.hc = &http.Client{Transport: tr, Timeout: 5 * time.Minute, CheckRedirect: noRedirect}
	return c, nil
}

// clientTLS is mllp.ClientTLS with errors naming the flags, and a failed
// pin marked as a trust failure.
func clientTLS(caFile, pin string) (*tls.Config, error) {
	if caFile != "" {
		if _, err := mllp.ClientTLS(caFile, "", "", ""); err != nil {
			return nil, fmt.Errorf("--upstream-ca: %s", clipLine(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "mllp: "), "server CA: ")))
		}
	}
	tc, err := mllp.ClientTLS(caFile, pin, "", "")
	if err != nil {
		return nil, fmt.Errorf("--upstream-pin: %s", clipLine(strings.TrimPrefix(err.Error(), "mllp: ")))
	}
	if verify := tc.VerifyConnection; verify != nil {
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := verify(cs); err != nil {
				return &untrustedError{err}
			}
			return nil
		}
	}
	return tc, nil
}

// untrustedError is a certificate that matched no pin.
type untrustedError struct{ err error }

func (e *untrustedError) Error() string { return e.err.Error() }
func (e *untrustedError) Unwrap() error { return e.err }

// isLoopback reports whether host names this computer: localhost, or an
// address in 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if h := strings.TrimSuffix(strings.ToLower(host), "."); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Upstream returns the central's base URL, as the routes are joined to it.
func (c *Client) Upstream() string { return c.base }

// Hello sends the node's hello (POST /api/v1/sync/hello) and returns the
// central's answer.
func (c *Client) Hello(ctx context.Context, h *syncwire.Hello) (*syncwire.HelloAnswer, error) {
	body, err := json.Marshal(h)
	if err != nil {
		return nil, &Error{Code: CodeProtocol, Message: "the hello could not be encoded", cause: err}
	}
	var ans syncwire.HelloAnswer
	if err := c.jsonCall(ctx, http.MethodPost, "/api/v1/sync/hello", body, "application/json", "", &ans); err != nil {
		return nil, err
	}
	return &ans, nil
}

// Push sends a push body made by syncwire.EncodePush (POST
// /api/v1/sync/push, application/x-ndjson, Content-Encoding gzip) and
// returns the central's answer.
func (c *Client) Push(ctx context.Context, body []byte) (*syncwire.PushAnswer, error) {
	var ans syncwire.PushAnswer
	if err := c.jsonCall(ctx, http.MethodPost, "/api/v1/sync/push", body, "application/x-ndjson", "gzip", &ans); err != nil {
		return nil, err
	}
	return &ans, nil
}

// Pull fetches the feed page after the cursor after, of at most limit
// events (DefaultPullLimit when limit ≤ 0): GET /api/v1/sync/pull. The
// page is decoded with syncwire.DecodePull and must answer the request:
// its Header.After is after, and a page with More set has events.
func (c *Client) Pull(ctx context.Context, after int64, limit int) (*syncwire.PullPage, error) {
	p, _, err := c.pull(ctx, after, limit)
	return p, err
}

// pull is Pull, also returning the compressed bytes read.
func (c *Client) pull(ctx context.Context, after int64, limit int) (*syncwire.PullPage, int64, error) {
	if limit <= 0 {
		limit = DefaultPullLimit
	}
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
	path := "/api/v1/sync/pull"
	resp, err := c.do(ctx, http.MethodGet, path+"?"+q.Encode(), nil, "", "", "application/x-ndjson")
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if err := checkType(resp, "application/x-ndjson", path); err != nil {
		return nil, 0, err
	}
	cr := &countReader{r: resp.Body}
	page, err := syncwire.DecodePull(cr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, cr.n, ctx.Err()
		}
		var appErr *registry.Error
		var netErr net.Error
		if errors.As(err, &appErr) && appErr.Err != nil && (errors.As(appErr.Err, &netErr) || errors.Is(appErr.Err, syscall.ECONNRESET)) {
			return nil, cr.n, c.transportError(appErr.Err) // the connection broke mid-page
		}
		return nil, cr.n, &Error{Code: CodeProtocol, Status: resp.StatusCode, cause: err,
			Message: "the central's pull page is malformed: " + clipLine(err.Error())}
	}
	switch {
	case page.Header.After != after:
		return nil, cr.n, &Error{Code: CodeProtocol, Status: resp.StatusCode,
			Message: fmt.Sprintf("the central's pull page starts after %d, not after %d as asked", page.Header.After, after)}
	case page.Header.More && len(page.Events) == 0:
		return nil, cr.n, &Error{Code: CodeProtocol, Status: resp.StatusCode,
			Message: "the central's pull page says there is more but holds no events"}
	}
	return page, cr.n, nil
}

// Lookup asks the central for a card registered at another clinic (GET
// /api/v1/sync/persons/{card}?purpose=). A card the central does not hold
// fails with CodeNotFound.
func (c *Client) Lookup(ctx context.Context, card, purpose string) (*syncwire.LookupAnswer, error) {
	path := "/api/v1/sync/persons/" + url.PathEscape(card) + "?" + url.Values{"purpose": {purpose}}.Encode()
	var ans syncwire.LookupAnswer
	if err := c.jsonCall(ctx, http.MethodGet, path, nil, "", "", &ans); err != nil {
		return nil, err
	}
	return &ans, nil
}

// Policies fetches the central's policy packs (GET /api/v1/sync/policies)
// and checks that their content matches the version they claim.
func (c *Client) Policies(ctx context.Context) (*syncwire.PolicyBundle, error) {
	var b syncwire.PolicyBundle
	if err := c.jsonCall(ctx, http.MethodGet, "/api/v1/sync/policies", nil, "", "", &b); err != nil {
		return nil, err
	}
	if got := syncwire.PolicyVersion(b.Files); got != b.Version {
		return nil, &Error{Code: CodeProtocol, Message: "the central's policy packs do not match their version"}
	}
	return &b, nil
}

// Trust fetches the central's trust list (GET /api/v1/sync/trust), as
// the bytes it sent.
func (c *Client) Trust(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/sync/trust", nil, "", "", "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := readAll(resp.Body, maxJSONAnswer)
	if err != nil {
		return nil, c.bodyError(ctx, resp, "/api/v1/sync/trust", err)
	}
	return b, nil
}

// jsonCall makes a request and decodes a JSON answer into out. Unknown
// fields in the answer are ignored, so a newer central can add some.
func (c *Client) jsonCall(ctx context.Context, method, path string, body []byte, contentType, encoding string, out any) error {
	resp, err := c.do(ctx, method, path, body, contentType, encoding, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	route, _, _ := strings.Cut(path, "?")
	if err := checkType(resp, "application/json", route); err != nil {
		return err
	}
	b, err := readAll(resp.Body, maxJSONAnswer)
	if err != nil {
		return c.bodyError(ctx, resp, route, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &Error{Code: CodeProtocol, Status: resp.StatusCode, cause: err,
			Message: fmt.Sprintf("the central's answer to %s is not the JSON expected: %s", route, clipLine(err.Error()))}
	}
	return nil
}

// do sends one request and returns a 2xx response, whose body the caller
// closes; any other outcome is an *Error (or ctx's error).
func (c *Client) do(ctx context.Context, method, path string, body []byte, contentType, encoding, accept string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, &Error{Code: CodeProtocol, Message: "the request could not be made: " + clipLine(err.Error()), cause: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", userAgent)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	if accept == "application/x-ndjson" {
		// Asked for explicitly, gzip is not undone by the transport: the
		// page is decoded, and counted, as it came.
		req.Header.Set("Accept-Encoding", "gzip")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	route, _, _ := strings.Cut(path, "?")
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		e := c.transportError(err)
		c.logger.Debug("sync request failed", "method", method, "route", route, "code", e.Code, "error", err.Error())
		return nil, e
	}
	c.logger.Debug("sync request", "method", method, "route", route, "status", resp.StatusCode,
		"ms", time.Since(start).Milliseconds())
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, c.statusError(resp, route)
}

// transportError classifies an error of the connection.
func (c *Client) transportError(err error) *Error {
	var (
		untrusted   *untrustedError
		verifyErr   *tls.CertificateVerificationError
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalid     x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		dnsErr      *net.DNSError
		netErr      net.Error
		reason      string
		unreachable = Error{Code: CodeUnreachable, cause: err}
	)
	switch {
	case errors.As(err, &untrusted), errors.As(err, &verifyErr), errors.As(err, &unknownCA),
		errors.As(err, &hostErr), errors.As(err, &invalid):
		return &Error{Code: CodeTLS, cause: err,
			Message: "the central's TLS certificate is not trusted (check --upstream-ca or --upstream-pin)"}
	case errors.As(err, &alertErr):
		return &Error{Code: CodeTLS, cause: err,
			Message: fmt.Sprintf("the central at %s ended the TLS handshake (%s)", c.host, clipLine(alertErr.Error()))}
	case errors.As(err, &recordErr):
		return &Error{Code: CodeProtocol, cause: err,
			Message: fmt.Sprintf("the central at %s does not speak TLS: check the scheme of --upstream", c.host)}
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &Error{Code: CodeProtocol, cause: err,
			Message: fmt.Sprintf("the central at %s answers plain HTTP: check the scheme of --upstream", c.host)}
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "connection refused"
	case errors.As(err, &dnsErr):
		reason = "DNS lookup failed"
		if dnsErr.IsNotFound {
			reason = "no such host"
		}
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		reason = "connection reset"
	case errors.Is(err, syscall.ENETUNREACH):
		reason = "network unreachable"
	case errors.Is(err, syscall.EHOSTUNREACH):
		reason = "host unreachable"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		reason = "timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		reason = "connection closed"
	default:
		reason = innermost(err)
	}
	unreachable.Message = fmt.Sprintf("central unreachable: %s: %s", c.host, reason)
	return &unreachable
}

// innermost is the message of the innermost error of a chain, one line.
func innermost(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return clipLine(err.Error())
		}
		err = next
	}
}

// statusError classifies an answer that is not 2xx, with the server's
// message when it sent one in Haven's error shape.
func (c *Client) statusError(resp *http.Response, route string) *Error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if b, err := readAll(resp.Body, maxErrorAnswer); err == nil {
		_ = json.Unmarshal(b, &body) // not Haven's shape: no message to add
	}
	said := clipLine(body.Error.Message)
	if f := clipLine(body.Error.Field); said != "" && f != "" {
		said = f + ": " + said
	}
	with := func(s string) string {
		if said == "" {
			return s
		}
		return s + ": " + said
	}
	e := &Error{Status: resp.StatusCode}
	st := resp.StatusCode
	switch {
	case st == http.StatusUnauthorized:
		e.Code, e.Message = CodeUnauthorized, "token revoked or unknown: re-enrol this clinic"
	case st == http.StatusForbidden:
		e.Code, e.Message = CodeForbidden, with("the central refused this clinic")
	case st == http.StatusRequestEntityTooLarge:
		e.Code, e.Message = CodeTooLarge, with("the central refused the request as too large")
	case st == http.StatusConflict && body.Error.Code == "sync_behind":
		e.Code, e.Message = CodeBehind, with("the central lost events it had acknowledged (restored from a backup?); sending them again")
	case st == http.StatusNotFound && body.Error.Code == registry.ENOTFOUND:
		e.Code, e.Message = CodeNotFound, with("not found at the central")
	case st == http.StatusTooManyRequests, st == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		e.Code, e.Message = CodeBusy, with("the central is busy")
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
	case st >= 500:
		e.Code, e.Message = CodeServer, with(fmt.Sprintf("the central failed (HTTP %d)", st))
	case st >= 300 && st < 400:
		e.Code = CodeProtocol
		e.Message = fmt.Sprintf("the central redirects %s (HTTP %d): set --upstream to the URL it serves", route, st)
		if loc := resp.Header.Get("Location"); loc != "" {
			e.Message = fmt.Sprintf("the central redirects %s to %s: set --upstream to the URL it serves", route, clipLine(loc))
		}
	case st == http.StatusNotFound:
		e.Code, e.Message = CodeProtocol, fmt.Sprintf("the central has no %s (HTTP 404): is --upstream a Haven central that serves nodes?", route)
	default:
		e.Code, e.Message = CodeProtocol, with(fmt.Sprintf("the central refused %s (HTTP %d)", route, st))
	}
	return e
}

// maxRetryAfter bounds the wait a central may ask for.
const maxRetryAfter = time.Hour

// retryAfter reads a Retry-After header: seconds, or an HTTP date. A
// missing or unreadable value is zero; a long one is an hour.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(n, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// checkType refuses a 2xx answer whose Content-Type is set and is not want:
// a web page from a proxy or another server at --upstream.
func checkType(resp *http.Response, want, route string) error {
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == want {
		return nil
	}
	return &Error{Code: CodeProtocol, Status: resp.StatusCode,
		Message: fmt.Sprintf("the central answered %s with %s, not %s: is --upstream a Haven central?", route, clipLine(ct), want)}
}

// bodyError is the error of a failure to read a 2xx answer's body.
func (c *Client) bodyError(ctx context.Context, resp *http.Response, route string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, errTooLong) {
		return &Error{Code: CodeProtocol, Status: resp.StatusCode,
			Message: fmt.Sprintf("the central's answer to %s is larger than %d bytes", route, maxJSONAnswer)}
	}
	return c.transportError(err)
}

var errTooLong = errors.New("answer too long")

// readAll reads r to its end, failing with errTooLong past limit bytes.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errTooLong
	}
	return b, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// clipLine makes s one printable line of at most 200 bytes, for messages
// that quote what a server or a user gave.
func clipLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
