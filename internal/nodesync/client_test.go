package nodesync_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/nodesync"
	"github.com/haven-registry/haven/internal/syncwire"
	"github.com/haven-registry/haven/internal/testenv"
)

// wantClientErr checks that err is a *nodesync.Error with code and a
// one-line message holding each of parts.
func wantClientErr(t *testing.T, err error, code string, parts ...string) *nodesync.Error {
	t.Helper()
	var e *nodesync.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *nodesync.Error %s", err, err, code)
	}
	if e.Code != code {
		t.Errorf("code %s (%q), want %s", e.Code, e.Message, code)
	}
	if e.Message == "" || strings.ContainsAny(e.Message, "\r\n") {
		t.Errorf("message %q: want one line", e.Message)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("message %q does not say %q", e.Message, p)
		}
	}
	return e
}

func TestNewClientUpstream(t *testing.T) {
	for _, ok := range []string{
		"https://central.example", "https://central.example:8443/haven/", "http://127.0.0.1:8080", "http://127.8.9.10",
		"http://[::1]:8080", "http://localhost:8080", "http://LOCALHOST",
	} {
		c, err := nodesync.NewClient(nodesync.Config{Upstream: ok, Token: testToken})
		if err != nil {
			t.Errorf("%s: %v", ok, err)
			continue
		}
		if strings.HasSuffix(c.Upstream(), "/") {
			t.Errorf("%s: base %q ends in a slash", ok, c.Upstream())
		}
	}
	for _, tc := range []struct{ cfg nodesync.Config }{
		{nodesync.Config{Upstream: "http://central.example", Token: testToken}},
		{nodesync.Config{Upstream: "http://10.0.0.5:8080", Token: testToken}},
		{nodesync.Config{Upstream: "http://127.0.0.1.nip.io", Token: testToken}},
		{nodesync.Config{Upstream: "http://[::2]", Token: testToken}},
		{nodesync.Config{Upstream: "ftp://central.example", Token: testToken}},
		{nodesync.Config{Upstream: "central.example", Token: testToken}},
		{nodesync.Config{Upstream: "", Token: testToken}},
		{nodesync.Config{Upstream: "https://user:pw@central.example", Token: testToken}},
		{nodesync.Config{Upstream: "https://central.example/?x=1", Token: testToken}},
		{nodesync.Config{Upstream: "http://127.0.0.1", Token: testToken, Pin: strings.Repeat("ab", 32)}},
	} {
		_, err := nodesync.NewClient(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), "--upstream") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line naming --upstream", tc.cfg.Upstream, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	_, err := nodesync.NewClient(nodesync.Config{Upstream: "http://central.example", Token: testToken})
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Errorf("http:// to a remote host: %v, want advice to use https://", err)
	}
	for _, cfg := range []nodesync.Config{
		{Upstream: "https://central.example"},
		{Upstream: "https://central.example", Token: "two words"},
		{Upstream: "https://central.example", Token: testToken, CAFile: "/does/not/exist.pem"},
		{Upstream: "https://central.example", Token: testToken, Pin: "not-a-pin"},
	} {
		if _, err := nodesync.NewClient(cfg); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: error %v, want one line", cfg, err)
		}
	}
}

