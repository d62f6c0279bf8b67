package nodesync_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/nodesync"
	"github.com/haven-registry/haven/internal/syncwire"
)

const testToken = "hvn_node_secret"

// fakeLocal is an in-memory node: an outbox, a pull cursor and what the
// syncer reported.
type fakeLocal struct {
	mu       sync.Mutex
	outbox   []syncwire.Event // pending, in seq order
	nextSeq  int64
	acked    int64
	cursor   int64
	pulled   []syncwire.Event
	contacts []nodesync.Contact
	hellos   int
	limits   []int // the limit of each SyncBatch call that returned a batch
	batchErr error // SyncBatch's error while set
	// batchWork is how long SyncBatch takes (the node's own work).
	batchWork time.Duration
}

// queue adds n dose events to the outbox.
func (l *fakeLocal) queue(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		l.nextSeq++
		l.outbox = append(l.outbox, syncwire.Event{Seq: l.nextSeq, HLC: syncwire.FormatHLC(syncwire.MakeHLC(1767225600000, l.nextSeq)),
			K: "dose", ID: "r" + strconv.FormatInt(l.nextSeq, 10), Person: "p1", Product: "comirnaty", Date: "2026-12-05", Site: "YB-1"})
	}
}

func (l *fakeLocal) SyncHello(context.Context) (*syncwire.Hello, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hellos++
	return &syncwire.Hello{Format: syncwire.Format, Node: "0123456789abcdef0123456789abcdef", Version: "test", Pending: int64(len(l.outbox))}, nil
}

func (l *fakeLocal) SyncEnrolled(_ context.Context, ans *syncwire.HelloAnswer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked = max(l.acked, ans.AppliedSeq)
	return nil
}

func (l *fakeLocal) SyncBatch(_ context.Context, limit int) (*syncwire.Batch, error) {
	l.mu.Lock()
	work := l.batchWork
	l.mu.Unlock()
	time.Sleep(work)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.batchErr != nil {
		return nil, l.batchErr
	}
	if len(l.outbox) == 0 {
		return nil, nil
	}
	n := min(limit, len(l.outbox))
	evs := append([]syncwire.Event(nil), l.outbox[:n]...)
	l.limits = append(l.limits, limit)
	return &syncwire.Batch{Header: syncwire.PushHeader{Format: syncwire.Format, Node: "0123456789abcdef0123456789abcdef",
		After: l.acked, Last: evs[n-1].Seq, HLC: evs[n-1].HLC, Pending: int64(len(l.outbox) - n)}, Events: evs}, nil
}

func (l *fakeLocal) SyncAcked(_ context.Context, _ *syncwire.Batch, ans *syncwire.PushAnswer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.outbox) > 0 && l.outbox[0].Seq <= ans.AppliedSeq {
		l.outbox = l.outbox[1:]
	}
	l.acked = ans.AppliedSeq
	return nil
}

func (l *fakeLocal) SyncPullCursor(context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cursor, nil
}

func (l *fakeLocal) SyncPulled(_ context.Context, p *syncwire.PullPage) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pulled = append(l.pulled, p.Events...)
	l.cursor = p.Header.Last
	return nil
}

func (l *fakeLocal) SyncContact(_ context.Context, c nodesync.Contact) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.contacts = append(l.contacts, c)
	return nil
}

// snapshot returns copies of the fake's state.
func (l *fakeLocal) snapshot() (pending int, cursor int64, contacts []nodesync.Contact) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.outbox), l.cursor, append([]nodesync.Contact(nil), l.contacts...)
}

// central is a fake central registry: it applies pushes, serves a feed,
// and lets a test replace any answer.
type central struct {
	t        *testing.T
	mu       sync.Mutex
	applied  []syncwire.Event
	seq      int64 // applied_seq
	feed     []syncwire.Event
	maxBatch int
	skew     time.Duration // the central's clock minus the real one
	requests map[string]int
	bodies   []int // events per accepted push
	// answer, when set, may answer a request itself (returning true).
	answer func(w http.ResponseWriter, r *http.Request, n int) bool
}

