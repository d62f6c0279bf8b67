package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"go.yaml.in/yaml/v3"

	"github.com/haven-registry/haven/internal/registry"
)

// Outcome is the answer to "may this person get this service here".
type Outcome string

// Outcomes, from best to worst for the person.
const (
	Eligible     Outcome = "eligible"      // eligible, free of charge
	EligiblePaid Outcome = "eligible_paid" // eligible on payment of a fee
	Referral     Outcome = "referral"      // the decision belongs to someone else; refer the person
	NotEligible  Outcome = "not_eligible"
)

// Outcomes lists every outcome, best first.
var Outcomes = []Outcome{Eligible, EligiblePaid, Referral, NotEligible}

// rank orders outcomes: higher is better for the person.
func (o Outcome) rank() int {
	switch o {
	case Eligible:
		return 3
	case EligiblePaid:
		return 2
	case Referral:
		return 1
	}
	return 0
}

// Services a rule may cover.
const (
	ServiceVaccination = "vaccination"
	ServiceTesting     = "testing"
)

// Services lists every service.
var Services = []string{ServiceVaccination, ServiceTesting}

func validService(s string) bool { return serviceIndex(s) >= 0 }

func serviceIndex(s string) int {
	switch s {
	case ServiceVaccination:
		return 0
	case ServiceTesting:
		return 1
	}
	return -1
}

// Fee is the price of a paid service. Amount is a decimal string such as
// "100.00"; Currency is an ISO 4217 code.
type Fee struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// Reason is a translatable explanation. Key is stable and looked up in the
// UI's locales; Message is the pack's own text in the requested language
// (English by default).
type Reason struct {
	Key     string `json:"key"`
	Message string `json:"message,omitempty"`
}

// Pack is a compiled policy pack. It is immutable after loading and safe for
// concurrent use.
type Pack struct {
	Name        string
	Title       string
	Description string
	// Default marks the pack a server uses when a request names none.
	Default bool
	// Version is the content hash of the pack's policy files ("sha256:…").
	Version string
	// Facts are the facts the pack declares beyond BuiltinFacts.
	Facts []FactDecl

	dir        string
	nodes      map[string]*node
	roots      []*node
	obtainable []*obtainable
	texts      map[string]map[string]string // key → language → text
	env        *cel.Env
}

