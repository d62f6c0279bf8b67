package iis_test

import (
	"context"
	"slices"
	"testing"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

// queryFixture is a child with two doses given, one dose entered in error,
// and a refusal and a "not administered" received over HL7.
type queryFixture struct {
	*fixture
	card    registry.CardCode
	given   []registry.Vaccination // completed
	removed registry.Vaccination   // entered in error
}

func newQueryFixture(t *testing.T) *queryFixture {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, false)
	vax := vaccinator("YB-1")
	q := &queryFixture{fixture: f, card: f.register(t, clinic.PersonInput{BirthDate: "2021-03-01", Sex: "male"})}
	for _, in := range []clinic.VaccinationInput{
		{Product: product(t, "08", ""), Date: "2021-03-01", Site: "YB-1", Lot: "HB1"},
		{Product: product(t, "20", "SKB"), Date: "2021-05-03", Site: "YB-1", Lot: "DT1"},
		{Product: product(t, "10", "PMC"), Date: "2021-05-03", Site: "YB-1", Lot: "WRONG"},
	} {
		d, err := f.svc.RecordVaccination(ctx, vax, q.card, in, "")
		if err != nil {
			t.Fatal(err)
		}
		q.given = append(q.given, d.Vaccination)
	}
	q.removed, q.given = q.given[2], q.given[:2]
	if _, err := f.svc.MarkEnteredInError(ctx, vax, q.card, q.removed.ID, clinic.Correction{}, ""); err != nil {
		t.Fatal(err)
	}
	refusal := withCard(sample(t, "vxu-refusal.hl7"), q.card)
	if a := readAck(t, f.h.Handle(ctx, vax, refusal)); a.Code != hl7.AA {
		t.Fatalf("refusal: MSA-1 = %s: %v", a.Code, a.Errors)
	}
	return q
}

// rsp is what a test reads from a query response.
type rsp struct {
	ack, status, profile string // MSA-1, QAK-2, MSH-21.1
	card                 string // PID-3.1
	orders               []string
	rxa5, rxa20          []string // per RXA
	obx3                 []string // every OBX-3.1
}

func readRSP(t *testing.T, reply []byte) rsp {
	t.Helper()
	segs := segments(t, reply)
	var r rsp
	for i := range segs {
		s := &segs[i]
		switch s.ID() {
		case "MSH":
			if s.Field(9).Comp(1).Text() != "RSP" || s.Field(9).Comp(2).Text() != "K11" {
				t.Errorf("MSH-9 = %s, want RSP^K11", s.Field(9).Raw())
			}
			r.profile = s.Field(21).Comp(1).Text()
		case "MSA":
			r.ack = s.Field(1).Text()
		case "QAK":
			r.status = s.Field(2).Text()
		case "PID":
			r.card = s.Field(3).Comp(1).Text()
		case "ORC":
			r.orders = append(r.orders, s.Field(3).Comp(1).Text())
		case "RXA":
			r.rxa5 = append(r.rxa5, s.Field(5).Comp(1).Text())
			r.rxa20 = append(r.rxa20, s.Field(20).Text())
		case "OBX":
			r.obx3 = append(r.obx3, s.Field(3).Comp(1).Text())
		}
	}
	return r
}

// TestQueryZ34 asks for a history: every dose but the one entered in error,
// the refusal with RXA-20 RE, audited as a read for care.
func TestQueryZ34(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueryFixture(t)
	from := q.lastAudit(t)
	reply := q.h.Handle(ctx, vaccinator("YB-1"), withCard(sample(t, "qbp-z34.hl7"), q.card))
	r := readRSP(t, reply)
	if r.ack != "AA" || r.status != "OK" || r.profile != hl7.ProfileReplyHist || r.card != string(q.card) {
		t.Fatalf("MSA %s QAK %s profile %s card %s, want AA OK Z32 %s\n%s", r.ack, r.status, r.profile, r.card, q.card, show(reply))
	}
	if len(r.rxa5) != 4 {
		t.Errorf("%d RXA, want 4 (two doses, a refusal, a dose not given)\n%s", len(r.rxa5), show(reply))
	}
	for _, v := range q.given {
		if !slices.Contains(r.orders, v.ID.String()) {
			t.Errorf("dose %s (%s) missing from ORC-3 %v", v.ID, v.Product, r.orders)
		}
	}
	if slices.Contains(r.orders, q.removed.ID.String()) {
		t.Errorf("the dose entered in error was sent")
	}
	if !slices.Contains(r.rxa20, "RE") || !slices.Contains(r.rxa20, "NA") {
		t.Errorf("RXA-20 = %v, want a refusal (RE) and a dose not given (NA)", r.rxa20)
	}
	for i, code := range r.rxa5 {
		if code == hl7.CVXNotAdministered && r.rxa20[i] == "CP" {
			t.Errorf("RXA %d: CVX 998 written as a completed dose", i+1)
		}
	}
	if slices.Contains(r.obx3, hl7.LOINCDoseValidity) {
		t.Errorf("a Z32 response holds evaluations")
	}
	checkAudit(t, q.fixture, from, "care")
}

