package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// SyncFactory returns a fresh, migrated, empty store that implements
// registry.SyncStore. The suite closes it.
type SyncFactory func(t *testing.T) SyncStore

// SyncStore is a store with the sync methods of offline clinic nodes.
type SyncStore interface {
	registry.Store
	registry.SyncStore
}

// RunSync runs the sync suite (docs/adr/0006-offline-clinic-nodes.md)
// against stores made by newStore: the node's outbox (Write.Push, AckSync,
// RetrySync), the central's cursor, nodes, pushes, follows and feed, and
// the node's pull.
func RunSync(t *testing.T, newStore SyncFactory) {
	tests := []struct {
		name string
		fn   func(*testing.T, SyncStore)
	}{
		{"Origin", testSyncOrigin},
		{"OutboxQueueAndErase", testSyncOutbox},
		{"Ack", testSyncAck},
		{"Retry", testSyncRetry},
		{"State", testSyncState},
		{"Cursor", testSyncCursor},
		{"BindNode", testSyncBindNode},
		{"ApplyPush", testSyncApplyPush},
		{"ApplyPushTombstone", testSyncApplyPushTombstone},
		{"Feed", testSyncFeed},
		{"FeedConcurrent", testSyncFeedConcurrent},
		{"FeedErase", testSyncFeedErase},
		{"ApplyPull", testSyncApplyPull},
		{"RequeueOwn", testSyncRequeueOwn},
		{"Certificates", testSyncCertificates},
		{"LapseFollows", testSyncLapseFollows},
		{"BatchReads", testSyncBatchReads},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

func syncEvent(kind string, person, record registry.ID, hlc int64, at time.Time) registry.SyncEvent {
	return registry.SyncEvent{Kind: kind, PersonID: person, RecordID: record, HLC: hlc, At: at}
}

// nodePerson registers a person on a node, queuing its person event.
func nodePerson(t *testing.T, s SyncStore, hlc int64) registry.SealedPerson {
	t.Helper()
	p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: []byte("wrapped"), Sealed: []byte("sealed")}
	w := registry.Write{Push: []registry.SyncEvent{syncEvent(registry.SyncPerson, p.ID, registry.ID{}, hlc, now)}}
	if _, err := s.CreatePerson(context.Background(), p, w); err != nil {
		t.Fatalf("CreatePerson: %v", err)
	}
	return p
}

// nodeDose records a dose on a node, queuing its dose event.
func nodeDose(t *testing.T, s SyncStore, p registry.SealedPerson, hlc int64) registry.Vaccination {
	t.Helper()
	v := newDose(p, "2021-06-01")
	w := registry.Write{Push: []registry.SyncEvent{syncEvent(registry.SyncDose, p.ID, v.ID, hlc, now.Add(time.Duration(hlc)*time.Second))}}
	if _, err := s.RecordVaccination(context.Background(), v, w); err != nil {
		t.Fatalf("RecordVaccination: %v", err)
	}
	return v
}

func pending(t *testing.T, s SyncStore) []registry.SyncItem {
	t.Helper()
	items, err := s.PendingSync(context.Background(), 1000)
	if err != nil {
		t.Fatalf("PendingSync: %v", err)
	}
	return items
}

func seqs[T any](items []T, seq func(T) int64) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = seq(it)
	}
	return out
}

func itemSeq(it registry.SyncItem) int64 { return it.Seq }
func feedSeq(it registry.FeedItem) int64 { return it.Seq }

// testSyncOrigin checks that a person's Origin is stored and read back by
// every person query.
func testSyncOrigin(t *testing.T, s SyncStore) {
	ctx := context.Background()
	p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: []byte("wrapped"), Sealed: []byte("sealed"), SourceRef: "ref-origin", Origin: registry.OriginCentral}
	if _, err := s.CreatePerson(ctx, p, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	local := newPerson(t, s)
	reads := []struct {
		name string
		read func() (*registry.SealedPerson, error)
	}{
		{"FindPerson", func() (*registry.SealedPerson, error) { return s.FindPerson(ctx, p.CardCode) }},
		{"FindPersonBySourceRef", func() (*registry.SealedPerson, error) { return s.FindPersonBySourceRef(ctx, p.SourceRef) }},
		{"FindPersonByID", func() (*registry.SealedPerson, error) { return s.FindPersonByID(ctx, p.ID) }},
		{"FindRecord", func() (*registry.SealedPerson, error) {
			rec, err := s.FindRecord(ctx, p.CardCode)
			if err != nil {
				return nil, err
			}
			return &rec.Person, nil
		}},
	}
	for _, r := range reads {
		got, err := r.read()
		if err != nil || got.ID != p.ID || got.Origin != registry.OriginCentral || got.CardCode != p.CardCode || string(got.Sealed) != "sealed" {
			t.Errorf("%s = %+v, %v; want origin %q", r.name, got, err, registry.OriginCentral)
		}
	}
	if got, err := s.FindPersonByID(ctx, local.ID); err != nil || got.Origin != "" {
		t.Errorf("FindPersonByID(local) = %+v, %v; want no origin", got, err)
	}
	_, err := s.FindPersonByID(ctx, registry.NewID())
	mustCode(t, err, registry.ENOTFOUND)
}