func TestClientTLS(t *testing.T) {
	c := newCentral(t)
	ts, ca := tlsServer(t, c)
	spki := sha256.Sum256(ts.Certificate().RawSubjectPublicKeyInfo)
	other := testenv.NewLoopbackTLS(t) // another key and CA
	otherPin := sha256.Sum256(other.Cert.Leaf.RawSubjectPublicKeyInfo)
	hello := &syncwire.Hello{Format: syncwire.Format, Node: "n"}

	for _, tc := range []struct {
		name     string
		ca, pin  string
		trusted  bool
		wantCode string
	}{
		{"CA file", ca, "", true, ""},
		{"pin", "", hex.EncodeToString(spki[:]), true, ""},
		{"CA and pin", ca, hex.EncodeToString(spki[:]), true, ""},
		{"pin mismatch", "", hex.EncodeToString(otherPin[:]), false, nodesync.CodeTLS},
		{"CA right, pin wrong", ca, hex.EncodeToString(otherPin[:]), false, nodesync.CodeTLS},
		{"other CA", other.CertFile, "", false, nodesync.CodeTLS},
		{"system roots", "", "", false, nodesync.CodeTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := nodesync.NewClient(nodesync.Config{Upstream: ts.URL, Token: testToken, CAFile: tc.ca, Pin: tc.pin})
			if err != nil {
				t.Fatal(err)
			}
			ans, err := cl.Hello(context.Background(), hello)
			if tc.trusted {
				if err != nil || ans.Node != "n" {
					t.Fatalf("hello: %+v, %v", ans, err)
				}
				return
			}
			e := wantClientErr(t, err, tc.wantCode)
			if want := "the central's TLS certificate is not trusted (check --upstream-ca or --upstream-pin)"; e.Message != want {
				t.Errorf("message %q, want %q", e.Message, want)
			}
			if errors.Unwrap(err) == nil {
				t.Error("no cause to log")
			}
		})
	}

	// https:// to a plain HTTP server.
	plain := httptest.NewServer(c)
	defer plain.Close()
	cl, err := nodesync.NewClient(nodesync.Config{Upstream: strings.Replace(plain.URL, "http://", "https://", 1), Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Hello(context.Background(), hello)
	wantClientErr(t, err, nodesync.CodeProtocol, "--upstream")
}

func TestClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cl, err := nodesync.NewClient(nodesync.Config{Upstream: "http://" + addr, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Hello(context.Background(), &syncwire.Hello{Format: syncwire.Format})
	e := wantClientErr(t, err, nodesync.CodeUnreachable)
	if want := "central unreachable: " + addr + ": connection refused"; e.Message != want {
		t.Errorf("message %q, want %q", e.Message, want)
	}
	if e.Status != 0 {
		t.Errorf("status %d without an answer", e.Status)
	}

	// A cancelled context is the context's error, not the central's.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cl.Pull(ctx, 0, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	// A central that does not answer in time.
	stall := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stall }))
	defer slow.Close()
	defer close(stall)
	cl, err = nodesync.NewClient(nodesync.Config{Upstream: slow.URL, Token: testToken, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Hello(context.Background(), &syncwire.Hello{})
	wantClientErr(t, err, nodesync.CodeUnreachable, "timed out")
}

func TestClientStatusErrors(t *testing.T) {
	type answer struct {
		status  int
		header  map[string]string
		body    string
		path    string // the route the call uses; "" for push
		code    string
		parts   []string
		retryIn time.Duration
	}
	haven := func(code, msg string) string {
		return fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, code, msg)
	}
	for _, tc := range []answer{
		{status: 401, body: haven("unauthorized", "Token revoked."), code: nodesync.CodeUnauthorized, parts: []string{"token revoked or unknown: re-enrol this clinic"}},
		{status: 403, body: haven("forbidden", "This node is bound to another token."), code: nodesync.CodeForbidden, parts: []string{"refused", "bound to another token"}},
		{status: 413, body: haven("too_large", "The body is larger than 1048576 bytes."), code: nodesync.CodeTooLarge, parts: []string{"too large", "1048576"}},
		{status: 429, header: map[string]string{"Retry-After": "30"}, body: haven("rate_limited", "Slow down."), code: nodesync.CodeBusy, parts: []string{"busy", "Slow down."}, retryIn: 30 * time.Second},
		{status: 503, header: map[string]string{"Retry-After": "7"}, code: nodesync.CodeBusy, parts: []string{"busy"}, retryIn: 7 * time.Second},
		{status: 503, header: map[string]string{"Retry-After": "99999"}, code: nodesync.CodeBusy, retryIn: time.Hour},
		{status: 503, code: nodesync.CodeServer, parts: []string{"HTTP 503"}},
		{status: 500, body: haven("internal", "Internal error. Reference: abc123"), code: nodesync.CodeServer, parts: []string{"HTTP 500", "abc123"}},
		{status: 502, body: "<html>Bad gateway\n</html>", code: nodesync.CodeServer, parts: []string{"HTTP 502"}},
		{status: 409, body: haven("sync_behind", "The central is behind this node."), code: nodesync.CodeBehind, parts: []string{"behind this node"}},
		{status: 409, body: haven("conflict", "Another push won."), code: nodesync.CodeProtocol, parts: []string{"HTTP 409", "Another push won."}},
		{status: 422, body: `{"error":{"code":"invalid","message":"Bad\nline.","field":"line 3.seq"}}`, code: nodesync.CodeProtocol, parts: []string{"HTTP 422", "line 3.seq: Bad line."}},
		{status: 404, body: "404 page not found", code: nodesync.CodeProtocol, parts: []string{"/api/v1/sync/push", "--upstream"}},
		{status: 302, header: map[string]string{"Location": "https://elsewhere.example/"}, code: nodesync.CodeProtocol, parts: []string{"https://elsewhere.example/", "--upstream"}},
		{status: 200, header: map[string]string{"Content-Type": "text/html"}, body: "<html></html>", code: nodesync.CodeProtocol, parts: []string{"text/html", "Haven"}},
		{status: 200, header: map[string]string{"Content-Type": "application/json"}, body: `{"applied_seq":"many"}`, code: nodesync.CodeProtocol, parts: []string{"JSON"}},
		{status: 404, path: "lookup", body: haven("not_found", "No person with this card."), code: nodesync.CodeNotFound, parts: []string{"No person with this card."}},
		{status: 200, path: "pull", header: map[string]string{"Content-Type": "application/x-ndjson"}, body: "not gzip", code: nodesync.CodeProtocol, parts: []string{"pull page is malformed", "gzip"}},
		{status: 200, path: "pull-wrong-after", header: map[string]string{"Content-Type": "application/x-ndjson"}, code: nodesync.CodeProtocol, parts: []string{"after 3", "after 5"}},
	} {
		t.Run(fmt.Sprintf("%d %s %s", tc.status, tc.path, tc.code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				if tc.path == "pull-wrong-after" {
					body, _ := syncwire.EncodePull(&syncwire.PullPage{Header: syncwire.PullHeader{After: 3, Last: 3}})
					_, _ = w.Write(body)
					return
				}
				if w.Header().Get("Content-Type") == "" && strings.HasPrefix(tc.body, "{") {
					w.Header().Set("Content-Type", "application/json")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			cl, err := nodesync.NewClient(nodesync.Config{Upstream: srv.URL, Token: testToken})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			switch tc.path {
			case "lookup":
				_, err = cl.Lookup(ctx, "K7QM-2XHD-9PWA", "care")
			case "pull", "pull-wrong-after":
				_, err = cl.Pull(ctx, 5, 10)
			default:
				_, err = cl.Push(ctx, []byte("body"))
			}
			e := wantClientErr(t, err, tc.code, tc.parts...)
			if e.RetryAfter != tc.retryIn {
				t.Errorf("RetryAfter %v, want %v", e.RetryAfter, tc.retryIn)
			}
			if e.Status != tc.status {
				t.Errorf("Status %d, want %d", e.Status, tc.status)
			}
		})
	}
}

func TestClientCalls(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("%s: Authorization %q", r.URL, r.Header.Get("Authorization"))
		}
		seen = append(seen, r.Method+" "+r.URL.RequestURI())
		switch r.URL.Path {
		case "/prefix/api/v1/sync/persons/K7QM-2XHD-9PWA":
			writeJSON(w, 200, syncwire.LookupAnswer{Person: syncwire.Event{Seq: 1, K: "person", ID: "a"}, HLC: "5:1"})
		case "/prefix/api/v1/sync/trust":
			w.Header().Set("Content-Type", "application/cbor")
			_, _ = w.Write([]byte{0xa1, 0x01})
		case "/prefix/api/v1/sync/pull":
			body, _ := syncwire.EncodePull(&syncwire.PullPage{Header: syncwire.PullHeader{After: 7, Last: 8},
				Events: []syncwire.Event{{Seq: 8, K: "unfollow", Person: "a"}}})
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(body)
		}
	}))
	defer srv.Close()
	cl, err := nodesync.NewClient(nodesync.Config{Upstream: srv.URL + "/prefix/", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	la, err := cl.Lookup(ctx, "K7QM-2XHD-9PWA", "care")
	if err != nil || la.Person.ID != "a" || la.HLC != "5:1" {
		t.Errorf("Lookup: %+v, %v", la, err)
	}
	tr, err := cl.Trust(ctx)
	if err != nil || !bytes.Equal(tr, []byte{0xa1, 0x01}) {
		t.Errorf("Trust: %x, %v", tr, err)
	}
	p, err := cl.Pull(ctx, 7, 0)
	if err != nil || len(p.Events) != 1 || p.Events[0].K != "unfollow" {
		t.Errorf("Pull: %+v, %v", p, err)
	}
	want := []string{
		"GET /prefix/api/v1/sync/persons/K7QM-2XHD-9PWA?purpose=care",
		"GET /prefix/api/v1/sync/trust",
		"GET /prefix/api/v1/sync/pull?after=7&limit=1000",
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("requests %q, want %q", seen, want)
	}
}
