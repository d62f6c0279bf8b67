package sdjwt

import (
	"errors"
	"fmt"
)

// reservedTopLevel are claims that SD-JWT VC (draft-ietf-oauth-sd-jwt-vc,
// "Registered JWT Claims") forbids to be selectively disclosed, plus _sd_alg. A
// disclosure of one of them at the top level is rejected, so that, for
// example, cnf or exp can never be swapped in by the holder. (iat and sub may
// be selectively disclosed.)
var reservedTopLevel = map[string]bool{
	"iss": true, "nbf": true, "exp": true, "cnf": true, "vct": true, "vct#integrity": true,
	"status": true, "_sd_alg": true,
}

// processor replaces digests by the claims of the disclosures that match them
// (RFC 9901 §7.1, step 3).
type processor struct {
	byDigest  map[string]*disclosure
	seen      map[string]bool // every digest met so far in the payload and disclosures
	used      map[string]bool // digests of disclosures that were inserted
	disclosed map[string]any  // top-level claims that came from disclosures
}

// process checks and expands t's payload. It returns the always-visible claims
// (with nested disclosures expanded, _sd and _sd_alg removed) and the
// top-level claims that came from disclosures. It fails if a disclosure or a
// digest appears more than once, a disclosure is not referenced, a disclosure is of the wrong kind
// for its place, or a disclosed name clashes with an existing claim.
func process(t *token) (visible, disclosed map[string]any, err error) {
	if t.duplicate != 0 {
		return nil, nil, fmt.Errorf("disclosure %d appears twice", t.duplicate)
	}
	p := &processor{
		byDigest:  t.byDigest,
		seen:      map[string]bool{},
		used:      map[string]bool{},
		disclosed: map[string]any{},
	}
	all, err := p.object(t.payload, 0)
	if err != nil {
		return nil, nil, err
	}
	for i, d := range t.disclosures {
		if !p.used[d.digest] {
			return nil, nil, fmt.Errorf("disclosure %d is not referenced by any digest", i+1)
		}
	}
	visible = make(map[string]any, len(all))
	for k, v := range all {
		if _, ok := p.disclosed[k]; !ok {
			visible[k] = v
		}
	}
	return visible, p.disclosed, nil
}

func (p *processor) value(v any, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("claims nested too deeply")
	}
	switch x := v.(type) {
	case map[string]any:
		return p.object(x, depth)
	case []any:
		return p.array(x, depth)
	}
	return v, nil
}

func (p *processor) object(m map[string]any, depth int) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k == "_sd" || (depth == 0 && k == "_sd_alg") {
			continue
		}
		pv, err := p.value(v, depth+1)
		if err != nil {
			return nil, err
		}
		out[k] = pv
	}
	raw, ok := m["_sd"]
	if !ok {
		return out, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, errors.New(`"_sd" is not an array`)
	}
	for _, e := range list {
		dg, ok := e.(string)
		if !ok {
			return nil, errors.New(`"_sd" holds a value that is not a string`)
		}
		if p.seen[dg] {
			return nil, errors.New("a digest appears more than once")
		}
		p.seen[dg] = true
		d, ok := p.byDigest[dg]
		if !ok {
			continue // a decoy, or a claim the holder did not disclose
		}
		if d.isArray {
			return nil, errors.New("an array-element disclosure is referenced from an object")
		}
		if _, clash := out[d.name]; clash {
			return nil, fmt.Errorf("disclosed claim %q already exists", d.name)
		}
		if depth == 0 && reservedTopLevel[d.name] {
			return nil, fmt.Errorf("claim %q must not be selectively disclosed", d.name)
		}
		pv, err := p.value(d.value, depth+1)
		if err != nil {
			return nil, err
		}
		out[d.name] = pv
		p.used[dg] = true
		if depth == 0 {
			p.disclosed[d.name] = pv
		}
	}
	return out, nil
}

func (p *processor) array(a []any, depth int) ([]any, error) {
	out := make([]any, 0, len(a))
	for _, e := range a {
		if m, ok := e.(map[string]any); ok && len(m) == 1 {
			if raw, ok := m["..."]; ok {
				dg, ok := raw.(string)
				if !ok {
					return nil, errors.New(`array element digest "..." is not a string`)
				}
				if p.seen[dg] {
					return nil, errors.New("a digest appears more than once")
				}
				p.seen[dg] = true
				d, ok := p.byDigest[dg]
				if !ok {
					continue
				}
				if !d.isArray {
					return nil, errors.New("an object-property disclosure is referenced from an array")
				}
				pv, err := p.value(d.value, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, pv)
				p.used[dg] = true
				continue
			}
		}
		pv, err := p.value(e, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, pv)
	}
	return out, nil
}

// digestsIn calls f with every digest embedded in v: each string in an "_sd"
// array and each {"...": digest} array element, at any depth.
func digestsIn(v any, depth int, f func(string)) {
	if depth > maxJSONDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if list, ok := x["_sd"].([]any); ok {
			for _, e := range list {
				if s, ok := e.(string); ok {
					f(s)
				}
			}
		}
		if len(x) == 1 {
			if s, ok := x["..."].(string); ok {
				f(s)
			}
		}
		for k, e := range x {
			if k != "_sd" {
				digestsIn(e, depth+1, f)
			}
		}
	case []any:
		for _, e := range x {
			digestsIn(e, depth+1, f)
		}
	}
}
