package policy

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"sort"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// Engine holds several compiled packs and picks one per request. It is
// immutable and safe for concurrent use.
type Engine struct {
	packs []*Pack
	by    map[string]*Pack
	def   *Pack
}

// NewEngine loads every pack in fsys (one folder per pack, as in policies/;
// see LoadPacks). The default pack, used when a request names none, is the
// one whose pack.yaml says "default: true", or the only pack loaded.
func NewEngine(fsys fs.FS) (*Engine, error) {
	packs, err := LoadPacks(fsys)
	if err != nil {
		return nil, err
	}
	return EngineOf(packs...)
}

// EngineOf builds an engine from packs already loaded. Returns EINVALID when
// two packs share a name, when more than one is marked default, or when
// there are several packs and none is marked default.
func EngineOf(packs ...*Pack) (*Engine, error) {
	e := &Engine{by: map[string]*Pack{}}
	for _, p := range packs {
		if _, dup := e.by[p.Name]; dup {
			return nil, registry.Errorf(registry.EINVALID, "Two policy packs are named %q.", p.Name)
		}
		e.by[p.Name] = p
		e.packs = append(e.packs, p)
		if p.Default {
			if e.def != nil {
				return nil, registry.Errorf(registry.EINVALID, "Packs %q and %q are both marked default.", e.def.Name, p.Name)
			}
			e.def = p
		}
	}
	sort.Slice(e.packs, func(i, j int) bool { return e.packs[i].Name < e.packs[j].Name })
	if e.def == nil && len(e.packs) == 1 {
		e.def = e.packs[0]
	}
	if e.def == nil {
		return nil, registry.Errorf(registry.EINVALID, "No policy pack is marked default: true.")
	}
	return e, nil
}

// Packs returns the loaded packs, sorted by name.
func (e *Engine) Packs() []*Pack { return append([]*Pack(nil), e.packs...) }

// Pack returns the named pack.
func (e *Engine) Pack(name string) (*Pack, bool) {
	p, ok := e.by[name]
	return p, ok
}

// Default returns the pack used when a request names none.
func (e *Engine) Default() *Pack { return e.def }

// EligibilityRequest is the body of POST /api/v1/eligibility:
//
//	{"jurisdiction":"CN-JL","service":"vaccination","as_of":"2021-09-17",
//	 "facts":{"residence_status":"temporary_hukou"},"explain":false}
//
// "pack" optionally names a pack other than the default; "lang" optionally
// picks the language of reason messages.
type EligibilityRequest struct {
	Pack         string          `json:"pack,omitempty"`
	Jurisdiction string          `json:"jurisdiction"`
	Service      string          `json:"service"`
	AsOf         string          `json:"as_of"`
	Facts        json.RawMessage `json:"facts"`
	Explain      bool            `json:"explain,omitempty"`
	Lang         string          `json:"lang,omitempty"`
}

// Query is a validated eligibility request, ready to decide.
type Query struct {
	Pack         *Pack
	Jurisdiction string
	Service      string
	AsOf         time.Time
	Facts        Facts
	Explain      bool
	Lang         string
}

// Validate checks a decoded request and parses its facts against the chosen
// pack. Errors are *registry.Error naming the field: EINVALID for a missing
// or unknown jurisdiction, service, pack or date, and for unknown facts,
// wrong types and unknown statuses ("facts.NAME"). The facts are not kept
// anywhere but in the returned Query. Decoding the request (its size, its
// syntax, unknown fields) is the transport's.
func (e *Engine) Validate(req EligibilityRequest) (Query, error) {
	q := Query{Pack: e.def, Jurisdiction: req.Jurisdiction, Service: req.Service, Explain: req.Explain, Lang: req.Lang}
	if req.Pack != "" {
		p, ok := e.by[req.Pack]
		if !ok {
			return Query{}, registry.FieldErrorf(registry.EINVALID, "pack", "Unknown policy pack %q.", req.Pack)
		}
		q.Pack = p
	}
	if req.Jurisdiction == "" {
		return Query{}, registry.FieldErrorf(registry.EINVALID, "jurisdiction", "Required.")
	}
	if _, ok := q.Pack.nodes[req.Jurisdiction]; !ok {
		return Query{}, registry.FieldErrorf(registry.EINVALID, "jurisdiction", "Unknown jurisdiction %q in pack %s.", req.Jurisdiction, q.Pack.Name)
	}
	if !validService(req.Service) {
		return Query{}, registry.FieldErrorf(registry.EINVALID, "service", "Want vaccination or testing.")
	}
	if req.AsOf == "" {
		return Query{}, registry.FieldErrorf(registry.EINVALID, "as_of", "Required (YYYY-MM-DD).")
	}
	t, err := time.Parse(time.DateOnly, req.AsOf)
	if err != nil {
		// A full timestamp is accepted too; its own calendar date is used.
		ts, terr := time.Parse(time.RFC3339, req.AsOf)
		if terr != nil {
			return Query{}, registry.FieldErrorf(registry.EINVALID, "as_of", "Want a date YYYY-MM-DD.")
		}
		t = ts
	}
	q.AsOf = t
	if len(bytes.TrimSpace(req.Facts)) == 0 {
		return Query{}, registry.FieldErrorf(registry.EINVALID, "facts", "Required (an object, which may be empty).")
	}
	if q.Facts, err = q.Pack.ParseFacts(req.Facts); err != nil {
		return Query{}, err
	}
	return q, nil
}

// Decide decides the query. See Pack.Decide.
func (q Query) Decide() (Decision, error) {
	if q.Pack == nil {
		return Decision{}, registry.Errorf(registry.EINVALID, "No policy pack.")
	}
	opts := []Option{Explain(q.Explain)}
	if q.Lang != "" {
		opts = append(opts, Language(q.Lang))
	}
	return q.Pack.Decide(q.Facts, q.Jurisdiction, q.Service, q.AsOf, opts...)
}
