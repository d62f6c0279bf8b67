package server_test

import (
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// luminance is the WCAG 2 relative luminance of a #rrggbb colour.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	hex = strings.TrimPrefix(hex, "#")
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || len(hex) != 6 {
		t.Fatalf("bad colour %q", hex)
	}
	ch := func(c uint64) float64 {
		s := float64(c) / 255
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(v>>16&0xff) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff)
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// The stylesheet's colour pairs meet WCAG 2.1 AA: 4.5:1 for text, 3:1 for
// the focus outline against the page.
func TestWebContrast(t *testing.T) {
	css, err := os.ReadFile(filepath.Join("web", "static", "app.css"))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z-]+):(#[0-9a-fA-F]{3,6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	color := func(name string) string {
		if strings.HasPrefix(name, "#") {
			return name
		}
		c, ok := vars[name]
		if !ok {
			t.Fatalf("the stylesheet has no --%s", name)
		}
		return c
	}
	pairs := []struct {
		fg, bg string
		min    float64
	}{
		{"fg", "bg", 4.5}, {"muted", "bg", 4.5}, {"accent", "bg", 4.5}, {"accent-dk", "bg", 4.5},
		{"#ffffff", "accent", 4.5}, {"#ffffff", "accent-dk", 4.5},
		{"ok", "okbg", 4.5}, {"bad", "badbg", 4.5}, {"warn", "warnbg", 4.5},
		{"fg", "#f9fafb", 4.5}, {"accent", "#f9fafb", 4.5}, {"muted", "#f9fafb", 4.5},
		{"focus", "bg", 3}, {"focus", "#f9fafb", 3},
	}
	for _, p := range pairs {
		if got := contrast(t, color(p.fg), color(p.bg)); got < p.min {
			t.Errorf("%s on %s: contrast %.2f, want at least %.1f", p.fg, p.bg, got, p.min)
		}
	}
	if !strings.Contains(string(css), ":focus-visible{outline:3px solid var(--focus)") {
		t.Error("no visible focus outline in the stylesheet")
	}
}

// A form sent back with an error marks the field in error (aria-invalid)
// and points it at the message, which is announced (role="alert").
func TestWebFormErrorsAreAnnounced(t *testing.T) {
	e := newWebEnv(t)
	b := e.browser(t)
	b.signin(e.vaccinator)
	card := b.register(url.Values{})
	b.get("/clinic")
	p := b.post("/clinic/register", url.Values{"idem": {b.idem()}, "birth_date": {"2030"}})
	if p.status != 422 || !strings.Contains(p.body, `id="form-error"`) ||
		!regexp.MustCompile(`<input id="reg-birth"[^>]* aria-invalid="true" aria-describedby="form-error">`).MatchString(p.body) {
		t.Fatalf("register error: %d\n%.3000s", p.status, p.body)
	}
	if strings.Count(p.body, `aria-invalid="true"`) != 1 {
		t.Fatal("more than the field in error is marked invalid")
	}
	b.get("/clinic/p/" + card + "?purpose=care")
	f := b.form("/clinic/p/" + card + "/dose")
	f.Set("product", "coronavac")
	f.Set("payment", "paid")
	f.Set("amount", "50")
	f.Set("currency", "XYZ")
	p = b.post("/clinic/p/"+card+"/dose", f)
	if !regexp.MustCompile(`<input id="dose-currency"[^>]* aria-invalid="true"`).MatchString(p.body) {
		t.Fatalf("dose error:\n%.3000s", p.body)
	}
	b.get("/check")
	f = b.form("/check")
	f.Set("jurisdiction", "CN-JL")
	f.Set("fact.age_years", "abc")
	p = b.post("/check", f)
	if !regexp.MustCompile(`<input id="fact-age_years"[^>]* aria-invalid="true"`).MatchString(p.body) {
		t.Fatalf("check error:\n%.3000s", p.body)
	}
}
