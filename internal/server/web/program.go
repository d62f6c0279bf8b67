package web

import (
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
	"github.com/haven-registry/haven/internal/stats"
)

// Program pages: the policy explorer, simulation, the coverage dashboard,
// tokens and sites, and the audit log. None of them shows a person.

// ProgramHome lists the policy packs loaded.
func (a *App) ProgramHome(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	var packs []*policy.Pack
	if a.svc.Policy() != nil {
		packs = a.svc.Policy().Packs()
	}
	return a.render(w, r, c, http.StatusOK, "program", "program.title", struct{ Packs []*policy.Pack }{packs})
}

// ruleCell is what one status gets in one jurisdiction.
type ruleCell struct {
	Outcome policy.Outcome
	Rule    string
	Fee     *policy.Fee
	Err     string // error code when the status alone cannot decide
}

type ruleRow struct {
	jurOption
	Cells []ruleCell
}

type policyPageData struct {
	Packs    []*policy.Pack
	Pack     *policy.Pack
	Date     string
	Service  string
	Services []string
	Statuses []policy.Status
	Rows     []ruleRow
	Rules    []jurRules
	Explain  *explainData
	Err      *formErr
}

// jurRules are the rules of one jurisdiction in force on a date, in the
// order they are tried.
type jurRules struct {
	Code  string
	Rules []policy.Evaluation
}

// packRules lists the rules in force on a date for a service, found by
// walking every jurisdiction with every residence status and a spread of
// the other facts in explain mode (the pack exposes its rules only through
// decisions). A rule that no combination reaches, because an earlier rule
// always fires first, never decides anything and is not listed.
func packRules(p *policy.Pack, jurs []jurOption, service string, at time.Time) []jurRules {
	type seen struct {
		order []string
		rules map[string]policy.Evaluation
	}
	byJur := map[string]*seen{}
	var variants []map[string]any
	for _, st := range policy.Statuses {
		for _, long := range []bool{false, true} {
			v := map[string]any{"residence_status": string(st)}
			for _, d := range append(slices.Clone(policy.BuiltinFacts), p.Facts...) {
				if d.Name == "residence_status" {
					continue
				}
				switch d.Type {
				case policy.TypeBool:
					v[d.Name] = long
				case policy.TypeInt:
					v[d.Name] = d.Min
					if long {
						v[d.Name] = min(d.Max, max(d.Min, 30))
					}
				case policy.TypeDouble:
					v[d.Name] = 0.0
				case policy.TypeStatus:
					v[d.Name] = string(st)
				default:
					v[d.Name] = ""
				}
			}
			variants = append(variants, v)
		}
	}
	for _, j := range jurs {
		for _, v := range variants {
			facts, err := p.NewFacts(v)
			if err != nil {
				continue
			}
			dec, err := p.Decide(facts, j.Code, service, at, policy.Explain(true), policy.WithoutAlternatives())
			if err != nil {
				continue
			}
			prev := map[string]string{}
			for _, e := range dec.Evaluated {
				if e.Rule == "" || e.Result == "skipped" {
					continue
				}
				s := byJur[e.Jurisdiction]
				if s == nil {
					s = &seen{rules: map[string]policy.Evaluation{}}
					byJur[e.Jurisdiction] = s
				}
				if _, ok := s.rules[e.Rule]; !ok {
					s.rules[e.Rule] = e
					// Insert after the rule tried before it in this walk.
					at := len(s.order)
					if p := prev[e.Jurisdiction]; p != "" {
						if i := slices.Index(s.order, p); i >= 0 {
							at = i + 1
						}
					} else {
						at = 0
					}
					s.order = slices.Insert(s.order, at, e.Rule)
				}
				prev[e.Jurisdiction] = e.Rule
			}
		}
	}
	var out []jurRules
	for _, j := range jurs {
		s := byJur[j.Code]
		if s == nil {
			continue
		}
		jr := jurRules{Code: j.Code}
		for _, id := range s.order {
			jr.Rules = append(jr.Rules, s.rules[id])
		}
		out = append(out, jr)
	}
	return out
}

