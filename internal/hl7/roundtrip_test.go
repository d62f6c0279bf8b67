package hl7_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

// doses are administrations as ReadVXU returns them (Location aside), one of
// each kind Haven reports.
func doses() []hl7.Administration {
	day := func(y, m, d int) hl7.Date { return hl7.Date{Year: y, Month: m, Day: d} }
	return []hl7.Administration{
		{ // administered, with everything
			FillerOrder: hl7.OrderID{ID: "0190d3a4", Namespace: "HAVEN"}, PlacerOrder: hl7.OrderID{ID: "p-1", Namespace: "EHR"},
			Date: day(2021, 9, 17), Vaccine: hl7.Coded{Code: "511", Text: "COVID-19 IV Non-US Vaccine (CoronaVac)", System: "CVX"}, CVX: "511",
			Amount: "0.5", Units: "mL", InfoSource: "00", Facility: "YB-1", Lot: "A2109", Expiration: day(2022, 3, 1),
			Manufacturer: hl7.Coded{Code: "SNV", Text: "Sinovac", System: "MVX"}, MVX: "SNV",
			Completion: hl7.Complete, Action: hl7.ActionAdd,
			Route:              hl7.Coded{Code: "C28161", Text: "Intramuscular", System: "NCIT"},
			BodySite:           hl7.Coded{Code: "LD", Text: "Left Deltoid", System: "HL70163"},
			FundingEligibility: hl7.Coded{Code: "V01", Text: "Not VFC eligible", System: "HL70064"},
			FundingSource:      hl7.Coded{Code: "PHC70", Text: "Private funds", System: "CDCPHINVS"},
			Observations: []hl7.Observation{
				{Code: hl7.Coded{Code: "69764-9", Text: "Document type", System: "LN"}, ValueType: "CE", SubID: "1",
					Value: hl7.Coded{Code: "253088698300028811170411", Text: "COVID-19 EUA Fact Sheet", System: "cdcgs1vis"}, Date: day(2021, 9, 17)},
				{Code: hl7.Coded{Code: "29769-7", Text: "Date Vis Presented", System: "LN"}, ValueType: "DT", SubID: "1",
					Value: hl7.Coded{Code: "20210917"}, Date: day(2021, 9, 17)},
			},
		},
		{ // historical, from a card
			FillerOrder: hl7.OrderID{ID: "0190d3a5", Namespace: "HAVEN"},
			Date:        day(2019, 4, 15), Vaccine: hl7.Coded{Code: "08", System: "CVX"}, CVX: "08",
			InfoSource: "03", Historical: true, Completion: hl7.Complete, Action: hl7.ActionAdd,
		},
		{ // refusal
			FillerOrder: hl7.OrderID{ID: "0190d3a6", Namespace: "HAVEN"},
			Date:        day(2021, 9, 21), Vaccine: hl7.Coded{Code: "107", Text: "DTaP, unspecified formulation", System: "CVX"}, CVX: "107",
			RefusalReason: hl7.Coded{Code: "03", Text: "Patient decision", System: "NIP002"},
			Completion:    hl7.Refused, Action: hl7.ActionAdd,
		},
		{ // no vaccine administered
			FillerOrder: hl7.OrderID{ID: "0190d3a7", Namespace: "HAVEN"},
			Date:        day(2021, 9, 21), Vaccine: hl7.Coded{Code: "998", Text: "No vaccine administered", System: "CVX"}, CVX: "998",
			Completion: hl7.NotAdministered, Action: hl7.ActionAdd,
		},
		{ // entered in error
			FillerOrder: hl7.OrderID{ID: "0190d3a4", Namespace: "HAVEN"},
			Date:        day(2021, 9, 17), Vaccine: hl7.Coded{Code: "511", System: "CVX"}, CVX: "511", InfoSource: "00",
			Lot: "A2109", MVX: "SNV", Manufacturer: hl7.Coded{Code: "SNV", System: "MVX"},
			Completion: hl7.Complete, Action: hl7.ActionDelete,
		},
		{ // text that needs escaping
			FillerOrder: hl7.OrderID{ID: "id|with^delims", Namespace: "HAVEN"},
			Date:        day(2022, 1, 2), Vaccine: hl7.Coded{Code: "141", Text: "Influenza, seasonal ~ 2021&2022 \\ line\nbreak", System: "CVX"}, CVX: "141",
			InfoSource: "00", Facility: "延吉诊所 & Co", Lot: `L|1^2~3\4&5`, Completion: hl7.PartiallyAdministered, Action: hl7.ActionUpdate,
		},
	}
}

var person = hl7.Person{
	CardCode:  "7KQM-X4TD-9HCA",
	Names:     []hl7.Name{{Family: "김", Given: "민지", Type: "L"}, {Family: "Kim", Given: "Minji", Type: "A"}},
	BirthDate: hl7.Date{Year: 1985},
	Sex:       "F",
	Phones:    []hl7.Phone{{Use: "PRN", Equipment: "CP", Country: "82", Area: "10", Local: "12345678"}},
}

var ignoreLocation = cmpopts.IgnoreFields(hl7.Administration{}, "Location")

