package iis_test

import (
	"context"
	"maps"
	"testing"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

// TestVXUErrors checks the guide's ACK for each class of error: MSA-1, the
// table 0357 code in ERR-3 at the location in ERR-2, and that nothing was
// stored.
func TestVXUErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		sample string
		// edit rewrites the sample; card is a registered person's.
		edit  func(b []byte, card registry.CardCode) []byte
		actor clinic.Actor
		ack   hl7.AckCode
		code  hl7.Code
		loc   string
	}{
		{name: "fail/100-segment-order", sample: "bad-segment-order.hl7", ack: hl7.AE, code: hl7.CodeSegmentSequence, loc: "NK1^1"},
		{name: "fail/100-no-pid", sample: "bad-no-pid.hl7", ack: hl7.AE, code: hl7.CodeSegmentSequence, loc: "PID^1"},
		{name: "fail/101-no-rxa3", sample: "bad-missing-rxa3.hl7", ack: hl7.AE, code: hl7.CodeRequiredField, loc: "RXA^1^3"},
		{
			name: "fail/101-no-pid3", sample: "vxu-administered.hl7", ack: hl7.AE, code: hl7.CodeRequiredField, loc: "PID^1^3",
			edit: func(b []byte, _ registry.CardCode) []byte { return setField(b, "PID", 1, 3, "") },
		},
		{name: "fail/101-no-msh9", sample: "bad-no-msh9.hl7", ack: hl7.AR, code: hl7.CodeRequiredField, loc: "MSH^1^9"},
		{name: "fail/102-bad-date", sample: "bad-date.hl7", ack: hl7.AE, code: hl7.CodeDataType, loc: "RXA^1^3^1^1"},
		{
			name: "fail/102-future-date", sample: "vxu-administered.hl7", ack: hl7.AE, code: hl7.CodeDataType, loc: "RXA^1^3^1^1",
			edit: func(b []byte, _ registry.CardCode) []byte { return setField(b, "RXA", 1, 3, "20220310") },
		},
		{
			name: "fail/102-dose-before-birth", sample: "vxu-administered.hl7", ack: hl7.AE, code: hl7.CodeDataType, loc: "RXA^1^3^1^1",
			edit: func(b []byte, _ registry.CardCode) []byte { return setField(b, "PID", 1, 7, "20211001") },
		},
		{name: "fail/103-no-cvx", sample: "bad-no-cvx.hl7", ack: hl7.AE, code: hl7.CodeTableValue, loc: "RXA^1^5^1^1"},
		{
			name: "fail/103-unknown-cvx", sample: "vxu-administered.hl7", ack: hl7.AE, code: hl7.CodeTableValue, loc: "RXA^1^5^1^1",
			edit: func(b []byte, _ registry.CardCode) []byte { return setField(b, "RXA", 1, 5, "000^Nothing^CVX") },
		},
		{
			name: "fail/103-unknown-mvx", sample: "vxu-administered.hl7", ack: hl7.AE, code: hl7.CodeTableValue, loc: "RXA^1^17^1^1",
			edit: func(b []byte, _ registry.CardCode) []byte { return setField(b, "RXA", 1, 17, "QQQ^Nobody^MVX") },
		},
		{name: "fail/103-completion", sample: "bad-completion.hl7", ack: hl7.AE, code: hl7.CodeTableValue, loc: "RXA^1^20^1^1"},
		{name: "fail/103-charset", sample: "bad-charset.hl7", ack: hl7.AR, code: hl7.CodeTableValue, loc: "MSH^1^18^1^1"},
		{name: "fail/200-type", sample: "bad-type.hl7", ack: hl7.AR, code: hl7.CodeUnsupportedMessageType, loc: "MSH^1^9^1^1"},
		{name: "fail/201-event", sample: "bad-event.hl7", ack: hl7.AR, code: hl7.CodeUnsupportedEvent, loc: "MSH^1^9^1^2"},
		{name: "fail/202-processing-id", sample: "bad-processing-id.hl7", ack: hl7.AR, code: hl7.CodeUnsupportedProcessingID, loc: "MSH^1^11^1^1"},
		{name: "fail/203-version", sample: "bad-version.hl7", ack: hl7.AR, code: hl7.CodeUnsupportedVersion, loc: "MSH^1^12^1^1"},
		{
			// A card code Haven never issued: no new person is made.
			name: "fail/204-unknown-card", sample: "vxu-historical.hl7", ack: hl7.AR, code: hl7.CodeUnknownKey, loc: "PID^1^3",
			edit: func(b []byte, _ registry.CardCode) []byte { return withCard(b, registry.NewCardCode()) },
		},
		{
			name: "fail/204-malformed-card", sample: "vxu-historical.hl7", ack: hl7.AR, code: hl7.CodeUnknownKey, loc: "PID^1^3",
			edit: func(b []byte, _ registry.CardCode) []byte { return withCard(b, "NOT-A-CARD") },
		},
		{
			// A vaccinator of YB-2 reporting a dose given at YB-1.
			name: "fail/207-forbidden-site", sample: "vxu-administered.hl7", actor: vaccinator("YB-2"),
			ack: hl7.AR, code: hl7.CodeInternal, loc: "RXA^1^11^1^4",
		},
		{
			name: "fail/207-forbidden-site-known-person", sample: "vxu-administered.hl7", actor: vaccinator("YB-2"),
			ack: hl7.AR, code: hl7.CodeInternal, loc: "RXA^1^11^1^4",
			edit: func(b []byte, card registry.CardCode) []byte {
				return setField(b, "PID", 1, 3, string(card)+"^^^HAVEN^PI")
			},
		},
		{
			// An administered dose at a site Haven does not know.
			name: "fail/unknown-site", sample: "vxu-administered.hl7", ack: hl7.AE, code: hl7.CodeDataType, loc: "RXA^1^11^1^4",
			edit: func(b []byte, _ registry.CardCode) []byte { return setField(b, "RXA", 1, 11, "^^^NOWHERE") },
		},
		{
			// Not a vaccinator: the whole message is refused.
			name: "fail/analyst", sample: "vxu-administered.hl7", ack: hl7.AR, code: hl7.CodeInternal,
			actor: clinic.Actor{TokenID: "tk_ana", Role: registry.RoleAnalyst},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, true)
			card := f.register(t, clinic.PersonInput{BirthDate: "1978"})
			body := sample(t, tc.sample)
			if tc.edit != nil {
				body = tc.edit(body, card)
			}
			actor := tc.actor
			if actor.Role == "" {
				actor = vaccinator("YB-1")
			}
			before := f.counts(t)
			ack := readAck(t, f.h.Handle(ctx, actor, body))
			errs := errorsOf(ack, hl7.SeverityError)
			if ack.Code != tc.ack {
				t.Errorf("MSA-1 = %s, want %s; errors %v", ack.Code, tc.ack, errs)
			}
			if !hasError(errs, tc.code, tc.loc) {
				t.Errorf("errors = %v, want %d at %q", errs, tc.code, tc.loc)
			}
			if want := hl7Header(t, body).ControlID; want != "" && ack.ControlID != want {
				t.Errorf("MSA-2 = %q, want %q", ack.ControlID, want)
			}
			if _, ok := ack.CardCode(); ok {
				t.Errorf("a rejected message assigned a card code")
			}
			if after := f.counts(t); !maps.Equal(before, after) {
				t.Errorf("rows changed: %v -> %v", before, after)
			}
		})
	}
}

