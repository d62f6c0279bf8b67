package server_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/haven-registry/haven/internal/testenv"
)

// Browser tests: Debian's Chromium, headless, driven through chromedp
// against a real Haven server (SQLite store, ephemeral vault, the bundled
// policy packs, the China schedule). Outside CI they skip when Chromium is
// missing; in CI (CI set) a missing Chromium fails them. Screenshots go to
// $HAVEN_SCREENSHOTS, or to a temporary folder whose path is printed.

// chromiumPath finds the browser, or skips (fails in CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("HAVEN_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed, and CI requires the browser tests to run (.ci/browser installs it)")
	}
	t.Skip("Chromium not found (apt-get install chromium fonts-noto-cjk, or set HAVEN_CHROMIUM); skipping the browser tests outside CI")
	return ""
}

var (
	shotsOnce sync.Once
	shotsDir  string
)

// screenshotDir is where the PNG screenshots are written.
func screenshotDir(t *testing.T) string {
	shotsOnce.Do(func() {
		if d := os.Getenv("HAVEN_SCREENSHOTS"); d != "" {
			if !filepath.IsAbs(d) {
				d = filepath.Join(testenv.RepoRoot(t), d)
			}
			if err := os.MkdirAll(d, 0o755); err == nil {
				shotsDir = d
				return
			}
		}
		d, err := os.MkdirTemp("", "haven-screenshots-")
		if err == nil {
			shotsDir = d
		}
	})
	if shotsDir == "" {
		t.Fatal("no folder for screenshots")
	}
	return shotsDir
}

// chrome is one headless browser tab on a fresh profile.
type chrome struct {
	t    *testing.T
	ctx  context.Context
	base string
	// frames are viewport screenshots kept for a side-by-side picture.
	frames []image.Image
}

// keep takes a screenshot of the viewport (the top of the page, as a phone
// shows it) for the side-by-side picture.
func (c *chrome) keep() {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	data, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		c.t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		c.t.Fatalf("screenshot: %v", err)
	}
	c.frames = append(c.frames, img)
}

// montage writes the kept frames side by side, with a gap, as one PNG.
func (c *chrome) montage(name string) {
	c.t.Helper()
	const gap = 16
	w, h := gap, 0
	for _, f := range c.frames {
		w += f.Bounds().Dx() + gap
		h = max(h, f.Bounds().Dy())
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h+2*gap))
	draw.Draw(out, out.Bounds(), &image.Uniform{color.RGBA{0xe5, 0xe7, 0xeb, 0xff}}, image.Point{}, draw.Src)
	x := gap
	for _, f := range c.frames {
		draw.Draw(out, image.Rect(x, gap, x+f.Bounds().Dx(), gap+f.Bounds().Dy()), f, f.Bounds().Min, draw.Src)
		x += f.Bounds().Dx() + gap
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, out); err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(screenshotDir(c.t), name+".png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot: %s", path)
}

func newChrome(t *testing.T, e *webEnv, lang string) *chrome {
	t.Helper()
	return newChromeSized(t, e, lang, 412, 900)
}

// newChromeSized is newChrome with a window (and viewport) of width ×
// height CSS pixels.
func newChromeSized(t *testing.T, e *webEnv, lang string, width, height int) *chrome {
	t.Helper()
	path := chromiumPath(t)
	profile, err := os.MkdirTemp("", "haven-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Chromium's helpers can write to the profile for a moment after
		// the browser exits; retry the removal.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", lang),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(width, height), // a phone
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	// Every console error fails the test: a script error, a resource the
	// Content-Security-Policy refused, a broken image. Error statuses of
	// pages (403, 422) are expected and are not counted.
	var (
		mu       sync.Mutex
		problems []string
	)
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if (m.Type == "error" || m.IsException()) && m.Source != "network" {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		time.Sleep(100 * time.Millisecond) // let the last messages arrive
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return &chrome{t: t, ctx: ctx, base: e.srv.URL}
}

// stepTimeout bounds one browser action, so that a hang names its step.
const stepTimeout = 30 * time.Second

func (c *chrome) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, stepTimeout)
}

