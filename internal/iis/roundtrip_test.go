package iis_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

// TestRoundTrip records doses in one Haven (A), sends them with its feed,
// and reads them with another's handler (B): each VXU says what A recorded,
// and B ends up with the same doses.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cat := catalog.Default()
	vax := vaccinator("YB-1", "YB-2")

	a := newFeedFixture(t)
	for _, in := range []clinic.VaccinationInput{
		{Product: product(t, "208", "PFR"), Date: "2021-06-01", Site: "YB-1", Lot: "FF1"},
		{Product: product(t, "208", "PFR"), Date: "2021-06-22", Site: "YB-2", Lot: "FF2"},
		{Product: product(t, "511", "SNV"), Date: "2021-01-10", Source: "historical-card", Lot: "CV9"},
		{Product: product(t, "08", ""), Date: "1985-09-24", Source: "self-report"},
		{Product: product(t, "20", "SKB"), Date: "1986-01-05", Source: "historical-record"},
		{Product: product(t, "207", "MOD"), Date: "2021-12-01", Site: "YB-1", Lot: "WRONG",
			Payment: &registry.Payment{Kind: "paid", Amount: "50.00", Currency: "CNY"}},
	} {
		if _, err := a.svc.RecordVaccination(ctx, vax, a.card, in, ""); err != nil {
			t.Fatal(err)
		}
	}
	recA := a.record(t, a.card)
	wrong := slices.IndexFunc(recA.Vaccinations, func(v registry.Vaccination) bool { return v.Lot == "WRONG" })
	if _, err := a.svc.MarkEnteredInError(ctx, vax, a.card, recA.Vaccinations[wrong].ID, clinic.Correction{}, ""); err != nil {
		t.Fatal(err)
	}
	recA = a.record(t, a.card)
	a.drain(t)
	msgs := a.iis.messages()
	if len(msgs) != len(recA.Vaccinations)+1 {
		t.Fatalf("%d messages, want %d doses and one deletion", len(msgs), len(recA.Vaccinations))
	}

	// Each VXU says what A recorded.
	byID := map[string]registry.Vaccination{}
	for _, v := range recA.Vaccinations {
		byID[v.ID.String()] = v
	}
	infoSource := map[registry.Source]string{registry.SourceAdministered: "00", registry.SourceHistoricalRecord: "01",
		registry.SourceHistoricalCard: "03", registry.SourceSelfReport: "04"}
	deletes := 0
	for i, b := range msgs {
		s := readSent(t, b)
		d := s.dose
		v, ok := byID[d.FillerOrder.ID]
		if !ok || d.FillerOrder.Namespace != hl7.HavenAuthority {
			t.Errorf("message %d: ORC-3 %v names no record of A", i, d.FillerOrder)
			continue
		}
		p, _ := cat.ByID(v.Product)
		action := hl7.ActionAdd
		if i == len(msgs)-1 {
			action = hl7.ActionDelete
			deletes++
		}
		got := fmt.Sprintf("%s %s %s %s %s %s %s %s", d.CVX, d.MVX, d.Date, d.Lot, d.InfoSource, d.Facility, d.Completion, d.Action)
		want := fmt.Sprintf("%s %s %s %s %s %s %s %s", p.CVXCode(), p.MVX, v.Date, v.Lot, infoSource[v.Source], v.Site, hl7.Complete, action)
		if got != want {
			t.Errorf("message %d (%s): CVX MVX date lot RXA-9 RXA-11 RXA-20 RXA-21 =\n  %s\nwant\n  %s", i, v.Product, got, want)
		}
	}
	if deletes != 1 {
		t.Errorf("%d deletions sent, want 1", deletes)
	}

	// B knows the person under its own card code, and has the same sites.
	b := newFixture(t, false)
	cardB := b.register(t, clinic.PersonInput{BirthDate: "1985-09-23"})
	for i, m := range msgs {
		ack := readAck(t, b.h.Handle(ctx, vax, withCardOf(m, a.card, cardB)))
		if ack.Code != hl7.AA {
			t.Fatalf("B answered message %d with %s: %v", i, ack.Code, ack.Errors)
		}
	}
	recB := b.record(t, cardB)
	summary := func(rec *registry.Record) []string {
		var out []string
		for _, v := range rec.Vaccinations {
			out = append(out, strings.Join([]string{v.Product, v.Date.String(), v.Lot, string(v.Source), v.Status, v.Site}, " "))
		}
		slices.Sort(out)
		return out
	}
	if got, want := summary(recB), summary(recA); !slices.Equal(got, want) {
		t.Errorf("B's doses:\n  %s\nA's:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// B does not report them back.
	if n := b.count(t, "outbox"); n != 0 {
		t.Errorf("B queued %d reports", n)
	}
}

// withCardOf rewrites a card code in a message.
func withCardOf(b []byte, from, to registry.CardCode) []byte {
	return []byte(strings.ReplaceAll(string(b), string(from), string(to)))
}