// TestQueryZ44 asks for the evaluated history and forecast.
func TestQueryZ44(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueryFixture(t)
	from := q.lastAudit(t)
	reply := q.h.Handle(ctx, vaccinator("YB-1"), withCard(sample(t, "qbp-z44.hl7"), q.card))
	r := readRSP(t, reply)
	if r.ack != "AA" || r.status != "OK" || r.profile != hl7.ProfileReplyEval || r.card != string(q.card) {
		t.Fatalf("MSA %s QAK %s profile %s card %s, want AA OK Z42 %s\n%s", r.ack, r.status, r.profile, r.card, q.card, show(reply))
	}
	for _, code := range []string{hl7.LOINCVaccineType, hl7.LOINCDoseValidity, hl7.LOINCRecommendedDate, hl7.LOINCSeriesStatus} {
		if !slices.Contains(r.obx3, code) {
			t.Errorf("no OBX %s in the response\n%s", code, show(reply))
		}
	}
	// The forecast is one last order: ORC-3 9999, RXA-5 998, RXA-20 NA.
	n := len(r.orders)
	if n == 0 || r.orders[n-1] != "9999" || r.rxa5[n-1] != hl7.CVXNotAdministered || r.rxa20[n-1] != "NA" {
		t.Errorf("last order = %v / %v / %v, want the forecast order 9999 / 998 / NA", r.orders, r.rxa5, r.rxa20)
	}
	if slices.Contains(r.orders, q.removed.ID.String()) {
		t.Errorf("the dose entered in error was sent")
	}
	checkAudit(t, q.fixture, from, "forecast")
}

// TestQueryNotFound asks about people Haven cannot name by card code: the
// guide's "no match" (Z33, QAK NF), and nothing read.
func TestQueryNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		body func(t *testing.T) []byte
	}{
		{"ok/unknown-card", func(t *testing.T) []byte { return withCard(sample(t, "qbp-z34.hl7"), registry.NewCardCode()) }},
		{"ok/unknown-card-z44", func(t *testing.T) []byte { return withCard(sample(t, "qbp-z44.hl7"), registry.NewCardCode()) }},
		{"ok/malformed-card", func(t *testing.T) []byte { return withCard(sample(t, "qbp-z34.hl7"), "NOT-A-CARD") }},
		{"ok/no-card", func(t *testing.T) []byte { return sample(t, "qbp-no-card.hl7") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := newQueryFixture(t)
			from := q.lastAudit(t)
			reply := q.h.Handle(ctx, vaccinator("YB-1"), tc.body(t))
			r := readRSP(t, reply)
			if r.ack != "AA" || r.status != "NF" || r.profile != hl7.ProfileReplyNoData {
				t.Errorf("MSA %s QAK %s profile %s, want AA NF Z33\n%s", r.ack, r.status, r.profile, show(reply))
			}
			if r.card != "" || len(r.rxa5) != 0 {
				t.Errorf("a no-match response names a person\n%s", show(reply))
			}
			for _, e := range q.auditSince(t, from) {
				if e.Action == string(clinic.ActPersonRead) {
					t.Errorf("a query that matched no one was audited as a read: %+v", e.Record)
				}
			}
		})
	}
}

// TestQueryErrors: a query Haven cannot run is answered with an error RSP
// (Z33), never with data.
func TestQueryErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := newQueryFixture(t)
	for _, tc := range []struct {
		name  string
		body  []byte
		actor clinic.Actor
		ack   string
	}{
		{"fail/unknown-profile", withCard(sample(t, "qbp-bad-profile.hl7"), q.card), vaccinator("YB-1"), "AE"},
		{"fail/analyst", withCard(sample(t, "qbp-z34.hl7"), q.card), clinic.Actor{TokenID: "tk_ana", Role: registry.RoleAnalyst}, "AR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reply := q.h.Handle(ctx, tc.actor, tc.body)
			r := readRSP(t, reply)
			if r.ack != tc.ack || r.profile != hl7.ProfileReplyNoData || r.card != "" || len(r.rxa5) != 0 {
				t.Errorf("MSA %s profile %s card %q RXA %d, want %s Z33 with no person\n%s",
					r.ack, r.profile, r.card, len(r.rxa5), tc.ack, show(reply))
			}
		})
	}
}

// checkAudit checks that exactly one read of the person (with the purpose)
// was logged after seq, by the vaccinator, naming no card code.
func checkAudit(t *testing.T, f *fixture, seq uint64, purpose string) {
	t.Helper()
	n := 0
	for _, e := range f.auditSince(t, seq) {
		if e.Action != string(clinic.ActPersonRead) {
			continue
		}
		n++
		if e.Actor != "tk_vax" || e.Purpose != purpose || e.Subject == "" {
			t.Errorf("audit entry = %+v, want tk_vax reading for %s", e.Record, purpose)
		}
	}
	if n != 1 {
		t.Errorf("%d person.read audit entries, want 1", n)
	}
}
