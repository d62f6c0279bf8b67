package nodesync_test

import (
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/nodesync"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// newSyncer returns a syncer on local and a TLS central verified by its
// certificate file.
func newSyncer(t *testing.T, c *central, local *fakeLocal, opts nodesync.Options) *nodesync.Syncer {
	t.Helper()
	ts, ca := tlsServer(t, c)
	cl, err := nodesync.NewClient(nodesync.Config{Upstream: ts.URL, Token: testToken, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	return nodesync.NewSyncer(cl, local, opts)
}

// contactsOf returns the contacts of one direction.
func contactsOf(cs []nodesync.Contact, dir string) []nodesync.Contact {
	var out []nodesync.Contact
	for _, c := range cs {
		if c.Direction == dir {
			out = append(out, c)
		}
	}
	return out
}

func TestSyncPushPull(t *testing.T) {
	c := newCentral(t)
	c.maxBatch = 10
	c.skew = -time.Hour // the node's clock is an hour ahead
	c.addFeed(2500)
	local := &fakeLocal{}
	local.queue(25)
	opts := fastOptions()
	opts.MaxBatch = 50
	s := newSyncer(t, c, local, opts)
	runSyncer(t, s)

	eventually(t, "the outbox pushed and the feed pulled", func() bool {
		pending, cursor, _ := local.snapshot()
		return pending == 0 && cursor == 2500
	})
	applied := c.appliedEvents()
	if len(applied) != 25 || applied[0].Seq != 1 || applied[24].Seq != 25 {
		t.Fatalf("central applied %d events", len(applied))
	}
	// The hello's max_batch of 10 set the batch size.
	c.mu.Lock()
	bodies := slices.Clone(c.bodies)
	c.mu.Unlock()
	if !slices.Equal(bodies, []int{10, 10, 5}) {
		t.Errorf("batches %v, want [10 10 5]", bodies)
	}
	if got := c.count("/api/v1/sync/pull"); got != 3 {
		t.Errorf("%d pulls, want 3 pages of 1000", got)
	}
	local.mu.Lock()
	pulled := len(local.pulled)
	local.mu.Unlock()
	if pulled != 2500 {
		t.Errorf("pulled %d events", pulled)
	}

	// A kick pushes a new write at once (PullEvery is an hour), and pulls.
	pulls := c.count("/api/v1/sync/pull")
	local.queue(1)
	s.Kick()
	s.Kick() // coalesced
	eventually(t, "the kicked write pushed", func() bool { return len(c.appliedEvents()) == 26 })
	eventually(t, "a pull after the push", func() bool { return c.count("/api/v1/sync/pull") > pulls })

	_, _, contacts := local.snapshot()
	for _, ct := range contacts {
		if ct.State != nodesync.StateOnline || ct.Error != "" {
			t.Errorf("contact %+v, want online without error", ct)
		}
		if !ct.Measured || math.Abs(ct.Skew-3600) > 60 {
			t.Errorf("contact %+v: skew %.1f, want about 3600", ct, ct.Skew)
		}
	}
	pushes := contactsOf(contacts, "push")
	if len(pushes) < 4 || pushes[0].Events != 10 || pushes[0].Bytes <= 0 {
		t.Errorf("push contacts %+v", pushes)
	}
	if pl := contactsOf(contacts, "pull"); len(pl) < 3 || pl[0].Events != 1000 || pl[0].Bytes <= 0 {
		t.Errorf("pull contacts %+v", pl)
	}
	if h := contactsOf(contacts, "hello"); len(h) != 1 {
		t.Errorf("hello contacts %+v", h)
	}
}

func TestSyncBackoffAndRecovery(t *testing.T) {
	c := newCentral(t)
	c.setAnswer(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/api/v1/sync/push" && n <= 4 {
			writeError(w, 500, "internal", "", "Internal error. Reference: x1")
			return true
		}
		return false
	})
	local := &fakeLocal{}
	local.queue(3)
	start := time.Now()
	opts := fastOptions()
	opts.BackoffMin, opts.BackoffMax = 10*time.Millisecond, 40*time.Millisecond
	runSyncer(t, newSyncer(t, c, local, opts))
	eventually(t, "the push after four failures", func() bool {
		_, _, cs := local.snapshot()
		return len(contactsOf(cs, "push")) == 5
	})
	// Four waits of 10, 20, 40 and 40 ms, each at least half that.
	if d := time.Since(start); d < 55*time.Millisecond || d > 5*time.Second {
		t.Errorf("took %v, want the back-off of 55 to 110 ms and little more", d)
	}
	if got := c.count("/api/v1/sync/push"); got != 5 {
		t.Errorf("%d pushes, want 5 (each batch sent again after a failure)", got)
	}
	_, _, contacts := local.snapshot()
	pushes := contactsOf(contacts, "push")
	if len(pushes) != 5 {
		t.Fatalf("push contacts %+v", pushes)
	}
	for _, ct := range pushes[:4] {
		if ct.State != nodesync.StateOffline || ct.Code != nodesync.CodeServer || ct.Error == "" {
			t.Errorf("failed push contact %+v", ct)
		}
	}
	if last := pushes[4]; last.State != nodesync.StateOnline || last.Events != 3 {
		t.Errorf("recovered push contact %+v", last)
	}
}

func TestSyncHelloRetries(t *testing.T) {
	c := newCentral(t)
	c.setAnswer(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/api/v1/sync/hello" && n <= 2 {
			writeError(w, 503, "unavailable", "", "Starting.")
			return true
		}
		return false
	})
	local := &fakeLocal{}
	local.queue(1)
	runSyncer(t, newSyncer(t, c, local, fastOptions()))
	eventually(t, "the push after hello succeeded", func() bool { return len(c.appliedEvents()) == 1 })
	_, _, contacts := local.snapshot()
	h := contactsOf(contacts, "hello")
	if len(h) != 3 || h[0].State != nodesync.StateOffline || h[0].Code != nodesync.CodeServer || h[2].State != nodesync.StateOnline {
		t.Errorf("hello contacts %+v", h)
	}
}

