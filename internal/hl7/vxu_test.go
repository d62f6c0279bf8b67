package hl7_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/haven-registry/haven/internal/hl7"
)

const (
	E = hl7.SeverityError
	W = hl7.SeverityWarning
)

// vxuCases are the sample messages in testdata, each with the ACK it must
// get: MSA-1, and the ERR segments (code, location, severity).
var vxuCases = []struct {
	name, file string
	ack        hl7.AckCode
	errs       []wantErr
	doses      int
}{
	{"ok/administered", "vxu-administered.hl7", hl7.AA, nil, 1},
	{"ok/historical", "vxu-historical.hl7", hl7.AA, nil, 1},
	{"ok/refusal-and-not-administered", "vxu-refusal.hl7", hl7.AA, nil, 2},
	{"ok/entered-in-error", "vxu-entered-in-error.hl7", hl7.AA, nil, 1},
	{"ok/multiple-orders", "vxu-multiple-orders.hl7", hl7.AA, nil, 3},
	{"ok/no-orc", "vxu-no-orc.hl7", hl7.AA, []wantErr{{100, "RXA^1", W}, {100, "RXA^2", W}}, 2},
	{"ok/escapes", "vxu-escapes.hl7", hl7.AA, nil, 1},
	{"ok/other-delimiters", "vxu-other-delimiters.hl7", hl7.AA, nil, 1},
	{"ok/truncation-character", "vxu-truncation-char.hl7", hl7.AA, nil, 1},
	{"ok/z-and-unexpected-segments", "vxu-z-segments.hl7", hl7.AA, []wantErr{{100, "EVN^1", W}}, 1},
	{"ok/euc-kr", "vxu-euc-kr.hl7", hl7.AA, nil, 1},
	{"ok/gb18030", "vxu-gb18030.hl7", hl7.AA, nil, 1},
	{"ok/crlf", "vxu-crlf.hl7", hl7.AA, nil, 1},
	{"ok/cr", "vxu-cr.hl7", hl7.AA, nil, 3},
	{"fail/no-msh-9", "bad-no-msh9.hl7", hl7.AR, []wantErr{{101, "MSH^1^9", E}}, 0},
	{"fail/wrong-version", "bad-version.hl7", hl7.AR, []wantErr{{203, "MSH^1^12^1^1", E}}, 0},
	{"fail/wrong-type", "bad-type.hl7", hl7.AR, []wantErr{{200, "MSH^1^9^1^1", E}}, 0},
	{"fail/wrong-event", "bad-event.hl7", hl7.AR, []wantErr{{201, "MSH^1^9^1^2", E}}, 0},
	{"fail/processing-id", "bad-processing-id.hl7", hl7.AR, []wantErr{{202, "MSH^1^11^1^1", E}}, 0},
	{"fail/bad-date", "bad-date.hl7", hl7.AE, []wantErr{{102, "RXA^1^3^1^1", E}}, 1},
	{"fail/missing-rxa-3", "bad-missing-rxa3.hl7", hl7.AE, []wantErr{{101, "RXA^1^3", E}}, 1},
	{"fail/no-cvx", "bad-no-cvx.hl7", hl7.AE, []wantErr{{103, "RXA^1^5^1^1", E}}, 1},
	{"fail/completion-status", "bad-completion.hl7", hl7.AE, []wantErr{{103, "RXA^1^20^1^1", E}}, 1},
	{"fail/segment-order", "bad-segment-order.hl7", hl7.AE, []wantErr{{100, "NK1^1", E}}, 1},
	{"fail/no-pid", "bad-no-pid.hl7", hl7.AE, []wantErr{{100, "ORC^1", E}, {100, "RXA^1", E}, {100, "PID^1", E}}, 0},
	{"fail/delimiters", "bad-delimiters.hl7", hl7.AR, []wantErr{{102, "MSH^1^2", E}}, 0},
	{"fail/unknown-charset", "bad-charset.hl7", hl7.AR, []wantErr{{103, "MSH^1^18^1^1", E}}, 0},
}