// TestVXUAllOrNothing sends two orders of which the second is wrong: the
// ACK names the second, and neither dose nor a new person is stored.
func TestVXUAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := "RXA|0|1|20210917||511^CoronaVac^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001||^^^YB-1||||L1||SNV^Sinovac^MVX|||CP|A"
	for _, tc := range []struct {
		name   string
		second string
		known  bool // the person has a card code; otherwise PID registers one
		code   hl7.Code
		loc    string
	}{
		{
			name:   "fail/unknown-cvx",
			second: "RXA|0|1|20210918||000^Nothing^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001||^^^YB-1||||L2|||||CP|A",
			code:   hl7.CodeTableValue, loc: "RXA^2^5^1^1",
		},
		{
			name:   "fail/unknown-cvx-known-person",
			second: "RXA|0|1|20210918||000^Nothing^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001||^^^YB-1||||L2|||||CP|A",
			known:  true, code: hl7.CodeTableValue, loc: "RXA^2^5^1^1",
		},
		{
			name:   "fail/future-date",
			second: "RXA|0|1|20220310||511^CoronaVac^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001||^^^YB-1||||L2||SNV^Sinovac^MVX|||CP|A",
			code:   hl7.CodeDataType, loc: "RXA^2^3^1^1",
		},
		{
			name:   "fail/future-date-known-person",
			second: "RXA|0|1|20220310||511^CoronaVac^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001||^^^YB-1||||L2||SNV^Sinovac^MVX|||CP|A",
			known:  true, code: hl7.CodeDataType, loc: "RXA^2^3^1^1",
		},
		{
			name:   "fail/unknown-mvx",
			second: "RXA|0|1|20210918||511^CoronaVac^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001||^^^YB-1||||L2||QQQ^Nobody^MVX|||CP|A",
			code:   hl7.CodeTableValue, loc: "RXA^2^17^1^1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, true)
			pid := "PID|1||MRN-1^^^MYEHR^MR||Doe^Ann^^^^^L||19850923|F"
			var card registry.CardCode
			if tc.known {
				card = f.register(t, clinic.PersonInput{BirthDate: "1985-09-23"})
				pid = "PID|1||" + string(card) + "^^^HAVEN^PI||Doe^Ann^^^^^L||19850923|F"
			}
			body := msg(
				"MSH|^~\\&|MYEHR|CLINIC-1|HAVEN|HAVEN-IIS|20220301||VXU^V04^VXU_V04|AON-1|P|2.5.1|||ER|AL",
				pid,
				"ORC|RE||D-1^MYEHR", good,
				"ORC|RE||D-2^MYEHR", tc.second,
			)
			before := f.counts(t)
			ack := readAck(t, f.h.Handle(ctx, vaccinator("YB-1"), body))
			errs := errorsOf(ack, hl7.SeverityError)
			if ack.Code != hl7.AE {
				t.Errorf("MSA-1 = %s, want AE; errors %v", ack.Code, errs)
			}
			if len(errs) != 1 || !hasError(errs, tc.code, tc.loc) {
				t.Errorf("errors = %v, want only %d at %s", errs, tc.code, tc.loc)
			}
			if after := f.counts(t); !maps.Equal(before, after) {
				t.Errorf("rows changed: %v -> %v", before, after)
			}
			if tc.known {
				if rec := f.record(t, card); len(rec.Vaccinations) != 0 {
					t.Errorf("stored %+v", rec.Vaccinations)
				}
			}
		})
	}
}

