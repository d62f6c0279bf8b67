package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// testHistory checks that a history batch creates its person and records,
// keeps not-given doses and source references, and applies corrections.
func testHistory(t *testing.T, s registry.Store) {
	ctx := context.Background()
	if _, err := s.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination"}, CreatedAt: now}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: []byte("wrapped"), Sealed: []byte("sealed"), SourceRef: "person-ref"}
	given := newDose(p, "2021-07-01")
	given.SourceRef = "ref-given"
	refused := newDose(p, "2021-08-01")
	refused.Status, refused.StatusReason, refused.SourceRef = registry.StatusNotDone, registry.ReasonPatientObjection, "ref-refused"
	test := registry.Test{ID: registry.NewID(), PersonID: p.ID, Kind: registry.TestPCR, Result: registry.ResultNegative,
		Date: date("2021-08-02"), Site: "YB-1", RecordedAt: now, Status: registry.StatusCompleted, SourceRef: "ref-test"}
	h := registry.History{NewPerson: &p, PersonID: p.ID, Vaccinations: []registry.Vaccination{given, refused}, Tests: []registry.Test{test}}
	if _, err := s.RecordHistory(ctx, h, registry.Write{Audit: auditRec("history.import", "p1")}); err != nil {
		t.Fatalf("RecordHistory: %v", err)
	}
	rec, err := s.FindRecord(ctx, p.CardCode)
	if err != nil {
		t.Fatalf("FindRecord: %v", err)
	}
	if len(rec.Vaccinations) != 2 || len(rec.Tests) != 1 {
		t.Fatalf("record holds %d vaccinations and %d tests, want 2 and 1", len(rec.Vaccinations), len(rec.Tests))
	}
	if found, err := s.FindPersonBySourceRef(ctx, "person-ref"); err != nil || found.ID != p.ID || found.SourceRef != "person-ref" {
		t.Errorf("FindPersonBySourceRef = %+v, %v", found, err)
	}
	_, err = s.FindPersonBySourceRef(ctx, "no-such-ref")
	mustCode(t, err, registry.ENOTFOUND)
	twin := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now, SourceRef: "person-ref"}
	_, err = s.RecordHistory(ctx, registry.History{NewPerson: &twin, PersonID: twin.ID}, registry.Write{})
	mustCode(t, err, registry.ECONFLICT)
	got := rec.Vaccinations[1]
	if got.Status != registry.StatusNotDone || got.StatusReason != registry.ReasonPatientObjection || got.SourceRef != "ref-refused" {
		t.Errorf("refusal read back as status %q reason %q ref %q", got.Status, got.StatusReason, got.SourceRef)
	}
	if rec.Vaccinations[0].SourceRef != "ref-given" || rec.Tests[0].SourceRef != "ref-test" {
		t.Errorf("source refs read back as %q and %q", rec.Vaccinations[0].SourceRef, rec.Tests[0].SourceRef)
	}

	// A second batch for the same person corrects the first dose with a
	// new one, in one transaction.
	fixed := newDose(p, "2021-07-02")
	fixed.SourceRef, fixed.Replaces = "ref-given", given.ID // an update keeps the reference
	h2 := registry.History{PersonID: p.ID, Vaccinations: []registry.Vaccination{fixed},
		Corrections: []registry.Correction{{RecordID: given.ID, Replacement: fixed.ID}}}
	if _, err := s.RecordHistory(ctx, h2, registry.Write{}); err != nil {
		t.Fatalf("RecordHistory (correction): %v", err)
	}
	old, err := s.FindVaccination(ctx, given.ID)
	if err != nil {
		t.Fatal(err)
	}
	if old.Status != registry.StatusEnteredInError || old.ReplacedBy != fixed.ID {
		t.Errorf("corrected dose: status %q replaced by %v", old.Status, old.ReplacedBy)
	}
	if nv, err := s.FindVaccination(ctx, fixed.ID); err != nil || nv.Replaces != given.ID {
		t.Errorf("the replacement does not name the dose it replaces: %+v, %v", nv, err)
	}

	// A source reference is unique among current records.
	again := newDose(p, "2021-07-03")
	again.SourceRef = "ref-given"
	_, err = s.RecordHistory(ctx, registry.History{PersonID: p.ID, Vaccinations: []registry.Vaccination{again}}, registry.Write{})
	mustCode(t, err, registry.ECONFLICT)

	// A not-given dose is no dose: it has no dose number and is not counted.
	counts, err := s.DoseCounts(ctx, date("2021-01-01"), date("2021-12-31"))
	if err != nil {
		t.Fatal(err)
	}
	if n := total(counts); n != 1 {
		t.Errorf("dose counts total %d, want 1 (the refusal and the corrected dose are not doses)", n)
	}
}

