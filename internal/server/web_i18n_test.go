package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template/parse"
	"unicode"
)

var webLangs = []string{"en", "ko", "zh-Hans"}

func loadCatalogues(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for _, lang := range webLangs {
		data, err := os.ReadFile(filepath.Join("web", "locales", lang+".json"))
		if err != nil {
			t.Fatalf("catalogue %s: %v", lang, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("catalogue %s: %v", lang, err)
		}
		out[lang] = m
	}
	return out
}

func templateFiles(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("web", "templates", "*.html"))
	if err != nil || len(files) < 10 {
		t.Fatalf("templates: %v (%d files)", err, len(files))
	}
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(data)
	}
	return out
}

// Every catalogue has exactly the same keys, and no text is empty; every
// argument marker of the English text appears in each translation.
func TestWebCataloguesComplete(t *testing.T) {
	cats := loadCatalogues(t)
	en := cats["en"]
	if len(en) < 300 {
		t.Fatalf("the English catalogue has only %d keys", len(en))
	}
	marker := regexp.MustCompile(`\{[0-9]\}`)
	for _, lang := range webLangs {
		for key, text := range cats[lang] {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %q is empty", lang, key)
			}
			if _, ok := en[key]; !ok {
				t.Errorf("%s has %q, which English lacks", lang, key)
			}
		}
		for key, text := range en {
			tr, ok := cats[lang][key]
			if !ok {
				t.Errorf("%s lacks %q", lang, key)
				continue
			}
			for _, m := range marker.FindAllString(text, -1) {
				if !strings.Contains(tr, m) {
					t.Errorf("%s: %q lacks the argument %s", lang, key, m)
				}
			}
		}
	}
	// The Korean and Chinese catalogues are translations, not copies: most
	// of their texts hold Hangul or Han characters.
	for _, lang := range []string{"ko", "zh-Hans"} {
		script := unicode.Hangul
		if lang == "zh-Hans" {
			script = unicode.Han
		}
		native := 0
		for _, text := range cats[lang] {
			if strings.IndexFunc(text, func(r rune) bool { return unicode.Is(script, r) }) >= 0 {
				native++
			}
		}
		if native*10 < len(cats[lang])*8 {
			t.Errorf("%s: only %d of %d texts are in the language's script", lang, native, len(cats[lang]))
		}
	}
}

// Every key a template names literally ({{$.T "key"}}) is in the
// catalogues.
func TestWebTemplateKeysExist(t *testing.T) {
	cats := loadCatalogues(t)
	key := regexp.MustCompile(`\.T "([^"]+)"`)
	used := 0
	for name, src := range templateFiles(t) {
		for _, m := range key.FindAllStringSubmatch(src, -1) {
			used++
			for _, lang := range webLangs {
				if _, ok := cats[lang][m[1]]; !ok {
					t.Errorf("%s uses %q, missing from %s", name, m[1], lang)
				}
			}
		}
	}
	if used < 200 {
		t.Fatalf("found only %d translated strings in the templates", used)
	}
}

// skeleton returns the text of a template with every action replaced by
// \x00, in document order, so that the HTML around actions can be read.
func skeleton(t *testing.T, name, src string) string {
	t.Helper()
	funcs := map[string]any{"criteria": true, "list": true}
	trees, err := parse.Parse(name, src, "{{", "}}", funcs, map[string]any{
		"and": true, "or": true, "not": true, "eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
		"print": true, "printf": true, "println": true, "len": true, "index": true, "slice": true, "html": true, "js": true,
		"urlquery": true, "call": true})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var b strings.Builder
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.TextNode:
			b.Write(n.Text)
		case *parse.IfNode:
			b.WriteByte(0)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			b.WriteByte(0)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			b.WriteByte(0)
			walk(n.List)
			walk(n.ElseList)
		default:
			b.WriteByte(0)
		}
	}
	for _, tree := range trees {
		walk(tree.Root)
		b.WriteByte('\n')
	}
	return b.String()
}

// No template holds text that a reader would see and that does not come
// from a catalogue: outside tags, and in the attributes a browser shows
// (placeholder, title, alt, aria-label), only actions, punctuation and
// symbols are allowed.
func TestWebTemplatesHaveNoUntranslatedText(t *testing.T) {
	tag := regexp.MustCompile(`<[^>]*>`)
	entity := regexp.MustCompile(`&[a-zA-Z]+;|&#[0-9]+;`)
	shown := regexp.MustCompile(`(?i)\s(placeholder|title|alt|aria-label|value)="([^"]*)"`)
	for name, src := range templateFiles(t) {
		sk := skeleton(t, name, src)
		for _, m := range shown.FindAllStringSubmatch(sk, -1) {
			if strings.EqualFold(m[1], "value") {
				continue // form values are codes sent to the server, not text
			}
			if strings.IndexFunc(m[2], unicode.IsLetter) >= 0 {
				t.Errorf("%s: attribute %s=%q is not translated", name, m[1], m[2])
			}
		}
		text := entity.ReplaceAllString(tag.ReplaceAllString(sk, "\x00"), "")
		for _, line := range strings.Split(text, "\n") {
			for _, frag := range strings.Split(line, "\x00") {
				if strings.IndexFunc(frag, unicode.IsLetter) >= 0 {
					t.Errorf("%s: untranslated text %q", name, strings.TrimSpace(frag))
				}
			}
		}
	}
}

