package policy

import (
	"fmt"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/haven-registry/haven/internal/registry"
)

// Decision is the answer to one eligibility question. It never echoes the
// facts it was computed from, but the rule that fired, its reasons and the
// explanation may name the status class they apply to: treat a decision as
// sensitive, and never log or store it.
//
// Slices in a Decision (JurisdictionChain, Reasons) may be shared with the
// compiled pack: treat them as read-only.
type Decision struct {
	Outcome Outcome `json:"outcome"`
	// Fee is set only when Outcome is eligible_paid.
	Fee *Fee `json:"fee"`
	// Rule is the id of the rule that fired.
	Rule string `json:"rule"`
	// DecidedBy is the jurisdiction whose rule fired: the jurisdiction asked
	// about, an ancestor that decides for it, or a delegating ancestor whose
	// fallback applied.
	DecidedBy    string `json:"decided_by"`
	Jurisdiction string `json:"jurisdiction"`
	Service      string `json:"service"`
	AsOf         Date   `json:"as_of"`
	// JurisdictionChain is the path walked from the root of the tree down to
	// the jurisdiction asked about (DecidedBy is on it). Read-only.
	JurisdictionChain []string `json:"jurisdiction_chain"`
	// Fallback is true when a delegating parent's fallback decided because
	// the jurisdiction had no rule of its own.
	Fallback bool   `json:"fallback"`
	Pack     string `json:"pack"`
	// PolicyVersion is the pack's content hash.
	PolicyVersion string   `json:"policy_version"`
	Reasons       []Reason `json:"reasons"`
	// Assumption is true when the rule that fired rests on an assumption
	// where the sources are vague; Note says what was assumed.
	Assumption   bool          `json:"assumption"`
	Note         string        `json:"note,omitempty"`
	Alternatives []Alternative `json:"alternatives"`
	// Evaluated is filled in explain mode only.
	Evaluated []Evaluation `json:"evaluated,omitempty"`
}

// Alternative is something that would change a decision for the better:
// another jurisdiction under the same delegating parent, or a status the pack
// marks as obtainable.
type Alternative struct {
	Kind         string `json:"kind"` // "jurisdiction" or "status"
	Jurisdiction string `json:"jurisdiction"`
	Name         string `json:"name,omitempty"`
	// For Kind "status": the status, its criteria (a CEL condition) and
	// whether the given facts meet them (null when a fact it needs was not
	// given).
	Status      Status   `json:"status,omitempty"`
	Criteria    string   `json:"criteria,omitempty"`
	CriteriaMet *bool    `json:"criteria_met,omitempty"`
	Outcome     Outcome  `json:"outcome"`
	Fee         *Fee     `json:"fee"`
	Rule        string   `json:"rule"`
	Reasons     []Reason `json:"reasons"`
	Assumption  bool     `json:"assumption"`
}

// Evaluation is one step of an explained decision.
type Evaluation struct {
	Jurisdiction string `json:"jurisdiction"`
	// Step is "delegates", "no_version", "rule" or "fallback_rule".
	Step string `json:"step"`
	Rule string `json:"rule,omitempty"`
	When string `json:"when,omitempty"`
	// Result is "true", "false", "error" or "skipped" for rules; empty for
	// other steps.
	Result     string  `json:"result,omitempty"`
	Detail     string  `json:"detail,omitempty"`
	Outcome    Outcome `json:"outcome,omitempty"`
	Assumption bool    `json:"assumption,omitempty"`
}

// Option changes how Decide works.
type Option func(*options)

type options struct {
	explain        bool
	noAlternatives bool
	lang           string
}

// Explain makes Decide list every rule it evaluated, and its result.
func Explain(on bool) Option { return func(o *options) { o.explain = on } }

// WithoutAlternatives skips the search for alternatives (used by simulate
// and diff, which only need outcomes).
func WithoutAlternatives() Option { return func(o *options) { o.noAlternatives = true } }

// Language picks the language of reason messages ("en", "ko", "zh-Hans"…);
// English is used where the pack has no text in that language.
func Language(tag string) Option { return func(o *options) { o.lang = tag } }