type explainData struct {
	Status       string
	Jurisdiction string
	Decision     *policy.Decision
}

// dateValue reads a YYYY-MM-DD value, defaulting to today.
func (a *App) dateValue(v, field string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return registry.DateOf(a.svc.Now()).String(), nil
	}
	if _, err := registry.ParseDate(v); err != nil {
		return v, registry.FieldErrorf(registry.EINVALID, field, "%v.", err)
	}
	return v, nil
}

func (a *App) policyData(r *http.Request, packName, date, service string) (policyPageData, error) {
	p, err := a.packFor(packName)
	if err != nil {
		return policyPageData{}, err
	}
	d := policyPageData{Packs: a.svc.Policy().Packs(), Pack: p, Services: policy.Services, Statuses: policy.Statuses, Service: service}
	if d.Service != policy.ServiceTesting {
		d.Service = policy.ServiceVaccination
	}
	if d.Date, err = a.dateValue(date, "date"); err != nil {
		return d, err
	}
	at, _ := registry.ParseDate(d.Date)
	for _, j := range jurisdictionTree(p) {
		row := ruleRow{jurOption: j}
		for _, st := range policy.Statuses {
			cell := ruleCell{}
			facts, err := p.NewFacts(map[string]any{"residence_status": string(st)})
			var dec policy.Decision
			if err == nil {
				dec, err = p.Decide(facts, j.Code, d.Service, at.Time(), policy.WithoutAlternatives())
			}
			if err != nil {
				cell.Err = registry.ErrorCode(err)
			} else {
				cell.Outcome, cell.Rule, cell.Fee = dec.Outcome, dec.Rule, dec.Fee
			}
			row.Cells = append(row.Cells, cell)
		}
		d.Rows = append(d.Rows, row)
	}
	d.Rules = packRules(p, jurisdictionTree(p), d.Service, at.Time())
	return d, nil
}

// PolicyExplorer shows the packs, the jurisdiction tree of one, and which
// rule decides each residence status in each place on a date.
func (a *App) PolicyExplorer(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	q := r.URL.Query()
	d, err := a.policyData(r, q.Get("pack"), q.Get("date"), q.Get("service"))
	if err != nil {
		return err
	}
	return a.render(w, r, c, http.StatusOK, "policy", "policy.title", d)
}

// PolicyExplain shows the chain and the rule that decide one status ×
// place × date, with every rule evaluated on the way.
func (a *App) PolicyExplain(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	f := r.PostFormValue
	d, err := a.policyData(r, f("pack"), f("date"), f("service"))
	if err != nil {
		return err
	}
	ex := &explainData{Status: f("status"), Jurisdiction: f("jurisdiction")}
	d.Explain = ex
	facts, err := d.Pack.NewFacts(map[string]any{"residence_status": ex.Status})
	var dec policy.Decision
	if err == nil {
		at, _ := registry.ParseDate(d.Date)
		dec, err = d.Pack.Decide(facts, ex.Jurisdiction, d.Service, at.Time(), policy.Explain(true), policy.Language(c.loc.Tag))
	}
	if err != nil {
		if !userError(err) {
			return err
		}
		d.Err = toFormErr(err)
		return a.render(w, r, c, failed(w, err), "policy", "policy.title", d)
	}
	ex.Decision = &dec
	return a.render(w, r, c, http.StatusOK, "policy", "policy.title", d)
}

type diffPageData struct {
	Packs    []*policy.Pack
	From, To string
	Service  string
	Services []string
	Changes  []policy.Change
	Compared bool
}