func TestReadVXUSamples(t *testing.T) {
	for _, tc := range vxuCases {
		body := readFile(t, tc.file)
		for _, term := range []string{"", "\r", "\r\n"} {
			b := body
			name := tc.name
			if term != "" {
				if strings.Contains(tc.name, "cr") {
					continue
				}
				b = withTerminator(body, term)
				name += fmt.Sprintf("/%q", term)
			}
			t.Run(name, func(t *testing.T) {
				m := mustParse(t, b)
				v, errs := hl7.ReadVXU(m)
				if v == nil {
					t.Fatal("ReadVXU returned nil")
				}
				if diff := cmp.Diff(tc.errs, errsOf(errs), cmp.AllowUnexported(wantErr{})); diff != "" {
					t.Errorf("errors (-want +got):\n%s\n%v", diff, errs)
				}
				if got := errs.Ack(); got != tc.ack {
					t.Errorf("Ack() = %s, want %s", got, tc.ack)
				}
				if got := len(v.Administrations); got != tc.doses {
					t.Errorf("%d administrations, want %d", got, tc.doses)
				}
				checkACK(t, &v.Header, errs, tc.ack)
			})
		}
	}
}

// checkACK writes the ACK for a message and reads it back.
func checkACK(t *testing.T, req *hl7.Header, errs hl7.Errors, want hl7.AckCode) {
	t.Helper()
	b, err := hl7.NewACK(req, errs, env)
	if err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, b)
	if m.Err != nil {
		t.Fatalf("ACK does not parse: %v\n%q", m.Err, b)
	}
	a, aerrs := hl7.ReadACK(m)
	if len(aerrs) != 0 {
		t.Fatalf("ReadACK: %v", aerrs)
	}
	if a.Code != want || a.ControlID != req.ControlID {
		t.Errorf("MSA = %s|%s, want %s|%s", a.Code, a.ControlID, want, req.ControlID)
	}
	if a.Header.Type.String() != "ACK^"+req.Type.Event+"^ACK" && req.Type.Event != "" {
		t.Errorf("MSH-9 = %s", a.Header.Type)
	}
	if !a.Header.HasProfile("Z23") || a.Header.Version != "2.5.1" {
		t.Errorf("MSH-12/MSH-21 = %s %v", a.Header.Version, a.Header.Profiles)
	}
	if a.Header.SendingApplication != req.ReceivingApplication && !req.ReceivingApplication.IsZero() {
		t.Errorf("MSH-3 = %v, want the request's MSH-5 %v", a.Header.SendingApplication, req.ReceivingApplication)
	}
	if a.Header.ReceivingFacility != req.SendingFacility {
		t.Errorf("MSH-6 = %v, want the request's MSH-4 %v", a.Header.ReceivingFacility, req.SendingFacility)
	}
	opts := cmpopts.IgnoreFields(hl7.Error{}, "Err")
	if diff := cmp.Diff([]hl7.Error(errs), []hl7.Error(a.Errors), opts, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ERR segments read back (-want +got):\n%s", diff)
	}
}