// testSyncOutbox checks that Write.Push queues events in order with their
// write, and that erasing a person drops their pending events, queues the
// erase event and leaves a tombstone.
func testSyncOutbox(t *testing.T, s SyncStore) {
	ctx := context.Background()
	p := nodePerson(t, s, 1)
	d1 := nodeDose(t, s, p, 2)
	q := nodePerson(t, s, 3)
	d2 := nodeDose(t, s, p, 4)
	qd := nodeDose(t, s, q, 5)
	// A failed write queues nothing.
	orphan := newDose(registry.SealedPerson{ID: registry.NewID()}, "2021-06-01")
	if _, err := s.RecordVaccination(ctx, orphan, registry.Write{Push: []registry.SyncEvent{syncEvent(registry.SyncDose, orphan.PersonID, orphan.ID, 6, now)}}); err == nil {
		t.Fatal("a dose for a missing person was stored")
	}

	items := pending(t, s)
	want := []registry.SyncEvent{
		syncEvent(registry.SyncPerson, p.ID, registry.ID{}, 1, now),
		syncEvent(registry.SyncDose, p.ID, d1.ID, 2, now.Add(2*time.Second)),
		syncEvent(registry.SyncPerson, q.ID, registry.ID{}, 3, now),
		syncEvent(registry.SyncDose, p.ID, d2.ID, 4, now.Add(4*time.Second)),
		syncEvent(registry.SyncDose, q.ID, qd.ID, 5, now.Add(5*time.Second)),
	}
	if len(items) != len(want) {
		t.Fatalf("%d pending events, want %d: %+v", len(items), len(want), items)
	}
	for i, it := range items {
		e := it.Event
		if e.Kind != want[i].Kind || e.PersonID != want[i].PersonID || e.RecordID != want[i].RecordID || e.HLC != want[i].HLC ||
			!e.At.Equal(want[i].At) || it.Failed || it.Attempts != 0 {
			t.Errorf("event %d = %+v, want %+v", i, it, want[i])
		}
		if i > 0 && it.Seq <= items[i-1].Seq {
			t.Errorf("events out of order: seq %d after %d", it.Seq, items[i-1].Seq)
		}
	}
	if firstTwo, err := s.PendingSync(ctx, 2); err != nil || len(firstTwo) != 2 || firstTwo[1].Seq != items[1].Seq {
		t.Errorf("PendingSync(2) = %+v, %v", firstTwo, err)
	}
	st, err := s.SyncOutboxStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 5 || st.Failed != 0 || !st.Oldest.Equal(now) || st.LastSeq < items[4].Seq {
		t.Errorf("status = %+v, want 5 pending since %v, last seq ≥ %d", st, now, items[4].Seq)
	}

	// Erasing p drops p's pending events and queues the erase.
	erase := syncEvent(registry.SyncErase, p.ID, registry.ID{}, 7, now.Add(time.Hour))
	if err := s.ErasePerson(ctx, p.CardCode, registry.Write{Push: []registry.SyncEvent{erase}, Audit: auditRec("person.erase", "ps1_e")}); err != nil {
		t.Fatal(err)
	}
	after := pending(t, s)
	var kinds []string
	for _, it := range after {
		kinds = append(kinds, it.Event.Kind+":"+map[registry.ID]string{p.ID: "p", q.ID: "q"}[it.Event.PersonID])
	}
	if !slices.Equal(kinds, []string{"person:q", "dose:q", "erase:p"}) {
		t.Fatalf("pending after the erasure = %v, want q's events then p's erase", kinds)
	}
	if after[2].Seq <= items[4].Seq || after[2].Event.HLC != 7 {
		t.Errorf("erase event = %+v, want a new seq after %d", after[2], items[4].Seq)
	}
	if ok, err := s.Tombstoned(ctx, p.ID); err != nil || !ok {
		t.Errorf("Tombstoned(erased) = %v, %v; want true", ok, err)
	}
	if ok, err := s.Tombstoned(ctx, q.ID); err != nil || ok {
		t.Errorf("Tombstoned(living) = %v, %v; want false", ok, err)
	}
	if st, err := s.SyncOutboxStatus(ctx); err != nil || st.Pending != 3 || st.LastSeq != after[2].Seq {
		t.Errorf("status after the erasure = %+v, %v", st, err)
	}
}

