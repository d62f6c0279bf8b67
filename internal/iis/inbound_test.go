package iis_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

// TestVXUSamples sends each class of sample VXU and checks the ACK and what
// was stored.
func TestVXUSamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	free := registry.Payment{Kind: "free"}
	type dose struct {
		product, date, site, lot string
		source                   registry.Source
		status, reason           string
	}
	for _, tc := range []struct {
		name   string
		sample string
		// person, when set, is registered first and the sample's card code
		// replaced with theirs; otherwise the sample registers a person.
		person *clinic.PersonInput
		edit   func([]byte) []byte
		actor  clinic.Actor
		// warnings are the locations of the ACK's warnings (severity W).
		warnings []string
		doses    []dose
		check    func(t *testing.T, rec *registry.Record)
	}{
		{
			name: "ok/administered", sample: "vxu-administered.hl7", actor: vaccinator("YB-1"),
			doses: []dose{{product(t, "511", "SNV"), "2021-09-17", "YB-1", "A21091712", registry.SourceAdministered, registry.StatusCompleted, ""}},
			check: func(t *testing.T, rec *registry.Record) {
				d := rec.Person.Demographics
				if d.FamilyName != "Kim" || d.GivenName != "Minji Seo" || d.BirthDate.String() != "1985-09-23" ||
					d.Sex != registry.SexFemale || d.Phone != "+86 433 5551234" {
					t.Errorf("demographics = %+v", d)
				}
				if p := rec.Vaccinations[0].Payment; p != free {
					t.Errorf("payment = %+v, want free (VFC V02, VXC1)", p)
				}
			},
		},
		{
			name: "ok/historical-01-record", sample: "vxu-historical.hl7", actor: vaccinator("YB-1"),
			person: &clinic.PersonInput{BirthDate: "1978"},
			doses:  []dose{{product(t, "08", ""), "2019-04-15", "", "", registry.SourceHistoricalRecord, registry.StatusCompleted, ""}},
		},
		{
			name: "ok/historical-03-card", sample: "vxu-historical.hl7", actor: vaccinator("YB-1"),
			person: &clinic.PersonInput{BirthDate: "1978"},
			edit: func(b []byte) []byte {
				return setField(b, "RXA", 1, 9, "03^Historical information - from parent's written record^NIP001")
			},
			doses: []dose{{product(t, "08", ""), "2019-04-15", "", "", registry.SourceHistoricalCard, registry.StatusCompleted, ""}},
		},
		{
			name: "ok/historical-04-recall", sample: "vxu-historical.hl7", actor: vaccinator("YB-1"),
			person: &clinic.PersonInput{BirthDate: "1978"},
			edit: func(b []byte) []byte {
				return setField(b, "RXA", 1, 9, "04^Historical information - from parent's recall^NIP001")
			},
			doses: []dose{{product(t, "08", ""), "2019-04-15", "", "", registry.SourceSelfReport, registry.StatusCompleted, ""}},
		},
		{
			name: "ok/historical-05-registry", sample: "vxu-historical.hl7", actor: vaccinator("YB-1"),
			person: &clinic.PersonInput{BirthDate: "1978"},
			edit: func(b []byte) []byte {
				return setField(b, "RXA", 1, 9, "05^Historical information - from other registry^NIP001")
			},
			doses: []dose{{product(t, "08", ""), "2019-04-15", "", "", registry.SourceHistoricalRecord, registry.StatusCompleted, ""}},
		},
		{
			name: "ok/historical-crlf", sample: "vxu-crlf.hl7", actor: vaccinator("YB-1"),
			person: &clinic.PersonInput{BirthDate: "1978"},
			doses:  []dose{{product(t, "08", ""), "2019-04-15", "", "", registry.SourceHistoricalRecord, registry.StatusCompleted, ""}},
		},
		{
			// RXA-20 RE (a refusal of DTaP) and NA with CVX 998: never a dose.
			name: "ok/refusal-and-not-administered", sample: "vxu-refusal.hl7", actor: vaccinator("YB-1"),
			person: &clinic.PersonInput{BirthDate: "1978-04"},
			doses: []dose{
				{product(t, "107", ""), "2021-09-21", "", "", registry.SourceAdministered, registry.StatusNotDone, registry.ReasonPatientObjection},
				{"", "2021-09-21", "", "", registry.SourceAdministered, registry.StatusNotDone, ""},
			},
		},
		{
			name: "ok/multiple-orders", sample: "vxu-multiple-orders.hl7", actor: vaccinator("CLINIC-3"),
			doses: []dose{
				{product(t, "08", ""), "2021-03-01", "", "", registry.SourceHistoricalRecord, registry.StatusCompleted, ""},
				{product(t, "20", "SKB"), "2021-05-03", "CLINIC-3", "DT123", registry.SourceAdministered, registry.StatusCompleted, ""},
				{product(t, "10", "PMC"), "2022-01-10", "CLINIC-3", "IPV77", registry.SourceAdministered, registry.StatusCompleted, ""},
			},
			check: func(t *testing.T, rec *registry.Record) {
				d := rec.Person.Demographics
				if d.FamilyName != "Chen" || d.GivenName != "Wei" || d.BirthDate.String() != "2021-03-01" || d.Sex != registry.SexMale {
					t.Errorf("demographics = %+v", d)
				}
			},
		},
		{
			name: "ok/multiple-orders-cr-only", sample: "vxu-cr.hl7", actor: vaccinator("CLINIC-3"),
			doses: []dose{
				{product(t, "08", ""), "2021-03-01", "", "", registry.SourceHistoricalRecord, registry.StatusCompleted, ""},
				{product(t, "20", "SKB"), "2021-05-03", "CLINIC-3", "DT123", registry.SourceAdministered, registry.StatusCompleted, ""},
				{product(t, "10", "PMC"), "2022-01-10", "CLINIC-3", "IPV77", registry.SourceAdministered, registry.StatusCompleted, ""},
			},
		},
		{
			// No ORC (v2.3.1 style): a warning per RXA, still recorded, at
			// the vaccinator's only site.
			name: "ok/no-orc", sample: "vxu-no-orc.hl7", actor: vaccinator("YB-1"),
			warnings: []string{"RXA^1", "RXA^2"},
			doses: []dose{
				{product(t, "03", "MSD"), "2019-11-05", "YB-1", "M0011", registry.SourceAdministered, registry.StatusCompleted, ""},
				{product(t, "21", "MSD"), "2019-11-05", "YB-1", "V0022", registry.SourceAdministered, registry.StatusCompleted, ""},
			},
		},
		{
			name: "ok/z-segments", sample: "vxu-z-segments.hl7", actor: vaccinator("YB-1"),
			warnings: []string{"EVN^1"},
			doses:    []dose{{product(t, "207", "MOD"), "2021-09-17", "YB-1", "L8", registry.SourceAdministered, registry.StatusCompleted, ""}},
		},
		{
			name: "ok/truncation-character", sample: "vxu-truncation-char.hl7", actor: vaccinator("YB-1"),
			doses: []dose{{product(t, "207", "MOD"), "2021-09-17", "YB-1", "LOT#7", registry.SourceAdministered, registry.StatusCompleted, ""}},
		},
		{
			name: "ok/escapes", sample: "vxu-escapes.hl7", actor: vaccinator("Clinic A~2"),
			doses: []dose{{product(t, "88", "PMC"), "2021-09-17", "Clinic A~2", `LOT|42&B\Q\`, registry.SourceAdministered, registry.StatusCompleted, ""}},
			check: func(t *testing.T, rec *registry.Record) {
				d := rec.Person.Demographics
				if d.FamilyName != "Smith^Jones" || d.GivenName != `Ann\Marie Jo` {
					t.Errorf("names = %q, %q; want Smith^Jones, Ann\\Marie Jo", d.FamilyName, d.GivenName)
				}
			},
		},
		{
			name: "ok/euc-kr", sample: "vxu-euc-kr.hl7", actor: vaccinator("종로보건소"),
			doses: []dose{{product(t, "208", "PFR"), "2021-09-17", "종로보건소", "FF1234", registry.SourceAdministered, registry.StatusCompleted, ""}},
			check: func(t *testing.T, rec *registry.Record) {
				d := rec.Person.Demographics
				if d.FamilyName != "김" || d.GivenName != "민지" || d.BirthDate.String() != "1985-09-23" {
					t.Errorf("demographics = %+v, want 김 민지 1985-09-23", d)
				}
			},
		},
		{
			name: "ok/gb18030", sample: "vxu-gb18030.hl7", actor: vaccinator("延吉诊所"),
			doses: []dose{{product(t, "511", "SNV"), "2021-09-17", "延吉诊所", "A2109", registry.SourceAdministered, registry.StatusCompleted, ""}},
			check: func(t *testing.T, rec *registry.Record) {
				// PID-5.3 is \XC0F6\, 丽 in GB 18030.
				d := rec.Person.Demographics
				if d.FamilyName != "王" || d.GivenName != "丽 丽" || d.BirthDate.String() != "1985" {
					t.Errorf("demographics = %+v, want 王 丽 丽 1985", d)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, true)
			body := sample(t, tc.sample)
			var card registry.CardCode
			if tc.person != nil {
				card = f.register(t, *tc.person)
				body = withCard(body, card)
			}
			if tc.edit != nil {
				body = tc.edit(body)
			}
			before := f.counts(t)
			ack := readAck(t, f.h.Handle(ctx, tc.actor, body))
			if ack.Code != hl7.AA {
				t.Fatalf("MSA-1 = %s, want AA; errors %v", ack.Code, ack.Errors)
			}
			if ack.ControlID != hl7Header(t, body).ControlID {
				t.Errorf("MSA-2 = %q, want the request's MSH-10", ack.ControlID)
			}
			var warned []string
			for _, e := range errorsOf(ack, hl7.SeverityWarning) {
				warned = append(warned, e.Location.String())
			}
			for _, w := range tc.warnings {
				if !slices.Contains(warned, w) {
					t.Errorf("no warning at %s; warnings at %v", w, warned)
				}
			}
			if tc.person == nil {
				card = cardOf(t, ack)
				if got := f.count(t, "persons") - before["persons"]; got != 1 {
					t.Errorf("%d persons registered, want 1", got)
				}
			} else if c, ok := ack.CardCode(); ok {
				t.Errorf("ACK assigned card %s to a known person", c)
			}
			rec := f.record(t, card)
			if len(rec.Vaccinations) != len(tc.doses) {
				t.Fatalf("%d vaccinations stored, want %d: %+v", len(rec.Vaccinations), len(tc.doses), rec.Vaccinations)
			}
			// Doses of one day come back in no particular order.
			var got []dose
			for i, v := range rec.Vaccinations {
				got = append(got, dose{v.Product, v.Date.String(), v.Site, v.Lot, v.Source, v.Status, v.StatusReason})
				if v.SourceRef == "" && !strings.Contains(tc.name, "no-orc") {
					t.Errorf("vaccination %d has no source reference (ORC-3)", i)
				}
			}
			byKey := func(a, b dose) int { return strings.Compare(a.date+a.product+a.lot, b.date+b.product+b.lot) }
			want := slices.Clone(tc.doses)
			slices.SortFunc(got, byKey)
			slices.SortFunc(want, byKey)
			if !slices.Equal(got, want) {
				t.Errorf("vaccinations =\n%+v\nwant\n%+v", got, want)
			}
			// Records received from another system are never reported
			// upstream again.
			if n := f.count(t, "outbox"); n != 0 {
				t.Errorf("%d reports queued for records received over HL7", n)
			}
			if tc.check != nil {
				tc.check(t, rec)
			}
		})
	}
}

// TestVXUNotGivenIsNoDose checks that a refusal and a "no vaccine
// administered" are never counted as doses by the forecast.
func TestVXUNotGivenIsNoDose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false)
	vax := vaccinator("YB-1")
	child := f.register(t, clinic.PersonInput{BirthDate: "2021-03-01"})
	before, err := f.svc.ForecastPerson(ctx, vax, child, clinic.ForecastInput{})
	if err != nil {
		t.Fatal(err)
	}
	body := withCard(sample(t, "vxu-refusal.hl7"), child)
	if a := readAck(t, f.h.Handle(ctx, vax, body)); a.Code != hl7.AA {
		t.Fatalf("MSA-1 = %s: %v", a.Code, a.Errors)
	}
	rec := f.record(t, child)
	if len(rec.Vaccinations) != 2 || len(vaccinationsWith(rec, registry.StatusNotDone)) != 2 {
		t.Fatalf("vaccinations = %+v, want two not done", rec.Vaccinations)
	}
	after, err := f.svc.ForecastPerson(ctx, vax, child, clinic.ForecastInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.ByRecord) != 0 {
		t.Errorf("the forecast evaluated %d not-given records as doses", len(after.ByRecord))
	}
	if len(after.Result.Forecasts) != len(before.Result.Forecasts) {
		t.Fatalf("forecasts: %d before, %d after", len(before.Result.Forecasts), len(after.Result.Forecasts))
	}
	for i := range before.Result.Forecasts {
		b, a := before.Result.Forecasts[i], after.Result.Forecasts[i]
		if b.VaccineGroup != a.VaccineGroup || b.SeriesStatus != a.SeriesStatus || b.Recommended != a.Recommended || b.Earliest != a.Earliest {
			t.Errorf("forecast %s changed after a refusal: %+v -> %+v", b.VaccineGroup, b, a)
		}
	}
}

// TestVXUCorrections sends a dose, then RXA-21 D or U for it (same ORC-3 and
// MSH-4, another message).
func TestVXUCorrections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vax := vaccinator("YB-1")
	for _, tc := range []struct {
		name string
		// second builds the correcting message from the card registered by
		// the first.
		second func(t *testing.T, card registry.CardCode) []byte
		check  func(t *testing.T, rec *registry.Record)
	}{
		{
			name: "ok/delete",
			second: func(t *testing.T, card registry.CardCode) []byte {
				return withCard(sample(t, "vxu-entered-in-error.hl7"), card)
			},
			check: func(t *testing.T, rec *registry.Record) {
				if len(rec.Vaccinations) != 1 || rec.Vaccinations[0].Status != registry.StatusEnteredInError {
					t.Errorf("vaccinations = %+v, want the one dose entered in error", rec.Vaccinations)
				}
			},
		},
		{
			name: "ok/update",
			second: func(t *testing.T, card registry.CardCode) []byte {
				b := sample(t, "vxu-administered.hl7")
				b = setField(b, "MSH", 1, 10, "MSG-0001-U")
				b = setField(b, "PID", 1, 3, string(card)+"^^^HAVEN^PI")
				b = setField(b, "RXA", 1, 15, "NEWLOT")
				return setField(b, "RXA", 1, 21, "U")
			},
			check: func(t *testing.T, rec *registry.Record) {
				if len(rec.Vaccinations) != 2 {
					t.Fatalf("vaccinations = %+v, want the old and the new", rec.Vaccinations)
				}
				old, cur := rec.Vaccinations[0], rec.Vaccinations[1]
				if old.Lot != "A21091712" {
					old, cur = cur, old
				}
				if old.Status != registry.StatusEnteredInError || old.ReplacedBy != cur.ID {
					t.Errorf("old = %+v, want entered in error, replaced by %s", old, cur.ID)
				}
				if cur.Status != registry.StatusCompleted || cur.Replaces != old.ID || cur.Lot != "NEWLOT" || cur.Site != "YB-1" {
					t.Errorf("new = %+v, want completed, lot NEWLOT, replacing %s", cur, old.ID)
				}
			},
		},
		{
			// A deletion from another sender (MSH-4) names another record:
			// a warning, nothing deleted.
			name: "ok/delete-from-another-sender",
			second: func(t *testing.T, card registry.CardCode) []byte {
				return setField(withCard(sample(t, "vxu-entered-in-error.hl7"), card), "MSH", 1, 4, "Other Clinic")
			},
			check: func(t *testing.T, rec *registry.Record) {
				if len(rec.Vaccinations) != 1 || rec.Vaccinations[0].Status != registry.StatusCompleted {
					t.Errorf("vaccinations = %+v, want the dose untouched", rec.Vaccinations)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, true)
			first := readAck(t, f.h.Handle(ctx, vax, sample(t, "vxu-administered.hl7")))
			if first.Code != hl7.AA {
				t.Fatalf("first MSA-1 = %s: %v", first.Code, first.Errors)
			}
			card := cardOf(t, first)
			second := readAck(t, f.h.Handle(ctx, vax, tc.second(t, card)))
			if second.Code != hl7.AA {
				t.Fatalf("second MSA-1 = %s: %v", second.Code, second.Errors)
			}
			if _, ok := second.CardCode(); ok {
				t.Errorf("the correction assigned a card code")
			}
			if f.count(t, "persons") != 1 {
				t.Errorf("%d persons, want 1", f.count(t, "persons"))
			}
			tc.check(t, f.record(t, card))
			if n := f.count(t, "outbox"); n != 0 {
				t.Errorf("%d reports queued for corrections received over HL7", n)
			}
		})
	}
}

// TestVXUBatch sends a batch of two messages: one good, one with an
// unsupported version; the reply is one ACK each, framed with BHS/BTS.
func TestVXUBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false)
	card := f.register(t, clinic.PersonInput{BirthDate: "1978"})
	reply := f.h.Handle(ctx, vaccinator("YB-1"), withCard(sample(t, "batch.hl7"), card))
	b, err := hl7.Parse(reply)
	if err != nil {
		t.Fatalf("Parse(reply): %v\n%s", err, show(reply))
	}
	if b.FHS == nil || b.BHS == nil || b.BTS == nil || b.FTS == nil {
		t.Errorf("reply is not framed as the request: FHS %v BHS %v BTS %v FTS %v\n%s",
			b.FHS != nil, b.BHS != nil, b.BTS != nil, b.FTS != nil, show(reply))
	}
	if b.BTS != nil && b.BTS.Field(1).Text() != "2" {
		t.Errorf("BTS-1 = %q, want 2", b.BTS.Field(1).Text())
	}
	if len(b.Messages) != 2 {
		t.Fatalf("%d replies, want 2\n%s", len(b.Messages), show(reply))
	}
	want := []struct {
		ctl  string
		code hl7.AckCode
	}{{"MSG-0201", hl7.AA}, {"MSG-0202", hl7.AR}}
	for i, m := range b.Messages {
		a, errs := hl7.ReadACK(m)
		if errs.Fatal() {
			t.Fatalf("reply %d: %v", i, errs)
		}
		if a.ControlID != want[i].ctl || a.Code != want[i].code {
			t.Errorf("reply %d = %s for %q, want %s for %q", i, a.Code, a.ControlID, want[i].code, want[i].ctl)
		}
	}
	if a, _ := hl7.ReadACK(b.Messages[1]); !hasError(a.Errors, hl7.CodeUnsupportedVersion, "MSH^1^12^1^1") {
		t.Errorf("second reply errors = %v, want 203 at MSH^1^12^1^1", a.Errors)
	}
	rec := f.record(t, card)
	if len(rec.Vaccinations) != 1 || rec.Vaccinations[0].Date.String() != "2019-04-15" {
		t.Errorf("vaccinations = %+v, want only the first message's dose", rec.Vaccinations)
	}
}