// PolicyDiff lists every status × place × date whose outcome differs
// between two packs.
func (a *App) PolicyDiff(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	if a.svc.Policy() == nil {
		return registry.Errorf(registry.EUNAVAILABLE, "No policy packs are loaded.")
	}
	q := r.URL.Query()
	d := diffPageData{Packs: a.svc.Policy().Packs(), From: q.Get("from"), To: q.Get("to"), Service: q.Get("service"), Services: policy.Services}
	if d.From == "" || d.To == "" {
		return a.render(w, r, c, http.StatusOK, "diff", "diff.title", d)
	}
	from, err := a.packFor(d.From)
	if err != nil {
		return err
	}
	to, err := a.packFor(d.To)
	if err != nil {
		return err
	}
	services := policy.Services
	if d.Service != "" {
		services = []string{d.Service}
	}
	d.Changes = policy.Diff(from, to, policy.ChangeDates(from, to), services)
	d.Compared = true
	return a.render(w, r, c, http.StatusOK, "diff", "diff.title", d)
}

type simulatePageData struct {
	Packs     []*policy.Pack
	Pack      string
	Service   string
	Services  []string
	AsOf      string
	FlagAbove string
	Sim       *policy.Simulation
	Chart     template.URL // data: URI of the SVG chart
	Err       *formErr
}

// SimulateForm shows the form to upload a population CSV for simulation.
func (a *App) SimulateForm(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	if a.svc.Policy() == nil {
		return registry.Errorf(registry.EUNAVAILABLE, "No policy packs are loaded.")
	}
	return a.render(w, r, c, http.StatusOK, "simulate", "simulate.title", simulatePageData{Packs: a.svc.Policy().Packs(),
		Pack: a.svc.Policy().Default().Name, Service: policy.ServiceVaccination, Services: policy.Services,
		AsOf: registry.DateOf(a.svc.Now()).String(), FlagAbove: "0.2"})
}

// Simulate runs an uploaded population CSV through a pack and shows who is
// left out, as a table and an SVG chart. The CSV holds aggregate counts,
// never people, and is not kept.
func (a *App) Simulate(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	if a.svc.Policy() == nil {
		return registry.Errorf(registry.EUNAVAILABLE, "No policy packs are loaded.")
	}
	f := r.PostFormValue
	d := simulatePageData{Packs: a.svc.Policy().Packs(), Pack: f("pack"), Service: f("service"), Services: policy.Services,
		AsOf: strings.TrimSpace(f("as_of")), FlagAbove: strings.TrimSpace(f("flag_above"))}
	err := func() error {
		p, err := a.packFor(d.Pack)
		if err != nil {
			return err
		}
		if d.AsOf, err = a.dateValue(d.AsOf, "as_of"); err != nil {
			return err
		}
		flag := 0.2
		if d.FlagAbove != "" {
			if flag, err = strconv.ParseFloat(d.FlagAbove, 64); err != nil || flag < 0 || flag > 1 {
				return registry.FieldErrorf(registry.EINVALID, "flag_above", "Give a share between 0 and 1.")
			}
		}
		file, _, err := r.FormFile("population")
		if err != nil {
			return registry.FieldErrorf(registry.EINVALID, "population", "Choose a population CSV file.")
		}
		defer file.Close()
		rows, err := policy.ReadPopulation(file)
		if err != nil {
			return err
		}
		at, _ := registry.ParseDate(d.AsOf)
		sim, err := p.Simulate(rows, d.Service, at.Time(), flag)
		if err != nil {
			return err
		}
		d.Sim, d.Chart = sim, simChart(sim, c)
		return nil
	}()
	if err != nil {
		if !userError(err) {
			return err
		}
		d.Err = toFormErr(err)
		return a.render(w, r, c, failed(w, err), "simulate", "simulate.title", d)
	}
	return a.render(w, r, c, http.StatusOK, "simulate", "simulate.title", d)
}

type coveragePageData struct {
	From, To, Week string
	// Blocks are the published release blocks to choose from, latest
	// first; Block is the one the release covers, and Shown its dates.
	Blocks   []coverageBlock
	Block    string
	Shown    *coverageBlock
	Coverage stats.Coverage
	Charts   map[string]template.URL // table key → data: URI
	Gaps     stats.GapReport
	// The page shows one jurisdiction's dose table at a time (the release
	// has one per jurisdiction with a site), without its all-zero rows, so
	// that it stays small however many places there are.
	Jurisdictions []string
	Selected      string
	Doses         *stats.Table
	ZeroRows      int
}