// Every visible form control in every template has an id and a <label
// for> that names it.
func TestWebInputsHaveLabels(t *testing.T) {
	control := regexp.MustCompile(`<(input|select|textarea)\b([^>]*)>`)
	id := regexp.MustCompile(`\bid="([^"]+)"`)
	controls := 0
	for name, src := range templateFiles(t) {
		for _, m := range control.FindAllStringSubmatch(src, -1) {
			if strings.Contains(m[2], `type="hidden"`) {
				continue
			}
			controls++
			idm := id.FindStringSubmatch(m[2])
			if idm == nil {
				t.Errorf("%s: %s without an id: %s", name, m[1], m[0])
				continue
			}
			if !strings.Contains(src, `<label for="`+idm[1]+`">`) {
				t.Errorf("%s: %s #%s has no label", name, m[1], idm[1])
			}
		}
	}
	if controls < 40 {
		t.Fatalf("found only %d form controls", controls)
	}
}

// The pages of the flows render without a missing key (shown as ⟦key⟧) in
// every language.
func TestWebPagesRenderInEveryLanguage(t *testing.T) {
	e := newWebEnv(t)
	vac := e.browser(t)
	vac.signin(e.vaccinator)
	card := vac.register(urlValues("given_name", "Kim", "family_name", "Min", "birth_date", "1980", "sex", "female"))
	an := e.browser(t)
	an.signin(e.analyst)
	ad := e.browser(t)
	ad.signin(e.admin)
	au := e.browser(t)
	au.signin(e.auditor)
	anon := e.browser(t)
	visits := []struct {
		b     *browser
		paths []string
	}{
		{anon, []string{"/", "/signin", "/holder", "/verify"}},
		{vac, []string{"/clinic", "/clinic/p/" + card + "?purpose=care", "/clinic/p/" + card + "/card", "/check"}},
		{an, []string{"/program", "/program/policy?date=2021-09-17", "/program/policy/diff?from=2021-09&to=inclusive", "/program/simulate", "/program/coverage"}},
		{ad, []string{"/admin"}},
		{au, []string{"/audit?verify=1"}},
	}
	for _, lang := range webLangs {
		for _, v := range visits {
			for _, path := range v.paths {
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				p := v.b.get(path + sep + "lang=" + lang)
				if p.status != 200 {
					t.Errorf("%s in %s: %d", path, lang, p.status)
				}
				if i := strings.Index(p.body, "⟦"); i >= 0 {
					t.Errorf("%s in %s shows a missing key: %s", path, lang, p.body[i:min(len(p.body), i+60)])
				}
				if !strings.Contains(p.body, `<html lang="`+lang+`">`) {
					t.Errorf("%s: not rendered in %s", path, lang)
				}
			}
		}
	}
	// Every dynamic family the pages translate has a text in each
	// catalogue: outcomes, statuses, error codes and the like.
	cats := loadCatalogues(t)
	families := map[string][]string{
		"outcome.":  {"eligible", "eligible_paid", "referral", "not_eligible"},
		"status.":   {"citizen", "permanent_resident", "registered_foreigner", "temporary_hukou", "registered_irregular", "unregistered"},
		"error.":    {"internal", "invalid", "malformed", "not_found", "conflict", "unauthorized", "forbidden", "too_large", "rate_limited", "sealed", "unavailable", "unsupported", "stale_schema", "idempotency"},
		"service.":  {"vaccination", "testing"},
		"role.":     {"admin", "vaccinator", "analyst", "auditor"},
		"series.":   {"not_complete", "complete", "immune", "contraindicated", "aged_out", "not_recommended"},
		"eval.":     {"valid", "not_valid", "extraneous", "sub_standard"},
		"certstep.": {"unprefix", "base45", "decompress", "cose", "cwt", "signature", "time", "key_usage", "schema", "valuesets"},
		"fact.":     {"residence_status", "age_years", "years_resident", "has_child_with_citizen", "can_pay", "previous_doses", "months_since_last_dose", "pregnant", "immunocompromised"},
		"purpose.":  {"care", "certificate", "correction", "forecast"},
		"jur.":      {"CN", "CN-JL", "CN-JL-YB", "CN-BJ", "KR", "KR-11"},
	}
	for prefix, values := range families {
		for _, v := range values {
			for _, lang := range webLangs {
				if _, ok := cats[lang][prefix+v]; !ok {
					t.Errorf("%s lacks %s%s", lang, prefix, v)
				}
			}
		}
	}
	if !slices.Contains(webLangs, "zh-Hans") {
		t.Fatal("unreachable")
	}
}

func urlValues(kv ...string) map[string][]string {
	v := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		v[kv[i]] = []string{kv[i+1]}
	}
	return v
}