// testHistoryAllOrNothing checks that a batch with one bad record writes
// nothing at all: not the new person, not the records before the bad one,
// not the audit entry.
func testHistoryAllOrNothing(t *testing.T, s registry.Store) {
	ctx := context.Background()
	existing := newPerson(t, s)
	taken := newDose(existing, "2021-06-01")
	taken.SourceRef = "taken"
	if _, err := s.RecordVaccination(ctx, taken, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: []byte("wrapped"), Sealed: []byte("sealed")}
	ok := newDose(p, "2021-07-01")
	bad := newDose(p, "2021-07-02")
	bad.SourceRef = "taken"
	reports := []registry.Report{{PersonID: p.ID, RecordID: ok.ID, At: now}}
	_, err := s.RecordHistory(ctx, registry.History{NewPerson: &p, PersonID: p.ID, Vaccinations: []registry.Vaccination{ok, bad}},
		registry.Write{Audit: auditRec("history.import", "p2"), Reports: reports})
	mustCode(t, err, registry.ECONFLICT)
	if _, err := s.FindPerson(ctx, p.CardCode); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("the new person of a failed batch was stored (err %v)", err)
	}
	if _, err := s.FindVaccination(ctx, ok.ID); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("a dose of a failed batch was stored (err %v)", err)
	}
	if items, err := s.ListOutbox(ctx, 10); err != nil || len(items) != 0 {
		t.Errorf("a failed batch queued %d reports (err %v)", len(items), err)
	}

	// A correction of a record of another person fails the batch too.
	q := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: []byte("wrapped"), Sealed: []byte("sealed")}
	_, err = s.RecordHistory(ctx, registry.History{NewPerson: &q, PersonID: q.ID,
		Corrections: []registry.Correction{{RecordID: taken.ID}}}, registry.Write{})
	mustCode(t, err, registry.ENOTFOUND)
	if _, err := s.FindPerson(ctx, q.CardCode); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("the new person of a failed batch was stored (err %v)", err)
	}
	if v, _ := s.FindVaccination(ctx, taken.ID); v == nil || v.Status != registry.StatusCompleted {
		t.Errorf("another person's dose was changed by a failed batch: %+v", v)
	}
}

