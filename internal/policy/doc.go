// Package policy decides who may be vaccinated or tested where, and at what
// cost, from jurisdiction policy packs written in YAML with CEL conditions.
//
// # Packs
//
// A pack is a folder: pack.yaml (name, title, default, extra facts,
// obtainable statuses, reason texts), jurisdictions/*.yaml (the tree) and
// cases/*.yaml (expected decisions, run by "haven policy test"). The
// bundled packs live in the repository's policies/ folder and are embedded
// by package policies.
//
//	jurisdictions:
//	  - code: CN                      # ISO 3166-1 alpha-2 for a root
//	    name: China
//	    versions:
//	      - effective_from: 2020-12-15  # inclusive civil dates
//	        effective_to: 2021-05-31    # optional, inclusive
//	        decide:
//	          rules:                    # ordered; the first that holds decides
//	            - id: cn-2020-hukou
//	              services: [vaccination, testing]
//	              when: "residence_status in ['citizen', 'temporary_hukou']"  # CEL; omitted = always
//	              outcome: eligible     # eligible | eligible_paid | not_eligible | referral
//	              fee: {amount: "100.00", currency: CNY}   # eligible_paid only
//	              reasons: [cn.hukou_holder]               # keys of pack.yaml texts
//	              assumption: true      # then note: is required
//	              note: "..."
//	      - effective_from: 2021-06-01
//	        delegate:                   # children decide; fallback for those with no rule
//	          fallback:
//	            rules: [...]            # must hold an unconditional rule per service
//	  - code: CN-JL                     # ISO 3166-2, or a sub-area such as CN-JL-YB
//	    name: Jilin
//	    parent: CN
//
// A decision walks from the root towards the jurisdiction asked about. A
// deciding version ends the walk with its first rule that holds (for the
// service asked about); a delegating version passes it on. When the walk
// reaches a node with no version in force, or whose rules all fail, the
// fallback of the nearest delegating ancestor decides.
//
// Loading validates everything and returns a *registry.Error whose Field is
// "FILE:LINE" (and whose message names the rule): malformed YAML, unknown
// keys, CEL syntax and type errors, unknown facts or statuses, cycles,
// unknown parents, overlapping versions, missing reason texts, conditions
// over the cost limit.
//
// # Facts
//
// Facts are typed (see BuiltinFacts): residence_status (one of Statuses),
// age_years, years_resident, has_child_with_citizen, can_pay,
// previous_doses, months_since_last_dose, pregnant, immunocompromised, plus
// any a pack declares. Facts are inputs only: this package never logs,
// stores or returns them, and error messages name a fact without echoing
// its value.
//
// # API for the server
//
//	// at start-up (policies.FS() is the embedded policies/ folder):
//	engine, err := policy.NewEngine(policies.FS())        // (*Engine, error)
//
//	// an eligibility question, req an EligibilityRequest the transport decoded:
//	q, err := engine.Validate(req)                         // (Query, error); field-named *registry.Error
//	dec, err := q.Decide()                                 // (Decision, error)
//	// encode dec as JSON: outcome, fee, rule, decided_by, jurisdiction_chain,
//	// policy_version, reasons, alternatives, evaluated (explain mode) …
//	// to keep anything with a record, keep only dec.Receipt() (pack, hash, outcome, fee, date).
//
// The request is EligibilityRequest: jurisdiction, service, as_of
// (YYYY-MM-DD), facts (object), explain, and optional pack and lang. The
// transport decodes it (strictly, within a size limit); Validate returns
// EINVALID naming the field ("jurisdiction", "service", "as_of", "pack",
// "facts.age_years"…) for bad values. Decide returns ENOTFOUND when no policy
// is in force there on that date, and EINVALID naming "facts.NAME" when a
// rule needs a fact that was not given.
//
// Lower level:
//
//	policy.LoadPack(fsys fs.FS, dir string) (*Pack, error)
//	policy.LoadPackDir(dir string) (*Pack, error)
//	policy.LoadPacks(fsys fs.FS) ([]*Pack, error)
//	policy.EngineOf(packs ...*Pack) (*Engine, error)
//	(*Engine).Validate(req EligibilityRequest) (Query, error)  // when the server decodes the body itself
//	(*Engine).Pack(name string) (*Pack, bool); (*Engine).Default() *Pack; (*Engine).Packs() []*Pack
//	policy.ParseFacts(raw json.RawMessage, extra ...FactDecl) (Facts, error)
//	(*Pack).ParseFacts(raw []byte) (Facts, error)
//	(*Pack).NewFacts(map[string]any) (Facts, error)
//	(*Pack).Decide(facts Facts, jurisdiction, service string, asOf time.Time, opts ...Option) (Decision, error)
//	options: Explain(bool), WithoutAlternatives(), Language("ko")
//	(*Pack).Simulate(rows, service, asOf, flagAbove) (*Simulation, error)
//	Diff(from, to *Pack, dates []Date, services []string) []Change
//	LoadCases / RunCases for pack tests.
//
// Packs, engines and decisions' shared slices are read-only and safe for
// concurrent use. Decide never panics, keeps nothing, and on the seed pack
// takes well under 3 µs with a handful of allocations (see
// docs/benchmarks.md).
package policy