func (c *chrome) open(path string) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(c.base+path)); err != nil {
		c.t.Fatalf("open %s: %v", path, err)
	}
}

// fill sets form fields by CSS selector.
func (c *chrome) fill(kv ...string) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(kv[i]), kv[i+1])); err != nil {
			c.t.Fatalf("fill %s: %v", kv[i], err)
		}
	}
}

// submit clicks a button and waits for the next page to load.
func (c *chrome) submit(sel string) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		c.t.Fatalf("submit %s: %v", sel, err)
	}
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		c.t.Fatalf("text of %s on %s: %v", sel, c.url(), err)
	}
	return s
}

func (c *chrome) eval(js string) string {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

func (c *chrome) url() string {
	ctx, cancel := c.step()
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Location())
	return s
}

func (c *chrome) has(sel string) bool {
	return c.eval(`document.querySelector(`+jsString(sel)+`) ? "yes" : "no"`) == "yes"
}

func (c *chrome) body() string { return c.eval(`document.body.innerText`) }

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// shot saves a PNG of the whole page.
func (c *chrome) shot(name string) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(screenshotDir(c.t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot: %s", path)
}

func (c *chrome) signin(token string) {
	c.t.Helper()
	c.open("/signin")
	c.fill("#signin-token", token)
	c.submit("#signin-submit")
	if strings.Contains(c.url(), "/signin") {
		c.t.Fatalf("sign-in failed: %s", c.body())
	}
}

// labelsMissing lists the visible form controls of the page that have no
// label.
func (c *chrome) labelsMissing() string {
	return c.eval(`Array.from(document.querySelectorAll("input:not([type=hidden]),select,textarea"))
		.filter(el => !el.labels || el.labels.length === 0 || !el.labels[0].innerText.trim())
		.map(el => el.id || el.name).join(",")`)
}

func TestBrowserClinicFlow(t *testing.T) {
	e := newWebEnv(t)
	c := newChrome(t, e, "en")

	// Sign-in.
	c.open("/")
	c.shot("01-home")
	c.signin(e.vaccinator)
	if !strings.HasSuffix(c.url(), "/clinic") {
		t.Fatalf("after sign-in: %s", c.url())
	}
	if m := c.labelsMissing(); m != "" {
		t.Fatalf("controls without a label on the clinic page: %s", m)
	}

	// Register with an estimated birth year only (plus sex, for the
	// eligibility story).
	c.fill("#reg-birth", "1985", "#reg-sex", "female")
	if err := chromedp.Do(c.ctx, chromedp.Click(chromedp.CSS("#reg-estimated"))); err != nil {
		t.Fatal(err)
	}
	c.shot("02-register")
	c.keep()
	c.submit("#register-submit")
	card := c.text("#person-card")
	if !strings.Contains(c.url(), "/clinic/p/"+card) {
		t.Fatalf("after registering: %s", c.url())
	}
	if m := c.labelsMissing(); m != "" {
		t.Fatalf("controls without a label on the person page: %s", m)
	}
	c.shot("03-person")

	// Eligibility in CN-JL for a registered_irregular woman: not eligible,
	// alternatives shown; the page says the answers are not saved.
	if !strings.Contains(c.text("#not-saved"), "not saved") {
		t.Fatal("the eligibility form does not say that the answers are not saved")
	}
	c.fill("#check-jurisdiction", "CN-JL", "#check-asof", "2021-09-17", "#fact-residence_status", "registered_irregular",
		"#fact-age_years", "36", "#fact-years_resident", "22", "#fact-has_child_with_citizen", "yes")
	c.submit("#check-submit")
	if got := c.text("#outcome"); !strings.Contains(got, "Not eligible") {
		t.Fatalf("CN-JL outcome = %q", got)
	}
	alts := c.text("#alternatives")
	if !strings.Contains(alts, "Temporary household registration") {
		t.Fatalf("alternatives = %q", alts)
	}
	c.shot("04-eligibility-cn-jl")

	// The same facts in KR: eligible, and the dose form follows.
	c.fill("#check-jurisdiction", "KR")
	c.submit("#check-submit")
	if got := c.text("#outcome"); !strings.Contains(got, "Eligible, free of charge") {
		t.Fatalf("KR outcome = %q", got)
	}
	if !c.has("#dose-submit") {
		t.Fatal("no dose form after an eligible decision")
	}
	c.shot("05-eligibility-kr")
	c.keep()

	// Dose 1: the confirm step shows the forecast, then saving shows the
	// card.
	c.fill("#dose-product", "coronavac", "#dose-date", "2021-07-01")
	c.submit("#dose-submit")
	if !c.has("#confirm-submit") || c.has("#warning") {
		t.Fatalf("confirm step of dose 1: %s", c.body())
	}
	c.shot("06-confirm-dose-1")
	c.submit("#confirm-submit")
	if !strings.Contains(c.text("#saved"), "Dose recorded") || c.text("#card-code") != card {
		t.Fatalf("after saving dose 1: %s", c.body())
	}
	c.shot("07-saved-dose-1")

	// Dose 2 one week later: too early, and the warning shows before
	// saving. The vaccinator does not save it.
	c.open("/clinic/p/" + card + "?purpose=care")
	c.fill("#dose-product", "coronavac", "#dose-date", "2021-07-08")
	c.submit("#dose-submit")
	warn := c.text("#warning")
	if !strings.Contains(warn, "too soon") {
		t.Fatalf("warning = %q", warn)
	}
	c.shot("08-dose-2-too-early")
	c.keep()
	if _, err := chromedp.RunResponse(c.ctx, chromedp.Click(chromedp.CSS("#confirm-cancel"))); err != nil {
		t.Fatal(err)
	}

	// A valid dose 2, four weeks after dose 1.
	c.fill("#dose-product", "coronavac", "#dose-date", "2021-07-29")
	c.submit("#dose-submit")
	if c.has("#warning") || !c.has("#valid") {
		t.Fatalf("valid dose 2 was not shown as valid: %s", c.body())
	}
	c.submit("#confirm-submit")
	c.shot("09-saved-dose-2")
	c.open("/clinic/p/" + card + "?purpose=care")
	doses := c.eval(`String(document.querySelectorAll("#doses tbody tr").length)`)
	if doses != "2" {
		t.Fatalf("the record shows %s doses, want 2 (dose 1 and the valid dose 2)", doses)
	}

	// Print the card: card code, holder secret and QR, in the person's
	// language (Korean), on receipt-printer width.
	c.open("/clinic/p/" + card + "/card?cardlang=ko&size=receipt")
	if c.text("#card-code") != card || len(c.text("#card-secret")) != 10 {
		t.Fatalf("card: %s", c.body())
	}
	if got := c.text(".card-brand"); !strings.Contains(got, "접종 카드") {
		t.Fatalf("card title %q is not Korean", got)
	}
	if c.eval(`document.querySelector(".print-card img.qr").naturalWidth > 0 ? "ok" : "broken"`) != "ok" {
		t.Fatal("the QR image did not load (CSP or encoding)")
	}
	c.shot("10-card-receipt-ko")
	c.keep()
	c.montage("clinic-flow-en")
	// Printing uses the card's page size: 80 mm wide on a receipt printer,
	// A6 (105 × 148 mm) otherwise.
	for _, size := range []struct {
		name string
		w, h float64 // points
	}{{"receipt", 80 / 25.4 * 72, 150 / 25.4 * 72}, {"a6", 105 / 25.4 * 72, 148 / 25.4 * 72}} {
		c.open("/clinic/p/" + card + "/card?cardlang=ko&size=" + size.name)
		pdf, err := chromedp.Run(c.ctx, chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize()))
		if err != nil || len(pdf) < 1000 {
			t.Fatalf("printing the %s card: %v (%d bytes)", size.name, err, len(pdf))
		}
		m := regexp.MustCompile(`/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]`).FindSubmatch(pdf)
		if m == nil {
			t.Fatalf("no page size in the %s PDF", size.name)
		}
		w, _ := strconv.ParseFloat(string(m[1]), 64)
		h, _ := strconv.ParseFloat(string(m[2]), 64)
		if math.Abs(w-size.w) > 2 || math.Abs(h-size.h) > 2 {
			t.Errorf("the %s card prints on %.0f × %.0f pt, want %.0f × %.0f", size.name, w, h, size.w, size.h)
		}
		if n := bytes.Count(pdf, []byte("/Type /Page\n")) + bytes.Count(pdf, []byte("/Type /Page ")) + bytes.Count(pdf, []byte("/Type /Page>")); n > 1 {
			t.Errorf("the %s card prints on %d pages", size.name, n)
		}
		os.WriteFile(filepath.Join(screenshotDir(t), "card-"+size.name+".pdf"), pdf, 0o644)
	}

	// Issue a certificate for the last dose, then verify it on the public
	// verifier page, and a damaged copy.
	c.open("/clinic/p/" + card + "?purpose=certificate")
	c.submit("#cert-submit")
	hc1 := c.eval(`document.querySelector("#cert-text").value`)
	if !strings.HasPrefix(hc1, "HC1:") {
		t.Fatalf("certificate page: %s", c.body())
	}
	if c.eval(`document.querySelector("#cert-qr").naturalWidth > 0 ? "ok" : "broken"`) != "ok" {
		t.Fatal("the certificate QR did not load")
	}
	c.shot("11-certificate")
	c.open("/verify")
	c.fill("#verify-text", hc1)
	c.submit("#verify-submit")
	if !strings.Contains(c.text("#verdict"), "Valid") {
		t.Fatalf("verify: %s", c.body())
	}
	c.shot("12-verify-valid")
	c.fill("#verify-text", damage(hc1, 40))
	c.submit("#verify-submit")
	if !c.has("#failed-step") {
		t.Fatalf("a damaged certificate shows no failed step: %s", c.body())
	}
	if got := c.text("#failed-step"); !strings.Contains(got, "Failed at") {
		t.Fatalf("damaged certificate: %q", got)
	}
	c.shot("13-verify-invalid")

	// The camera scanner (verifier page, the only script): with a camera
	// and a QR detector (both stubbed here, as headless Chromium has
	// neither), scanning fills in the text and submits it.
	stub := `window.BarcodeDetector = class { detect() { return Promise.resolve([{rawValue: ` + jsString(hc1) + `}]); } };
		const fakeCamera = () => { const c = document.createElement("canvas"); c.width = 8; c.height = 8;
			c.getContext("2d").fillRect(0, 0, 8, 8); return Promise.resolve(c.captureStream()); };
		if (navigator.mediaDevices) { navigator.mediaDevices.getUserMedia = fakeCamera; }
		else { Object.defineProperty(navigator, "mediaDevices", {value: {getUserMedia: fakeCamera}}); }`
	ctx, cancel := c.step()
	defer cancel()
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: stub}); err != nil {
		t.Fatal(err)
	}
	c.open("/verify")
	if c.eval(`document.querySelector("#scan-start").hidden ? "hidden" : "shown"`) != "shown" {
		t.Fatal("the scan button stays hidden although a detector and a camera are there")
	}
	c.submit("#scan-start")
	if !strings.Contains(c.text("#verdict"), "Valid") {
		t.Fatalf("scanned certificate: %s", c.body())
	}
}