// Query is the query string of the page for another jurisdiction.
func (d coveragePageData) Query(jur string) string {
	return "?" + url.Values{"from": {d.From}, "to": {d.To}, "week": {d.Week}, "jurisdiction": {jur}}.Encode()
}

// coverageBlock is one release block of the coverage tables: BlockWeeks ISO
// weeks of the fixed calendar (weeks 1–4, 5–8, … of each ISO year; the last
// block of a year also takes its week 53), from the Monday of its first
// week to the Sunday of its last.
type coverageBlock struct {
	Label    string // "2021-W29/2021-W32", as the release names it
	From, To registry.Date
}

// isoWeek1 is the Monday of ISO week 1 of ISO year y.
func isoWeek1(y int) time.Time {
	d := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// blockAt is the fixed release block holding day t.
func blockAt(t time.Time) coverageBlock {
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	y, w := t.ISOWeek()
	perYear := 52 / stats.BlockWeeks
	idx := min((w-1)/stats.BlockWeeks, perYear-1)
	first := isoWeek1(y).AddDate(0, 0, 7*stats.BlockWeeks*idx)
	last := first.AddDate(0, 0, 7*(stats.BlockWeeks-1))
	if idx == perYear-1 {
		last = isoWeek1(y+1).AddDate(0, 0, -7)
	}
	return coverageBlock{Label: stats.Week(first) + "/" + stats.Week(last), From: registry.DateOf(first), To: registry.DateOf(last.AddDate(0, 0, 6))}
}

// parseISOWeek reads "2021-W33".
func parseISOWeek(s string) (year, week int, ok bool) {
	ys, ws, found := strings.Cut(s, "-W")
	y, err1 := strconv.Atoi(ys)
	w, err2 := strconv.Atoi(ws)
	return y, w, found && err1 == nil && err2 == nil && w >= 1 && w <= 53
}

// publishedBlocks lists the n latest blocks that have ended by today,
// latest first: the blocks a release can show.
func publishedBlocks(today registry.Date, n int) []coverageBlock {
	var out []coverageBlock
	b := blockAt(today.Time())
	for len(out) < n {
		if today.After(b.To) {
			out = append(out, b)
		}
		b = blockAt(b.From.Time().AddDate(0, 0, -1))
	}
	return out
}

// withoutZeroRows returns t without the rows whose total is published as
// zero (a suppressed total is kept), and how many rows it dropped. It
// drops nothing the release does not already say.
func withoutZeroRows(t stats.Table) (stats.Table, int) {
	out := t
	out.Rows, out.Cells, out.RowTotals = nil, nil, nil
	dropped := 0
	for i := range t.Rows {
		if tot := t.RowTotals[i]; tot != nil && *tot == 0 {
			dropped++
			continue
		}
		out.Rows = append(out.Rows, t.Rows[i])
		out.Cells = append(out.Cells, t.Cells[i])
		out.RowTotals = append(out.RowTotals, t.RowTotals[i])
	}
	return out, dropped
}

// Coverage shows the suppressed aggregate tables (the same release as the
// API's) with a chart of each, and the gap report.
func (a *App) Coverage(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	today := registry.DateOf(a.svc.Now())
	blocks := publishedBlocks(today, 13)
	chosen := r.URL.Query().Get("block")
	var from, to registry.Date
	var err error
	if chosen != "" {
		i := slices.IndexFunc(blocks, func(b coverageBlock) bool { return b.Label == chosen })
		if i < 0 {
			return registry.FieldErrorf(registry.EINVALID, "block", "Choose one of the published blocks.")
		}
		from, to = blocks[i].From, blocks[i].To
	} else {
		if to, err = httpx.DateParam(r, "to", today); err != nil {
			return err
		}
		if from, err = httpx.DateParam(r, "from", registry.DateOf(to.Time().AddDate(0, 0, -7*12))); err != nil {
			return err
		}
	}
	week, err := httpx.DateParam(r, "week", today)
	if err != nil {
		return err
	}
	// The same release as GET /api/v1/stats/coverage and /stats/gaps: one
	// function builds both, so that the page and the API can never be
	// compared to undo suppression or average noise away.
	cov, err := a.svc.Coverage(r.Context(), c.actor(r), from, to, 0)
	if err != nil {
		return err
	}
	gaps, err := a.svc.Gaps(r.Context(), c.actor(r), week)
	if err != nil {
		return err
	}
	d := coveragePageData{From: from.String(), To: to.String(), Week: week.String(), Coverage: cov, Gaps: gaps, Charts: map[string]template.URL{},
		Blocks: blocks, Block: cov.Block}
	if cov.Block != "" {
		// The release's first week names its block in the fixed calendar.
		if y, w, ok := parseISOWeek(cov.From); ok {
			b := blockAt(isoWeek1(y).AddDate(0, 0, 7*(w-1)))
			d.Shown = &b
		}
	}
	pick := -1
	for i, t := range cov.Doses {
		d.Jurisdictions = append(d.Jurisdictions, t.Jurisdiction)
		if t.Jurisdiction == r.URL.Query().Get("jurisdiction") {
			pick = i
		}
	}
	if pick < 0 && len(cov.Doses) > 0 {
		pick = 0 // the first jurisdiction, when none (or an unknown one) is asked for
	}
	if pick >= 0 {
		t := cov.Doses[pick]
		shown, zero := withoutZeroRows(t)
		d.Doses, d.ZeroRows, d.Selected = &shown, zero, t.Jurisdiction
		d.Charts["doses"] = weekChart(t)
	}
	d.Charts["tests"] = weekChart(cov.Tests)
	return a.render(w, r, c, http.StatusOK, "coverage", "coverage.title", d)
}

// weekChart draws a table's week totals as bars; a suppressed week is drawn
// as an empty outline. The SVG uses presentation attributes only.
func weekChart(t stats.Table) template.URL {
	const w, h, pad = 320, 120, 4
	n := len(t.Weeks)
	if n == 0 {
		return ""
	}
	var maxV int64 = 1
	for _, v := range t.WeekTotals {
		if v != nil && *v > maxV {
			maxV = *v
		}
	}
	bw := float64(w-2*pad) / float64(n)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d">`, w, h, w, h)
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>`, w, h)
	for i, v := range t.WeekTotals {
		x := float64(pad) + float64(i)*bw
		if v == nil {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="none" stroke="#6b7280" stroke-dasharray="2 2"/>`,
				x+1, h-pad-12, bw-2, 12)
			continue
		}
		bh := float64(h-2*pad) * float64(*v) / float64(maxV)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1d4ed8"/>`, x+1, float64(h-pad)-bh, bw-2, bh)
	}
	b.WriteString(`</svg>`)
	return svgDataURI([]byte(b.String()))
}