func TestReadVXUAdministered(t *testing.T) {
	v, errs := hl7.ReadVXU(mustParse(t, readFile(t, "vxu-administered.hl7")))
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	wantPatient := hl7.Patient{
		Identifiers: []hl7.Identifier{{ID: "MRN-4411", Authority: "MYEHR", Type: "MR"}},
		Names:       []hl7.Name{{Family: "Kim", Given: "Minji", Middle: "Seo", Type: "L"}},
		BirthDate:   hl7.Date{Year: 1985, Month: 9, Day: 23},
		Sex:         "F",
		Phones:      []hl7.Phone{{Use: "PRN", Equipment: "PH", Country: "86", Area: "433", Local: "5551234"}},
	}
	if diff := cmp.Diff(wantPatient, v.Patient); diff != "" {
		t.Errorf("patient (-want +got):\n%s", diff)
	}
	if got := v.Patient.Phones[0].String(); got != "+86 433 5551234" {
		t.Errorf("phone = %q", got)
	}
	if _, ok := v.Patient.Identifier(hl7.HavenAuthority); ok {
		t.Error("found a card code where there is none")
	}
	want := hl7.Administration{
		Location:           hl7.Location{Segment: "RXA", Seq: 1},
		PlacerOrder:        hl7.OrderID{ID: "PLC-77", Namespace: "MYEHR"},
		FillerOrder:        hl7.OrderID{ID: "DOSE-9001", Namespace: "MYEHR"},
		Date:               hl7.Date{Year: 2021, Month: 9, Day: 17},
		Vaccine:            hl7.Coded{Code: "511", Text: "COVID-19 IV Non-US Vaccine (CoronaVac)", System: "CVX"},
		CVX:                "511",
		Amount:             "0.5",
		Units:              "mL",
		InfoSource:         "00",
		Facility:           "YB-1",
		Lot:                "A21091712",
		Expiration:         hl7.Date{Year: 2022, Month: 3, Day: 1},
		Manufacturer:       hl7.Coded{Code: "SNV", Text: "Sinovac", System: "MVX"},
		MVX:                "SNV",
		Completion:         hl7.Complete,
		Action:             hl7.ActionAdd,
		Route:              hl7.Coded{Code: "C28161", Text: "Intramuscular", System: "NCIT"},
		BodySite:           hl7.Coded{Code: "LD", Text: "Left Deltoid", System: "HL70163"},
		FundingEligibility: hl7.Coded{Code: "V02", Text: "VFC eligible - Medicaid/Medicaid Managed Care", System: "HL70064"},
		FundingSource:      hl7.Coded{Code: "VXC1", Text: "Federal funds", System: "CDCPHINVS"},
		Observations: []hl7.Observation{
			{Code: hl7.Coded{Code: "69764-9", Text: "Document type", System: "LN"}, ValueType: "CE", SubID: "3",
				Value: hl7.Coded{Code: "253088698300028811170411", Text: "COVID-19 Vaccine EUA Fact Sheet", System: "cdcgs1vis"},
				Date:  hl7.Date{Year: 2021, Month: 9, Day: 17}},
			{Code: hl7.Coded{Code: "29769-7", Text: "Date Vis Presented", System: "LN"}, ValueType: "DT", SubID: "3",
				Value: hl7.Coded{Code: "20210917"}, Date: hl7.Date{Year: 2021, Month: 9, Day: 17}},
		},
	}
	if diff := cmp.Diff([]hl7.Administration{want}, v.Administrations); diff != "" {
		t.Errorf("administration (-want +got):\n%s", diff)
	}
	if !v.Administrations[0].Given() {
		t.Error("Given() = false")
	}
	if got := v.Administrations[0].FieldLocation("product").String(); got != "RXA^1^5^1^1" {
		t.Errorf("FieldLocation(product) = %s", got)
	}
}

// TestReadVXUKeepsOnlyThePersonModel: a PID full of extra fields, PD1, NK1,
// providers, free-text OBX and NTE leave nothing in the result.
func TestReadVXUKeepsOnlyThePersonModel(t *testing.T) {
	v, _ := hl7.ReadVXU(mustParse(t, readFile(t, "vxu-administered.hl7")))
	dump := fmt.Sprintf("%#v", v)
	for _, dropped := range []string{
		"Park", "Soyeon", // mother's maiden name
		"Yanji Road", "133000", // address
		"2028-9", "Asian", "2186-5", "Hispanic", // race, ethnicity
		"minji@example.org",          // e-mail
		"Jisoo", "Spouse", "5551235", // next of kin
		"Reminder", "HL70215", // PD1
		"Lee", "7824", "Nurse", // providers
		"fainting", "tolerated", // free text (OBX ST, NTE)
	} {
		if strings.Contains(dump, dropped) {
			t.Errorf("the result keeps %q:\n%s", dropped, dump)
		}
	}
}

