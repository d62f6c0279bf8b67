package policy_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
)

const goodManifest = `name: t
texts:
  r.ok:
    en: "OK."
facts:
  - name: lives_with_husband
    type: bool
`

// pack builds an in-memory pack from a manifest and one jurisdiction file.
func pack(manifest, jur string) fstest.MapFS {
	return fstest.MapFS{
		"p/pack.yaml":              {Data: []byte(manifest)},
		"p/jurisdictions/x.yaml":   {Data: []byte(jur)},
		"p/cases/ignored.yaml":     {Data: []byte("not: [valid")},
		"p/SOURCES.md":             {Data: []byte("# notes")},
		"p/jurisdictions/README":   {Data: []byte("not yaml, ignored")},
		"other/pack.yaml.disabled": {Data: []byte("x")},
	}
}

// rootWith returns a jurisdiction file with one root deciding by the given rules.
func rootWith(rules string) string {
	return `jurisdictions:
  - code: AA
    name: A
    versions:
      - effective_from: 2021-01-01
        decide:
          rules:
` + rules
}

func TestLoadPackOK(t *testing.T) {
	p, err := policy.LoadPack(pack(goodManifest, rootWith(`            - id: ok
              services: [vaccination]
              when: "lives_with_husband && residence_status == 'citizen'"
              outcome: eligible
              reasons: [r.ok]
`)), "p")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "t" || !strings.HasPrefix(p.Version, "sha256:") || len(p.Version) != len("sha256:")+64 {
		t.Errorf("name %q version %q", p.Name, p.Version)
	}
	if len(p.Facts) != 1 || p.Facts[0].Name != "lives_with_husband" {
		t.Errorf("extra facts %+v", p.Facts)
	}
	// The hash covers the policy files only, not cases or notes.
	fs := pack(goodManifest, rootWith(`            - id: ok
              services: [vaccination]
              when: "lives_with_husband && residence_status == 'citizen'"
              outcome: eligible
              reasons: [r.ok]
`))
	fs["p/cases/ignored.yaml"] = &fstest.MapFile{Data: []byte("changed")}
	p2, err := policy.LoadPack(fs, "p")
	if err != nil {
		t.Fatal(err)
	}
	if p2.Version != p.Version {
		t.Error("changing a case changed the policy version")
	}
	fs["p/jurisdictions/x.yaml"].Data = append(fs["p/jurisdictions/x.yaml"].Data, []byte("# comment\n")...)
	p3, err := policy.LoadPack(fs, "p")
	if err != nil {
		t.Fatal(err)
	}
	if p3.Version == p.Version {
		t.Error("changing a policy file kept the policy version")
	}
}

