package catalog_test

import (
	"testing"

	"github.com/haven-registry/haven/internal/catalog"
)

func TestLookup(t *testing.T) {
	c := catalog.Default()
	tests := []struct {
		name, in, want string
	}{
		{"ok/id", "coronavac", "coronavac"},
		{"ok/cvx", "511", "coronavac"},
		{"ok/zhifei-507-and-513-are-one-product", "507", "zf2001"},
		{"ok/zhifei-513", "513", "zf2001"},
		{"ok/dcc-mp", "EU/1/20/1528", "comirnaty"},
		{"ok/deprecated-mp-still-resolves", "NVX-CoV2373", "nuvaxovid"},
		{"ok/deprecated-wibp", "Inactivated-SARS-CoV-2-Vero-Cell", "wibp-corv"},
		{"ok/korean-name", "코로나백 (시노백)", "coronavac"},
		{"ok/english-name-any-case", "convidecia, ad5-ncov (cansino)", "convidecia"},
		{"ok/id-any-case", "SKYCovione", "skycovione"},
		{"ok/cvx-as-the-cdc-writes-it", "03", "cvx-03"},
		{"ok/cvx-without-leading-zero", "3", "cvx-03"},
		{"ok/cdsi-description", "mmr", "cvx-03"},
		{"ok/chinese-name", "麻疹、腮腺炎和风疹联合疫苗（MMR）", "cvx-03"},
		{"ok/korean-name-mmr", "MMR(홍역·유행성이하선염·풍진) 백신", "cvx-03"},
		{"ok/non-us-covid", "505", "cvx-505"},
		{"ok/cvx-id", "cvx-94", "cvx-94"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := c.Lookup(tt.in)
			if !ok || p.ID != tt.want {
				t.Fatalf("Lookup(%q) = %v, %v; want %s", tt.in, p, ok, tt.want)
			}
		})
	}
	for _, in := range []string{"sputnik", "998", "999", "000", "12345", ""} {
		if p, ok := c.Lookup(in); ok {
			t.Errorf("Lookup(%q) = %v, want not found", in, p.ID)
		}
	}
}

// Every product the foundation issue names must be present, with names in all
// three languages and the codes the reference crosswalk gives.
func TestRequiredProducts(t *testing.T) {
	c := catalog.Default()
	want := map[string]struct{ cvx, mp, vp string }{
		"coronavac":  {"511", "CoronaVac", "1157024006"},
		"bbibp-corv": {"510", "BBIBP-CorV", "1157024006"},
		"wibp-corv":  {"500", "WIBP-CorV", "1157024006"},
		"convidecia": {"506", "Convidecia", "29061000087103"},
		"zf2001":     {"513", "", "1162643001"},
		"kconvac":    {"516", "", "1157024006"},
		"comirnaty":  {"208", "EU/1/20/1528", "1119349007"},
		"spikevax":   {"207", "EU/1/20/1507", "1119349007"},
		"vaxzevria":  {"210", "EU/1/21/1529", "29061000087103"},
		"covishield": {"210", "Covishield", "29061000087103"},
		"jcovden":    {"212", "EU/1/20/1525", "29061000087103"},
		"nuvaxovid":  {"211", "EU/1/21/1618", "1162643001"},
		"covaxin":    {"502", "Covaxin", "1157024006"},
		"skycovione": {"500", "", "1162643001"},
	}
	for id, w := range want {
		p, ok := c.ByID(id)
		if !ok {
			t.Errorf("product %s missing", id)
			continue
		}
		if p.CVXCode() != w.cvx || p.DCCProduct != w.mp || p.DCCProphylaxis != w.vp {
			t.Errorf("%s: cvx=%s mp=%q vp=%s; want %s %q %s", id, p.CVXCode(), p.DCCProduct, p.DCCProphylaxis, w.cvx, w.mp, w.vp)
		}
		for _, lang := range []string{"en", "zh", "ko"} {
			if p.Names[lang] == "" {
				t.Errorf("%s: no %s name", id, lang)
			}
		}
	}
	if p, _ := c.ByID("zf2001"); p.Name("zh-Hans") != p.Names["zh"] {
		t.Errorf("Name(zh-Hans) did not use the zh name")
	}
}

func TestParseRejectsDuplicateCodes(t *testing.T) {
	_, err := catalog.Parse([]byte(`{"products":[
		{"id":"a","names":{"en":"A"},"cvx":["1"],"primary_doses":2},
		{"id":"b","names":{"en":"B"},"cvx":["1"],"primary_doses":2}]}`))
	if err == nil {
		t.Fatal("duplicate CVX accepted")
	}
}