// testOutbox checks the upstream feed's queue: reports are queued with
// their write, delivered in order, settled, kept when rejected, retried on
// demand, and dropped when their person is erased.
func testOutbox(t *testing.T, s registry.Store) {
	ctx := context.Background()
	p := newPerson(t, s)
	var doses []registry.Vaccination
	for i, day := range []string{"2021-06-01", "2021-07-01", "2021-08-01"} {
		v := newDose(p, day)
		doses = append(doses, v)
		at := now.Add(time.Duration(i) * time.Second)
		if _, err := s.RecordVaccination(ctx, v, registry.Write{Reports: []registry.Report{{PersonID: p.ID, RecordID: v.ID, At: at}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.MarkEnteredInError(ctx, p.ID, doses[0].ID, registry.ID{},
		registry.Write{Reports: []registry.Report{{PersonID: p.ID, RecordID: doses[0].ID, Deleted: true, At: now.Add(time.Minute)}}}); err != nil {
		t.Fatal(err)
	}
	items, err := s.PendingReports(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 4 {
		t.Fatalf("%d pending reports, want 4", len(items))
	}
	for i, it := range items[:3] {
		if it.Report.RecordID != doses[i].ID || it.Report.Deleted || it.Report.PersonID != p.ID || it.Card != p.CardCode {
			t.Errorf("report %d = %+v, want dose %d", i, it.Report, i)
		}
	}
	if !items[3].Report.Deleted || items[3].Report.RecordID != doses[0].ID || !items[3].QueuedAt.Equal(now.Add(time.Minute)) {
		t.Errorf("last report = %+v, want the deletion of dose 0", items[3])
	}
	for i := 1; i < len(items); i++ {
		if items[i].Seq <= items[i-1].Seq {
			t.Errorf("reports out of order: %d after %d", items[i].Seq, items[i-1].Seq)
		}
	}

	// Sent, retried and rejected.
	if err := s.SettleReport(ctx, items[0].Seq, registry.ReportOutcome{Sent: true, At: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.SettleReport(ctx, items[1].Seq, registry.ReportOutcome{Error: "connection refused", At: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.SettleReport(ctx, items[2].Seq, registry.ReportOutcome{Failed: true, Error: "AE 103 RXA-5", At: now}); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.SettleReport(ctx, items[0].Seq, registry.ReportOutcome{Sent: true}), registry.ENOTFOUND)
	pending, err := s.PendingReports(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].Seq != items[1].Seq || pending[0].Attempts != 1 || pending[0].LastError != "connection refused" {
		t.Fatalf("pending after settling = %+v", pending)
	}
	st, err := s.OutboxStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 2 || st.Failed != 1 || !st.Oldest.Equal(items[1].QueuedAt) || st.LastError == "" {
		t.Errorf("status = %+v", st)
	}
	if err := s.RetryReport(ctx, items[2].Seq); err != nil {
		t.Fatal(err)
	}
	if pending, _ := s.PendingReports(ctx, 10); len(pending) != 3 || pending[1].Seq != items[2].Seq {
		t.Errorf("a retried report is not pending in its place: %+v", pending)
	}
	mustCode(t, s.RetryReport(ctx, 1<<40), registry.ENOTFOUND)

	// Erasing the person drops their reports.
	if err := s.ErasePerson(ctx, p.CardCode, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if all, err := s.ListOutbox(ctx, 10); err != nil || len(all) != 0 {
		t.Errorf("the outbox keeps %d reports of an erased person (err %v)", len(all), err)
	}
}

// testIdempotencyExpiry checks that expired idempotency entries are swept
// in batches, oldest first, and that a key can be used afresh once its entry
// expired.
func testIdempotencyExpiry(t *testing.T, s registry.Store) {
	ctx := context.Background()
	for i := range 5 {
		w := idem("tk", fmt.Sprintf("k%d", i), "body", "site", fmt.Sprintf("S-%d", i))
		w.Idem.CreatedAt = now.Add(time.Duration(i) * time.Hour)
		if _, err := s.CreateSite(ctx, registry.Site{Code: fmt.Sprintf("S-%d", i), Name: "s", Jurisdiction: "KR", CreatedAt: now}, w); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := now.Add(3*time.Hour + time.Minute) // k0..k3 are older
	n, err := s.ExpireIdempotency(ctx, cutoff, 3)
	if err != nil || n != 3 {
		t.Fatalf("first sweep deleted %d (err %v), want 3", n, err)
	}
	if _, err := s.FindIdempotency(ctx, "tk", "k0"); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("the oldest entry survived the sweep (err %v)", err)
	}
	if n, err = s.ExpireIdempotency(ctx, cutoff, 3); err != nil || n != 1 {
		t.Fatalf("second sweep deleted %d (err %v), want 1", n, err)
	}
	if n, err = s.ExpireIdempotency(ctx, cutoff, 3); err != nil || n != 0 {
		t.Fatalf("third sweep deleted %d (err %v), want 0", n, err)
	}
	if _, err := s.FindIdempotency(ctx, "tk", "k4"); err != nil {
		t.Errorf("an entry younger than the cutoff was swept: %v", err)
	}
}