func TestVXURoundTrip(t *testing.T) {
	for _, charset := range []string{"", "UNICODE UTF-8", "GB 18030-2000"} {
		t.Run("charset="+charset, func(t *testing.T) {
			out := env
			out.ReceivingApplication = hl7.HD{Namespace: "STATEIIS"}
			out.ReceivingFacility = hl7.HD{Namespace: "STATE"}
			out.Charset = charset
			want := doses()
			b, err := hl7.NewVXU(person, want, hl7.Profile{}, out)
			if err != nil {
				t.Fatal(err)
			}
			v, errs := hl7.ReadVXU(mustParse(t, b))
			if len(errs) != 0 {
				t.Fatalf("%v\n%s", errs, strings.ReplaceAll(string(b), "\r", "\n"))
			}
			if diff := cmp.Diff(want, v.Administrations, ignoreLocation, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("administrations (-want +got):\n%s", diff)
			}
			// The person is named by card code only.
			wantPatient := hl7.Patient{Identifiers: []hl7.Identifier{{ID: person.CardCode, Authority: "HAVEN", Type: "PI"}}}
			if diff := cmp.Diff(wantPatient, v.Patient, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("patient (-want +got):\n%s", diff)
			}
			h := v.Header
			if h.Type.String() != "VXU^V04^VXU_V04" || !h.HasProfile("Z22") || h.ReceivingApplication.Namespace != "STATEIIS" ||
				h.SendingApplication.Namespace != "HAVEN" || h.ControlID != env.ControlID || h.AcceptAck != "ER" || h.AppAck != "AL" {
				t.Errorf("header = %+v", h)
			}
			wantCS := charset
			if charset == "" {
				wantCS = "UNICODE UTF-8" // the facility name is not ASCII
			}
			if h.Charset != wantCS {
				t.Errorf("MSH-18 = %q, want %q", h.Charset, wantCS)
			}
		})
	}
}

func TestVXUProfile(t *testing.T) {
	tests := []struct {
		fields []string
		want   hl7.Patient
	}{
		{nil, hl7.Patient{}},
		{[]string{hl7.FieldBirthDate}, hl7.Patient{BirthDate: person.BirthDate}},
		{[]string{hl7.FieldName, hl7.FieldSex}, hl7.Patient{Names: person.Names, Sex: "F"}},
		{[]string{hl7.FieldName, hl7.FieldBirthDate, hl7.FieldSex, hl7.FieldPhone}, hl7.Patient{Names: person.Names, BirthDate: person.BirthDate, Sex: "F", Phones: person.Phones}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.fields, ","), func(t *testing.T) {
			b, err := hl7.NewVXU(person, doses()[:1], hl7.Profile{Name: "STATEIIS", Fields: tc.fields}, env)
			if err != nil {
				t.Fatal(err)
			}
			v, errs := hl7.ReadVXU(mustParse(t, b))
			if len(errs) != 0 {
				t.Fatal(errs)
			}
			tc.want.Identifiers = []hl7.Identifier{{ID: person.CardCode, Authority: "HAVEN", Type: "PI"}}
			if diff := cmp.Diff(tc.want, v.Patient, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewVXURefuses(t *testing.T) {
	tests := map[string]func(p *hl7.Person, d []hl7.Administration, pr *hl7.Profile, e *hl7.Envelope){
		"no-control-id": func(p *hl7.Person, d []hl7.Administration, pr *hl7.Profile, e *hl7.Envelope) { e.ControlID = "" },
		"no-card":       func(p *hl7.Person, d []hl7.Administration, pr *hl7.Profile, e *hl7.Envelope) { p.CardCode = "" },
		"profile-address": func(p *hl7.Person, d []hl7.Administration, pr *hl7.Profile, e *hl7.Envelope) {
			pr.Fields = []string{"PID-11"}
		},
		"no-date": func(p *hl7.Person, d []hl7.Administration, pr *hl7.Profile, e *hl7.Envelope) { d[0].Date = hl7.Date{} },
		"no-cvx": func(p *hl7.Person, d []hl7.Administration, pr *hl7.Profile, e *hl7.Envelope) {
			d[0].CVX, d[0].Vaccine = "", hl7.Coded{Code: "1234-5", System: "NDC"}
		},
		"completion":  func(p *hl7.Person, d []hl7.Administration, pr *hl7.Profile, e *hl7.Envelope) { d[0].Completion = "XX" },
		"action":      func(p *hl7.Person, d []hl7.Administration, pr *hl7.Profile, e *hl7.Envelope) { d[0].Action = "X" },
		"info-source": func(p *hl7.Person, d []hl7.Administration, pr *hl7.Profile, e *hl7.Envelope) { d[0].InfoSource = "42" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			p, d, pr, e := person, doses(), hl7.Profile{}, env
			mutate(&p, d, &pr, &e)
			if _, err := hl7.NewVXU(p, d, pr, e); registry.ErrorCode(err) != registry.EINVALID {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// TestVXUDefaults: a dose given with only CVX, date and historical flag is
// written with the guide's defaults.
func TestVXUDefaults(t *testing.T) {
	in := []hl7.Administration{
		{Date: hl7.Date{Year: 2021, Month: 1, Day: 2}, CVX: "20"},
		{Date: hl7.Date{Year: 2021, Month: 1, Day: 2}, CVX: "20", Historical: true},
		{Date: hl7.Date{Year: 2021, Month: 1, Day: 2}, CVX: "20", Completion: hl7.Refused, RefusalReason: hl7.Coded{Code: "00", System: "NIP002"}},
	}
	b, err := hl7.NewVXU(person, in, hl7.Profile{}, env)
	if err != nil {
		t.Fatal(err)
	}
	segs := segments(b)
	want := []string{
		"RXA|0|1|20210102||20^^CVX|999|||00^New immunization record^NIP001|||||||||||CP|A",
		"RXA|0|1|20210102||20^^CVX|999|||01^Historical information - source unspecified^NIP001|||||||||||CP|A",
		"RXA|0|1|20210102||20^^CVX|999||||||||||||00^^NIP002||RE|A",
	}
	var got []string
	for _, s := range segs {
		if strings.HasPrefix(s, "RXA|") {
			got = append(got, s)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if segs[1] != "PID|1||7KQM-X4TD-9HCA^^^HAVEN^PI" {
		t.Errorf("PID = %s", segs[1])
	}
}