// Jurisdictions returns the codes of every jurisdiction in the pack, sorted.
func (p *Pack) Jurisdictions() []string {
	out := make([]string, 0, len(p.nodes))
	for c := range p.nodes {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Parent returns the code of a jurisdiction's parent ("" for a root) and
// whether the jurisdiction exists.
func (p *Pack) Parent(code string) (string, bool) {
	n, ok := p.nodes[code]
	if !ok {
		return "", false
	}
	if n.parent == nil {
		return "", true
	}
	return n.parent.code, true
}

// Name returns a jurisdiction's display name.
func (p *Pack) JurisdictionName(code string) string {
	if n, ok := p.nodes[code]; ok {
		return n.name
	}
	return ""
}

type node struct {
	code, name string
	parentCode string
	parent     *node
	children   []*node
	path       []*node  // root … this node
	pathCodes  []string // codes of path, shared read-only
	versions   []*version
	file       string
	line       int
}

type version struct {
	node      *node
	from, to  Date // to is inclusive; 0 means open-ended
	delegates bool
	rules     []*rule            // deciding rules, or the fallback when delegating
	progs     [2]*serviceProgram // by serviceIndex
	file      string
	line      int
}

// serviceProgram evaluates every rule of a version that covers one service in
// a single CEL program: c1 ? 0 : c2 ? 1 : … : -1, which returns the index of
// the first rule whose condition holds.
type serviceProgram struct {
	rules []*rule
	prg   cel.Program
}

type rule struct {
	id         string
	services   []string
	when       string
	outcome    Outcome
	fee        *Fee
	reasonKeys []string
	reasons    []Reason // English texts, shared read-only
	assumption bool
	note       string
	source     string
	idents     []string // facts the condition reads
	prg        cel.Program
	version    *version
	file       string
	line       int
}

func (r *rule) covers(service string) bool {
	for _, s := range r.services {
		if s == service {
			return true
		}
	}
	return false
}

// obtainable is a status that a person may be able to obtain, with its
// criteria, within some jurisdictions.
type obtainable struct {
	status     Status
	within     []string
	when       string
	reasonKeys []string
	assumption bool
	note       string
	prg        cel.Program
	file       string
	line       int
}

var (
	codeRootRE  = regexp.MustCompile(`^[A-Z]{2}$`)
	codeChildRE = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})+$`)
	ruleIDRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,79}$`)
	packNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	amountRE    = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})\.[0-9]{2}$`)
	currencyRE  = regexp.MustCompile(`^[A-Z]{3}$`)
	reasonKeyRE = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)
	factNameRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
)

// LoadPackDir loads the pack in the folder dir of the file system.
func LoadPackDir(dir string) (*Pack, error) {
	return loadPack(os.DirFS(dir), ".", dir)
}

// LoadPack loads and compiles the pack in folder dir of fsys ("." for the
// root). A pack folder holds pack.yaml and jurisdictions/*.yaml; cases/ and
// any *.md files are not part of the policy. Every error is a
// *registry.Error whose Field is "FILE:LINE" and whose message names the rule
// when one is at fault: malformed YAML (EMALFORMED), an unknown key, a CEL
// syntax or type error, an unknown fact or status, a cycle in the tree,
// overlapping versions or an unknown jurisdiction (EINVALID).
func LoadPack(fsys fs.FS, dir string) (*Pack, error) {
	return loadPack(fsys, dir, dir)
}

// LoadPacks loads every pack found in an immediate sub-folder of fsys that
// holds a pack.yaml (the layout of the policies/ folder).
func LoadPacks(fsys fs.FS) ([]*Pack, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, registry.Errorf(registry.EINVALID, "Cannot list policy packs: %v", err)
	}
	var packs []*Pack
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(e.Name(), "pack.yaml")); err != nil {
			continue
		}
		p, err := LoadPack(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		packs = append(packs, p)
	}
	if len(packs) == 0 {
		return nil, registry.Errorf(registry.EINVALID, "No policy pack found (a pack is a folder with a pack.yaml).")
	}
	return packs, nil
}

// packFiles lists the pack's policy files (pack.yaml first, then the
// jurisdiction files in lexical order), relative to dir.
func packFiles(fsys fs.FS, dir string) ([]string, error) {
	files := []string{"pack.yaml"}
	jd := path.Join(dir, "jurisdictions")
	entries, err := fs.ReadDir(fsys, jd)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			files = append(files, path.Join("jurisdictions", e.Name()))
		}
	}
	return files, nil
}

func loadPack(fsys fs.FS, dir, label string) (*Pack, error) {
	files, err := packFiles(fsys, dir)
	if err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, label, "Cannot read the pack: %v", err)
	}
	p := &Pack{dir: label, nodes: map[string]*node{}, texts: map[string]map[string]string{}}
	h := sha256.New()
	var nodeDocs []struct {
		d ydoc
		n *yaml.Node
	}
	for i, f := range files {
		src, err := fs.ReadFile(fsys, path.Join(dir, f))
		if err != nil {
			return nil, registry.FieldErrorf(registry.EINVALID, path.Join(label, f)+":0", "Cannot read: %v", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(src))
		h.Write(src)
		d := ydoc{file: path.Join(label, f)}
		root, err := d.parse(src)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			if err := p.readManifest(d, root); err != nil {
				return nil, err
			}
			continue
		}
		nodeDocs = append(nodeDocs, struct {
			d ydoc
			n *yaml.Node
		}{d, root})
	}
	p.Version = "sha256:" + hex.EncodeToString(h.Sum(nil))
	env, err := newEnv(p.Facts)
	if err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, path.Join(label, "pack.yaml"), "Cannot build the CEL environment: %v", err)
	}
	p.env = env
	for _, nd := range nodeDocs {
		if err := p.readJurisdictions(nd.d, nd.n); err != nil {
			return nil, err
		}
	}
	if err := p.link(); err != nil {
		return nil, err
	}
	if err := p.compile(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pack) readManifest(d ydoc, root *yaml.Node) error {
	f, err := d.fields(root, "pack", "name!", "title", "description", "default", "facts", "obtainable", "texts")
	if err != nil {
		return err
	}
	if p.Name, err = d.str(f["name"], "name"); err != nil {
		return err
	}
	if !packNameRE.MatchString(p.Name) {
		return d.errf(f["name"], "pack name %q must be lower-case letters, digits, '.', '_' or '-'", p.Name)
	}
	if p.Title, err = d.str(f["title"], "title"); err != nil {
		return err
	}
	if p.Description, err = d.str(f["description"], "description"); err != nil {
		return err
	}
	if p.Default, err = d.boolean(f["default"], "default"); err != nil {
		return err
	}
	facts, err := d.seq(f["facts"], "facts")
	if err != nil {
		return err
	}
	for _, fn := range facts {
		ff, err := d.fields(fn, "fact", "name!", "type!", "min", "max", "description")
		if err != nil {
			return err
		}
		var decl FactDecl
		if decl.Name, err = d.str(ff["name"], "fact name"); err != nil {
			return err
		}
		if !factNameRE.MatchString(decl.Name) {
			return d.errf(ff["name"], "fact name %q must be snake_case", decl.Name)
		}
		if _, dup := lookupDecl(decl.Name, p.Facts); dup {
			return d.errf(ff["name"], "fact %q is already declared", decl.Name)
		}
		t, err := d.str(ff["type"], "fact type")
		if err != nil {
			return err
		}
		decl.Type = FactType(t)
		switch decl.Type {
		case TypeBool, TypeInt, TypeDouble, TypeString:
		default:
			return d.errf(ff["type"], "fact %q: type must be bool, int, double or string, got %q", decl.Name, t)
		}
		for _, k := range []string{"min", "max"} {
			if n := ff[k]; n != nil {
				if decl.Type != TypeInt {
					return d.errf(n, "fact %q: %s applies to int facts only", decl.Name, k)
				}
				var v int64
				if err := n.Decode(&v); err != nil {
					return d.errf(n, "fact %q: %s must be an integer", decl.Name, k)
				}
				if k == "min" {
					decl.Min = v
				} else {
					decl.Max = v
				}
			}
		}
		if decl.Min > decl.Max {
			return d.errf(fn, "fact %q: min is greater than max", decl.Name)
		}
		if decl.Description, err = d.str(ff["description"], "description"); err != nil {
			return err
		}
		p.Facts = append(p.Facts, decl)
	}
	if tn := f["texts"]; tn != nil {
		tf, err := d.fields(tn, "texts", mappingKeys(tn)...)
		if err != nil {
			return err
		}
		for key, v := range tf {
			if !reasonKeyRE.MatchString(key) {
				return d.errf(v, "text key %q must be dotted snake_case", key)
			}
			langs, err := d.fields(v, "text "+key, mappingKeys(v)...)
			if err != nil {
				return err
			}
			m := map[string]string{}
			for lang, ln := range langs {
				if m[lang], err = d.str(ln, "text "+key+"."+lang); err != nil {
					return err
				}
			}
			if m["en"] == "" {
				return d.errf(v, "text %q has no English (en) text", key)
			}
			p.texts[key] = m
		}
	}
	obs, err := d.seq(f["obtainable"], "obtainable")
	if err != nil {
		return err
	}
	for _, on := range obs {
		of, err := d.fields(on, "obtainable status", "status!", "within!", "when!", "reasons", "assumption", "note", "source")
		if err != nil {
			return err
		}
		o := &obtainable{file: d.file, line: on.Line}
		s, err := d.str(of["status"], "status")
		if err != nil {
			return err
		}
		if !ValidStatus(s) {
			return d.errf(of["status"], "unknown status %q; want one of %s", s, statusList())
		}
		o.status = Status(s)
		if o.within, err = d.strs(of["within"], "within"); err != nil {
			return err
		}
		if len(o.within) == 0 {
			return d.errf(of["within"], "within must name at least one jurisdiction")
		}
		if o.when, err = d.str(of["when"], "when"); err != nil {
			return err
		}
		if o.reasonKeys, err = d.strs(of["reasons"], "reasons"); err != nil {
			return err
		}
		if o.assumption, err = d.boolean(of["assumption"], "assumption"); err != nil {
			return err
		}
		if o.note, err = d.str(of["note"], "note"); err != nil {
			return err
		}
		if o.assumption && strings.TrimSpace(o.note) == "" {
			return d.errf(on, "an assumption must carry a note saying what is assumed")
		}
		p.obtainable = append(p.obtainable, o)
	}
	return nil
}

func mappingKeys(n *yaml.Node) []string {
	var keys []string
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys = append(keys, n.Content[i].Value)
		}
	}
	return keys
}

func (p *Pack) readJurisdictions(d ydoc, root *yaml.Node) error {
	f, err := d.fields(root, "jurisdiction file", "jurisdictions!")
	if err != nil {
		return err
	}
	items, err := d.seq(f["jurisdictions"], "jurisdictions")
	if err != nil {
		return err
	}
	for _, jn := range items {
		jf, err := d.fields(jn, "jurisdiction", "code!", "name!", "parent", "versions", "note")
		if err != nil {
			return err
		}
		n := &node{file: d.file, line: jn.Line}
		if n.code, err = d.str(jf["code"], "code"); err != nil {
			return err
		}
		if n.name, err = d.str(jf["name"], "name"); err != nil {
			return err
		}
		if n.parentCode, err = d.str(jf["parent"], "parent"); err != nil {
			return err
		}
		if n.parentCode == "" && !codeRootRE.MatchString(n.code) {
			return d.errf(jf["code"], "jurisdiction %q: a root must be an ISO 3166-1 alpha-2 code", n.code)
		}
		if n.parentCode != "" && !codeChildRE.MatchString(n.code) {
			return d.errf(jf["code"], "jurisdiction %q: a sub-division must be an ISO 3166-2 code such as CN-JL, or a sub-area such as CN-JL-YB", n.code)
		}
		if old, dup := p.nodes[n.code]; dup {
			return d.errf(jf["code"], "jurisdiction %q is already defined at %s:%d", n.code, old.file, old.line)
		}
		vs, err := d.seq(jf["versions"], "versions")
		if err != nil {
			return err
		}
		for _, vn := range vs {
			v, err := p.readVersion(d, vn, n)
			if err != nil {
				return err
			}
			n.versions = append(n.versions, v)
		}
		sort.SliceStable(n.versions, func(i, j int) bool { return n.versions[i].from < n.versions[j].from })
		for i := 1; i < len(n.versions); i++ {
			a, b := n.versions[i-1], n.versions[i]
			if a.to == 0 || a.to >= b.from {
				return loadError(b.file, b.line, "", "jurisdiction %s: version from %s overlaps the version from %s (%s:%d)", n.code, b.from, a.from, a.file, a.line)
			}
		}
		p.nodes[n.code] = n
	}
	return nil
}

func (p *Pack) readVersion(d ydoc, vn *yaml.Node, n *node) (*version, error) {
	vf, err := d.fields(vn, "version", "effective_from!", "effective_to", "decide", "delegate", "source", "note")
	if err != nil {
		return nil, err
	}
	v := &version{node: n, file: d.file, line: vn.Line}
	if v.from, err = d.date(vf["effective_from"], "effective_from"); err != nil {
		return nil, err
	}
	if vf["effective_to"] != nil {
		if v.to, err = d.date(vf["effective_to"], "effective_to"); err != nil {
			return nil, err
		}
		if v.to < v.from {
			return nil, d.errf(vf["effective_to"], "effective_to is before effective_from")
		}
	}
	dec, del := vf["decide"], vf["delegate"]
	if (dec == nil) == (del == nil) {
		return nil, d.errf(vn, "jurisdiction %s: a version must have exactly one of decide or delegate", n.code)
	}
	var body *yaml.Node
	if dec != nil {
		df, err := d.fields(dec, "decide", "rules!")
		if err != nil {
			return nil, err
		}
		body = df["rules"]
	} else {
		v.delegates = true
		df, err := d.fields(del, "delegate", "fallback!")
		if err != nil {
			return nil, err
		}
		ff, err := d.fields(df["fallback"], "fallback", "rules!")
		if err != nil {
			return nil, err
		}
		body = ff["rules"]
	}
	rules, err := d.seq(body, "rules")
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return nil, d.errf(body, "jurisdiction %s: rules must not be empty", n.code)
	}
	for _, rn := range rules {
		r, err := p.readRule(d, rn, v)
		if err != nil {
			return nil, err
		}
		v.rules = append(v.rules, r)
	}
	if v.delegates {
		// A fallback must answer for every service: it is what children
		// without a rule get.
		for _, s := range Services {
			total := false
			for _, r := range v.rules {
				if r.covers(s) && strings.TrimSpace(r.when) == "" {
					total = true
				}
			}
			if !total {
				return nil, d.errf(body, "jurisdiction %s: the fallback has no unconditional rule (without 'when') for %s", n.code, s)
			}
		}
	}
	return v, nil
}

func (p *Pack) readRule(d ydoc, rn *yaml.Node, v *version) (*rule, error) {
	rf, err := d.fields(rn, "rule", "id!", "services!", "when", "outcome!", "fee", "reasons!", "assumption", "note", "source")
	if err != nil {
		return nil, err
	}
	r := &rule{version: v, file: d.file, line: rn.Line}
	if r.id, err = d.str(rf["id"], "id"); err != nil {
		return nil, err
	}
	if !ruleIDRE.MatchString(r.id) {
		return nil, d.errf(rf["id"], "rule id %q must be lower-case letters, digits, '.', '_' or '-'", r.id)
	}
	rerr := func(n *yaml.Node, format string, args ...any) error {
		line := rn.Line
		if n != nil {
			line = n.Line
		}
		return loadError(d.file, line, r.id, format, args...)
	}
	if r.services, err = d.strs(rf["services"], "services"); err != nil {
		return nil, err
	}
	if len(r.services) == 0 {
		return nil, rerr(rf["services"], "services must name at least one of %s", strings.Join(Services, ", "))
	}
	for _, s := range r.services {
		if !validService(s) {
			return nil, rerr(rf["services"], "unknown service %q; want %s", s, strings.Join(Services, " or "))
		}
	}
	if r.when, err = d.str(rf["when"], "when"); err != nil {
		return nil, err
	}
	o, err := d.str(rf["outcome"], "outcome")
	if err != nil {
		return nil, err
	}
	r.outcome = Outcome(o)
	if r.outcome.rank() == 0 && r.outcome != NotEligible {
		return nil, rerr(rf["outcome"], "unknown outcome %q; want eligible, eligible_paid, not_eligible or referral", o)
	}
	if fn := rf["fee"]; fn != nil {
		ff, err := d.fields(fn, "fee", "amount!", "currency!")
		if err != nil {
			return nil, err
		}
		fee := &Fee{}
		if fee.Amount, err = d.str(ff["amount"], "amount"); err != nil {
			return nil, err
		}
		if !amountRE.MatchString(fee.Amount) {
			return nil, rerr(ff["amount"], "fee amount %q must be a decimal with two places, such as \"100.00\" (quote it)", fee.Amount)
		}
		if fee.Currency, err = d.str(ff["currency"], "currency"); err != nil {
			return nil, err
		}
		if !currencyRE.MatchString(fee.Currency) {
			return nil, rerr(ff["currency"], "fee currency %q must be an ISO 4217 code such as CNY", fee.Currency)
		}
		r.fee = fee
	}
	if r.outcome == EligiblePaid && r.fee == nil {
		return nil, rerr(rn, "outcome eligible_paid needs a fee")
	}
	if r.outcome != EligiblePaid && r.fee != nil {
		return nil, rerr(rf["fee"], "only an eligible_paid outcome may carry a fee")
	}
	if r.reasonKeys, err = d.strs(rf["reasons"], "reasons"); err != nil {
		return nil, err
	}
	if len(r.reasonKeys) == 0 {
		return nil, rerr(rf["reasons"], "a rule must give at least one reason key")
	}
	for _, k := range r.reasonKeys {
		if _, ok := p.texts[k]; !ok {
			return nil, rerr(rf["reasons"], "reason key %q has no text in pack.yaml texts", k)
		}
		r.reasons = append(r.reasons, Reason{Key: k, Message: p.texts[k]["en"]})
	}
	if r.assumption, err = d.boolean(rf["assumption"], "assumption"); err != nil {
		return nil, err
	}
	if r.note, err = d.str(rf["note"], "note"); err != nil {
		return nil, err
	}
	if r.assumption && strings.TrimSpace(r.note) == "" {
		return nil, rerr(rn, "an assumption must carry a note saying what is assumed")
	}
	if r.source, err = d.str(rf["source"], "source"); err != nil {
		return nil, err
	}
	return r, nil
}

// link resolves parents, rejects unknown parents and cycles, and checks that
// rule ids are unique within the pack.
func (p *Pack) link() error {
	codes := p.Jurisdictions()
	for _, c := range codes {
		n := p.nodes[c]
		if n.parentCode == "" {
			continue
		}
		par, ok := p.nodes[n.parentCode]
		if !ok {
			return loadError(n.file, n.line, "", "jurisdiction %s: unknown parent jurisdiction %q", n.code, n.parentCode)
		}
		n.parent = par
	}
	for _, c := range codes {
		n := p.nodes[c]
		seen := map[*node]bool{}
		var chain []string
		for m := n; m != nil; m = m.parent {
			if seen[m] {
				return loadError(n.file, n.line, "", "jurisdiction %s: cycle in the jurisdiction tree: %s", n.code, strings.Join(append(chain, m.code), " → "))
			}
			seen[m] = true
			chain = append(chain, m.code)
		}
	}
	for _, c := range codes {
		n := p.nodes[c]
		if n.parent == nil {
			p.roots = append(p.roots, n)
		} else {
			n.parent.children = append(n.parent.children, n)
			if n.code[:2] != rootOf(n).code {
				return loadError(n.file, n.line, "", "jurisdiction %s: code does not begin with its country's code %s", n.code, rootOf(n).code)
			}
		}
		for m := n; m != nil; m = m.parent {
			n.path = append([]*node{m}, n.path...)
		}
		for _, m := range n.path {
			n.pathCodes = append(n.pathCodes, m.code)
		}
	}
	ids := map[string]*rule{}
	for _, c := range codes {
		for _, v := range p.nodes[c].versions {
			for _, r := range v.rules {
				if old, dup := ids[r.id]; dup {
					return loadError(r.file, r.line, r.id, "rule id is already used at %s:%d", old.file, old.line)
				}
				ids[r.id] = r
			}
		}
	}
	for _, o := range p.obtainable {
		for _, w := range o.within {
			if _, ok := p.nodes[w]; !ok {
				return loadError(o.file, o.line, "", "obtainable status %s: unknown jurisdiction %q in within", o.status, w)
			}
		}
		for _, k := range o.reasonKeys {
			if _, ok := p.texts[k]; !ok {
				return loadError(o.file, o.line, "", "obtainable status %s: reason key %q has no text in pack.yaml texts", o.status, k)
			}
		}
	}
	return nil
}

func rootOf(n *node) *node {
	for n.parent != nil {
		n = n.parent
	}
	return n
}