// maxPlaceAlternatives bounds the jurisdictions listed as alternatives.
const maxPlaceAlternatives = 10

// Decide answers whether a person with these facts may receive service
// ("vaccination" or "testing") in jurisdiction on the civil date of asOf.
//
// The walk starts at the root of the jurisdiction's tree. A node whose
// version in force decides ends the walk with its first rule whose condition
// holds; a node that delegates passes the walk to the next node towards the
// jurisdiction asked about. When the walk reaches a node with no version in
// force, or a deciding node none of whose rules fires, the fallback of the
// nearest delegating ancestor decides.
//
// Returns ENOTFOUND for an unknown jurisdiction or when no policy is in force
// there on that date, EINVALID for an unknown service, and EINVALID naming
// "facts.NAME" when a rule needs a fact that was not given. Decide never
// panics, keeps nothing and logs nothing.
func (p *Pack) Decide(facts Facts, jurisdiction, service string, asOf time.Time, opts ...Option) (Decision, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	si := serviceIndex(service)
	if si < 0 {
		return Decision{}, registry.FieldErrorf(registry.EINVALID, "service", "Unknown service %q; want vaccination or testing.", service)
	}
	n, ok := p.nodes[jurisdiction]
	if !ok {
		return Decision{}, registry.FieldErrorf(registry.ENOTFOUND, "jurisdiction", "Unknown jurisdiction %q in pack %s.", jurisdiction, p.Name)
	}
	d := dayOf(asOf)
	fs := facts.set()
	var ex *[]Evaluation
	var evals []Evaluation
	if o.explain {
		ex = &evals
	}
	res, err := p.decide(fs, n, si, d, ex)
	if err != nil {
		return Decision{}, err
	}
	dec := Decision{
		Outcome:           res.rule.outcome,
		Fee:               res.rule.fee,
		Rule:              res.rule.id,
		DecidedBy:         res.rule.version.node.code,
		Jurisdiction:      n.code,
		Service:           Services[si],
		AsOf:              d,
		JurisdictionChain: n.pathCodes[:len(n.pathCodes):len(n.pathCodes)],
		Fallback:          res.fallback,
		Pack:              p.Name,
		PolicyVersion:     p.Version,
		Reasons:           p.reasons(res.rule.reasonKeys, res.rule.reasons, o.lang),
		Assumption:        res.rule.assumption,
		Note:              res.rule.note,
		Alternatives:      []Alternative{},
		Evaluated:         evals,
	}
	if !o.noAlternatives && dec.Outcome != Eligible {
		dec.Alternatives = p.alternatives(fs, n, si, d, res, o.lang)
	}
	return dec, nil
}

// result is the internal outcome of a walk.
type result struct {
	rule      *rule
	consulted int  // number of nodes of the path consulted
	fallback  bool // the rule is a delegating ancestor's fallback
	delegator int  // index in the path of the nearest delegating ancestor, or -1
}

// versionAt returns the version in force on d, or nil.
func (n *node) versionAt(d Date) *version {
	for _, v := range n.versions {
		if v.from <= d && (v.to == 0 || d <= v.to) {
			return v
		}
	}
	return nil
}

func (p *Pack) decide(fs *factSet, n *node, si int, d Date, ex *[]Evaluation) (result, error) {
	res := result{delegator: -1}
	var fb *version
	for i, m := range n.path {
		res.consulted = i + 1
		v := m.versionAt(d)
		if v == nil {
			if ex != nil {
				*ex = append(*ex, Evaluation{Jurisdiction: m.code, Step: "no_version", Detail: "no version in force on " + d.String()})
			}
			break
		}
		if v.delegates {
			if ex != nil {
				*ex = append(*ex, Evaluation{Jurisdiction: m.code, Step: "delegates", Detail: fmt.Sprintf("version from %s delegates to its sub-divisions", v.from)})
			}
			fb = v
			res.delegator = i
			continue
		}
		r, err := p.firstRule(fs, v, si, "rule", ex)
		if err != nil {
			return res, err
		}
		if r != nil {
			res.rule = r
			return res, nil
		}
		break
	}
	if fb == nil {
		if res.consulted == 1 && n.path[0].versionAt(d) == nil {
			return res, registry.FieldErrorf(registry.ENOTFOUND, "as_of", "No policy of %s is in force on %s in pack %s.", n.path[0].code, d, p.Name)
		}
		return res, registry.FieldErrorf(registry.ENOTFOUND, "jurisdiction", "No rule of pack %s decides %s in %s on %s.", p.Name, Services[si], n.code, d)
	}
	r, err := p.firstRule(fs, fb, si, "fallback_rule", ex)
	if err != nil {
		return res, err
	}
	if r == nil { // cannot happen: fallbacks are total (checked at load)
		return res, registry.Errorf(registry.EINTERNAL, "The fallback of %s decided nothing.", fb.node.code)
	}
	res.rule, res.fallback = r, true
	return res, nil
}