func TestSyncUnauthorizedStops(t *testing.T) {
	c := newCentral(t)
	c.setAnswer(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/api/v1/sync/push" {
			writeError(w, 401, "unauthorized", "", "Token revoked.")
			return true
		}
		return false
	})
	local := &fakeLocal{}
	local.queue(5)
	s := newSyncer(t, c, local, fastOptions())
	runSyncer(t, s)
	eventually(t, "the revoked contact", func() bool {
		_, _, cs := local.snapshot()
		return len(cs) > 0 && cs[len(cs)-1].State == nodesync.StateRevoked
	})
	for range 5 {
		s.Kick() // writes go on at the clinic; nothing is sent
	}
	time.Sleep(100 * time.Millisecond)
	if p, h, pl := c.count("/api/v1/sync/push"), c.count("/api/v1/sync/hello"), c.count("/api/v1/sync/pull"); p != 1 || h != 1 || pl != 0 {
		t.Errorf("after 401: %d pushes, %d hellos, %d pulls; want 1, 1, 0", p, h, pl)
	}
	pending, _, contacts := local.snapshot()
	if pending != 5 {
		t.Errorf("%d events pending, want the 5 kept", pending)
	}
	last := contacts[len(contacts)-1]
	if last.Code != nodesync.CodeUnauthorized || last.Error != "token revoked or unknown: re-enrol this clinic" {
		t.Errorf("contact %+v", last)
	}
}

// TestSyncReenrol: once the token works again (re-enrolled at the central),
// the hello retried every RevokedEvery resumes sync.
func TestSyncReenrol(t *testing.T) {
	c := newCentral(t)
	c.setAnswer(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/api/v1/sync/hello" && n == 1 {
			writeError(w, 403, "forbidden", "", "This node is bound to another token.")
			return true
		}
		return false
	})
	local := &fakeLocal{}
	local.queue(2)
	opts := fastOptions()
	opts.RevokedEvery = 50 * time.Millisecond
	runSyncer(t, newSyncer(t, c, local, opts))
	eventually(t, "sync after the refusal", func() bool { return len(c.appliedEvents()) == 2 })
	_, _, contacts := local.snapshot()
	if contacts[0].State != nodesync.StateRefused || contacts[0].Code != nodesync.CodeForbidden {
		t.Errorf("first contact %+v, want refused", contacts[0])
	}
	if c.count("/api/v1/sync/hello") != 2 {
		t.Errorf("%d hellos, want 2", c.count("/api/v1/sync/hello"))
	}
}

