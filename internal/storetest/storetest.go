// Package storetest is the conformance suite that every registry.Store
// implementation must pass. internal/sqlite and internal/postgres run it.
package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// Factory returns a fresh, migrated, empty store for one test. The suite
// closes it.
type Factory func(t *testing.T) registry.Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, registry.Store)
	}{
		{"Person", testPerson},
		{"Idempotency", testIdempotency},
		{"IdempotencyConcurrent", testIdempotencyConcurrent},
		{"Vaccination", testVaccination},
		{"Test", testTest},
		{"EnteredInError", testEnteredInError},
		{"Site", testSite},
		{"Token", testToken},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Audit", testAudit},
		{"Erase", testErase},
		{"Counts", testCounts},
		{"History", testHistory},
		{"HistoryAllOrNothing", testHistoryAllOrNothing},
		{"Outbox", testOutbox},
		{"IdempotencyExpiry", testIdempotencyExpiry},
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

var now = time.Date(2021, 9, 17, 10, 30, 0, 123000, time.UTC)

func mustCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := registry.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

func newPerson(t *testing.T, s registry.Store) registry.SealedPerson {
	t.Helper()
	p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: []byte("wrapped"), Sealed: []byte("sealed")}
	if _, err := s.CreatePerson(context.Background(), p, registry.Write{}); err != nil {
		t.Fatalf("CreatePerson: %v", err)
	}
	return p
}

func date(s string) registry.Date {
	d, err := registry.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func newDose(p registry.SealedPerson, day string) registry.Vaccination {
	return registry.Vaccination{ID: registry.NewID(), PersonID: p.ID, Product: "coronavac", Date: date(day),
		Site: "YB-1", Lot: "L1", Source: registry.SourceAdministered, Payment: registry.Payment{Kind: "free"},
		RecordedAt: now, Status: registry.StatusCompleted}
}

func testPerson(t *testing.T, s registry.Store) {
	ctx := context.Background()
	p := newPerson(t, s)
	got, err := s.FindPerson(ctx, p.CardCode)
	if err != nil {
		t.Fatalf("FindPerson: %v", err)
	}
	if got.ID != p.ID || got.CardCode != p.CardCode || !got.CreatedAt.Equal(p.CreatedAt) ||
		string(got.WrappedKey) != "wrapped" || string(got.Sealed) != "sealed" {
		t.Fatalf("FindPerson = %+v, want %+v", got, p)
	}
	_, err = s.FindPerson(ctx, registry.NewCardCode())
	mustCode(t, err, registry.ENOTFOUND)
	_, err = s.FindRecord(ctx, registry.NewCardCode())
	mustCode(t, err, registry.ENOTFOUND)

	dup := p
	dup.ID = registry.NewID()
	_, err = s.CreatePerson(ctx, dup, registry.Write{})
	mustCode(t, err, registry.ECONFLICT)
	rec, err := s.FindRecord(ctx, p.CardCode)
	if err != nil || rec.Person.ID != p.ID || len(rec.Vaccinations) != 0 || len(rec.Tests) != 0 {
		t.Fatalf("FindRecord = %+v, %v", rec, err)
	}
}

func idem(scope, key, body, kind, resource string) registry.Write {
	h := sha256.Sum256([]byte(body))
	return registry.Write{Idem: &registry.Idempotency{Scope: scope, Key: key, RequestHash: h[:], Kind: kind, ResourceID: resource, CreatedAt: now}}
}

func testIdempotency(t *testing.T, s registry.Store) {
	ctx := context.Background()
	p := newPerson(t, s)
	first := newDose(p, "2021-06-01")
	replay, err := s.RecordVaccination(ctx, first, idem("tok1", "k1", "body", "vaccination", first.ID.String()))
	if err != nil || replay != nil {
		t.Fatalf("first RecordVaccination = %v, %v; want nil, nil", replay, err)
	}
	second := newDose(p, "2021-06-01")
	replay, err = s.RecordVaccination(ctx, second, idem("tok1", "k1", "body", "vaccination", second.ID.String()))
	if err != nil || replay == nil || replay.ResourceID != first.ID.String() {
		t.Fatalf("retry RecordVaccination = %+v, %v; want replay of %s", replay, err, first.ID)
	}
	_, err = s.FindVaccination(ctx, second.ID)
	mustCode(t, err, registry.ENOTFOUND)

	// The same key with a different body is refused and writes nothing.
	third := newDose(p, "2021-07-01")
	_, err = s.RecordVaccination(ctx, third, idem("tok1", "k1", "other body", "vaccination", third.ID.String()))
	mustCode(t, err, registry.EIDEMPOTENCY)
	_, err = s.FindVaccination(ctx, third.ID)
	mustCode(t, err, registry.ENOTFOUND)

	// Keys are scoped: another token may use the same key.
	replay, err = s.RecordVaccination(ctx, third, idem("tok2", "k1", "body", "vaccination", third.ID.String()))
	if err != nil || replay != nil {
		t.Fatalf("other scope = %v, %v", replay, err)
	}
	got, err := s.FindIdempotency(ctx, "tok2", "k1")
	if err != nil || got.ResourceID != third.ID.String() || got.Kind != "vaccination" {
		t.Fatalf("FindIdempotency = %+v, %v", got, err)
	}
	_, err = s.FindIdempotency(ctx, "tok3", "k1")
	mustCode(t, err, registry.ENOTFOUND)

	// A failed write does not claim the key.
	orphan := newDose(registry.SealedPerson{ID: registry.NewID()}, "2021-06-01")
	_, err = s.RecordVaccination(ctx, orphan, idem("tok1", "k2", "body", "vaccination", orphan.ID.String()))
	mustCode(t, err, registry.ENOTFOUND)
	_, err = s.FindIdempotency(ctx, "tok1", "k2")
	mustCode(t, err, registry.ENOTFOUND)
}

// Many concurrent requests with one key create exactly one record.
func testIdempotencyConcurrent(t *testing.T, s registry.Store) {
	ctx := context.Background()
	p := newPerson(t, s)
	const n = 16
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		created  []registry.ID
		replayed int
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := newDose(p, "2021-06-01")
			replay, err := s.RecordVaccination(ctx, v, idem("tok", "same", "body", "vaccination", v.ID.String()))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("RecordVaccination: %v", err)
			case replay == nil:
				created = append(created, v.ID)
			default:
				replayed++
			}
		}()
	}
	wg.Wait()
	rec, err := s.FindRecord(ctx, p.CardCode)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 1 || replayed != n-1 || len(rec.Vaccinations) != 1 || rec.Vaccinations[0].ID != created[0] {
		t.Fatalf("created %d, replayed %d, stored %d; want 1, %d, 1", len(created), replayed, len(rec.Vaccinations), n-1)
	}
}