// TestVXUIdempotent sends a message twice (the same MSH-10): it is recorded
// once, and the second ACK is the first's.
func TestVXUIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vax := vaccinator("YB-1")
	t.Run("ok/new-person", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, false)
		body := sample(t, "vxu-administered.hl7")
		first := readAck(t, f.h.Handle(ctx, vax, body))
		second := readAck(t, f.h.Handle(ctx, vax, body))
		if first.Code != hl7.AA || second.Code != hl7.AA {
			t.Fatalf("MSA-1 = %s then %s, want AA twice: %v", first.Code, second.Code, second.Errors)
		}
		if c1, c2 := cardOf(t, first), cardOf(t, second); c1 != c2 {
			t.Errorf("card codes %s then %s, want the same", c1, c2)
		}
		if n := f.count(t, "persons"); n != 1 {
			t.Errorf("%d persons, want 1", n)
		}
		if n := f.count(t, "vaccinations"); n != 1 {
			t.Errorf("%d vaccinations, want 1", n)
		}
	})
	t.Run("ok/known-person", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, false)
		card := f.register(t, clinic.PersonInput{BirthDate: "1978"})
		body := withCard(sample(t, "vxu-historical.hl7"), card)
		for i := range 2 {
			a := readAck(t, f.h.Handle(ctx, vax, body))
			if a.Code != hl7.AA {
				t.Fatalf("send %d: MSA-1 = %s: %v", i, a.Code, a.Errors)
			}
			if c, ok := a.CardCode(); ok {
				t.Errorf("send %d assigned card %s to a known person", i, c)
			}
		}
		if rec := f.record(t, card); len(rec.Vaccinations) != 1 {
			t.Errorf("%d vaccinations, want 1", len(rec.Vaccinations))
		}
	})
	t.Run("ok/resent-with-new-control-id", func(t *testing.T) {
		t.Parallel()
		// The same order (ORC-3, MSH-4) in a new message adds nothing.
		f := newFixture(t, false)
		card := f.register(t, clinic.PersonInput{BirthDate: "1978"})
		body := withCard(sample(t, "vxu-historical.hl7"), card)
		for i, ctl := range []string{"R-1", "R-2"} {
			a := readAck(t, f.h.Handle(ctx, vax, setField(body, "MSH", 1, 10, ctl)))
			if a.Code != hl7.AA {
				t.Fatalf("send %d: MSA-1 = %s: %v", i, a.Code, a.Errors)
			}
		}
		if rec := f.record(t, card); len(rec.Vaccinations) != 1 {
			t.Errorf("%d vaccinations, want 1", len(rec.Vaccinations))
		}
	})
	t.Run("fail/same-control-id-other-content", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, false)
		body := sample(t, "vxu-administered.hl7")
		if a := readAck(t, f.h.Handle(ctx, vax, body)); a.Code != hl7.AA {
			t.Fatalf("MSA-1 = %s: %v", a.Code, a.Errors)
		}
		before := f.counts(t)
		a := readAck(t, f.h.Handle(ctx, vax, setField(body, "RXA", 1, 15, "OTHERLOT")))
		if a.Code == hl7.AA {
			t.Errorf("a different message under a used MSH-10 was accepted")
		}
		if !hasError(errorsOf(a, hl7.SeverityError), hl7.CodeDuplicateKey, "") {
			t.Errorf("errors = %v, want 205", a.Errors)
		}
		if after := f.counts(t); !maps.Equal(before, after) {
			t.Errorf("rows changed: %v -> %v", before, after)
		}
	})
}