func TestSyncTooLargeHalves(t *testing.T) {
	c := newCentral(t)
	c.setAnswer(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != "/api/v1/sync/push" {
			return false
		}
		b, err := syncwire.DecodePush(r.Body)
		if err != nil {
			t.Error(err)
			return false
		}
		if len(b.Events) > 3 {
			writeError(w, 413, "too_large", "", "The body is larger than 1048576 bytes.")
			return true
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.applied = append(c.applied, b.Events...)
		c.seq = b.Header.Last
		c.bodies = append(c.bodies, len(b.Events))
		writeJSON(w, 200, syncwire.PushAnswer{AppliedSeq: c.seq, Now: time.Now()})
		return true
	})
	local := &fakeLocal{}
	c.maxBatch = 8 // the hello's answer
	local.queue(10)
	opts := fastOptions()
	runSyncer(t, newSyncer(t, c, local, opts))
	eventually(t, "every event pushed", func() bool { return len(c.appliedEvents()) == 10 })
	local.mu.Lock()
	limits := slices.Clone(local.limits)
	local.mu.Unlock()
	if want := []int{8, 4, 2, 2, 2, 2, 2}; !slices.Equal(limits, want) {
		t.Errorf("batch limits %v, want %v", limits, want)
	}
	_, _, contacts := local.snapshot()
	if p := contactsOf(contacts, "push"); p[0].Code != nodesync.CodeTooLarge || p[0].State != nodesync.StateOnline {
		t.Errorf("first push contact %+v", p[0])
	}
}

func TestSyncBehind(t *testing.T) {
	c := newCentral(t)
	c.setAnswer(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/api/v1/sync/push" && n == 1 {
			writeError(w, 409, "sync_behind", "after", "The central is behind this node.")
			return true
		}
		return false
	})
	local := &fakeLocal{}
	local.queue(4)
	runSyncer(t, newSyncer(t, c, local, fastOptions()))
	eventually(t, "the push after a second hello", func() bool { return len(c.appliedEvents()) == 4 })
	if h := c.count("/api/v1/sync/hello"); h != 2 {
		t.Errorf("%d hellos, want 2", h)
	}
}

// TestSyncSealed: a sealed vault pauses the push, reported as its own
// state, and sync resumes once it is unsealed.
func TestSyncSealed(t *testing.T) {
	c := newCentral(t)
	local := &fakeLocal{batchErr: registry.Errorf(registry.ESEALED, "The vault is sealed.")}
	local.queue(2)
	runSyncer(t, newSyncer(t, c, local, fastOptions()))
	eventually(t, "the sealed contact", func() bool {
		_, _, cs := local.snapshot()
		return len(cs) > 1 && cs[len(cs)-1].State == nodesync.StateSealed
	})
	local.mu.Lock()
	local.batchErr = nil
	local.mu.Unlock()
	eventually(t, "the push after unsealing", func() bool { return len(c.appliedEvents()) == 2 })
}

func TestSyncUnreachable(t *testing.T) {
	local := &fakeLocal{}
	cl, err := nodesync.NewClient(nodesync.Config{Upstream: "http://127.0.0.1:1", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	runSyncer(t, nodesync.NewSyncer(cl, local, fastOptions()))
	eventually(t, "three failed hellos", func() bool {
		_, _, cs := local.snapshot()
		return len(cs) >= 3
	})
	_, _, contacts := local.snapshot()
	for _, ct := range contacts {
		if ct.State != nodesync.StateOffline || ct.Code != nodesync.CodeUnreachable || ct.Direction != "hello" ||
			ct.Error != "central unreachable: 127.0.0.1:1: connection refused" {
			t.Errorf("contact %+v", ct)
		}
	}
}

func TestKickNeverBlocks(t *testing.T) {
	cl, err := nodesync.NewClient(nodesync.Config{Upstream: "https://central.example", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	s := nodesync.NewSyncer(cl, &fakeLocal{}, nodesync.Options{})
	done := make(chan struct{})
	go func() {
		for range 1000 {
			s.Kick() // nothing runs: the kicks coalesce
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Kick blocked")
	}
}

// TestSyncRestsWhileClinicBusy: while the clinic is being served, the
// pusher rests nine times each batch's time after it, so a backlog runs at
// most a tenth of the time.
func TestSyncRestsWhileClinicBusy(t *testing.T) {
	const work = 20 * time.Millisecond
	c := newCentral(t)
	c.maxBatch = 10
	local := &fakeLocal{batchWork: work}
	local.queue(50) // five batches
	opts := fastOptions()
	opts.MaxBatch = 10
	opts.Busy = func() bool { return true }
	s := newSyncer(t, c, local, opts)
	start := time.Now()
	runSyncer(t, s)
	eventually(t, "the backlog pushed", func() bool { return len(c.appliedEvents()) == 50 })
	// Five batches, each at least its work, and nine times it at rest
	// between one and the next.
	if took, least := time.Since(start), (5+4*9)*work; took < least {
		t.Errorf("a busy clinic's backlog of five batches took %s; want at least %s (each batch's work, nine times it at rest between them)", took, least)
	}
}
