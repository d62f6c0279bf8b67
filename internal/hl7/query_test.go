package hl7_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

func readQuery(t *testing.T, file string) (*hl7.Query, hl7.Errors) {
	t.Helper()
	q, errs := hl7.ReadQBP(mustParse(t, readFile(t, file)))
	if q == nil {
		t.Fatal("ReadQBP returned nil")
	}
	return q, errs
}

func TestReadQBP(t *testing.T) {
	q, errs := readQuery(t, "qbp-z34.hl7")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	want := &hl7.Query{
		Profile: "Z34",
		Name:    hl7.Coded{Code: "Z34", Text: "Request Immunization History", System: "CDCPHINVS"},
		Tag:     "TAG-0001",
		Identifiers: []hl7.Identifier{
			{ID: "556", Authority: "MYEHR", Type: "MR"},
			{ID: "7KQM-X4TD-9HCA", Authority: "HAVEN", Type: "PI"},
		},
		Limit: 5,
	}
	if diff := cmp.Diff(want, q, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Header" }, cmp.Ignore())); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if id, ok := q.Identifier(hl7.HavenAuthority); !ok || id.ID != "7KQM-X4TD-9HCA" {
		t.Errorf("card = %v %v", id, ok)
	}
	// The demographic parameters are never read.
	dump := fmt.Sprintf("%#v", q)
	for _, s := range []string{"Wang", "Zhao", "Mei", "1978", "Yanji", "5559999"} {
		if strings.Contains(dump, s) {
			t.Errorf("the query keeps %q", s)
		}
	}

	q, errs = readQuery(t, "qbp-z44.hl7")
	if len(errs) != 0 || q.Profile != hl7.ProfileQueryEval || q.Limit != 1 {
		t.Errorf("%+v %v", q, errs)
	}
	q, errs = readQuery(t, "qbp-no-card.hl7")
	if len(errs) != 0 {
		t.Error(errs)
	}
	if _, ok := q.Identifier(hl7.HavenAuthority); ok {
		t.Error("a card code where there is none")
	}
}

func TestReadQBPErrors(t *testing.T) {
	const head = "MSH|^~\\&|A|B|HAVEN|H|20210922||QBP^Q11^QBP_Q11|Q1|P|2.5.1|||ER|AL|||||Z44^CDCPHINVS\n"
	const qpd = "QPD|Z44^Request Evaluated History and Forecast^CDCPHINVS|T1|C^^^HAVEN^PI\n"
	tests := []struct {
		name string
		body string
		want []wantErr
		ack  hl7.AckCode
	}{
		{"ok", head + qpd + "RCP|I|1^RD&records&HL70126\n", nil, hl7.AA},
		{"warn/no-rcp", head + qpd, []wantErr{{100, "RCP^1", W}}, hl7.AA},
		{"warn/profile-mismatch", strings.Replace(head, "Z44^", "Z34^", 1) + qpd + "RCP|I\n", []wantErr{{103, "MSH^1^21^1^1", W}}, hl7.AA},
		{"warn/limit", head + qpd + "RCP|I|many\n", []wantErr{{102, "RCP^1^2^1^1", W}}, hl7.AA},
		{"warn/unexpected", head + "PID|1\n" + qpd + "RCP|I\n", []wantErr{{100, "PID^1", W}}, hl7.AA},
		{"fail/bad-profile", "", []wantErr{{103, "QPD^1^1^1^1", E}}, hl7.AE},
		{"fail/no-qpd", head + "RCP|I\n", []wantErr{{100, "RCP^1", E}, {100, "QPD^1", E}}, hl7.AE},
		{"fail/two-qpd", head + qpd + qpd + "RCP|I\n", []wantErr{{100, "QPD^2", E}}, hl7.AE},
		{"fail/no-tag", head + "QPD|Z44^x^CDCPHINVS||C^^^HAVEN^PI\nRCP|I\n", []wantErr{{101, "QPD^1^2", E}}, hl7.AE},
		{"fail/no-name", head + "QPD||T1|C^^^HAVEN^PI\nRCP|I\n", []wantErr{{101, "QPD^1^1", E}}, hl7.AE},
		{"fail/type", strings.Replace(head, "QBP^Q11^QBP_Q11", "VXQ^V01", 1) + qpd, []wantErr{{200, "MSH^1^9^1^1", E}}, hl7.AR},
		{"fail/event", strings.Replace(head, "QBP^Q11^QBP_Q11", "QBP^Q22", 1) + qpd, []wantErr{{201, "MSH^1^9^1^2", E}}, hl7.AR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			if tc.body == "" {
				body = readFile(t, "qbp-bad-profile.hl7")
			}
			q, errs := hl7.ReadQBP(mustParse(t, body))
			if diff := cmp.Diff(tc.want, errsOf(errs), cmp.AllowUnexported(wantErr{})); diff != "" {
				t.Errorf("(-want +got):\n%s\n%v", diff, errs)
			}
			if errs.Ack() != tc.ack {
				t.Errorf("Ack = %s", errs.Ack())
			}
			if !errs.Fatal() {
				return
			}
			b, err := hl7.NewRSPError(q, errs, env)
			if err != nil {
				t.Fatal(err)
			}
			m := mustParse(t, b)
			h := m.Header()
			if h.Type.String() != "RSP^K11^RSP_K11" || !h.HasProfile("Z33") {
				t.Errorf("MSH = %q", segments(b)[0])
			}
			msa := m.Find("MSA", 1)
			if msa.Field(1).Text() != string(tc.ack) || msa.Field(2).Text() != q.Header.ControlID {
				t.Errorf("MSA = %s", msa.Field(1).Raw())
			}
			if qak := m.Find("QAK", 1); qak == nil || qak.Field(2).Text() != string(tc.ack) {
				t.Errorf("QAK missing or wrong:\n%q", b)
			}
			if n := len(errs); m.Find("ERR", n) == nil || m.Find("ERR", n+1) != nil {
				t.Errorf("want %d ERR:\n%q", n, b)
			}
		})
	}
}