func TestReadVXUSamplesInDetail(t *testing.T) {
	read := func(t *testing.T, file string) *hl7.VXU {
		t.Helper()
		v, errs := hl7.ReadVXU(mustParse(t, readFile(t, file)))
		if errs.Fatal() {
			t.Fatal(errs)
		}
		return v
	}
	t.Run("historical", func(t *testing.T) {
		v := read(t, "vxu-historical.hl7")
		a := v.Administrations[0]
		if !a.Historical || a.InfoSource != "01" || a.Amount != "" || a.CVX != "08" || !a.Given() {
			t.Errorf("%+v", a)
		}
		if id, ok := v.Patient.Identifier("haven"); !ok || id.ID != "7KQM-X4TD-9HCA" {
			t.Errorf("card code = %v, %v", id, ok)
		}
		if v.Patient.BirthDate != (hl7.Date{Year: 1978}) || v.Patient.BirthDate.String() != "1978" {
			t.Errorf("birth date = %v", v.Patient.BirthDate)
		}
	})
	t.Run("refusal", func(t *testing.T) {
		v := read(t, "vxu-refusal.hl7")
		r, na := v.Administrations[0], v.Administrations[1]
		if r.Completion != hl7.Refused || r.CVX != "107" || r.RefusalReason.Code != "00" || r.RefusalReason.System != "NIP002" || r.Given() {
			t.Errorf("refusal: %+v", r)
		}
		if na.Completion != hl7.NotAdministered || na.CVX != hl7.CVXNotAdministered || na.Given() {
			t.Errorf("not administered: %+v", na)
		}
		if v.Patient.BirthDate.String() != "1978-04" {
			t.Errorf("birth date = %v", v.Patient.BirthDate)
		}
	})
	t.Run("entered-in-error", func(t *testing.T) {
		a := read(t, "vxu-entered-in-error.hl7").Administrations[0]
		if a.Action != hl7.ActionDelete || a.FillerOrder.ID != "DOSE-9001" || a.Given() {
			t.Errorf("%+v", a)
		}
	})
	t.Run("multiple-orders", func(t *testing.T) {
		v := read(t, "vxu-multiple-orders.hl7")
		var got []string
		for _, a := range v.Administrations {
			got = append(got, a.Location.String()+" "+a.FillerOrder.ID+" "+a.CVX+" "+a.Date.String()+" "+a.FundingEligibility.Code+a.FundingSource.Code)
		}
		want := []string{"RXA^1 DOSE-A1 08 2021-03-01 ", "RXA^2 DOSE-A2 20 2021-05-03 V03", "RXA^3 DOSE-A3 10 2022-01-10 VXC2"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("no-orc", func(t *testing.T) {
		v := read(t, "vxu-no-orc.hl7")
		if a := v.Administrations[0]; a.Route.Code != "C38299" || a.FillerOrder.ID != "" || a.Lot != "M0011" {
			t.Errorf("%+v", a)
		}
	})
	t.Run("escapes", func(t *testing.T) {
		v := read(t, "vxu-escapes.hl7")
		a := v.Administrations[0]
		got := []string{v.Patient.Identifiers[0].ID, v.Patient.Names[0].Family, v.Patient.Names[0].Given, v.Patient.Names[0].Middle,
			a.FillerOrder.ID, a.Vaccine.Text, a.Facility, a.Lot}
		want := []string{"A&B-9", "Smith^Jones", `Ann\Marie`, "Jo", "DOSE|1", "Influenza\nunspecified", "Clinic A~2", `LOT|42&B\Q\`}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("other-delimiters", func(t *testing.T) {
		v := read(t, "vxu-other-delimiters.hl7")
		a := v.Administrations[0]
		if v.Header.Delimiters.EncodingCharacters() != "*@$%!" {
			t.Errorf("delimiters %q", v.Header.Delimiters.EncodingCharacters())
		}
		got := []string{v.Header.Type.String(), v.Patient.Names[0].Middle, a.Vaccine.Text, a.Facility, a.Lot, a.MVX}
		want := []string{"VXU^V04^VXU_V04", "Janet", "Influenza# seasonal", "C1%2", "L1", "SKB"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("truncation-character", func(t *testing.T) {
		v := read(t, "vxu-truncation-char.hl7")
		if v.Header.Delimiters.Truncation != '#' || v.Administrations[0].Lot != "LOT#7" {
			t.Errorf("%+v %q", v.Header.Delimiters, v.Administrations[0].Lot)
		}
	})
	t.Run("euc-kr", func(t *testing.T) {
		v := read(t, "vxu-euc-kr.hl7")
		got := []string{v.Header.Charset, v.Header.SendingFacility.Namespace, v.Patient.Names[0].Family, v.Patient.Names[0].Given, v.Administrations[0].Facility}
		want := []string{"KS X 1001", "서울보건소", "김", "민지", "종로보건소"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("gb18030", func(t *testing.T) {
		v := read(t, "vxu-gb18030.hl7")
		got := []string{v.Header.Charset, v.Header.SendingFacility.Namespace, v.Patient.Names[0].Family, v.Patient.Names[0].Given,
			v.Patient.Names[0].Middle, v.Administrations[0].Facility}
		// The middle name is \XC0F6\: hex data in the message's character set.
		want := []string{"GB 18030-2000", "延吉诊所", "王", "丽", "丽", "延吉诊所"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
	})
}

func TestReadVXUStructure(t *testing.T) {
	const head = "MSH|^~\\&|A|B|HAVEN|H|20210917||VXU^V04^VXU_V04|C1|P|2.5.1\n"
	const pid = "PID|1||X^^^A^MR||Doe^J\n"
	const rxa = "RXA|0|1|20210917||20^DTaP^CVX|0.5|||00^^NIP001|||||||||||CP|A\n"
	tests := []struct {
		name string
		body string
		want []wantErr
	}{
		{"ok/full-patient-group", head + "SFT|x\n" + pid + "PD1|\nNK1|1\nNK1|2\nPV1|1\nPV2|\nGT1|1\nIN1|1\nIN2|\nIN3|\nIN1|2\nORC|RE\nTQ1|1\nTQ2|1\n" + rxa + "RXR|C28161^IM^NCIT\nOBX|1|NM|30973-2^Dose^LN|1|1\nNTE|1\nNTE|2\nOBX|2|ST|x^y^LN|1|text\n", nil},
		{"ok/no-orders", head + pid, nil},
		{"fail/two-pid", head + pid + pid, []wantErr{{100, "PID^2", E}}},
		{"fail/pd1-twice", head + pid + "PD1|\nPD1|\n", []wantErr{{100, "PD1^2", E}}},
		{"fail/nk1-after-pv1", head + pid + "PV1|1\nNK1|1\n", []wantErr{{100, "NK1^1", E}}},
		{"fail/orc-without-rxa", head + pid + "ORC|RE\nORC|RE\n" + rxa, []wantErr{{100, "ORC^1", E}}},
		{"fail/orc-without-rxa-at-end", head + pid + "ORC|RE\n" + rxa + "ORC|RE\n", []wantErr{{100, "ORC^2", E}}},
		{"fail/rxr-before-rxa", head + pid + "ORC|RE\nRXR|C28161\n" + rxa, []wantErr{{100, "RXR^1", E}}},
		{"fail/rxr-twice", head + pid + "ORC|RE\n" + rxa + "RXR|a\nRXR|b\n", []wantErr{{100, "RXR^2", E}}},
		{"fail/rxr-after-obx", head + pid + "ORC|RE\n" + rxa + "OBX|1|NM|1^x^LN||1\nRXR|a\n", []wantErr{{100, "RXR^1", E}}},
		{"fail/obx-before-rxa", head + pid + "ORC|RE\nOBX|1|NM|1^x^LN||1\n" + rxa, []wantErr{{100, "OBX^1", E}}},
		{"fail/nte-without-obx", head + pid + "ORC|RE\n" + rxa + "NTE|1\n", []wantErr{{100, "NTE^1", E}}},
		{"fail/tq1-after-rxa", head + pid + "ORC|RE\n" + rxa + "TQ1|1\n", []wantErr{{100, "TQ1^1", E}}},
		{"fail/sft-after-pid", head + pid + "SFT|x\n", []wantErr{{100, "SFT^1", E}}},
		{"fail/not-a-segment", head + pid + "hello world\n", []wantErr{{100, "", E}}},
		{"fail/no-pid-identifier", head + "PID|1||^^^A^MR||Doe\n", []wantErr{{101, "PID^1^3", E}}},
		{"warn/unknown-segment", head + pid + "OBR|1\n", []wantErr{{100, "OBR^1", W}}},
		{"warn/no-msh7", strings.Replace(head, "20210917", "", 1) + pid, []wantErr{{101, "MSH^1^7", W}}},
		{"warn/bad-msh7", strings.Replace(head, "20210917", "2021-09-17", 1) + pid, []wantErr{{102, "MSH^1^7^1^1", W}}},
		{"warn/structure", strings.Replace(head, "VXU_V04", "VXU_V05", 1) + pid, []wantErr{{103, "MSH^1^9^1^3", W}}},
		{"fail/no-control-id", strings.Replace(head, "C1", "", 1) + pid, []wantErr{{101, "MSH^1^10", E}}},
		{"fail/no-processing-id", strings.Replace(head, "|P|", "||", 1) + pid, []wantErr{{101, "MSH^1^11", E}}},
		{"fail/no-version", strings.Replace(head, "2.5.1", "", 1) + pid, []wantErr{{101, "MSH^1^12", E}}},
		{"warn/bad-birth-date", head + "PID|1||X^^^A^MR||Doe^J||19850230\n", []wantErr{{102, "PID^1^7^1^1", W}}},
		{"warn/unknown-sex", head + "PID|1||X^^^A^MR||Doe^J|||Q\n", []wantErr{{103, "PID^1^8^1^1", W}}},
		{"fail/partial-administration-date", head + pid + "ORC|RE\n" + strings.Replace(rxa, "20210917", "202109", 1), []wantErr{{102, "RXA^1^3^1^1", E}}},
		{"fail/rxa-5-missing", head + pid + "ORC|RE\n" + strings.Replace(rxa, "20^DTaP^CVX", "", 1), []wantErr{{101, "RXA^1^5", E}}},
		{"fail/cvx-not-a-code", head + pid + "ORC|RE\n" + strings.Replace(rxa, "20^DTaP^CVX", "X20^DTaP^CVX", 1), []wantErr{{103, "RXA^1^5^1^1", E}}},
		{"ok/cvx-in-alternate", head + pid + "ORC|RE\n" + strings.Replace(rxa, "20^DTaP^CVX", "49281-0286-10^Daptacel^NDC^20^DTaP^CVX", 1), nil},
		{"warn/cvx-without-system", head + pid + "ORC|RE\n" + strings.Replace(rxa, "20^DTaP^CVX", "20^DTaP", 1), []wantErr{{103, "RXA^1^5^1^3", W}}},
		{"warn/amount-missing", head + pid + "ORC|RE\n" + strings.Replace(rxa, "|0.5|", "||", 1), []wantErr{{101, "RXA^1^6", W}}},
		{"warn/amount-not-a-number", head + pid + "ORC|RE\n" + strings.Replace(rxa, "|0.5|", "|half|", 1), []wantErr{{102, "RXA^1^6^1^1", W}}},
		{"warn/info-source-missing", head + pid + "ORC|RE\n" + strings.Replace(rxa, "00^^NIP001", "", 1), []wantErr{{101, "RXA^1^9", W}}},
		{"warn/info-source-unknown", head + pid + "ORC|RE\n" + strings.Replace(rxa, "00^^NIP001", "99^^NIP001", 1), []wantErr{{103, "RXA^1^9^1^1", W}, {101, "RXA^1^9", W}}},
		{"fail/action-code", head + pid + "ORC|RE\n" + strings.Replace(rxa, "|CP|A", "|CP|X", 1), []wantErr{{103, "RXA^1^21^1^1", E}}},
		{"warn/refusal-without-reason", head + pid + "ORC|RE\n" + strings.Replace(rxa, "|CP|A", "|RE|A", 1), []wantErr{{101, "RXA^1^18", W}}},
		{"warn/998-completed", head + pid + "ORC|RE\n" + strings.Replace(rxa, "20^DTaP^CVX", "998^none^CVX", 1), []wantErr{{103, "RXA^1^20^1^1", W}}},
		{"warn/mvx-other-system", head + pid + "ORC|RE\nRXA|0|1|20210917||20^DTaP^CVX|0.5|||00^^NIP001||||||L||SKB^GSK^XYZ|||CP|A\n", []wantErr{{103, "RXA^1^17^1^1", W}}},
		{"warn/second-funding", head + pid + "ORC|RE\n" + rxa + "OBX|1|CE|64994-7^e^LN|1|V01^^HL70064\nOBX|2|CE|64994-7^e^LN|2|V02^^HL70064\n", []wantErr{{100, "OBX^2", W}}},
		{"warn/obx-without-code", head + pid + "ORC|RE\n" + rxa + "OBX|1|CE||1|V01\n", []wantErr{{101, "OBX^1^3", W}}},
		{"warn/obx-value-type", head + pid + "ORC|RE\n" + rxa + "OBX|1|ED|1^x^LN|1|data\n", []wantErr{{102, "OBX^1^2^1^1", W}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := hl7.ReadVXU(mustParse(t, []byte(tc.body)))
			if diff := cmp.Diff(tc.want, errsOf(errs), cmp.AllowUnexported(wantErr{})); diff != "" {
				t.Errorf("(-want +got):\n%s\n%v", diff, errs)
			}
		})
	}
}

func TestReadVXURules(t *testing.T) {
	m := mustParse(t, readFile(t, "bad-version.hl7"))
	if _, errs := (hl7.Rules{Versions: []string{"2.5.1", "2.3.1"}}).ReadVXU(m); errs.Fatal() {
		t.Errorf("Versions 2.3.1 refused: %v", errs)
	}
	m = mustParse(t, readFile(t, "vxu-historical.hl7"))
	_, errs := (hl7.Rules{ProcessingIDs: []string{"T"}}).ReadVXU(m)
	if diff := cmp.Diff([]wantErr{{202, "MSH^1^11^1^1", E}}, errsOf(errs), cmp.AllowUnexported(wantErr{})); diff != "" {
		t.Error(diff)
	}
}