func testVaccination(t *testing.T, s registry.Store) {
	ctx := context.Background()
	p := newPerson(t, s)
	d2 := newDose(p, "2021-07-01")
	d2.Payment = registry.Payment{Kind: "paid", Amount: "50.00", Currency: "CNY"}
	d1 := newDose(p, "2021-06-01")
	d1.Source, d1.Site, d1.Lot = registry.SourceHistoricalCard, "", ""
	for _, v := range []registry.Vaccination{d2, d1} {
		if _, err := s.RecordVaccination(ctx, v, registry.Write{}); err != nil {
			t.Fatalf("RecordVaccination: %v", err)
		}
	}
	got, err := s.FindVaccination(ctx, d2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PersonID != p.ID || got.Date != d2.Date || got.Payment != d2.Payment || got.Product != "coronavac" ||
		got.Source != registry.SourceAdministered || got.Status != registry.StatusCompleted || !got.RecordedAt.Equal(now) {
		t.Fatalf("FindVaccination = %+v, want %+v", got, d2)
	}
	rec, err := s.FindRecord(ctx, p.CardCode)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Vaccinations) != 2 || rec.Vaccinations[0].ID != d1.ID || rec.Vaccinations[1].ID != d2.ID {
		t.Fatalf("record vaccinations not in dose-date order: %+v", rec.Vaccinations)
	}
	if rec.Vaccinations[0].Source != registry.SourceHistoricalCard || rec.Vaccinations[0].Site != "" {
		t.Fatalf("historical dose = %+v", rec.Vaccinations[0])
	}
	doses, err := s.FindVaccinations(ctx, p.ID)
	if err != nil || len(doses) != 2 || doses[0] != rec.Vaccinations[0] || doses[1] != rec.Vaccinations[1] {
		t.Fatalf("FindVaccinations = %+v, %v; want the record's doses in the same order", doses, err)
	}
	if doses, err := s.FindVaccinations(ctx, registry.NewID()); err != nil || len(doses) != 0 {
		t.Fatalf("FindVaccinations of nobody = %+v, %v", doses, err)
	}
	_, err = s.RecordVaccination(ctx, newDose(registry.SealedPerson{ID: registry.NewID()}, "2021-06-01"), registry.Write{})
	mustCode(t, err, registry.ENOTFOUND)
	_, err = s.RecordVaccination(ctx, d1, registry.Write{})
	mustCode(t, err, registry.ECONFLICT)
	_, err = s.FindVaccination(ctx, registry.NewID())
	mustCode(t, err, registry.ENOTFOUND)
}

