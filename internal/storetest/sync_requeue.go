package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/haven-registry/haven/internal/registry"
)

// testSyncRequeueOwn checks that RequeueOwn queues the node's own persons
// and records (not shadows) again, in order, above the floor it is given.
func testSyncRequeueOwn(t *testing.T, s SyncStore) {
	ctx := context.Background()
	p := nodePerson(t, s, 1)
	v := nodeDose(t, s, p, 2)
	if _, err := s.MarkEnteredInError(ctx, p.ID, v.ID, registry.ID{}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	shadow := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: []byte("wrapped"), Sealed: []byte("sealed"), Origin: registry.OriginCentral}
	if _, err := s.CreatePerson(ctx, shadow, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordVaccination(ctx, newDose(shadow, "2021-06-02"), registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if err := s.AckSync(ctx, 2, nil, nil); err != nil { // both sent and acknowledged
		t.Fatal(err)
	}
	n, err := s.RequeueOwn(ctx, 100, 7, now)
	if err != nil {
		t.Fatal(err)
	}
	items := pending(t, s)
	var kinds []string
	for _, it := range items {
		kinds = append(kinds, it.Event.Kind)
		if it.Seq <= 100 || it.Event.HLC != 7 || it.Event.PersonID != p.ID {
			t.Errorf("requeued %+v; want seq above 100, hlc 7, the node's own person only", it)
		}
	}
	want := []string{registry.SyncPerson, registry.SyncDose, registry.SyncCorrect}
	if n != 3 || !slices.Equal(kinds, want) {
		t.Errorf("requeued %d events %v; want %v", n, kinds, want)
	}
	if !slices.IsSorted(seqs(items, itemSeq)) {
		t.Errorf("requeued seqs %v are not in order", seqs(items, itemSeq))
	}
}

// testSyncCertificates checks certificates' metadata: stored, found, unique
// by UVCI, queued with its push event, and erased with the person.
func testSyncCertificates(t *testing.T, s SyncStore) {
	ctx := context.Background()
	p := nodePerson(t, s, 1)
	v := nodeDose(t, s, p, 2)
	c := registry.CertificateMeta{ID: registry.NewID(), PersonID: p.ID, RecordID: v.ID, UVCI: "URN:UVCI:01:KR:TEST#1",
		KID: []byte{1, 2, 3, 4, 5, 6, 7, 8}, IssuedAt: now, ExpiresAt: now.AddDate(1, 0, 0)}
	w := registry.Write{Push: []registry.SyncEvent{syncEvent(registry.SyncCert, p.ID, c.ID, 3, now)}}
	if err := s.RecordCertificate(ctx, c, w); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindCertificate(ctx, c.ID)
	if err != nil || got.UVCI != c.UVCI || got.RecordID != v.ID || !got.IssuedAt.Equal(now) || string(got.KID) != string(c.KID) {
		t.Fatalf("FindCertificate = %+v, %v", got, err)
	}
	if items := pending(t, s); len(items) != 3 || items[2].Event.Kind != registry.SyncCert || items[2].Event.RecordID != c.ID {
		t.Errorf("outbox %+v; want the cert event last", items)
	}
	again := c
	again.ID = registry.NewID()
	if err := s.RecordCertificate(ctx, again, registry.Write{}); registry.ErrorCode(err) != registry.ECONFLICT {
		t.Errorf("a second certificate with one UVCI: %v; want conflict", err)
	}
	if err := s.ErasePerson(ctx, p.CardCode, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindCertificate(ctx, c.ID); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("a certificate's metadata outlived the person's erasure: %v", err)
	}
}

// testSyncLapseFollows checks that follows unused since the cutoff end with
// an unfollow fed to their node, and that recent ones stay.
func testSyncLapseFollows(t *testing.T, s SyncStore) {
	ctx := context.Background()
	c := central{t, s}
	for _, n := range []string{"a", "b"} {
		c.node(n, "YB-1")
	}
	old, recent := newPerson(t, s), newPerson(t, s)
	if err := s.Follow(ctx, "a", old.ID, *auditRec("sync.lookup", "ps1_f"), now.AddDate(0, 0, -100)); err != nil {
		t.Fatal(err)
	}
	if err := s.Follow(ctx, "b", old.ID, *auditRec("sync.lookup", "ps1_f"), now.AddDate(0, 0, -10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Follow(ctx, "a", recent.ID, *auditRec("sync.lookup", "ps1_f"), now.AddDate(0, 0, -1)); err != nil {
		t.Fatal(err)
	}
	n, err := s.LapseFollows(ctx, now.AddDate(0, 0, -90), 100)
	if err != nil || n != 1 {
		t.Fatalf("LapseFollows = %d, %v; want 1", n, err)
	}
	if f, err := s.Followers(ctx, old.ID); err != nil || !slices.Equal(f, []string{"b"}) {
		t.Errorf("followers after the lapse: %v, %v; want b only", f, err)
	}
	items, err := s.PullFeed(ctx, "a", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Event.Kind != registry.SyncUnfollow || items[0].Event.PersonID != old.ID {
		t.Errorf("a's feed: %+v; want one unfollow of the lapsed person", items)
	}
	if items, _ := s.PullFeed(ctx, "b", 0, 10); len(items) != 0 {
		t.Errorf("b's feed: %+v; want nothing", items)
	}
}

// testSyncBatchReads checks FindRecordsByID (more IDs than one read holds,
// unknown ones left out) and AppendAudits (in order, one transaction).
func testSyncBatchReads(t *testing.T, s SyncStore) {
	ctx := context.Background()
	p := nodePerson(t, s, 1)
	var ids []registry.ID
	for i := range 150 {
		ids = append(ids, nodeDose(t, s, p, int64(2+i)).ID)
	}
	tst := registry.Test{ID: registry.NewID(), PersonID: p.ID, Kind: registry.TestPCR, Result: registry.ResultNegative,
		Date: date("2021-07-01"), Site: "YB-1", RecordedAt: now, Status: registry.StatusCompleted}
	if _, err := s.RecordTest(ctx, tst, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	vs, ts, err := s.FindRecordsByID(ctx, append(append(ids, registry.NewID()), tst.ID))
	if err != nil || len(vs) != 150 || len(ts) != 1 || ts[0].ID != tst.ID {
		t.Fatalf("FindRecordsByID: %d doses, %d tests, %v; want 150 and 1", len(vs), len(ts), err)
	}
	before := syncApplies(t, s)
	var rs []registry.AuditRecord
	for range 3 {
		rs = append(rs, *auditRec("sync.apply", "ps1_f"))
	}
	if err := s.AppendAudits(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if got := syncApplies(t, s); got != before+3 {
		t.Errorf("%d sync.apply entries after appending three; want %d", got, before+3)
	}
}
