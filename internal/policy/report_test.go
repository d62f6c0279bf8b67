package policy_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
)

func readPopulation(t *testing.T) []policy.PopulationRow {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "population.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := policy.ReadPopulation(f)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestReadPopulationErrors(t *testing.T) {
	tests := []struct {
		name, csv, code, field string
	}{
		{"fail/status", "CN-JL,illegal,10\n", registry.EINVALID, "line 1"},
		{"fail/negative", "jurisdiction,status,count\nCN-JL,unregistered,-1\n", registry.EINVALID, "line 2"},
		{"fail/not-number", "CN-JL,unregistered,12\nCN-JL,citizen,many\n", registry.EINVALID, "line 2"},
		{"fail/columns", "CN-JL,unregistered\n", registry.EINVALID, "line 1"},
		{"fail/empty", "# nothing\n", registry.EINVALID, ""},
		{"fail/quote", "CN-JL,\"unregistered,12\n", registry.EMALFORMED, "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.ReadPopulation(strings.NewReader(tc.csv))
			if registry.ErrorCode(err) != tc.code || registry.ErrorField(err) != tc.field {
				t.Errorf("got %s %q (%v), want %s %q", registry.ErrorCode(err), registry.ErrorField(err), err, tc.code, tc.field)
			}
		})
	}
}

func TestSimulate(t *testing.T) {
	p := mustLoad(t, "2021-09")
	sim, err := p.Simulate(readPopulation(t), "vaccination", sept, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	// Expected from testdata/population.csv and the rules, by hand:
	// CN-HL: 100 temporary_hukou eligible, 4,000 + 2,500 refused → 6,500 of 6,600 left out.
	// CN-BJ: 300 registered_irregular eligible, 200 unregistered referred → 200 of 500.
	// CN-JL: 9,000 of 1,009,200; CN-LN: 3,000 of 1,003,000; CN-TJ and KR: none.
	want := map[string][2]float64{
		"CN-BJ": {200, 500}, "CN-HL": {6500, 6600}, "CN-JL": {9000, 1009200},
		"CN-LN": {3000, 1003000}, "CN-TJ": {0, 150}, "KR": {0, 2010000},
	}
	if len(sim.Summaries) != len(want) {
		t.Fatalf("%d jurisdictions", len(sim.Summaries))
	}
	for _, s := range sim.Summaries {
		w := want[s.Jurisdiction]
		if s.LeftOut != w[0] || s.Population != w[1] {
			t.Errorf("%s: left out %v of %v, want %v of %v", s.Jurisdiction, s.LeftOut, s.Population, w[0], w[1])
		}
	}
	if got := strings.Join(sim.Flagged(), ","); got != "CN-BJ,CN-HL" {
		t.Errorf("flagged %s", got)
	}
	if sim.Total.LeftOut != 18700 || sim.Total.Population != 4029450 {
		t.Errorf("total %+v", sim.Total)
	}
	var tbl bytes.Buffer
	if err := sim.WriteTable(&tbl); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"CN-HL", "98.5%", "EXCLUDES > 20%", "6,500", "cn-hl-2021-registered-irregular"} {
		if !strings.Contains(tbl.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, tbl.String())
		}
	}
	var svg bytes.Buffer
	if err := sim.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML with one bar per jurisdiction.
	dec := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
	texts := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "text" {
			texts++
		}
	}
	if texts < 2*len(sim.Summaries) || !strings.Contains(svg.String(), "⚑ 98.5% left out") {
		t.Errorf("SVG lacks labels (%d texts)", texts)
	}
	// A higher threshold flags fewer.
	sim, _ = p.Simulate(readPopulation(t), "vaccination", sept, 0.5)
	if got := strings.Join(sim.Flagged(), ","); got != "CN-HL" {
		t.Errorf("flagged at 0.5: %s", got)
	}
	// The inclusive pack leaves nobody out.
	inc := mustLoad(t, "inclusive")
	sim, err = inc.Simulate(readPopulation(t), "vaccination", sept, 0.2)
	if err != nil || sim.Total.LeftOut != 0 || len(sim.Flagged()) != 0 {
		t.Errorf("inclusive: %+v, %v", sim.Total, err)
	}
	// Unknown jurisdictions name the line.
	_, err = p.Simulate([]policy.PopulationRow{{Jurisdiction: "CN-ZZ", Status: "citizen", Count: 1, Line: 7}}, "vaccination", sept, 0.2)
	if registry.ErrorField(err) != "line 7" {
		t.Errorf("unknown jurisdiction: %v", err)
	}
}

func TestDiff(t *testing.T) {
	seed := mustLoad(t, "2021-09")
	paid := mustLoad(t, "inclusive-paid")
	if ch := policy.Diff(seed, seed, policy.ChangeDates(seed), policy.Services); len(ch) != 0 {
		t.Errorf("a pack differs from itself: %+v", ch)
	}
	dates := policy.ChangeDates(seed, paid)
	var ds []string
	for _, d := range dates {
		ds = append(ds, d.String())
	}
	if strings.Join(ds, ",") != "2020-12-15,2021-01-01,2021-06-01" {
		t.Errorf("change dates %v", ds)
	}
	ch := policy.Diff(seed, paid, dates, policy.Services)
	// By hand: before June the centre decides for all 33 CN nodes, so on
	// 2020-12-15 and 2021-01-01 registered_irregular vaccination changes
	// everywhere in CN (2 × 33); from June only in CN-JL, CN-JL-YB, CN-LN and
	// CN-HL (4). Nothing else changes.
	if len(ch) != 70 {
		t.Errorf("%d changes, want 70", len(ch))
	}
	for _, c := range ch {
		if c.Status != policy.StatusRegisteredIrregular || c.Service != "vaccination" || c.From != policy.NotEligible || c.To != policy.EligiblePaid {
			t.Errorf("unexpected change %+v", c)
		}
	}
	last := ch[len(ch)-4:]
	var places []string
	for _, c := range last {
		places = append(places, c.Jurisdiction)
	}
	if strings.Join(places, ",") != "CN-HL,CN-JL,CN-JL-YB,CN-LN" {
		t.Errorf("June changes in %v", places)
	}
}

func TestSimulatePNG(t *testing.T) {
	p := mustLoad(t, "2021-09")
	sim, err := p.Simulate(readPopulation(t), "vaccination", sept, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := sim.WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// The CN-HL bar (second) is nearly all red: sample its middle.
	b := img.Bounds()
	r, g, _, _ := img.At(170+300, 100+1*(22+10)+11).RGBA()
	if b.Dx() < 600 || r>>8 != 0xc6 || g>>8 != 0x28 {
		t.Errorf("size %v, CN-HL bar colour %x %x", b, r>>8, g>>8)
	}
}

// A first line is a header only when neither its status nor its count
// parse: a typo in the first data line is an error, not a skipped header.
func TestReadPopulationHeader(t *testing.T) {
	rows, err := policy.ReadPopulation(strings.NewReader("place,status,people\nCN-JL,unregistered,12\n"))
	if err != nil || len(rows) != 1 || rows[0].Line != 2 {
		t.Errorf("header: %+v, %v", rows, err)
	}
	if _, err := policy.ReadPopulation(strings.NewReader("CN-JL,unregistered,12o\nCN-JL,citizen,3\n")); registry.ErrorField(err) != "line 1" {
		t.Errorf("typo in the first line: %v", err)
	}
}