// testSyncAck checks that an acknowledgement removes the events it covers,
// keeps the rejected ones as failed with their reason, and saves the state,
// in one go.
func testSyncAck(t *testing.T, s SyncStore) {
	ctx := context.Background()
	p := nodePerson(t, s, 1)
	for i := range 4 {
		nodeDose(t, s, p, int64(2+i))
	}
	items := pending(t, s)
	if len(items) != 5 {
		t.Fatalf("%d pending, want 5", len(items))
	}
	rejected := []registry.SyncReject{
		{Seq: items[1].Seq, Code: registry.EINVALID, Field: "date", Message: "The date is after today."},
		{Seq: items[2].Seq, Code: "depends_on_rejected", Message: "An earlier event of this person was rejected."},
		{Seq: items[4].Seq, Code: registry.EINVALID, Message: "beyond upto: ignored"},
	}
	if err := s.AckSync(ctx, items[3].Seq, rejected, map[string]string{"acked": fmt.Sprint(items[3].Seq), "hlc": "99"}); err != nil {
		t.Fatal(err)
	}
	left := pending(t, s)
	if len(left) != 1 || left[0].Seq != items[4].Seq {
		t.Fatalf("pending after the ack = %v, want [%d]", seqs(left, itemSeq), items[4].Seq)
	}
	failed, err := s.ListFailedSync(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 2 || failed[0].Seq != items[1].Seq || failed[1].Seq != items[2].Seq {
		t.Fatalf("failed = %+v", failed)
	}
	if f := failed[0]; !f.Failed || f.Attempts != 1 || f.LastError != "invalid: date: The date is after today." || f.Event != items[1].Event {
		t.Errorf("failed[0] = %+v", f)
	}
	if f := failed[1]; f.LastError != "depends_on_rejected: An earlier event of this person was rejected." {
		t.Errorf("failed[1].LastError = %q", f.LastError)
	}
	state, err := s.SyncState(ctx)
	if err != nil || state["acked"] != fmt.Sprint(items[3].Seq) || state["hlc"] != "99" {
		t.Errorf("SyncState = %v, %v", state, err)
	}
	st, err := s.SyncOutboxStatus(ctx)
	if err != nil || st.Pending != 1 || st.Failed != 2 || !st.Oldest.Equal(items[4].Event.At) || st.LastSeq < items[4].Seq {
		t.Errorf("status = %+v, %v", st, err)
	}
	// A later acknowledgement keeps the failed events.
	if err := s.AckSync(ctx, items[4].Seq, nil, nil); err != nil {
		t.Fatal(err)
	}
	if left := pending(t, s); len(left) != 0 {
		t.Errorf("pending after the second ack = %v", seqs(left, itemSeq))
	}
	if failed, _ := s.ListFailedSync(ctx, 10); len(failed) != 2 {
		t.Errorf("%d failed after the second ack, want 2", len(failed))
	}
	if st, err := s.SyncOutboxStatus(ctx); err != nil || st.LastSeq != items[4].Seq || !st.Oldest.IsZero() {
		t.Errorf("status of an empty outbox = %+v, %v; the last seq is kept", st, err)
	}
}

// testSyncRetry checks that a retry re-queues one person's failed events
// (or all of them) under new seqs, in their order.
func testSyncRetry(t *testing.T, s SyncStore) {
	ctx := context.Background()
	a := nodePerson(t, s, 1)
	nodeDose(t, s, a, 2)
	b := nodePerson(t, s, 3)
	nodeDose(t, s, a, 4)
	items := pending(t, s)
	var rejects []registry.SyncReject
	for _, it := range items {
		rejects = append(rejects, registry.SyncReject{Seq: it.Seq, Code: registry.EINVALID, Message: "no"})
	}
	// One pending event stays pending.
	nodeDose(t, s, b, 5)
	if err := s.AckSync(ctx, items[3].Seq, rejects, nil); err != nil {
		t.Fatal(err)
	}
	still := pending(t, s)
	if len(still) != 1 {
		t.Fatalf("pending = %v, want one", seqs(still, itemSeq))
	}
	_, err := s.RetrySync(ctx, still[0].Seq)
	mustCode(t, err, registry.ENOTFOUND)
	_, err = s.RetrySync(ctx, 1<<40)
	mustCode(t, err, registry.ENOTFOUND)

	st, _ := s.SyncOutboxStatus(ctx)
	n, err := s.RetrySync(ctx, items[1].Seq) // a's dose: all of a's failed events
	if err != nil || n != 3 {
		t.Fatalf("RetrySync(a) = %d, %v; want 3", n, err)
	}
	requeued := pending(t, s)
	if len(requeued) != 4 || requeued[0].Seq != still[0].Seq {
		t.Fatalf("pending after the retry = %+v", requeued)
	}
	for i, want := range []registry.SyncItem{items[0], items[1], items[3]} {
		got := requeued[1+i]
		if got.Seq <= st.LastSeq || got.Event != want.Event || got.Failed || got.Attempts != 0 || got.LastError != "" {
			t.Errorf("re-queued %d = %+v, want %+v under a seq after %d", i, got, want.Event, st.LastSeq)
		}
	}
	failed, err := s.ListFailedSync(ctx, 10)
	if err != nil || len(failed) != 1 || failed[0].Seq != items[2].Seq {
		t.Fatalf("failed after the retry = %+v, %v; want b's person event", failed, err)
	}
	if n, err := s.RetrySync(ctx, 0); err != nil || n != 1 {
		t.Fatalf("RetrySync(0) = %d, %v; want 1", n, err)
	}
	if n, err := s.RetrySync(ctx, 0); err != nil || n != 0 {
		t.Fatalf("RetrySync(0) again = %d, %v; want 0", n, err)
	}
	if got := pending(t, s); len(got) != 5 || got[4].Event.PersonID != b.ID || got[4].Event.Kind != registry.SyncPerson {
		t.Errorf("pending after retrying all = %+v", got)
	}
}

// testSyncState checks that SetSyncState keeps the keys it is not given.
func testSyncState(t *testing.T, s SyncStore) {
	ctx := context.Background()
	if st, err := s.SyncState(ctx); err != nil || len(st) != 0 {
		t.Fatalf("SyncState of a new store = %v, %v", st, err)
	}
	if err := s.SetSyncState(ctx, map[string]string{"node_id": "abc", "pull": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSyncState(ctx, map[string]string{"pull": "2", "hlc": "7"}); err != nil {
		t.Fatal(err)
	}
	st, err := s.SyncState(ctx)
	if err != nil || len(st) != 3 || st["node_id"] != "abc" || st["pull"] != "2" || st["hlc"] != "7" {
		t.Fatalf("SyncState = %v, %v", st, err)
	}
}

// central holds a central store's nodes for a test.
type central struct {
	t *testing.T
	s SyncStore
}

// node creates a node token and binds node id to it.
func (c central) node(id string, sites ...string) registry.SyncNode {
	c.t.Helper()
	ctx := context.Background()
	tok := registry.Token{ID: "tk_" + id, Hash: []byte("hash-" + id), Role: registry.RoleNode, Sites: sites, CreatedAt: now, Label: "node-" + id}
	if err := c.s.CreateToken(ctx, tok, registry.Write{}); err != nil {
		c.t.Fatalf("CreateToken: %v", err)
	}
	n, err := c.s.BindNode(ctx, registry.SyncNode{ID: id, TokenID: tok.ID, Sites: sites, Label: "clinic " + id, Version: "v1", LastContact: now, CreatedAt: now})
	if err != nil {
		c.t.Fatalf("BindNode: %v", err)
	}
	return *n
}

func (c central) follow(node string, p registry.SealedPerson) {
	c.t.Helper()
	if err := c.s.Follow(context.Background(), node, p.ID, *auditRec("sync.lookup", "ps1_f"), now); err != nil {
		c.t.Fatalf("Follow: %v", err)
	}
}

func (c central) applied(node string) int64 {
	c.t.Helper()
	n, err := c.s.FindNode(context.Background(), node)
	if err != nil {
		c.t.Fatalf("FindNode: %v", err)
	}
	return n.AppliedSeq
}

// testSyncCursor checks Write.Cursor's compare-and-set: it advances the
// node's applied_seq with the write, and a stale Seen or a revoked token
// fails the write with nothing written.
func testSyncCursor(t *testing.T, s SyncStore) {
	ctx := context.Background()
	c := central{t, s}
	c.node("n1", "YB-1")
	p := newPerson(t, s)
	cursor := func(seen, last int64) *registry.SyncCursor {
		return &registry.SyncCursor{Node: "n1", Seen: seen, Last: last, At: now.Add(time.Minute)}
	}
	v := newDose(p, "2021-06-01")
	if _, err := s.RecordVaccination(ctx, v, registry.Write{Cursor: cursor(0, 10), Audit: auditRec("sync.apply", "ps1_c")}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.FindNode(ctx, "n1"); n.AppliedSeq != 10 || !n.LastContact.Equal(now.Add(time.Minute)) {
		t.Errorf("node after the write = %+v, want applied_seq 10", n)
	}
	tests := []struct {
		name   string
		setup  func()
		cursor *registry.SyncCursor
		code   string
		field  string
	}{
		{"stale seen", nil, cursor(0, 20), registry.ECONFLICT, "applied_seq"},
		{"unknown node", nil, &registry.SyncCursor{Node: "nope", Seen: 0, Last: 1}, registry.EUNAUTHORIZED, ""},
		{"revoked token", func() {
			if err := s.RevokeToken(ctx, "tk_n1", registry.Write{}); err != nil {
				t.Fatal(err)
			}
		}, cursor(10, 20), registry.EUNAUTHORIZED, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			w := newDose(p, "2021-07-01")
			rep := registry.Report{PersonID: p.ID, RecordID: w.ID, At: now}
			_, err := s.RecordVaccination(ctx, w, registry.Write{Cursor: tt.cursor, Reports: []registry.Report{rep}, Audit: auditRec("sync.apply", "ps1_c")})
			mustCode(t, err, tt.code)
			if got := registry.ErrorField(err); got != tt.field {
				t.Errorf("field = %q, want %q", got, tt.field)
			}
			if _, err := s.FindVaccination(ctx, w.ID); registry.ErrorCode(err) != registry.ENOTFOUND {
				t.Errorf("the dose of a failed compare-and-set was stored (%v)", err)
			}
			if items, _ := s.ListOutbox(ctx, 10); len(items) != 0 {
				t.Errorf("a failed compare-and-set queued %d reports", len(items))
			}
			// ApplyPush fails the same way, writing nothing.
			out, err := s.ApplyPush(ctx, registry.PushApply{Cursor: *tt.cursor, Persons: []registry.PushPerson{{
				History: registry.History{PersonID: p.ID, Vaccinations: []registry.Vaccination{w}}}}})
			mustCode(t, err, tt.code)
			if out != nil {
				t.Errorf("ApplyPush outcome = %+v with an error", out)
			}
			if c.applied("n1") != 10 {
				t.Errorf("applied_seq moved to %d", c.applied("n1"))
			}
		})
	}
	if as, ok := s.(audit.Store); ok {
		n := 0
		if err := as.Scan(ctx, 1, func(e audit.Entry) error {
			if e.Action == "sync.apply" {
				n++
			}
			return nil
		}); err != nil || n != 1 {
			t.Errorf("%d sync.apply audit entries (%v), want 1", n, err)
		}
	}
}

// testSyncBindNode checks the binding rules: an unknown ID is bound, the
// same token keeps it, a revoked token's node is rebound with the same
// sites (keeping its cursor), anything else is refused.
func testSyncBindNode(t *testing.T, s SyncStore) {
	ctx := context.Background()
	for _, id := range []string{"tk_1", "tk_2", "tk_3"} {
		if err := s.CreateToken(ctx, registry.Token{ID: id, Hash: []byte(id), Role: registry.RoleNode, Sites: []string{"YB-1"}, CreatedAt: now}, registry.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	later := now.Add(time.Hour)
	bind := func(id, token string, version string, sites ...string) (*registry.SyncNode, error) {
		return s.BindNode(ctx, registry.SyncNode{ID: id, TokenID: token, Sites: sites, Label: "lbl-" + token, Version: version,
			LastContact: later, CreatedAt: now, AppliedSeq: 77})
	}
	n, err := bind("aa", "tk_1", "v1", "YB-1", "YB-2")
	if err != nil {
		t.Fatal(err)
	}
	if n.ID != "aa" || n.TokenID != "tk_1" || !slices.Equal(n.Sites, []string{"YB-1", "YB-2"}) || n.Label != "lbl-tk_1" ||
		n.AppliedSeq != 0 || n.Version != "v1" || !n.CreatedAt.Equal(now) || !n.LastContact.Equal(later) || n.Revoked {
		t.Fatalf("new node = %+v", n)
	}
	// Move its cursor, as a push would.
	if _, err := s.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "s", Jurisdiction: "KR", CreatedAt: now},
		registry.Write{Cursor: &registry.SyncCursor{Node: "aa", Seen: 0, Last: 5, At: later}}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name, node, token, version string
		sites                      []string
		before                     func()
		code                       string
		wantToken                  string
		wantSeq                    int64
	}{
		{name: "same token", node: "aa", token: "tk_1", version: "v2", sites: []string{"YB-1", "YB-2"}, wantToken: "tk_1", wantSeq: 5},
		{name: "same token, other sites kept", node: "aa", token: "tk_1", version: "v2", sites: []string{"ZZ-9"}, wantToken: "tk_1", wantSeq: 5},
		{name: "other live token", node: "aa", token: "tk_2", version: "v2", sites: []string{"YB-1", "YB-2"}, code: registry.EFORBIDDEN},
		{name: "revoked, other sites", node: "aa", token: "tk_2", version: "v2", sites: []string{"YB-1"}, code: registry.EFORBIDDEN,
			before: func() {
				if err := s.RevokeToken(ctx, "tk_1", registry.Write{}); err != nil {
					t.Fatal(err)
				}
				if n, _ := s.FindNode(ctx, "aa"); !n.Revoked {
					t.Errorf("node of a revoked token = %+v, want Revoked", n)
				}
			}},
		{name: "revoked, same sites", node: "aa", token: "tk_2", version: "v3", sites: []string{"YB-2", "YB-1"}, wantToken: "tk_2", wantSeq: 5},
		{name: "another node on a used token", node: "bb", token: "tk_3", version: "v1", sites: []string{"YB-1"}, wantToken: "tk_3"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before()
			}
			n, err := bind(st.node, st.token, st.version, st.sites...)
			if st.code != "" {
				mustCode(t, err, st.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.TokenID != st.wantToken || n.AppliedSeq != st.wantSeq || n.Version != st.version || n.Revoked {
				t.Errorf("node = %+v, want token %s, applied_seq %d, version %s", n, st.wantToken, st.wantSeq, st.version)
			}
		})
	}
	if n, _ := s.FindNode(ctx, "aa"); !slices.Equal(n.Sites, []string{"YB-1", "YB-2"}) {
		t.Errorf("sites = %v, want the first binding's", n.Sites)
	}
	_, err = s.FindNode(ctx, "zz")
	mustCode(t, err, registry.ENOTFOUND)

	if err := s.TouchNode(ctx, "bb", 42, -3*time.Second, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.TouchNode(ctx, "zz", 1, 0, now), registry.ENOTFOUND)
	nodes, err := s.ListNodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "aa" || nodes[1].ID != "bb" {
		t.Fatalf("ListNodes = %+v, %v", nodes, err)
	}
	if b := nodes[1]; b.Pending != 42 || b.ClockSkew != -3*time.Second || !b.LastContact.Equal(later.Add(time.Hour)) {
		t.Errorf("touched node = %+v", b)
	}
}

// pushPerson is a node's person event with one dose, as the central
// applies it.
func pushPerson(node string, p registry.SealedPerson, doses ...registry.Vaccination) registry.PushPerson {
	pp := registry.PushPerson{Home: true, History: registry.History{NewPerson: &p, PersonID: p.ID, Vaccinations: doses},
		Audit: registry.AuditRecord{Time: now, Actor: "tk_" + node, Role: "node", Action: "sync.apply", Purpose: "care", Subject: "ps1_" + p.ID.String()}}
	pp.Feed = append(pp.Feed, syncEvent(registry.SyncPerson, p.ID, registry.ID{}, 0, now))
	for _, v := range doses {
		pp.Reports = append(pp.Reports, registry.Report{PersonID: p.ID, RecordID: v.ID, At: now})
		pp.Feed = append(pp.Feed, syncEvent(registry.SyncDose, p.ID, v.ID, 0, now))
	}
	return pp
}

// pushRecords is a node's part for a person it follows.
func pushRecords(node string, p registry.SealedPerson, doses ...registry.Vaccination) registry.PushPerson {
	pp := pushPerson(node, p, doses...)
	pp.Home, pp.History.NewPerson, pp.Feed = false, nil, pp.Feed[1:]
	return pp
}

func syncApplies(t *testing.T, s SyncStore) int {
	t.Helper()
	as, ok := s.(audit.Store)
	if !ok {
		t.Fatal("store does not implement audit.Store")
	}
	n := 0
	if err := as.Scan(context.Background(), 1, func(e audit.Entry) error {
		if e.Action == "sync.apply" {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// testSyncApplyPush checks that a push is applied in one transaction in
// which a failing person is rolled back alone, and that the same batch
// applied again (a fresh cursor) adds nothing twice.
func testSyncApplyPush(t *testing.T, s SyncStore) {
	ctx := context.Background()
	c := central{t, s}
	c.node("a", "YB-1")
	c.node("b", "YB-1")
	followed := newPerson(t, s) // registered at the central; a and b look it up
	c.follow("a", followed)
	c.follow("b", followed)
	stranger := newPerson(t, s) // nobody follows it
	taken := newDose(stranger, "2021-05-01")
	taken.SourceRef = "taken-ref"
	if _, err := s.RecordVaccination(ctx, taken, registry.Write{}); err != nil {
		t.Fatal(err)
	}

	p1 := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now, WrappedKey: []byte("k1"), Sealed: []byte("s1")}
	d1 := newDose(p1, "2021-06-01")
	p2 := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now, WrappedKey: []byte("k2"), Sealed: []byte("s2")}
	d2ok, d2bad := newDose(p2, "2021-06-01"), newDose(p2, "2021-06-02")
	d2bad.SourceRef = "taken-ref"
	fd := newDose(followed, "2021-06-03")
	sd := newDose(stranger, "2021-06-04")
	dup := registry.SealedPerson{ID: registry.NewID(), CardCode: p1.CardCode, CreatedAt: now} // p1's card code
	batch := []registry.PushPerson{
		pushPerson("a", p1, d1),        // 0: applied
		pushRecords("a", stranger, sd), // 1: a does not follow the stranger
		pushPerson("a", p2, d2ok, d2bad),
		pushRecords("a", followed, fd), // 3: applied, fed to b
		pushPerson("a", dup),           // 4: card code taken
		pushRecords("a", registry.SealedPerson{ID: registry.NewID()}),
	}
	out, err := s.ApplyPush(ctx, registry.PushApply{Cursor: registry.SyncCursor{Node: "a", Seen: 0, Last: 9, At: now}, Persons: batch})
	if err != nil {
		t.Fatal(err)
	}
	wantRejected := map[int]string{1: registry.EFORBIDDEN, 2: registry.ECONFLICT, 4: registry.ECONFLICT, 5: registry.ENOTFOUND}
	checkRejected := func(out *registry.PushOutcome) {
		t.Helper()
		if len(out.Rejected) != len(wantRejected) {
			t.Errorf("rejected = %v, want %v", out.Rejected, wantRejected)
		}
		for i, code := range wantRejected {
			if got := registry.ErrorCode(out.Rejected[i]); got != code {
				t.Errorf("person %d: %q (%v), want %q", i, got, out.Rejected[i], code)
			}
		}
	}
	checkRejected(out)
	if c.applied("a") != 9 {
		t.Errorf("applied_seq = %d, want 9", c.applied("a"))
	}
	if got, err := s.FindPersonByID(ctx, p1.ID); err != nil || got.CardCode != p1.CardCode || string(got.Sealed) != "s1" {
		t.Errorf("pushed person = %+v, %v", got, err)
	}
	for _, v := range []registry.Vaccination{d1, fd} {
		if _, err := s.FindVaccination(ctx, v.ID); err != nil {
			t.Errorf("an applied dose is missing: %v", err)
		}
	}
	for _, v := range []registry.Vaccination{d2ok, d2bad, sd} {
		if _, err := s.FindVaccination(ctx, v.ID); registry.ErrorCode(err) != registry.ENOTFOUND {
			t.Errorf("a dose of a rejected person was stored (%v)", err)
		}
	}
	if _, err := s.FindPersonByID(ctx, p2.ID); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("a rejected person was stored (%v)", err)
	}
	if f, err := s.Followers(ctx, p1.ID); err != nil || !slices.Equal(f, []string{"a"}) {
		t.Errorf("followers of the pushed person = %v, %v; want [a]", f, err)
	}
	reports, err := s.ListOutbox(ctx, 10)
	if err != nil || len(reports) != 2 {
		t.Errorf("%d reports queued (%v), want 2 (the applied persons')", len(reports), err)
	}
	if n := syncApplies(t, s); n != 2 {
		t.Errorf("%d sync.apply audit entries, want 2 (the applied persons')", n)
	}
	if as, ok := s.(audit.Store); ok {
		if rep, err := audit.Verify(ctx, as, nil); err != nil || !rep.OK {
			t.Errorf("audit Verify = %+v, %v", rep, err)
		}
	}
	feedB, err := s.PullFeed(ctx, "b", 0, 100)
	if err != nil || len(feedB) != 1 || feedB[0].Seq != 1 || feedB[0].Event.Kind != registry.SyncDose || feedB[0].Event.RecordID != fd.ID {
		t.Errorf("b's feed = %+v, %v; want the followed person's dose", feedB, err)
	}
	if feedA, err := s.PullFeed(ctx, "a", 0, 100); err != nil || len(feedA) != 0 {
		t.Errorf("the pushing node's feed = %+v, %v; want nothing", feedA, err)
	}

	// The same batch again, after the central lost the acknowledgement:
	// nothing is added twice.
	out, err = s.ApplyPush(ctx, registry.PushApply{Cursor: registry.SyncCursor{Node: "a", Seen: 9, Last: 18, At: now}, Persons: batch})
	if err != nil {
		t.Fatal(err)
	}
	checkRejected(out)
	for _, p := range []registry.SealedPerson{p1, followed} {
		if vs, err := s.FindVaccinations(ctx, p.ID); err != nil || len(vs) != 1 {
			t.Errorf("%d doses after the resend (%v), want 1", len(vs), err)
		}
	}

	// Corrections: one of a marked record is skipped, of a missing one
	// rejects the person; an edit replaces the sealed part.
	fix := pushRecords("a", p1)
	fix.History.Corrections = []registry.Correction{{RecordID: d1.ID}}
	upd := p1
	upd.Sealed = []byte("s1-edited")
	edit := pushRecords("a", p1)
	edit.History.Corrections = []registry.Correction{{RecordID: d1.ID}} // marked by the part before
	edit.Update = &upd
	missing := pushRecords("a", p1)
	missing.History.Corrections = []registry.Correction{{RecordID: registry.NewID()}}
	out, err = s.ApplyPush(ctx, registry.PushApply{Cursor: registry.SyncCursor{Node: "a", Seen: 18, Last: 20, At: now},
		Persons: []registry.PushPerson{fix, edit, missing}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Rejected) != 1 || registry.ErrorCode(out.Rejected[2]) != registry.ENOTFOUND {
		t.Errorf("rejected = %v, want only the correction of a missing record", out.Rejected)
	}
	if v, _ := s.FindVaccination(ctx, d1.ID); v == nil || v.Status != registry.StatusEnteredInError {
		t.Errorf("corrected dose = %+v", v)
	}
	if got, _ := s.FindPersonByID(ctx, p1.ID); got == nil || string(got.Sealed) != "s1-edited" || string(got.WrappedKey) != "k1" {
		t.Errorf("edited person = %+v", got)
	}
}

// testSyncApplyPushTombstone checks that a person erased at the central is
// not brought back by a late person event.
func testSyncApplyPushTombstone(t *testing.T, s SyncStore) {
	ctx := context.Background()
	c := central{t, s}
	c.node("a", "YB-1")
	p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now, WrappedKey: []byte("k"), Sealed: []byte("s")}
	if _, err := s.ApplyPush(ctx, registry.PushApply{Cursor: registry.SyncCursor{Node: "a", Seen: 0, Last: 1, At: now},
		Persons: []registry.PushPerson{pushPerson("a", p)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ErasePerson(ctx, p.CardCode, registry.Write{Audit: auditRec("person.erase", "ps1_t")}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Tombstoned(ctx, p.ID); err != nil || !ok {
		t.Fatalf("Tombstoned = %v, %v", ok, err)
	}
	out, err := s.ApplyPush(ctx, registry.PushApply{Cursor: registry.SyncCursor{Node: "a", Seen: 1, Last: 2, At: now},
		Persons: []registry.PushPerson{pushPerson("a", p, newDose(p, "2021-06-01"))}})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Rejected[0]; registry.ErrorCode(err) != registry.ECONFLICT || registry.ErrorField(err) != "person" {
		t.Errorf("late person event: %v, want conflict on person", err)
	}
	if _, err := s.FindPersonByID(ctx, p.ID); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("the erased person came back (%v)", err)
	}
	if c.applied("a") != 2 {
		t.Errorf("applied_seq = %d, want 2: a rejected event is settled", c.applied("a"))
	}
}

// testSyncFeed checks that a write's Feed reaches every follower but the
// writer, that Follow is idempotent, and that PullFeed acknowledges.
func testSyncFeed(t *testing.T, s SyncStore) {
	ctx := context.Background()
	c := central{t, s}
	for _, n := range []string{"a", "b", "c"} {
		c.node(n, "YB-1")
	}
	p := newPerson(t, s)
	other := newPerson(t, s)
	c.follow("a", p)
	c.follow("b", p)
	c.follow("b", p) // again: only touched
	c.follow("c", other)
	if f, err := s.Followers(ctx, p.ID); err != nil || !slices.Equal(f, []string{"a", "b"}) {
		t.Fatalf("Followers = %v, %v", f, err)
	}
	mustCode(t, s.Follow(ctx, "a", registry.NewID(), registry.AuditRecord{}, now), registry.ENOTFOUND)

	var doses []registry.Vaccination
	for i := range 5 {
		v := newDose(p, "2021-06-01")
		doses = append(doses, v)
		except := ""
		if i == 0 {
			except = "a" // the write came from a
		}
		if _, err := s.RecordVaccination(ctx, v, registry.Write{Feed: []registry.SyncEvent{syncEvent(registry.SyncDose, p.ID, v.ID, 0, now)}, FeedExcept: except}); err != nil {
			t.Fatal(err)
		}
	}
	feed := func(node string, after int64) []registry.FeedItem {
		t.Helper()
		items, err := s.PullFeed(ctx, node, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	a, b := feed("a", 0), feed("b", 0)
	if !slices.Equal(seqs(a, feedSeq), []int64{1, 2, 3, 4}) || !slices.Equal(seqs(b, feedSeq), []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("feeds: a %v, b %v", seqs(a, feedSeq), seqs(b, feedSeq))
	}
	for i, it := range b {
		if it.Event.Kind != registry.SyncDose || it.Event.PersonID != p.ID || it.Event.RecordID != doses[i].ID {
			t.Errorf("b's item %d = %+v, want dose %d", i, it, i)
		}
	}
	if got := feed("c", 0); len(got) != 0 {
		t.Errorf("a node that does not follow the person was fed %d items", len(got))
	}
	// Pulling after 3 removes 1..3 for good.
	if got := feed("b", 3); !slices.Equal(seqs(got, feedSeq), []int64{4, 5}) {
		t.Errorf("b after 3 = %v", seqs(got, feedSeq))
	}
	if got := feed("b", 0); !slices.Equal(seqs(got, feedSeq), []int64{4, 5}) {
		t.Errorf("b after 0, once 3 was acknowledged = %v", seqs(got, feedSeq))
	}
	if got, _ := s.PullFeed(ctx, "b", 0, 1); len(got) != 1 || got[0].Seq != 4 {
		t.Errorf("PullFeed with limit 1 = %v", seqs(got, feedSeq))
	}
	if got := feed("b", 5); len(got) != 0 {
		t.Errorf("b after 5 = %v", seqs(got, feedSeq))
	}
	// The numbering goes on after the feed was emptied.
	v := newDose(p, "2021-06-02")
	if _, err := s.RecordVaccination(ctx, v, registry.Write{Feed: []registry.SyncEvent{syncEvent(registry.SyncDose, p.ID, v.ID, 0, now)}}); err != nil {
		t.Fatal(err)
	}
	if got := feed("b", 5); !slices.Equal(seqs(got, feedSeq), []int64{6}) {
		t.Errorf("b's next item = %v, want [6]", seqs(got, feedSeq))
	}
}

// testSyncFeedConcurrent checks that each node's feed is numbered without
// gaps under concurrent writers.
func testSyncFeedConcurrent(t *testing.T, s SyncStore) {
	ctx := context.Background()
	c := central{t, s}
	c.node("a", "YB-1")
	c.node("b", "YB-1")
	p, q := newPerson(t, s), newPerson(t, s)
	c.follow("a", p)
	c.follow("b", p)
	c.follow("b", q)
	const writers, each = 8, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				target := p
				if (w+i)%3 == 0 {
					target = q
				}
				v := newDose(target, "2021-06-01")
				ev := syncEvent(registry.SyncDose, target.ID, v.ID, 0, now)
				if _, err := s.RecordVaccination(ctx, v, registry.Write{Feed: []registry.SyncEvent{ev}, Audit: auditRec("vaccination.create", "ps1_w")}); err != nil {
					t.Errorf("RecordVaccination: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	vp, _ := s.FindVaccinations(ctx, p.ID)
	vq, _ := s.FindVaccinations(ctx, q.ID)
	for node, want := range map[string]int{"a": len(vp), "b": len(vp) + len(vq)} {
		items, err := s.PullFeed(ctx, node, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != want {
			t.Errorf("node %s: %d items, want %d", node, len(items), want)
		}
		seen := map[registry.ID]bool{}
		for i, it := range items {
			if it.Seq != int64(i+1) {
				t.Fatalf("node %s: item %d has seq %d: the feed has a gap", node, i, it.Seq)
			}
			if seen[it.Event.RecordID] {
				t.Errorf("node %s: dose %v fed twice", node, it.Event.RecordID)
			}
			seen[it.Event.RecordID] = true
		}
	}
}

// testSyncFeedErase checks that an erasure at the central is fed to the
// person's followers, whose follows go with the person.
func testSyncFeedErase(t *testing.T, s SyncStore) {
	ctx := context.Background()
	c := central{t, s}
	c.node("a", "YB-1")
	c.node("b", "YB-1")
	p := newPerson(t, s)
	c.follow("a", p)
	c.follow("b", p)
	erase := syncEvent(registry.SyncErase, p.ID, registry.ID{}, 0, now)
	if err := s.ErasePerson(ctx, p.CardCode, registry.Write{Feed: []registry.SyncEvent{erase}, FeedExcept: "b", Audit: auditRec("person.erase", "ps1_x")}); err != nil {
		t.Fatal(err)
	}
	items, err := s.PullFeed(ctx, "a", 0, 10)
	if err != nil || len(items) != 1 || items[0].Seq != 1 || items[0].Event.Kind != registry.SyncErase || items[0].Event.PersonID != p.ID {
		t.Errorf("a's feed = %+v, %v; want the erasure", items, err)
	}
	if items, _ := s.PullFeed(ctx, "b", 0, 10); len(items) != 0 {
		t.Errorf("the erasing node was fed its own erasure: %+v", items)
	}
	if f, err := s.Followers(ctx, p.ID); err != nil || len(f) != 0 {
		t.Errorf("followers of an erased person = %v, %v", f, err)
	}
	if ok, _ := s.Tombstoned(ctx, p.ID); !ok {
		t.Error("no tombstone")
	}
	mustCode(t, s.Follow(ctx, "a", p.ID, registry.AuditRecord{}, now), registry.ENOTFOUND)
}

// testSyncApplyPull checks that a page of the feed is written once however
// often it is applied, and that an existing person's sealed part is
// replaced with its key kept.
func testSyncApplyPull(t *testing.T, s SyncStore) {
	ctx := context.Background()
	local := newPerson(t, s)
	mine := newDose(local, "2021-05-01")
	mine.SourceRef = "shared-ref"
	if _, err := s.RecordVaccination(ctx, mine, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	shadow := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: []byte("node-key"), Sealed: []byte("birth-sex"), Origin: registry.OriginCentral}
	d1, d2 := newDose(shadow, "2021-06-01"), newDose(shadow, "2021-07-01")
	d2.Replaces = d1.ID
	clash := newDose(shadow, "2021-07-02")
	clash.SourceRef = "shared-ref" // clashes with a local record: skipped
	test := registry.Test{ID: registry.NewID(), PersonID: shadow.ID, Kind: registry.TestPCR, Result: registry.ResultNegative,
		Date: date("2021-07-03"), Site: "YB-1", RecordedAt: now, Status: registry.StatusCompleted}
	page := registry.PullApply{
		Persons:      []registry.SealedPerson{shadow},
		Vaccinations: []registry.Vaccination{d1, d2, clash},
		Tests:        []registry.Test{test},
		Corrections:  []registry.Correction{{RecordID: d1.ID, Replacement: d2.ID}, {RecordID: registry.NewID()}},
		State:        map[string]string{"pull": "12"},
	}
	for range 2 {
		if err := s.ApplyPull(ctx, page); err != nil {
			t.Fatalf("ApplyPull: %v", err)
		}
	}
	rec, err := s.FindRecord(ctx, shadow.CardCode)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Person.Origin != registry.OriginCentral || string(rec.Person.Sealed) != "birth-sex" || len(rec.Vaccinations) != 2 || len(rec.Tests) != 1 {
		t.Fatalf("record after two pulls = %+v", rec)
	}
	if v, _ := s.FindVaccination(ctx, d1.ID); v == nil || v.Status != registry.StatusEnteredInError || v.ReplacedBy != d2.ID {
		t.Errorf("corrected dose = %+v", v)
	}
	if v, _ := s.FindVaccination(ctx, d2.ID); v == nil || v.Replaces != d1.ID || v.Status != registry.StatusCompleted {
		t.Errorf("replacement = %+v", v)
	}
	if st, _ := s.SyncState(ctx); st["pull"] != "12" {
		t.Errorf("state = %v", st)
	}
	// A later page resends the person, resealed under the stored key.
	again := shadow
	again.WrappedKey, again.Sealed, again.CardCode = []byte("ignored"), []byte("birth-sex-2"), registry.NewCardCode()
	if err := s.ApplyPull(ctx, registry.PullApply{Persons: []registry.SealedPerson{again}, State: map[string]string{"pull": "13"}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindPersonByID(ctx, shadow.ID)
	if err != nil || string(got.Sealed) != "birth-sex-2" || string(got.WrappedKey) != "node-key" || got.CardCode != shadow.CardCode {
		t.Errorf("resent person = %+v, %v; want the new sealed part under the stored key", got, err)
	}
}