// history is a person's record as the actions layer would hand it over.
func history() *hl7.History {
	return &hl7.History{
		Patient: hl7.Person{CardCode: "7KQM-X4TD-9HCA"},
		AsOf:    hl7.Date{Year: 2021, Month: 9, Day: 22},
		Doses: []hl7.EvaluatedDose{
			{
				Administration: hl7.Administration{
					FillerOrder: hl7.OrderID{ID: "d-1", Namespace: "HAVEN"},
					Date:        hl7.Date{Year: 2021, Month: 3, Day: 1}, CVX: "08",
					Vaccine:    hl7.Coded{Code: "08", Text: "Hep B, adolescent or pediatric", System: "CVX"},
					InfoSource: "01", Historical: true,
				},
				Evaluations: []hl7.Evaluation{{VaccineGroup: hl7.Coded{Code: "45", Text: "Hep B, unspecified formulation", System: "CVX"}, DoseNumber: 1, SeriesDoses: 3, Valid: true}},
			},
			{
				Administration: hl7.Administration{
					FillerOrder: hl7.OrderID{ID: "d-2", Namespace: "HAVEN"},
					Date:        hl7.Date{Year: 2021, Month: 3, Day: 10}, CVX: "110", Amount: "0.5", Units: "mL",
					Lot: "PED1", MVX: "SKB", Facility: "YB-1", InfoSource: "00",
				},
				Evaluations: []hl7.Evaluation{
					{VaccineGroup: hl7.Coded{Code: "45", Text: "Hep B", System: "CVX"}, Valid: false, Reason: hl7.Coded{Text: "Too soon"}},
					{VaccineGroup: hl7.Coded{Code: "107", Text: "DTaP", System: "CVX"}, DoseNumber: 1, Valid: true},
				},
			},
		},
		Forecasts: []hl7.Forecast{
			{VaccineGroup: hl7.Coded{Code: "45", Text: "Hep B", System: "CVX"}, Status: hl7.SeriesOverdue, DoseNumber: 2,
				Earliest: hl7.Date{Year: 2021, Month: 3, Day: 29}, Recommended: hl7.Date{Year: 2021, Month: 4, Day: 1},
				PastDue: hl7.Date{Year: 2021, Month: 5, Day: 1}, Latest: hl7.Date{Year: 2039, Month: 3, Day: 1}},
			{VaccineGroup: hl7.Coded{Code: "03", Text: "MMR", System: "CVX"}, Status: hl7.SeriesComplete},
		},
	}
}