// Chart returns the chart of a coverage table, as a URL for <img>.
func (d coveragePageData) Chart(key string) template.URL { return d.Charts[key] }

// tokenRow is a token as the admin page lists it, without its hash.
type tokenRow struct {
	ID        string
	Role      registry.Role
	Sites     []string
	Label     string
	CreatedAt time.Time
}

// newToken is a token just made, with its secret, shown this once.
type newToken struct {
	ID    string
	Token string
	Role  registry.Role
	Sites []string
}

type adminPageData struct {
	Tokens        []tokenRow
	ConfirmRevoke *tokenRow // the token a revoke asks to confirm
	Revoked       string
	Sites         []registry.Site
	Roles         []registry.Role
	NewToken      *newToken
	NewSite       string
	Err           *formErr
	Site          clinic.SiteInput
}

func (a *App) adminPage(w http.ResponseWriter, r *http.Request, c *PageCtx, status int, d adminPageData) error {
	sites, err := a.svc.ListSites(r.Context(), c.actor(r))
	if err != nil {
		return err
	}
	d.Sites = sites
	toks, err := a.svc.ListTokens(r.Context(), c.actor(r))
	if err != nil {
		return err
	}
	for _, t := range toks {
		d.Tokens = append(d.Tokens, tokenRow{ID: t.ID, Role: t.Role, Sites: t.Sites, Label: t.Label, CreatedAt: t.CreatedAt})
	}
	d.Roles = []registry.Role{registry.RoleVaccinator, registry.RoleAnalyst, registry.RoleAuditor, registry.RoleAdmin}
	return a.render(w, r, c, status, "admin", "admin.title", d)
}