// firstRule returns the first rule of v covering service si whose condition
// holds, or nil.
func (p *Pack) firstRule(fs *factSet, v *version, si int, step string, ex *[]Evaluation) (*rule, error) {
	if ex != nil {
		return p.firstRuleExplained(fs, v, si, step, ex)
	}
	sp := v.progs[si]
	if sp == nil {
		return nil, nil
	}
	out, _, err := sp.prg.Eval(fs)
	if err != nil {
		// Find the rule at fault, evaluating one at a time.
		for _, r := range sp.rules {
			ok, rerr := evalBool(r.prg, fs)
			if rerr != nil {
				return nil, ruleError(r, fs, rerr)
			}
			if ok {
				return r, nil
			}
		}
		return nil, registry.Errorf(registry.EINVALID, "Jurisdiction %s: the rules could not be evaluated.", v.node.code)
	}
	i, ok := out.(types.Int)
	if !ok || i < 0 || int(i) >= len(sp.rules) {
		return nil, nil
	}
	return sp.rules[i], nil
}

func (p *Pack) firstRuleExplained(fs *factSet, v *version, si int, step string, ex *[]Evaluation) (*rule, error) {
	svc := Services[si]
	for _, r := range v.rules {
		e := Evaluation{Jurisdiction: v.node.code, Step: step, Rule: r.id, When: r.when, Outcome: r.outcome, Assumption: r.assumption}
		if !r.covers(svc) {
			e.Result, e.Detail = "skipped", "does not cover "+svc
			*ex = append(*ex, e)
			continue
		}
		ok, err := evalBool(r.prg, fs)
		if err != nil {
			e.Result, e.Detail = "error", err.Error()
			*ex = append(*ex, e)
			return nil, ruleError(r, fs, err)
		}
		if ok {
			e.Result = "true"
			*ex = append(*ex, e)
			return r, nil
		}
		e.Result = "false"
		*ex = append(*ex, e)
	}
	return nil, nil
}

func evalBool(prg cel.Program, fs *factSet) (bool, error) {
	out, _, err := prg.Eval(fs)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("condition did not give a bool")
	}
	return bool(b), nil
}

// ruleError explains why a rule could not be evaluated. When a fact it
// reads is missing, the error names that fact.
func ruleError(r *rule, fs *factSet, err error) error {
	var missing []string
	for _, id := range r.idents {
		if _, ok := fs.ResolveName(id); !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return &registry.Error{Code: registry.EINVALID, Field: "facts." + missing[0],
			Message: fmt.Sprintf("Rule %s (%s:%d) needs the fact(s) %s, which were not given.", r.id, r.file, r.line, strings.Join(missing, ", "))}
	}
	return &registry.Error{Code: registry.EINVALID, Field: fmt.Sprintf("%s:%d", r.file, r.line),
		Message: fmt.Sprintf("Rule %s could not be evaluated: %v", r.id, err)}
}

// reasons returns the reasons in the wanted language.
func (p *Pack) reasons(keys []string, en []Reason, lang string) []Reason {
	if lang == "" || lang == "en" {
		return en
	}
	out := make([]Reason, len(keys))
	for i, k := range keys {
		msg := p.texts[k][lang]
		if msg == "" {
			msg = p.texts[k]["en"]
		}
		out[i] = Reason{Key: k, Message: msg}
	}
	return out
}