func TestLoadPackErrors(t *testing.T) {
	rule := func(id, when, outcome, extra string) string {
		s := "            - id: " + id + "\n              services: [vaccination]\n"
		if when != "" {
			s += "              when: \"" + when + "\"\n"
		}
		return s + "              outcome: " + outcome + "\n              reasons: [r.ok]\n" + extra
	}
	tests := []struct {
		name     string
		manifest string
		jur      string
		code     string
		where    string // expected Field
		contains []string
	}{
		{"fail/malformed-yaml", goodManifest, "jurisdictions:\n  - code: AA\n    name: [unclosed\n", registry.EMALFORMED, "p/jurisdictions/x.yaml:", []string{"malformed YAML"}},
		{"fail/cel-syntax", goodManifest, rootWith(rule("bad-syntax", "residence_status == ", "eligible", "")), registry.EINVALID, "p/jurisdictions/x.yaml:8", []string{"rule bad-syntax", "CEL"}},
		{"fail/cel-type", goodManifest, rootWith(rule("bad-type", "age_years == 'old'", "eligible", "")), registry.EINVALID, "p/jurisdictions/x.yaml:8", []string{"rule bad-type", "CEL"}},
		{"fail/not-bool", goodManifest, rootWith(rule("not-bool", "age_years + 1", "eligible", "")), registry.EINVALID, "p/jurisdictions/x.yaml:8", []string{"rule not-bool", "must be a bool"}},
		{"fail/unknown-fact", goodManifest, rootWith(rule("unknown-fact", "hukou_city == 'Yanji'", "eligible", "")), registry.EINVALID, "p/jurisdictions/x.yaml:8", []string{"rule unknown-fact", "hukou_city"}},
		{"fail/unknown-status", goodManifest, rootWith(rule("typo", "residence_status in ['citizen', 'citizn']", "eligible", "")), registry.EINVALID, "p/jurisdictions/x.yaml:8", []string{"rule typo", `"citizn"`}},
		{"fail/unknown-status-eq", goodManifest, rootWith(rule("typo2", "'tourist' == residence_status", "eligible", "")), registry.EINVALID, "p/jurisdictions/x.yaml:8", []string{"rule typo2", `"tourist"`}},
		{"fail/unknown-outcome", goodManifest, rootWith(rule("o", "", "maybe", "")), registry.EINVALID, "p/jurisdictions/x.yaml:10", []string{"rule o", "unknown outcome"}},
		{"fail/paid-without-fee", goodManifest, rootWith(rule("paid", "", "eligible_paid", "")), registry.EINVALID, "p/jurisdictions/x.yaml:8", []string{"rule paid", "needs a fee"}},
		{"fail/fee-on-free", goodManifest, rootWith(rule("free", "", "eligible", "              fee: {amount: \"1.00\", currency: CNY}\n")), registry.EINVALID, "p/jurisdictions/x.yaml:12", []string{"rule free", "only an eligible_paid"}},
		{"fail/bad-amount", goodManifest, rootWith(rule("amt", "", "eligible_paid", "              fee: {amount: \"1.5\", currency: CNY}\n")), registry.EINVALID, "p/jurisdictions/x.yaml:12", []string{"rule amt", "two places"}},
		{"fail/bad-currency", goodManifest, rootWith(rule("cur", "", "eligible_paid", "              fee: {amount: \"1.50\", currency: yuan}\n")), registry.EINVALID, "p/jurisdictions/x.yaml:12", []string{"rule cur", "ISO 4217"}},
		{"fail/unknown-reason", goodManifest, rootWith("            - id: reason\n              services: [vaccination]\n              outcome: eligible\n              reasons: [r.missing]\n"), registry.EINVALID, "p/jurisdictions/x.yaml:11", []string{"rule reason", "r.missing"}},
		{"fail/unknown-service", goodManifest, rootWith("            - id: svc\n              services: [dental]\n              outcome: eligible\n              reasons: [r.ok]\n"), registry.EINVALID, "p/jurisdictions/x.yaml:9", []string{"rule svc", "dental"}},
		{"fail/assumption-without-note", goodManifest, rootWith(rule("assumed", "", "eligible", "              assumption: true\n")), registry.EINVALID, "p/jurisdictions/x.yaml:8", []string{"rule assumed", "note"}},
		{"fail/duplicate-rule-id", goodManifest, rootWith(rule("same", "", "eligible", "") + rule("same", "", "eligible", "")), registry.EINVALID, "p/jurisdictions/x.yaml:12", []string{"rule same", "already used"}},
		{"fail/unknown-key", goodManifest, rootWith(rule("k", "", "eligible", "              priority: 3\n")), registry.EINVALID, "p/jurisdictions/x.yaml:12", []string{`unknown key "priority"`}},
		{"fail/cost-limit", goodManifest, rootWith(rule("costly", strings.Repeat("residence_status.contains(residence_status) && ", 40)+"true", "eligible", "")), registry.EINVALID, "p/jurisdictions/x.yaml:8", []string{"rule costly", "limit"}},
		{"fail/cycle", goodManifest, `jurisdictions:
  - code: AA-B
    name: B
    parent: AA-C
  - code: AA-C
    name: C
    parent: AA-B
`, registry.EINVALID, "p/jurisdictions/x.yaml:2", []string{"cycle", "AA-B", "AA-C"}},
		{"fail/unknown-parent", goodManifest, `jurisdictions:
  - code: AA-B
    name: B
    parent: AA
`, registry.EINVALID, "p/jurisdictions/x.yaml:2", []string{"unknown parent", `"AA"`}},
		{"fail/overlapping-versions", goodManifest, `jurisdictions:
  - code: AA
    name: A
    versions:
      - effective_from: 2021-01-01
        effective_to: 2021-06-30
        decide:
          rules:
` + rule("v1", "", "eligible", "") + `      - effective_from: 2021-06-01
        decide:
          rules:
` + rule("v2", "", "eligible", ""), registry.EINVALID, "p/jurisdictions/x.yaml:13", []string{"overlaps", "2021-01-01"}},
		{"fail/open-version-overlaps", goodManifest, `jurisdictions:
  - code: AA
    name: A
    versions:
      - effective_from: 2021-01-01
        decide:
          rules:
` + rule("v1", "", "eligible", "") + `      - effective_from: 2022-01-01
        decide:
          rules:
` + rule("v2", "", "eligible", ""), registry.EINVALID, "p/jurisdictions/x.yaml:12", []string{"overlaps"}},
		{"fail/decide-and-delegate", goodManifest, `jurisdictions:
  - code: AA
    name: A
    versions:
      - effective_from: 2021-01-01
`, registry.EINVALID, "p/jurisdictions/x.yaml:5", []string{"exactly one of decide or delegate"}},
		{"fail/fallback-not-total", goodManifest, `jurisdictions:
  - code: AA
    name: A
    versions:
      - effective_from: 2021-01-01
        delegate:
          fallback:
            rules:
` + rule("fb", "", "referral", ""), registry.EINVALID, "p/jurisdictions/x.yaml:9", []string{"unconditional rule", "testing"}},
		{"fail/bad-root-code", goodManifest, `jurisdictions:
  - code: China
    name: China
`, registry.EINVALID, "p/jurisdictions/x.yaml:2", []string{"ISO 3166-1"}},
		{"fail/child-of-other-country", goodManifest, `jurisdictions:
  - code: AA
    name: A
  - code: BB-X
    name: X
    parent: AA
`, registry.EINVALID, "p/jurisdictions/x.yaml:4", []string{"country's code"}},
		{"fail/duplicate-jurisdiction", goodManifest, `jurisdictions:
  - code: AA
    name: A
  - code: AA
    name: A again
`, registry.EINVALID, "p/jurisdictions/x.yaml:4", []string{"already defined"}},
		{"fail/bad-date", goodManifest, `jurisdictions:
  - code: AA
    name: A
    versions:
      - effective_from: 2021-02-30
        decide:
          rules:
` + rule("d", "", "eligible", ""), registry.EINVALID, "p/jurisdictions/x.yaml:5", []string{"YYYY-MM-DD"}},
		{"fail/manifest-unknown-key", goodManifest + "colour: red\n", rootWith(rule("m", "", "eligible", "")), registry.EINVALID, "p/pack.yaml:8", []string{`unknown key "colour"`}},
		{"fail/manifest-fact-type", "name: t\nfacts:\n  - name: shoe_size\n    type: float\n", "jurisdictions: []\n", registry.EINVALID, "p/pack.yaml:4", []string{"shoe_size", "type"}},
		{"fail/manifest-fact-shadows-builtin", "name: t\nfacts:\n  - name: age_years\n    type: int\n", "jurisdictions: []\n", registry.EINVALID, "p/pack.yaml:3", []string{"already declared"}},
		{"fail/obtainable-unknown-status", "name: t\nobtainable:\n  - status: green_card\n    within: [AA]\n    when: \"true\"\n", "jurisdictions: []\n", registry.EINVALID, "p/pack.yaml:3", []string{"green_card"}},
		{"fail/obtainable-unknown-jurisdiction", "name: t\nobtainable:\n  - status: temporary_hukou\n    within: [ZZ]\n    when: \"true\"\n", "jurisdictions: []\n", registry.EINVALID, "p/pack.yaml:3", []string{"unknown jurisdiction", "ZZ"}},
		{"fail/obtainable-bad-cel", "name: t\nobtainable:\n  - status: temporary_hukou\n    within: [AA]\n    when: \"years_resident > 'x'\"\n", "jurisdictions:\n  - code: AA\n    name: A\n", registry.EINVALID, "p/pack.yaml:3", []string{"CEL"}},
		{"fail/missing-name", "texts: {}\n", "jurisdictions: []\n", registry.EINVALID, "p/pack.yaml:1", []string{`missing key "name"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.LoadPack(pack(tc.manifest, tc.jur), "p")
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			if got := registry.ErrorCode(err); got != tc.code {
				t.Errorf("code %s, want %s (%v)", got, tc.code, err)
			}
			if f := registry.ErrorField(err); !strings.HasPrefix(f, tc.where) {
				t.Errorf("field %q, want prefix %q (%v)", f, tc.where, err)
			}
			for _, c := range tc.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error %q does not contain %q", err, c)
				}
			}
		})
	}
}

func TestLoadPacksFolder(t *testing.T) {
	fs := pack(goodManifest, rootWith(`            - id: ok
              services: [vaccination]
              outcome: eligible
              reasons: [r.ok]
`))
	packs, err := policy.LoadPacks(fs)
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) != 1 || packs[0].Name != "t" {
		t.Fatalf("packs %v", packs)
	}
	if _, err := policy.LoadPacks(fstest.MapFS{"x/readme.md": {Data: []byte("x")}}); err == nil {
		t.Error("a folder with no pack loaded")
	}
}