func newCentral(t *testing.T) *central {
	return &central{t: t, maxBatch: syncwire.DefaultBatch, requests: map[string]int{}}
}

// count returns how many requests reached route.
func (c *central) count(route string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests[route]
}

func (c *central) appliedEvents() []syncwire.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]syncwire.Event(nil), c.applied...)
}

func (c *central) setAnswer(f func(w http.ResponseWriter, r *http.Request, n int) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answer = f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes Haven's error shape.
func writeError(w http.ResponseWriter, status int, code, field, msg string) {
	body := map[string]any{"error": map[string]string{"code": code, "message": msg, "field": field}}
	writeJSON(w, status, body)
}

func (c *central) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		writeError(w, 401, "unauthorized", "", "Sign in.")
		return
	}
	c.mu.Lock()
	c.requests[r.URL.Path]++
	n, answer := c.requests[r.URL.Path], c.answer
	c.mu.Unlock()
	if answer != nil && answer(w, r, n) {
		return
	}
	now := time.Now().Add(c.skew)
	switch r.Method + " " + r.URL.Path {
	case "POST /api/v1/sync/hello":
		var h syncwire.Hello
		if err := json.NewDecoder(r.Body).Decode(&h); err != nil || h.Format != syncwire.Format {
			writeError(w, 400, "malformed", "", "bad hello")
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		writeJSON(w, 200, syncwire.HelloAnswer{Node: h.Node, AppliedSeq: c.seq, Now: now, MaxBatch: c.maxBatch, HLC: "1:0"})
	case "POST /api/v1/sync/push":
		if r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("Content-Encoding") != "gzip" {
			writeError(w, 415, "unsupported", "Content-Type", "Send gzipped NDJSON.")
			return
		}
		b, err := syncwire.DecodePush(r.Body)
		if err != nil {
			c.t.Errorf("central: push: %v", err)
			writeError(w, 400, "malformed", "", err.Error())
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, ev := range b.Events {
			if ev.Seq > c.seq {
				c.applied = append(c.applied, ev)
				c.seq = ev.Seq
			}
		}
		c.bodies = append(c.bodies, len(b.Events))
		writeJSON(w, 200, syncwire.PushAnswer{AppliedSeq: c.seq, Now: now, MaxBatch: c.maxBatch, HLC: "1:0"})
	case "GET /api/v1/sync/pull":
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		c.mu.Lock()
		page := &syncwire.PullPage{Header: syncwire.PullHeader{After: after, Last: after, Now: now}}
		for _, ev := range c.feed {
			if ev.Seq <= after {
				continue
			}
			if len(page.Events) == limit {
				page.Header.More = true
				break
			}
			page.Events = append(page.Events, ev)
			page.Header.Last = ev.Seq
		}
		c.mu.Unlock()
		body, err := syncwire.EncodePull(page)
		if err != nil {
			c.t.Errorf("central: pull: %v", err)
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(body)
	default:
		writeError(w, 404, "not_found", "", "No such route.")
	}
}

// addFeed adds n events to the feed.
func (c *central) addFeed(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range n {
		seq := int64(len(c.feed) + 1)
		c.feed = append(c.feed, syncwire.Event{Seq: seq, K: "dose", ID: "f" + strconv.FormatInt(seq, 10), Person: "p2"})
	}
}

// tlsServer starts c over TLS and returns it with a PEM file of its
// certificate.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests make
	ts.StartTLS()
	t.Cleanup(ts.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ts, ca
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fastOptions are syncer options with short waits.
func fastOptions() nodesync.Options {
	return nodesync.Options{PullEvery: time.Hour, BackoffMin: time.Millisecond, BackoffMax: 4 * time.Millisecond, RevokedEvery: time.Hour}
}

// runSyncer runs s until the test ends, and fails the test if Run returns
// anything but the context's error.
func runSyncer(t *testing.T, s *nodesync.Syncer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v", err)
		}
	})
}