// Switching to Korean and to Chinese translates the page, including policy
// reasons, outcomes and product names.
func TestBrowserLanguages(t *testing.T) {
	e := newWebEnv(t)
	c := newChrome(t, e, "en")
	c.signin(e.vaccinator)
	c.open("/clinic")
	if !strings.Contains(c.text("h1"), "Clinic") {
		t.Fatalf("English heading: %q", c.text("h1"))
	}
	steps := []struct {
		lang, heading, outcome, reason, product string
	}{
		{"ko", "진료소", "접종 불가", "임시 호구", "시노백"},
		{"zh-Hans", "诊所", "不符合条件", "临时户口", "科兴"},
	}
	for _, st := range steps {
		c.open("/clinic")
		// The switcher is a link in the header, as a person would use it.
		if _, err := chromedp.RunResponse(c.ctx, chromedp.Click(chromedp.CSS(`.langs a[lang="`+st.lang+`"]`))); err != nil {
			t.Fatal(err)
		}
		if got := c.text("h1"); !strings.Contains(got, st.heading) {
			t.Fatalf("%s heading = %q", st.lang, got)
		}
		if c.eval(`document.documentElement.lang`) != st.lang {
			t.Fatalf("html lang is not %s", st.lang)
		}
		c.shot("20-clinic-" + st.lang)
		c.open("/check")
		c.fill("#check-jurisdiction", "CN-JL", "#check-asof", "2021-09-17", "#fact-residence_status", "registered_irregular")
		c.submit("#check-submit")
		if got := c.text("#outcome"); !strings.Contains(got, st.outcome) {
			t.Fatalf("%s outcome = %q", st.lang, got)
		}
		if got := c.text("#reasons"); !strings.Contains(got, st.reason) {
			t.Fatalf("%s reasons = %q", st.lang, got)
		}
		if got := c.text("#not-saved"); strings.Contains(got, "not saved") {
			t.Fatalf("%s notice is in English: %q", st.lang, got)
		}
		c.shot("21-check-" + st.lang)
		c.open("/clinic/p/" + c.registerQuick() + "?purpose=care")
		if got := c.eval(`Array.from(document.querySelectorAll("#dose-product option")).map(o => o.textContent).join("|")`); !strings.Contains(got, st.product) {
			t.Fatalf("%s product names: %q", st.lang, got)
		}
	}
}