func TestNewRSPZ42(t *testing.T) {
	q, _ := readQuery(t, "qbp-z44.hl7")
	b, err := hl7.NewRSP(q, history(), env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`MSH|^~\&|HAVEN|HAVEN-IIS|MYEHR|CLINIC-2|20210917100000+0000||RSP^K11^RSP_K11|HAVEN-ACK-1|P|2.5.1|||NE|NE|||||Z42^CDCPHINVS`,
		`MSA|AA|QRY-0002`,
		`QAK|TAG-0002|OK|Z44^Request Evaluated History and Forecast^CDCPHINVS`,
		`QPD|Z44^Request Evaluated History and Forecast^CDCPHINVS|TAG-0002|7KQM-X4TD-9HCA^^^HAVEN^PI`,
		`PID|1||7KQM-X4TD-9HCA^^^HAVEN^PI`,
		`ORC|RE||d-1^HAVEN`,
		`RXA|0|1|20210301||08^Hep B, adolescent or pediatric^CVX|999|||01^Historical information - source unspecified^NIP001|||||||||||CP|A`,
		`OBX|1|CE|30956-7^Vaccine Type^LN|1|45^Hep B, unspecified formulation^CVX||||||F|||20210922`,
		`OBX|2|CE|59779-9^Immunization Schedule used^LN|1|VXC16^ACIP^CDCPHINVS||||||F|||20210922`,
		`OBX|3|NM|30973-2^Dose number in series^LN|1|1||||||F|||20210922`,
		`OBX|4|NM|59782-3^Number of doses in primary series^LN|1|3||||||F|||20210922`,
		`OBX|5|ID|59781-5^Dose validity^LN|1|Y||||||F|||20210922`,
		`ORC|RE||d-2^HAVEN`,
		`RXA|0|1|20210310||110^^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001||^^^YB-1||||PED1||SKB^^MVX|||CP|A`,
		`OBX|1|CE|30956-7^Vaccine Type^LN|1|45^Hep B^CVX||||||F|||20210922`,
		`OBX|2|CE|59779-9^Immunization Schedule used^LN|1|VXC16^ACIP^CDCPHINVS||||||F|||20210922`,
		`OBX|3|ID|59781-5^Dose validity^LN|1|N||||||F|||20210922`,
		`OBX|4|CE|30982-3^Reason applied by forecast logic to project this vaccine^LN|1|^Too soon||||||F|||20210922`,
		`OBX|5|CE|30956-7^Vaccine Type^LN|2|107^DTaP^CVX||||||F|||20210922`,
		`OBX|6|CE|59779-9^Immunization Schedule used^LN|2|VXC16^ACIP^CDCPHINVS||||||F|||20210922`,
		`OBX|7|NM|30973-2^Dose number in series^LN|2|1||||||F|||20210922`,
		`OBX|8|ID|59781-5^Dose validity^LN|2|Y||||||F|||20210922`,
		`ORC|RE||9999`,
		`RXA|0|1|20210922|20210922|998^No vaccine administered^CVX|999||||||||||||||NA`,
		`OBX|1|CE|30956-7^Vaccine Type^LN|1|45^Hep B^CVX||||||F|||20210922`,
		`OBX|2|CE|59779-9^Immunization Schedule used^LN|1|VXC16^ACIP^CDCPHINVS||||||F|||20210922`,
		`OBX|3|CE|59783-1^Status in immunization series^LN|1|LA13423-1^Overdue^LN||||||F|||20210922`,
		`OBX|4|NM|30973-2^Dose number in series^LN|1|2||||||F|||20210922`,
		`OBX|5|DT|30981-5^Earliest date to give^LN|1|20210329||||||F|||20210922`,
		`OBX|6|DT|30980-7^Date vaccine due^LN|1|20210401||||||F|||20210922`,
		`OBX|7|DT|59778-1^Date dose is overdue^LN|1|20210501||||||F|||20210922`,
		`OBX|8|DT|59777-3^Latest date next dose should be given^LN|1|20390301||||||F|||20210922`,
		`OBX|9|CE|30956-7^Vaccine Type^LN|2|03^MMR^CVX||||||F|||20210922`,
		`OBX|10|CE|59779-9^Immunization Schedule used^LN|2|VXC16^ACIP^CDCPHINVS||||||F|||20210922`,
		`OBX|11|CE|59783-1^Status in immunization series^LN|2|LA13421-5^Complete^LN||||||F|||20210922`,
	}
	if diff := cmp.Diff(want, segments(b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The doses read back as a VXU would read them.
	m := mustParse(t, b)
	if m.Err != nil {
		t.Fatal(m.Err)
	}
	if rxa := m.Find("RXA", 2); rxa.Field(15).Text() != "PED1" || rxa.Field(20).Text() != "CP" {
		t.Errorf("RXA^2 = %s", rxa.Field(15).Raw())
	}
}

func TestNewRSPZ32(t *testing.T) {
	q, _ := readQuery(t, "qbp-z34.hl7")
	h := history()
	h.Patient.Names = []hl7.Name{{Family: "Wang", Given: "Li"}} // the caller chose to answer with the name
	b, err := hl7.NewRSP(q, h, env)
	if err != nil {
		t.Fatal(err)
	}
	segs := segments(b)
	if !strings.HasSuffix(segs[0], "|Z32^CDCPHINVS") {
		t.Errorf("MSH = %s", segs[0])
	}
	if segs[3] != `QPD|Z34^Request Immunization History^CDCPHINVS|TAG-0001|556^^^MYEHR^MR~7KQM-X4TD-9HCA^^^HAVEN^PI` {
		t.Errorf("QPD = %s", segs[3])
	}
	if segs[4] != "PID|1||7KQM-X4TD-9HCA^^^HAVEN^PI||Wang^Li" {
		t.Errorf("PID = %s", segs[4])
	}
	if strings.Contains(string(b), "30956-7") || strings.Contains(string(b), "998^") {
		t.Error("a Z32 response holds evaluations or a forecast")
	}
	if strings.Count(string(b), "\rRXA|") != 2 {
		t.Errorf("RSP:\n%s", strings.ReplaceAll(string(b), "\r", "\n"))
	}
}

func TestNewRSPNotFound(t *testing.T) {
	q, _ := readQuery(t, "qbp-no-card.hl7")
	b, err := hl7.NewRSPNotFound(q, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`MSH|^~\&|HAVEN|HAVEN-IIS|MYEHR|CLINIC-2|20210917100000+0000||RSP^K11^RSP_K11|HAVEN-ACK-1|P|2.5.1|||NE|NE|||||Z33^CDCPHINVS`,
		`MSA|AA|QRY-0003`,
		`QAK|TAG-0003|NF|Z44^Request Evaluated History and Forecast^CDCPHINVS`,
		`QPD|Z44^Request Evaluated History and Forecast^CDCPHINVS|TAG-0003|177993^^^MYEHR^MR`,
	}
	if diff := cmp.Diff(want, segments(b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNewRSPRefuses(t *testing.T) {
	q, _ := readQuery(t, "qbp-z44.hl7")
	tests := map[string]func(*hl7.Query, *hl7.History, *hl7.Envelope){
		"no-control-id": func(q *hl7.Query, h *hl7.History, e *hl7.Envelope) { e.ControlID = "" },
		"no-card":       func(q *hl7.Query, h *hl7.History, e *hl7.Envelope) { h.Patient.CardCode = "" },
		"no-profile":    func(q *hl7.Query, h *hl7.History, e *hl7.Envelope) { q.Profile = "" },
		"no-as-of":      func(q *hl7.Query, h *hl7.History, e *hl7.Envelope) { h.AsOf = hl7.Date{} },
		"partial-date":  func(q *hl7.Query, h *hl7.History, e *hl7.Envelope) { h.Doses[0].Date.Day = 0 },
		"no-cvx":        func(q *hl7.Query, h *hl7.History, e *hl7.Envelope) { h.Doses[1].CVX = "" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			q2, h, e := *q, history(), env
			mutate(&q2, h, &e)
			if _, err := hl7.NewRSP(&q2, h, e); registry.ErrorCode(err) != registry.EINVALID {
				t.Errorf("err = %v", err)
			}
		})
	}
}
