package catalog_test

import (
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/testenv"
)

// cdsiDir returns the CDSi supporting data the catalogue follows; the test
// is skipped outside CI when ../shared is absent.
func cdsiDir(t *testing.T) string {
	t.Helper()
	return testenv.SharedTestdata(t, "cdsi", "supporting-data-4.64")
}

// cdsiCVXMap is the cvxToAntigenMap of ScheduleSupportingData.xml.
type cdsiCVXMap struct {
	CVX         string `xml:"cvx"`
	Description string `xml:"shortDescription"`
	Association []struct {
		Antigen string `xml:"antigen"`
	} `xml:"association"`
}

func (m cdsiCVXMap) antigens() []string {
	var out []string
	for _, a := range m.Association {
		if a := strings.TrimSpace(a.Antigen); a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func readCVXMap(t *testing.T) []cdsiCVXMap {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cdsiDir(t), "ScheduleSupportingData.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Maps []cdsiCVXMap `xml:"cvxToAntigenMap>cvxMap"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Maps) < 100 {
		t.Fatalf("the CDSi CVX map has only %d entries", len(doc.Maps))
	}
	return doc.Maps
}

// products.json stays in step with the CDSi CVX map: every CVX code of the
// map resolves to a product it identifies, with the map's antigens; every
// code the catalogue claims is in the map (the schedule refuses others); a
// cvx-… product carries its code and the CDSi short description.
func TestCatalogCoversCDSiCVXMap(t *testing.T) {
	maps := readCVXMap(t)
	c := catalog.Default()
	inMap := map[string][]string{} // antigens by CVX code as written
	for _, m := range maps {
		inMap[strings.TrimSpace(m.CVX)] = m.antigens()
	}
	for _, m := range maps {
		cvx, desc := strings.TrimSpace(m.CVX), strings.TrimSpace(m.Description)
		p, ok := c.Lookup(cvx)
		if !ok {
			stub, _ := json.Marshal(map[string]any{"id": "cvx-" + cvx, "cvx": []string{cvx}, "antigens": m.antigens(),
				"names": map[string]string{"en": desc, "zh": "", "ko": ""}})
			t.Errorf("CVX %s (%s) is not in the catalogue; add to products.json, with zh and ko names:\n    %s", cvx, desc, stub)
			continue
		}
		if !p.HasCVX(cvx) {
			t.Errorf("Lookup(%s) = %s, which CVX %s does not identify", cvx, p.ID, cvx)
		}
		if q, err := c.LookupCodes(cvx, ""); err != nil || q != p {
			t.Errorf("LookupCodes(%s, \"\") = %v, %v; want %s", cvx, q, err, p.ID)
		}
		for _, an := range m.antigens() {
			if !p.Protects(an) {
				t.Errorf("%s (CVX %s): antigens %v lack %s of the CDSi map", p.ID, cvx, p.Antigens, an)
			}
		}
		if strings.HasPrefix(p.ID, "cvx-") {
			if p.ID != "cvx-"+cvx || p.CVXCode() != cvx {
				t.Errorf("%s: CVXCode() = %s; want id cvx-%s and code %s", p.ID, p.CVXCode(), cvx, cvx)
			}
			if p.Names["en"] != desc {
				t.Errorf("%s: English name %q; the CDSi short description is %q", p.ID, p.Names["en"], desc)
			}
		}
	}
	for _, p := range c.Products() {
		var want []string
		for _, cvx := range append(slices.Clone(p.CVX), p.RecordCVX) {
			if cvx == "" {
				continue
			}
			ants, ok := inMap[cvx]
			if !ok {
				t.Errorf("%s: CVX %s is not in the CDSi map, so the schedule could not forecast the dose", p.ID, cvx)
			}
			for _, an := range ants {
				if !slices.Contains(want, an) {
					want = append(want, an)
				}
			}
		}
		if len(p.CVX) > 0 && !sameSet(p.Antigens, want) {
			t.Errorf("%s: antigens %v; the CDSi map gives %v", p.ID, p.Antigens, want)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestLookupCodes(t *testing.T) {
	c := catalog.Default()
	tests := []struct {
		name, cvx, mvx string
		want           string // product ID, or "" for an error
		field, code    string // the failing field, and the code its message names
	}{
		{name: "ok/cvx-only", cvx: "03", want: "cvx-03"},
		{name: "ok/leading-zero-dropped", cvx: "3", want: "cvx-03"},
		{name: "ok/leading-zeros-added", cvx: "0208", want: "comirnaty"},
		{name: "ok/space-trimmed", cvx: " 94 ", mvx: " msd ", want: "cvx-94"},
		{name: "ok/matching-mvx", cvx: "208", mvx: "PFR", want: "comirnaty"},
		{name: "ok/mvx-any-case", cvx: "207", mvx: "mod", want: "spikevax"},
		{name: "ok/known-mvx-of-another-maker", cvx: "208", mvx: "MOD", want: "comirnaty"},
		{name: "ok/mvx-unknown-manufacturer", cvx: "20", mvx: "UNK", want: "cvx-20"},
		{name: "ok/inactive-mvx", cvx: "20", mvx: "NOV", want: "cvx-20"},
		{name: "ok/second-cvx-of-a-product", cvx: "507", want: "zf2001"},
		{name: "ok/reported-as-cvx-210", cvx: "210", mvx: "ASZ", want: "vaxzevria"},
		{name: "ok/non-us-covid", cvx: "505", want: "cvx-505"},
		{name: "ok/product-unknown", cvx: "500", want: "covid19-unknown"},
		{name: "fail/unknown-cvx-000", cvx: "000", field: "cvx", code: "000"},
		{name: "fail/unknown-cvx-12345", cvx: "12345", field: "cvx", code: "12345"},
		{name: "fail/cvx-not-a-number", cvx: "MMR", field: "cvx", code: "MMR"},
		{name: "fail/cvx-required", cvx: "", mvx: "PFR", field: "cvx"},
		{name: "fail/no-vaccine-administered", cvx: "998", field: "cvx", code: "998"},
		{name: "fail/unknown-vaccine", cvx: "999", field: "cvx", code: "999"},
		{name: "fail/unknown-mvx", cvx: "03", mvx: "XYZ", field: "mvx", code: "XYZ"},
		{name: "fail/unknown-cvx-before-mvx", cvx: "12345", mvx: "XYZ", field: "cvx", code: "12345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.LookupCodes(tt.cvx, tt.mvx)
			if tt.want != "" {
				if err != nil || p.ID != tt.want {
					t.Fatalf("LookupCodes(%q, %q) = %v, %v; want %s", tt.cvx, tt.mvx, p, err, tt.want)
				}
				return
			}
			var e *registry.Error
			if !errors.As(err, &e) || e.Code != registry.EINVALID || e.Field != tt.field {
				t.Fatalf("LookupCodes(%q, %q) = %v, %v; want EINVALID naming %s", tt.cvx, tt.mvx, p, err, tt.field)
			}
			if tt.code != "" && !strings.Contains(e.Message, `"`+tt.code+`"`) {
				t.Errorf("message %q does not name the code %q", e.Message, tt.code)
			}
		})
	}
}

// When products share a CVX code (one identified by it, others reported
// under it), the MVX code picks among them.
func TestLookupCodesPicksByMVX(t *testing.T) {
	c, err := catalog.Parse([]byte(`{"products":[
		{"id":"a","names":{"en":"A"},"cvx":["900"],"mvx":"PFR"},
		{"id":"b","names":{"en":"B"},"cvx":[],"record_cvx":"900","mvx":"MOD"},
		{"id":"c","names":{"en":"C"},"cvx":[],"record_cvx":"901","mvx":"SKB"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ cvx, mvx, want string }{
		{"900", "", "a"}, {"900", "PFR", "a"}, {"900", "MOD", "b"}, {"900", "SKB", "a"},
		{"901", "", "c"}, {"901", "PFR", "c"},
	} {
		if p, err := c.LookupCodes(tt.cvx, tt.mvx); err != nil || p.ID != tt.want {
			t.Errorf("LookupCodes(%s, %s) = %v, %v; want %s", tt.cvx, tt.mvx, p, err, tt.want)
		}
	}
	if p, ok := c.Lookup("901"); ok {
		t.Errorf("Lookup(901) = %s; a reported-as code identifies no product", p.ID)
	}
}

func TestManufacturer(t *testing.T) {
	c := catalog.Default()
	tests := []struct {
		in, code, name, status string
	}{
		{"PFR", "PFR", "Pfizer, Inc", catalog.StatusActive},
		{"mod", "MOD", "Moderna US, Inc.", catalog.StatusActive},
		{"SKB", "SKB", "GlaxoSmithKline", catalog.StatusActive},
		{"MSD", "MSD", "Merck and Co., Inc.", catalog.StatusActive},
		{"PMC", "PMC", "Sanofi Pasteur", catalog.StatusActive},
		{" SNV ", "SNV", "Sinovac", catalog.StatusActive},
		{"NOV", "NOV", "Novartis Pharmaceutical Corporation", catalog.StatusInactive},
		{"UNK", "UNK", "Unknown manufacturer", catalog.StatusActive},
	}
	for _, tt := range tests {
		m, ok := c.Manufacturer(tt.in)
		if !ok || m.Code != tt.code || m.Name != tt.name || m.Status != tt.status {
			t.Errorf("Manufacturer(%q) = %+v, %v; want %s %q %s", tt.in, m, ok, tt.code, tt.name, tt.status)
		}
	}
	if m, ok := c.Manufacturer("XYZ"); ok {
		t.Errorf("Manufacturer(XYZ) = %+v", m)
	}
	all := c.Manufacturers()
	if len(all) < 80 || all[0].Code != "AB" {
		t.Errorf("Manufacturers() has %d entries, first %+v", len(all), all[0])
	}
	date := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	for _, m := range all {
		if !date.MatchString(m.Updated) {
			t.Errorf("%s: updated %q", m.Code, m.Updated)
		}
	}
	for _, p := range c.Products() {
		if _, ok := c.Manufacturer(p.MVX); p.MVX != "" && !ok {
			t.Errorf("%s: MVX %s is not in the MVX table", p.ID, p.MVX)
		}
	}
}

// Every MVX code the CDSi supporting data and the CDC test cases use is in
// the MVX table.
func TestManufacturersCoverCDSi(t *testing.T) {
	c := catalog.Default()
	seen := map[string]string{}
	files, err := filepath.Glob(filepath.Join(cdsiDir(t), "*.xml"))
	if err != nil || len(files) < 20 {
		t.Fatalf("CDSi XML files: %v, %v", files, err)
	}
	for _, f := range files {
		for _, mvx := range xmlTexts(t, f, "mvx") {
			seen[mvx] = filepath.Base(f)
		}
	}
	if len(seen) == 0 {
		t.Fatal("no MVX code in the CDSi supporting data")
	}
	cases, _ := filepath.Glob(filepath.Join(testenv.SharedTestdata(t, "cdsi", "cases"), "*.csv"))
	for _, f := range cases {
		for _, mvx := range csvColumns(t, f, "MVX_") {
			seen[mvx] = filepath.Base(f)
		}
	}
	for mvx, where := range seen {
		if _, ok := c.Manufacturer(mvx); !ok {
			t.Errorf("MVX %s (%s) is not in the MVX table", mvx, where)
		}
	}
}

// xmlTexts returns the non-empty texts of every element named name in file.
func xmlTexts(t *testing.T, file, name string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	d := xml.NewDecoder(f)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == name {
			var s string
			if err := d.DecodeElement(&s, &se); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
}

// csvColumns returns the non-empty cells of the columns whose header starts
// with prefix.
func csvColumns(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("%s: %v", file, err)
	}
	var cols []int
	for i, h := range rows[0] {
		if strings.HasPrefix(strings.TrimSpace(h), prefix) {
			cols = append(cols, i)
		}
	}
	var out []string
	for _, row := range rows[1:] {
		for _, i := range cols {
			if i < len(row) && strings.TrimSpace(row[i]) != "" {
				out = append(out, strings.TrimSpace(row[i]))
			}
		}
	}
	return out
}

// Every product has a name in English, Chinese and Korean. The names of the
// cvx-… products are translations of the CDSi description, so they are
// written in Han and Hangul (a curated product's name may be all brand and
// maker, such as "Covifenz（Medicago）"). Codes are well formed.
func TestProductNamesAndCodes(t *testing.T) {
	icd11 := regexp.MustCompile(`^XM[0-9A-Z]{4}$`)
	snomed := regexp.MustCompile(`^[1-9][0-9]{5,17}$`)
	for _, p := range catalog.Default().Products() {
		translated := !strings.HasPrefix(p.ID, "cvx-") || hasScript(p.Names["zh"], unicode.Han) && hasScript(p.Names["ko"], unicode.Hangul)
		if p.Names["en"] == "" || p.Names["zh"] == "" || p.Names["ko"] == "" || !translated {
			t.Errorf("%s: names %q", p.ID, p.Names)
		}
		if p.ICD11 != "" && !icd11.MatchString(p.ICD11) {
			t.Errorf("%s: ICD-11 %q", p.ID, p.ICD11)
		}
		if p.SNOMED != "" && !snomed.MatchString(p.SNOMED) {
			t.Errorf("%s: SNOMED CT %q", p.ID, p.SNOMED)
		}
		if len(p.Antigens) == 0 {
			t.Errorf("%s: no antigens", p.ID)
		}
	}
}

func hasScript(s string, tab *unicode.RangeTable) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.Is(tab, r) }) >= 0
}

func TestProductsFor(t *testing.T) {
	c := catalog.Default()
	covid := c.ProductsFor("COVID-19")
	var ids []string
	for _, p := range covid {
		ids = append(ids, p.ID)
	}
	for _, id := range []string{"coronavac", "comirnaty", "wibp-corv", "covid19-unknown", "cvx-505", "cvx-230"} {
		if !slices.Contains(ids, id) {
			t.Errorf("ProductsFor(COVID-19) lacks %s", id)
		}
	}
	if slices.Contains(ids, "cvx-03") {
		t.Error("ProductsFor(COVID-19) has MMR")
	}
	if mmr := c.ProductsFor("Measles"); len(mmr) < 4 || mmr[0].ID != "cvx-03" {
		t.Errorf("ProductsFor(Measles) = %d products", len(mmr))
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, products string }{
		{"fail/duplicate-cvx", `{"id":"a","names":{"en":"A"},"cvx":["1"]},{"id":"b","names":{"en":"B"},"cvx":["1"]}`},
		{"fail/duplicate-cvx-leading-zero", `{"id":"a","names":{"en":"A"},"cvx":["3"]},{"id":"b","names":{"en":"B"},"cvx":["03"]}`},
		{"fail/duplicate-name-any-case", `{"id":"a","names":{"en":"A"},"cvx":["1"]},{"id":"b","names":{"en":"B","zh":"a"},"cvx":["2"]}`},
		{"fail/cvx-not-a-number", `{"id":"a","names":{"en":"A"},"cvx":["A1"]}`},
		{"fail/record-cvx-not-a-number", `{"id":"a","names":{"en":"A"},"cvx":[],"record_cvx":"x"}`},
		{"fail/unknown-mvx", `{"id":"a","names":{"en":"A"},"cvx":["1"],"mvx":"XYZ"}`},
		{"fail/unknown-status", `{"id":"a","names":{"en":"A"},"cvx":["1"],"status":"retired"}`},
		{"fail/dcc-product-without-series", `{"id":"a","names":{"en":"A"},"cvx":["1"],"dcc_mp":"EU/1/00/0000"}`},
		{"fail/no-english-name", `{"id":"a","names":{"zh":"甲"},"cvx":["1"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := catalog.Parse([]byte(`{"products":[` + tt.products + `]}`)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := catalog.Parse([]byte(`{"products":[{"id":"a","names":{"en":"A","zh":"A"},"cvx":["1"],"status":"active"}]}`)); err != nil {
		t.Errorf("one product naming itself twice: %v", err)
	}
}

// Every dose of the CDC's CDSi test cases (CVX_n with MVX_n) resolves to a
// product: the doses an IIS sends can be recorded.
func TestCDSiCaseDosesResolve(t *testing.T) {
	c := catalog.Default()
	files, _ := filepath.Glob(filepath.Join(testenv.SharedTestdata(t, "cdsi", "cases"), "*.csv"))
	if len(files) == 0 {
		t.Fatal("no CDSi test cases")
	}
	n := 0
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		f.Close()
		if err != nil || len(rows) == 0 {
			t.Fatalf("%s: %v", file, err)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[strings.TrimSpace(h)] = i
		}
		cell := func(row []string, name string) string {
			if i, ok := col[name]; ok && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		for _, row := range rows[1:] {
			for d := 1; ; d++ {
				cvxCol := "CVX_" + strconv.Itoa(d)
				if _, ok := col[cvxCol]; !ok {
					break
				}
				cvx, mvx := cell(row, cvxCol), cell(row, "MVX_"+strconv.Itoa(d))
				if cvx == "" {
					continue
				}
				n++
				if _, err := c.LookupCodes(cvx, mvx); err != nil {
					t.Errorf("%s %s: dose %d (CVX %s, MVX %s): %v", filepath.Base(file), cell(row, "CDC_Test_ID"), d, cvx, mvx, err)
				}
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d doses in the CDSi test cases", n)
	}
}