// TestHandleUnreadable: a body that holds no readable message gets one
// reject (AR) and changes nothing.
func TestHandleUnreadable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false)
	for _, tc := range []struct {
		name string
		body []byte
		code hl7.Code
		loc  string
	}{
		{"fail/empty", nil, hl7.CodeSegmentSequence, "MSH^1"},
		{"fail/blank-lines", []byte("\r\n\r\n"), hl7.CodeSegmentSequence, "MSH^1"},
		{"fail/not-hl7", []byte("hello"), hl7.CodeSegmentSequence, "MSH^1"},
		{"fail/delimiters", sample(t, "bad-delimiters.hl7"), hl7.CodeDataType, "MSH^1^2"},
		{"fail/header-only", msg("MSH|^~\\&|A|B", "PID|1||X^^^Y"), hl7.CodeRequiredField, "MSH^1^9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.counts(t)
			reply := f.h.Handle(ctx, vaccinator("YB-1"), tc.body)
			b, err := hl7.Parse(reply)
			if err != nil || len(b.Messages) != 1 {
				t.Fatalf("reply: %v, %d messages\n%s", err, len(b.Messages), show(reply))
			}
			a, errs := hl7.ReadACK(b.Messages[0])
			if errs.Fatal() {
				t.Fatal(errs)
			}
			if a.Code != hl7.AR || !hasError(errorsOf(a, hl7.SeverityError), tc.code, tc.loc) {
				t.Errorf("ACK %s %v, want AR with %d at %s", a.Code, a.Errors, tc.code, tc.loc)
			}
			if after := f.counts(t); !maps.Equal(before, after) {
				t.Errorf("rows changed: %v -> %v", before, after)
			}
		})
	}
}