// alternatives lists what would improve a decision: jurisdictions under the
// nearest delegating ancestor (siblings of the node it delegated to) and
// obtainable statuses. Both searches are bounded by the pack's size.
func (p *Pack) alternatives(fs *factSet, n *node, si int, d Date, res result, lang string) []Alternative {
	alts := []Alternative{}
	cur := res.rule.outcome.rank()
	if j := res.delegator; j >= 0 && j+1 < len(n.path) {
		parent, skip := n.path[j], n.path[j+1]
		// Siblings with no version in force all get the parent's fallback:
		// evaluate it once.
		var shared *result
		for _, c := range parent.children {
			if c == skip {
				continue
			}
			var r result
			var err error
			if c.versionAt(d) == nil && shared != nil {
				r = *shared
			} else {
				r, err = p.decide(fs, c, si, d, nil)
				if err == nil && c.versionAt(d) == nil {
					shared = &r
				}
			}
			if err != nil || !improves(r.rule.outcome, cur) {
				continue
			}
			alts = append(alts, Alternative{Kind: "jurisdiction", Jurisdiction: c.code, Name: c.name,
				Outcome: r.rule.outcome, Fee: r.rule.fee, Rule: r.rule.id,
				Reasons: p.reasons(r.rule.reasonKeys, r.rule.reasons, lang), Assumption: r.rule.assumption})
			if len(alts) == maxPlaceAlternatives {
				break
			}
		}
	}
	current := Facts{p: fs}.Status()
	for _, o := range p.obtainable {
		if o.status == current || !o.applies(n) {
			continue
		}
		var met *bool
		ok, err := evalBool(o.prg, fs)
		if err == nil {
			if !ok {
				continue
			}
			met = &ok
		}
		alt, err := Facts{p: fs}.With("residence_status", string(o.status))
		if err != nil {
			continue
		}
		r, err := p.decide(alt.set(), n, si, d, nil)
		if err != nil || !improves(r.rule.outcome, cur) {
			continue
		}
		reasons := p.reasons(r.rule.reasonKeys, r.rule.reasons, lang)
		if len(o.reasonKeys) > 0 {
			reasons = append(p.reasons(o.reasonKeys, p.enReasons(o.reasonKeys), lang), reasons...)
		}
		alts = append(alts, Alternative{Kind: "status", Jurisdiction: n.code, Name: n.name, Status: o.status,
			Criteria: o.when, CriteriaMet: met, Outcome: r.rule.outcome, Fee: r.rule.fee, Rule: r.rule.id,
			Reasons: reasons, Assumption: r.rule.assumption || o.assumption})
	}
	return alts
}

func (p *Pack) enReasons(keys []string) []Reason {
	out := make([]Reason, len(keys))
	for i, k := range keys {
		out[i] = Reason{Key: k, Message: p.texts[k]["en"]}
	}
	return out
}

// applies reports whether the obtainable status is available in n, that is
// whether n or one of its ancestors is listed in within.
func (o *obtainable) applies(n *node) bool {
	for _, m := range n.path {
		for _, w := range o.within {
			if m.code == w {
				return true
			}
		}
	}
	return false
}

// improves reports whether an alternative outcome is worth offering: it must
// grant the service (free or paid) and be better than the current rank.
func improves(o Outcome, current int) bool {
	return o.rank() >= EligiblePaid.rank() && o.rank() > current
}

// Receipt is the part of a decision that may be kept with a vaccination or
// test record: which policy (pack and content hash) gave which outcome on
// which date, and the fee. It names neither the rule nor the reasons, which
// can reveal the person's status class.
type Receipt struct {
	Pack          string  `json:"pack"`
	PolicyVersion string  `json:"policy_version"`
	Outcome       Outcome `json:"outcome"`
	Fee           *Fee    `json:"fee,omitempty"`
	AsOf          Date    `json:"as_of"`
}

// Receipt returns what may be stored of the decision.
func (d Decision) Receipt() Receipt {
	return Receipt{Pack: d.Pack, PolicyVersion: d.PolicyVersion, Outcome: d.Outcome, Fee: d.Fee, AsOf: d.AsOf}
}