// registerQuick registers a person with no data through the page and
// returns the card code.
func (c *chrome) registerQuick() string {
	c.t.Helper()
	c.open("/clinic")
	c.submit("#register-submit")
	return c.text("#person-card")
}

// An analyst cannot open a person's page; keyboard users reach the skip
// link first and see where the focus is.
func TestBrowserAnalystDeniedAndKeyboard(t *testing.T) {
	e := newWebEnv(t)
	vac := newChrome(t, e, "en")
	vac.signin(e.vaccinator)
	card := vac.registerQuick()

	an := newChrome(t, e, "en")
	an.signin(e.analyst)
	if !strings.HasSuffix(an.url(), "/program") {
		t.Fatalf("analyst home: %s", an.url())
	}
	res, err := chromedp.Run(an.ctx, chromedp.NavigateResponse(an.base+"/clinic/p/"+card+"?purpose=care"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 403 || an.has("#person-card") || strings.Contains(an.body(), card+" ") {
		t.Fatalf("analyst opened a person page: status %d\n%s", res.Status, an.body())
	}
	if !strings.Contains(an.body(), "You may not do this") {
		t.Fatalf("the refusal is not explained: %s", an.body())
	}
	an.shot("30-analyst-denied")

	// Keyboard: the first Tab reaches the skip link, which becomes visible
	// with a focus outline.
	an.open("/program/policy?date=2021-09-17")
	if err := chromedp.Do(an.ctx, chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	if got := an.eval(`document.activeElement.className`); got != "skip" {
		t.Fatalf("first Tab focused %q, want the skip link", got)
	}
	if got := an.eval(`getComputedStyle(document.activeElement).outlineStyle`); got == "none" {
		t.Fatal("the focused element has no visible outline")
	}
	if m := an.labelsMissing(); m != "" {
		t.Fatalf("controls without a label on the policy page: %s", m)
	}
	an.shot("31-policy-explorer")
}

// Program pages in the browser: simulation with a CSV upload and its SVG
// chart, the pack diff, the coverage dashboard, tokens and sites, and the
// audit log with its verification.
func TestBrowserProgramPages(t *testing.T) {
	e := newWebEnv(t)
	vac := newChrome(t, e, "en")
	vac.signin(e.vaccinator)
	vac.registerQuick()

	an := newChrome(t, e, "en")
	an.signin(e.analyst)
	csv := filepath.Join(t.TempDir(), "population.csv")
	if err := os.WriteFile(csv, []byte("jurisdiction,residence_status,count\nCN-JL,registered_irregular,3000\nCN-JL,citizen,20000\n"+
		"CN-LN,unregistered,1200\nKR,unregistered,400\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	an.open("/program/simulate")
	ctx, cancel := an.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#sim-file"), []string{csv})); err != nil {
		t.Fatal(err)
	}
	an.fill("#sim-asof", "2021-09-17")
	an.submit("#sim-submit")
	if got := an.text("#left-out"); !strings.Contains(got, "Jilin") || !strings.Contains(got, "flagged") {
		t.Fatalf("left-out table: %q", got)
	}
	if an.eval(`document.querySelector("img.chart").naturalWidth > 0 ? "ok" : "broken"`) != "ok" {
		t.Fatal("the simulation chart did not load")
	}
	an.shot("40-simulation")
	// The chart is drawn in the page's language.
	an.open("/program/simulate?lang=ko")
	ctx2, cancel2 := an.step()
	defer cancel2()
	if err := chromedp.Do(ctx2, chromedp.SetUploadFiles(chromedp.CSS("#sim-file"), []string{csv})); err != nil {
		t.Fatal(err)
	}
	an.fill("#sim-asof", "2021-09-17")
	an.submit("#sim-submit")
	chart := an.eval(`new TextDecoder().decode(Uint8Array.from(atob(document.querySelector("img.chart").src.split(",")[1]), ch => ch.charCodeAt(0)))`)
	if !strings.Contains(chart, "지린성") || !strings.Contains(chart, "접종 불가") {
		t.Fatalf("the chart is not in Korean: %.300s", chart)
	}
	an.shot("40-simulation-ko")
	an.open("/program?lang=en")
	an.open("/program/policy/diff?from=2021-09&to=inclusive-paid&service=vaccination")
	if got := an.text("#changes"); !strings.Contains(got, "Eligible on payment") {
		t.Fatalf("diff: %q", got)
	}
	an.shot("41-diff")
	an.open("/program/coverage?from=2021-08-01&to=2021-09-17")
	if !an.has("#gaps") {
		t.Fatalf("coverage: %s", an.body())
	}
	an.shot("42-coverage")

	ad := newChrome(t, e, "en")
	ad.signin(e.admin)
	ad.fill("#site-code", "JJ-1", "#site-name", "Jeju clinic", "#site-jur", "KR-49")
	ad.submit("#site-submit")
	if got := ad.text("#sites"); !strings.Contains(got, "JJ-1") {
		t.Fatalf("sites: %q", got)
	}
	ad.fill("#tok-role", "analyst")
	ad.submit("#token-submit")
	if got := ad.text("#new-token"); !strings.Contains(got, "hvn_") {
		t.Fatalf("new token: %q", got)
	}
	ad.shot("43-admin")

	au := newChrome(t, e, "en")
	au.signin(e.auditor)
	au.submit("#audit-verify")
	if got := au.text("#audit-ok"); !strings.Contains(got, "Intact") {
		t.Fatalf("audit verification: %q", got)
	}
	if got := au.text("#entries"); !strings.Contains(got, "person.create") || !strings.Contains(got, "token.create") {
		t.Fatalf("audit entries: %q", got)
	}
	au.shot("44-audit")
}

// damage changes the character at i of a certificate text to another one
// of the Base45 alphabet, so that the text is never left intact.
func damage(text string, i int) string {
	repl := byte('A')
	if text[i] == 'A' {
		repl = 'B'
	}
	return text[:i] + string(repl) + text[i+1:]
}