// AdminHome lists the sites and tokens, with the forms to make more.
func (a *App) AdminHome(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	return a.adminPage(w, r, c, http.StatusOK, adminPageData{})
}

// CreateSite creates a site and shows the admin page again.
func (a *App) CreateSite(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	in := clinic.SiteInput{Code: strings.TrimSpace(r.PostFormValue("code")), Name: r.PostFormValue("name"),
		Jurisdiction: strings.TrimSpace(r.PostFormValue("jurisdiction")), Services: r.PostForm["services"]}
	site, err := a.svc.CreateSite(r.Context(), c.actor(r), in, "")
	if err != nil {
		if !userError(err) && registry.ErrorCode(err) != registry.ECONFLICT {
			return err
		}
		return a.adminPage(w, r, c, failed(w, err), adminPageData{Err: toFormErr(err), Site: in})
	}
	return a.adminPage(w, r, c, http.StatusOK, adminPageData{NewSite: site.Site.Code})
}

// CreateToken makes a token and shows its secret once; only its hash is
// stored.
func (a *App) CreateToken(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	var sites []string
	for _, s := range r.PostForm["sites"] {
		if s = strings.TrimSpace(s); s != "" {
			sites = append(sites, s)
		}
	}
	t, err := a.svc.CreateToken(r.Context(), c.actor(r), clinic.TokenInput{Role: r.PostFormValue("role"), Sites: sites, Label: r.PostFormValue("label")})
	if err != nil {
		if !userError(err) {
			return err
		}
		return a.adminPage(w, r, c, failed(w, err), adminPageData{Err: toFormErr(err)})
	}
	return a.adminPage(w, r, c, http.StatusCreated, adminPageData{NewToken: &newToken{ID: t.Token.ID, Token: t.Secret,
		Role: t.Token.Role, Sites: t.Token.Sites}})
}

// RevokeToken deletes a token; the admin's own token cannot be revoked
// from its own session, so an administrator cannot lock themselves out by
// a slip.
func (a *App) RevokeToken(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	id := r.PostFormValue("id")
	var err error
	switch {
	case r.PostFormValue("confirm") != "1" && id != c.sess.tok.ID:
		// Revoking cannot be undone: ask first, naming the token.
		var toks []registry.Token
		if toks, err = a.svc.ListTokens(r.Context(), c.actor(r)); err == nil {
			for _, t := range toks {
				if t.ID == id {
					return a.adminPage(w, r, c, http.StatusOK, adminPageData{ConfirmRevoke: &tokenRow{ID: t.ID, Role: t.Role,
						Sites: t.Sites, Label: t.Label, CreatedAt: t.CreatedAt}})
				}
			}
			err = registry.FieldErrorf(registry.ENOTFOUND, "id", "No token has this ID.")
		}
	default:
		err = a.svc.RevokeToken(r.Context(), c.actor(r), id)
	}
	if err != nil {
		if !userError(err) {
			return err
		}
		return a.adminPage(w, r, c, failed(w, err), adminPageData{Err: toFormErr(err)})
	}
	return a.adminPage(w, r, c, http.StatusOK, adminPageData{Revoked: id})
}

