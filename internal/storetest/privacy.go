package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

func auditRec(action, subject string) *registry.AuditRecord {
	return &registry.AuditRecord{Time: now, Actor: "tk_test", Role: "vaccinator", Action: action, Purpose: "care", Subject: subject}
}

// Writes append their audit entry in the same transaction; a replayed or
// failed write appends none; the chain verifies.
func testAudit(t *testing.T, s registry.Store) {
	ctx := context.Background()
	as, ok := s.(audit.Store)
	if !ok {
		t.Fatal("store does not implement audit.Store")
	}
	if _, err := as.Last(ctx); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Fatalf("Last on an empty log = %v, want not_found", err)
	}
	p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now}
	if _, err := s.CreatePerson(ctx, p, registry.Write{Audit: auditRec("person.create", "ps1_a")}); err != nil {
		t.Fatal(err)
	}
	v := newDose(p, "2021-06-01")
	w := idem("tok", "k", "b", "vaccination", v.ID.String())
	w.Audit = auditRec("vaccination.create", "ps1_a")
	for range 2 { // the second is a replay and must not append
		if _, err := s.RecordVaccination(ctx, v, w); err != nil {
			t.Fatal(err)
		}
	}
	orphan := newDose(registry.SealedPerson{ID: registry.NewID()}, "2021-06-01")
	if _, err := s.RecordVaccination(ctx, orphan, registry.Write{Audit: auditRec("vaccination.create", "ps1_b")}); err == nil {
		t.Fatal("dose for a missing person was stored")
	}
	if err := s.AppendAudit(ctx, *auditRec("person.read", "ps1_a")); err != nil {
		t.Fatal(err)
	}
	// A record that would carry free text is refused.
	bad := auditRec("person.read", "Kim Mi-young")
	if err := s.AppendAudit(ctx, *bad); registry.ErrorCode(err) != registry.EINVALID {
		t.Fatalf("audit with a space in the subject = %v, want invalid", err)
	}
	var actions []string
	if err := as.Scan(ctx, 1, func(e audit.Entry) error { actions = append(actions, e.Action); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"person.create", "vaccination.create", "person.read"}
	if len(actions) != len(want) {
		t.Fatalf("audit actions = %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("audit actions = %v, want %v", actions, want)
		}
	}
	rep, err := audit.Verify(ctx, as, nil)
	if err != nil || !rep.OK || rep.Entries != 3 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	cs, ok := s.(audit.CheckpointStore)
	if !ok {
		t.Fatal("store does not implement audit.CheckpointStore")
	}
	last, _ := as.Last(ctx)
	cp := audit.Checkpoint{Origin: "test", Seq: last.Seq, Hash: last.Hash, Time: now.Truncate(time.Second), KeyID: "k1", Signature: []byte{1, 2, 3}}
	if err := cs.SaveCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	got, err := cs.Checkpoints(ctx)
	if err != nil || len(got) != 1 || got[0].Seq != cp.Seq || got[0].Hash != cp.Hash || !got[0].Time.Equal(cp.Time) {
		t.Fatalf("Checkpoints = %+v, %v", got, err)
	}
}