func testTest(t *testing.T, s registry.Store) {
	ctx := context.Background()
	p := newPerson(t, s)
	tst := registry.Test{ID: registry.NewID(), PersonID: p.ID, Kind: registry.TestPCR, Result: registry.ResultNegative,
		Date: date("2021-09-01"), Site: "YB-1", RecordedAt: now, Status: registry.StatusCompleted}
	if _, err := s.RecordTest(ctx, tst, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindTest(ctx, tst.ID)
	if err != nil || got.Kind != tst.Kind || got.Result != tst.Result || got.Date != tst.Date || got.PersonID != p.ID {
		t.Fatalf("FindTest = %+v, %v", got, err)
	}
	rec, err := s.FindRecord(ctx, p.CardCode)
	if err != nil || len(rec.Tests) != 1 || rec.Tests[0].ID != tst.ID {
		t.Fatalf("FindRecord tests = %+v, %v", rec, err)
	}
	orphan := tst
	orphan.ID, orphan.PersonID = registry.NewID(), registry.NewID()
	_, err = s.RecordTest(ctx, orphan, registry.Write{})
	mustCode(t, err, registry.ENOTFOUND)
}

func testEnteredInError(t *testing.T, s registry.Store) {
	ctx := context.Background()
	p, other := newPerson(t, s), newPerson(t, s)
	wrong, right := newDose(p, "2021-06-01"), newDose(p, "2021-06-02")
	for _, v := range []registry.Vaccination{wrong, right} {
		if _, err := s.RecordVaccination(ctx, v, registry.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.MarkEnteredInError(ctx, other.ID, wrong.ID, registry.ID{}, registry.Write{})
	mustCode(t, err, registry.ENOTFOUND)
	if _, err := s.MarkEnteredInError(ctx, p.ID, wrong.ID, right.ID, registry.Write{}); err != nil {
		t.Fatalf("MarkEnteredInError: %v", err)
	}
	got, _ := s.FindVaccination(ctx, wrong.ID)
	if got.Status != registry.StatusEnteredInError || got.ReplacedBy != right.ID {
		t.Fatalf("old record = %+v", got)
	}
	got, _ = s.FindVaccination(ctx, right.ID)
	if got.Status != registry.StatusCompleted || got.Replaces != wrong.ID {
		t.Fatalf("replacement = %+v", got)
	}
	_, err = s.MarkEnteredInError(ctx, p.ID, wrong.ID, registry.ID{}, registry.Write{})
	mustCode(t, err, registry.ECONFLICT)

	// A test can be marked without a replacement; a replacement of another
	// kind is refused and leaves the record untouched.
	tst := registry.Test{ID: registry.NewID(), PersonID: p.ID, Kind: registry.TestAntigen, Result: registry.ResultPositive,
		Date: date("2021-09-01"), Site: "YB-1", RecordedAt: now, Status: registry.StatusCompleted}
	if _, err := s.RecordTest(ctx, tst, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.MarkEnteredInError(ctx, p.ID, tst.ID, right.ID, registry.Write{})
	mustCode(t, err, registry.EINVALID)
	if gt, _ := s.FindTest(ctx, tst.ID); gt.Status != registry.StatusCompleted {
		t.Fatalf("test changed by a refused correction: %+v", gt)
	}
	if _, err := s.MarkEnteredInError(ctx, p.ID, tst.ID, registry.ID{}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if gt, _ := s.FindTest(ctx, tst.ID); gt.Status != registry.StatusEnteredInError {
		t.Fatalf("test = %+v", gt)
	}
}

func testSite(t *testing.T, s registry.Store) {
	ctx := context.Background()
	for _, site := range []registry.Site{
		{Code: "YB-2", Name: "Yanji clinic", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination", "testing"}, CreatedAt: now},
		{Code: "SEL-1", Name: "Seoul centre", Jurisdiction: "KR-11", Services: []string{"testing"}, CreatedAt: now},
	} {
		if _, err := s.CreateSite(ctx, site, registry.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.CreateSite(ctx, registry.Site{Code: "YB-2", Name: "dup", Jurisdiction: "CN", CreatedAt: now}, registry.Write{})
	mustCode(t, err, registry.ECONFLICT)
	sites, err := s.ListSites(ctx)
	if err != nil || len(sites) != 2 || sites[0].Code != "SEL-1" || sites[1].Code != "YB-2" {
		t.Fatalf("ListSites = %+v, %v", sites, err)
	}
	got, err := s.FindSite(ctx, "YB-2")
	if err != nil || got.Jurisdiction != "CN-JL-YB" || len(got.Services) != 2 || got.Services[1] != "testing" {
		t.Fatalf("FindSite = %+v, %v", got, err)
	}
	_, err = s.FindSite(ctx, "nope")
	mustCode(t, err, registry.ENOTFOUND)
}

func testToken(t *testing.T, s registry.Store) {
	ctx := context.Background()
	h := sha256.Sum256([]byte("secret"))
	tok := registry.Token{ID: "tk_1", Hash: h[:], Role: registry.RoleVaccinator, Sites: []string{"YB-1", "YB-2"}, CreatedAt: now}
	if err := s.CreateToken(ctx, tok, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindTokenByHash(ctx, h[:])
	if err != nil || got.ID != "tk_1" || got.Role != registry.RoleVaccinator || len(got.Sites) != 2 {
		t.Fatalf("FindTokenByHash = %+v, %v", got, err)
	}
	other := sha256.Sum256([]byte("other"))
	_, err = s.FindTokenByHash(ctx, other[:])
	mustCode(t, err, registry.ENOTFOUND)
	mustCode(t, s.CreateToken(ctx, tok, registry.Write{}), registry.ECONFLICT)
	h2 := sha256.Sum256([]byte("second"))
	if err := s.CreateToken(ctx, registry.Token{ID: "tk_0", Hash: h2[:], Role: registry.RoleAnalyst, CreatedAt: now}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "tk_0" || list[1].ID != "tk_1" || list[1].Sites[1] != "YB-2" {
		t.Fatalf("ListTokens = %+v, %v", list, err)
	}
	if err := s.RevokeToken(ctx, "tk_1", registry.Write{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.FindTokenByHash(ctx, h[:])
	mustCode(t, err, registry.ENOTFOUND)
	mustCode(t, s.RevokeToken(ctx, "tk_1", registry.Write{}), registry.ENOTFOUND)
}

// Concurrent writers for different persons all succeed and all are stored.
func testConcurrentWrites(t *testing.T, s registry.Store) {
	ctx := context.Background()
	const workers, each = 8, 25
	persons := make([]registry.SealedPerson, workers)
	for i := range persons {
		persons[i] = newPerson(t, s)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v := newDose(persons[w], fmt.Sprintf("2021-06-%02d", i+1))
				if _, err := s.RecordVaccination(ctx, v, idem("tok", v.ID.String(), "b", "vaccination", v.ID.String())); err != nil {
					t.Errorf("RecordVaccination: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	for _, p := range persons {
		rec, err := s.FindRecord(ctx, p.CardCode)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Vaccinations) != each {
			t.Fatalf("stored %d doses, want %d", len(rec.Vaccinations), each)
		}
	}
}