type auditPageData struct {
	Entries  []audit.Entry
	Chain    uint64
	Chains   []uint64
	From     uint64
	Next     uint64
	Prev     uint64
	Report   *audit.Report
	Verified bool
}

// AuditPage pages through the access log and, on request, verifies the
// whole chain against the signed checkpoints.
func (a *App) AuditPage(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	const limit = 100
	d := auditPageData{From: 1}
	if v := r.URL.Query().Get("chain"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return registry.FieldErrorf(registry.EINVALID, "chain", "chain must be a whole number.")
		}
		d.Chain = n
	}
	if v := r.URL.Query().Get("from_seq"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return registry.FieldErrorf(registry.EINVALID, "from_seq", "from_seq must be a positive whole number.")
		}
		d.From = n
	}
	page, err := a.svc.AuditEntries(r.Context(), c.actor(r), d.Chain, d.From, limit+1)
	if err != nil {
		return err
	}
	entries := page.Entries
	d.Chains = page.Chains
	if len(entries) > limit {
		d.Next, entries = entries[limit].Seq, entries[:limit]
	}
	d.Entries = entries
	if d.From > limit {
		d.Prev = d.From - limit
	} else if d.From > 1 {
		d.Prev = 1
	}
	if r.URL.Query().Get("verify") == "1" {
		rep, err := a.svc.VerifyAudit(r.Context(), c.actor(r))
		if err != nil {
			return err
		}
		d.Report, d.Verified = &rep, true
	}
	return a.render(w, r, c, http.StatusOK, "audit", "audit.title", d)
}

// outcomeColours are the bar colours of each outcome, best first; they
// are told apart by the legend and the table as well, never by colour
// alone.
var outcomeColours = map[policy.Outcome]string{
	policy.Eligible: "#15803d", policy.EligiblePaid: "#b45309", policy.Referral: "#6b7280", policy.NotEligible: "#b91c1c",
}

// simChart draws one bar per jurisdiction, split by outcome as shares of
// its population, with the share left out beside it, in the page's
// language. The SVG uses presentation attributes only.
func simChart(sim *policy.Simulation, c *PageCtx) template.URL {
	const (
		width, labelW, barW, rowH, top = 640, 190, 300, 26, 40
	)
	h := top + rowH*len(sim.Summaries) + 16
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="13">`, width, h, width, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`, width, h)
	x := 8
	for _, o := range policy.Outcomes {
		fmt.Fprintf(&b, `<rect x="%d" y="10" width="12" height="12" fill="%s"/>`, x, outcomeColours[o])
		label := c.T("outcome." + string(o))
		fmt.Fprintf(&b, `<text x="%d" y="21" fill="#111827">%s</text>`, x+16, html.EscapeString(label))
		x += 16 + textWidth(label) + 14
	}
	for i, sum := range sim.Summaries {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#111827">%s</text>`, labelW-8, y+15, html.EscapeString(c.Jur(sum.Jurisdiction)))
		bx := float64(labelW)
		for _, o := range policy.Outcomes {
			if sum.Population <= 0 {
				break
			}
			w := barW * sum.ByOutcome[o] / sum.Population
			if w <= 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="18" fill="%s"/>`, bx, y+2, w, outcomeColours[o])
			bx += w
		}
		mark := ""
		if sum.Flagged {
			mark = "⚑ "
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#111827">%s%s</text>`, labelW+barW+8, y+15, mark, html.EscapeString(c.Percent(sum.Share)))
	}
	b.WriteString(`</svg>`)
	return svgDataURI([]byte(b.String()))
}

// textWidth estimates the width in pixels of a 13-pixel label: Hangul and
// Han characters are about twice as wide as Latin ones.
func textWidth(s string) int {
	w := 0.0
	for _, r := range s {
		if r >= 0x1100 {
			w += 13
		} else {
			w += 7.2
		}
	}
	return int(w)
}