// Erasure leaves nothing linkable: no person, no records, no idempotency
// entries, only counts.
func testErase(t *testing.T, s registry.Store) {
	ctx := context.Background()
	if _, err := s.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination", "testing"}, CreatedAt: now}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now, WrappedKey: []byte("k"), Sealed: []byte("s")}
	pw := idem("tok", "create-person", "b", "person", string(p.CardCode))
	if _, err := s.CreatePerson(ctx, p, pw); err != nil {
		t.Fatal(err)
	}
	keep := newPerson(t, s)
	d1, d2 := newDose(p, "2021-06-01"), newDose(p, "2021-06-30")
	for i, v := range []registry.Vaccination{d1, d2, newDose(keep, "2021-06-02")} {
		if _, err := s.RecordVaccination(ctx, v, idem("tok", v.ID.String(), "b", "vaccination", v.ID.String())); err != nil {
			t.Fatalf("dose %d: %v", i, err)
		}
	}
	tst := registry.Test{ID: registry.NewID(), PersonID: p.ID, Kind: registry.TestPCR, Result: registry.ResultNegative,
		Date: date("2021-06-03"), Site: "YB-1", RecordedAt: now, Status: registry.StatusCompleted}
	if _, err := s.RecordTest(ctx, tst, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	before, err := s.DoseCounts(ctx, date("2021-05-01"), date("2021-07-31"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ErasePerson(ctx, p.CardCode, registry.Write{Audit: auditRec("person.erase", "ps1_x")}); err != nil {
		t.Fatalf("ErasePerson: %v", err)
	}
	if _, err := s.FindPerson(ctx, p.CardCode); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Fatalf("FindPerson after erasure = %v", err)
	}
	for _, id := range []registry.ID{d1.ID, d2.ID} {
		if _, err := s.FindVaccination(ctx, id); registry.ErrorCode(err) != registry.ENOTFOUND {
			t.Fatalf("dose %s survived erasure: %v", id, err)
		}
	}
	if _, err := s.FindTest(ctx, tst.ID); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Fatalf("test survived erasure: %v", err)
	}
	for _, key := range []string{"create-person", d1.ID.String(), d2.ID.String()} {
		if _, err := s.FindIdempotency(ctx, "tok", key); registry.ErrorCode(err) != registry.ENOTFOUND {
			t.Fatalf("idempotency entry %s survived erasure: %v", key, err)
		}
	}
	if err := s.ErasePerson(ctx, p.CardCode, registry.Write{}); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Fatalf("second erasure = %v, want not_found", err)
	}
	if rec, err := s.FindRecord(ctx, keep.CardCode); err != nil || len(rec.Vaccinations) != 1 {
		t.Fatalf("another person's record changed: %+v, %v", rec, err)
	}
	after, err := s.DoseCounts(ctx, date("2021-05-01"), date("2021-07-31"))
	if err != nil {
		t.Fatal(err)
	}
	if total(before) != 3 || total(after) != 3 {
		t.Fatalf("dose totals before/after erasure = %d/%d, want 3/3", total(before), total(after))
	}
	for _, c := range after {
		if c.Date == d2.Date {
			t.Fatalf("an erased dose is still counted on its own day: %+v", c)
		}
	}
	tc, err := s.TestCounts(ctx, date("2021-05-01"), date("2021-07-31"))
	if err != nil || len(tc) != 1 || tc[0].Count != 1 || tc[0].Date != date("2021-05-31") {
		t.Fatalf("TestCounts after erasure = %+v, %v; want one test in the week of 2021-05-31", tc, err)
	}
}

func total(cs []registry.DoseCount) int64 {
	var n int64
	for _, c := range cs {
		n += c.Count
	}
	return n
}

// DoseCounts counts only completed doses given at a site, with their
// jurisdiction and dose number.
func testCounts(t *testing.T, s registry.Store) {
	ctx := context.Background()
	if _, err := s.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination"}, CreatedAt: now}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	p := newPerson(t, s)
	d1, d2, wrong := newDose(p, "2021-06-01"), newDose(p, "2021-06-29"), newDose(p, "2021-06-15")
	hist := newDose(p, "2021-05-01")
	hist.Site = ""
	for _, v := range []registry.Vaccination{d1, d2, wrong, hist} {
		if _, err := s.RecordVaccination(ctx, v, registry.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.MarkEnteredInError(ctx, p.ID, wrong.ID, registry.ID{}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.DoseCounts(ctx, date("2021-06-01"), date("2021-06-30"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || total(got) != 2 {
		t.Fatalf("DoseCounts = %+v, want d1 and d2 only", got)
	}
	for _, c := range got {
		if c.Jurisdiction != "CN-JL-YB" || c.Product != "coronavac" {
			t.Fatalf("count %+v", c)
		}
		if c.Date == d2.Date && c.DoseNumber < 2 {
			t.Fatalf("second dose counted as dose %d", c.DoseNumber)
		}
	}
}
