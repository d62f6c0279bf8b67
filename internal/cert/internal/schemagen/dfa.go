package main

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A dfa decides, rune by rune, whether a string contains a match of a
// regular expression, as regexp.MatchString does: the general validator
// compiles JSON-schema patterns with Go's regexp package, so Go's syntax and
// semantics (RE2, Perl flags, runes decoded as by range, an invalid byte
// read as U+FFFD) are the reference. Patterns may use ^ and $ (text
// anchors, as regexp.Compile gives them) but no other empty-width
// assertion and no case folding; the generator refuses them.
type dfa struct {
	pattern string
	states  []*dfaState // states[0] is the start state
}

type dfaState struct {
	insts []uint32 // the state: program counters, sorted
	start bool     // at the start of the input (^ may still match)
	match bool     // a match has been seen: the answer is true
	atEnd bool     // a match completes if the input ends here ($)
	edges []dfaEdge
}

// dfaEdge moves to state to on a rune in lo..hi. Runes with no edge end
// the search: no match.
type dfaEdge struct {
	lo, hi rune
	to     int
}

type dfaBuilder struct {
	prog  *syntax.Prog
	d     *dfa
	index map[string]int
}

// compileDFA builds the search DFA of pattern.
func compileDFA(pattern string) (*dfa, error) {
	// A search may start anywhere: prefix any text, newlines included.
	re, err := syntax.Parse(`(?s:.)*(?:`+pattern+`)`, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %v", pattern, err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %v", pattern, err)
	}
	b := &dfaBuilder{prog: prog, d: &dfa{pattern: pattern}, index: map[string]int{}}
	start, err := b.closure([]uint32{uint32(prog.Start)}, true, false)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %v", pattern, err)
	}
	if _, err := b.state(start, true); err != nil {
		return nil, fmt.Errorf("pattern %q: %v", pattern, err)
	}
	// Breadth first over the states, adding them as they are reached.
	for i := 0; i < len(b.d.states); i++ {
		if err := b.expand(b.d.states[i]); err != nil {
			return nil, fmt.Errorf("pattern %q: %v", pattern, err)
		}
		if len(b.d.states) > 1000 {
			return nil, fmt.Errorf("pattern %q: more than 1000 DFA states", pattern)
		}
	}
	b.d.prune()
	b.d.minimize()
	return b.d, nil
}

// minimize merges equivalent states (Moore's partition refinement): states
// are equivalent if they agree on match and atEnd and move to equivalent
// states on every rune.
func (d *dfa) minimize() {
	class := make([]int, len(d.states))
	sig := func(i int) string {
		s := d.states[i]
		var b strings.Builder
		fmt.Fprint(&b, s.match, s.atEnd)
		// Edges with targets replaced by classes, adjacent ranges merged.
		var last *dfaEdge
		var edges []dfaEdge
		for _, e := range s.edges {
			e.to = class[e.to]
			if last != nil && last.to == e.to && last.hi == e.lo-1 {
				last.hi = e.hi
				continue
			}
			edges = append(edges, e)
			last = &edges[len(edges)-1]
		}
		fmt.Fprint(&b, edges)
		return b.String()
	}
	for n := 0; ; {
		ids := map[string]int{}
		next := make([]int, len(d.states))
		for i := range d.states {
			key := fmt.Sprint(class[i], sig(i))
			id, ok := ids[key]
			if !ok {
				id = len(ids)
				ids[key] = id
			}
			next[i] = id
		}
		class = next
		if len(ids) == n {
			break
		}
		n = len(ids)
	}
	// Rebuild with one state per class, keeping the start state first.
	index := map[int]int{}
	var states []*dfaState
	for i := range d.states {
		if _, ok := index[class[i]]; !ok {
			index[class[i]] = len(states)
			states = append(states, d.states[i])
		}
	}
	for _, s := range states {
		var edges []dfaEdge
		for _, e := range s.edges {
			e.to = index[class[e.to]]
			if n := len(edges); n > 0 && edges[n-1].to == e.to && edges[n-1].hi == e.lo-1 {
				edges[n-1].hi = e.hi
				continue
			}
			edges = append(edges, e)
		}
		s.edges = edges
	}
	d.states = states
}

// prune drops the edges to states from which no match can be reached: the
// search fails as soon as it enters one.
func (d *dfa) prune() {
	live := make([]bool, len(d.states))
	for i, s := range d.states {
		live[i] = s.match || s.atEnd
	}
	for changed := true; changed; {
		changed = false
		for i, s := range d.states {
			if live[i] {
				continue
			}
			for _, e := range s.edges {
				if live[e.to] {
					live[i], changed = true, true
					break
				}
			}
		}
	}
	for _, s := range d.states {
		s.edges = slices.DeleteFunc(s.edges, func(e dfaEdge) bool { return !live[e.to] })
	}
	if !live[0] {
		d.states[0].edges = nil
	}
}

// closure returns the instructions reachable from pcs without reading a
// rune: rune instructions, Match, and $ assertions still waiting for the end
// (unless atEnd, when they pass).
func (b *dfaBuilder) closure(pcs []uint32, atStart, atEnd bool) ([]uint32, error) {
	seen := map[uint32]bool{}
	var out []uint32
	stack := slices.Clone(pcs)
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pc] {
			continue
		}
		seen[pc] = true
		in := &b.prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Out, in.Arg)
		case syntax.InstNop, syntax.InstCapture:
			stack = append(stack, in.Out)
		case syntax.InstEmptyWidth:
			op := syntax.EmptyOp(in.Arg)
			if op&^(syntax.EmptyBeginText|syntax.EmptyEndText) != 0 {
				return nil, fmt.Errorf("unsupported assertion (only ^ and $ are)")
			}
			if op&syntax.EmptyBeginText != 0 && !atStart {
				continue
			}
			if op&syntax.EmptyEndText != 0 && !atEnd {
				out = append(out, pc)
				continue
			}
			stack = append(stack, in.Out)
		case syntax.InstRune:
			if syntax.Flags(in.Arg)&syntax.FoldCase != 0 && hasFolds(in.Rune) {
				return nil, fmt.Errorf("case folding is not supported")
			}
			out = append(out, pc)
		case syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL, syntax.InstMatch:
			out = append(out, pc)
		case syntax.InstFail:
		default:
			return nil, fmt.Errorf("unsupported instruction %v", in.Op)
		}
	}
	slices.Sort(out)
	return out, nil
}

func hasFolds(runes []rune) bool {
	for _, r := range runes {
		if unicode.SimpleFold(r) != r {
			return true
		}
	}
	return false
}

// state returns the index of the state for insts, adding it if new.
func (b *dfaBuilder) state(insts []uint32, start bool) (int, error) {
	var key strings.Builder
	fmt.Fprint(&key, start, insts)
	if i, ok := b.index[key.String()]; ok {
		return i, nil
	}
	s := &dfaState{insts: insts, start: start}
	var pending []uint32
	for _, pc := range insts {
		switch b.prog.Inst[pc].Op {
		case syntax.InstMatch:
			s.match = true
		case syntax.InstEmptyWidth:
			pending = append(pending, pc)
		}
	}
	if s.match {
		s.atEnd = true
	} else if len(pending) > 0 {
		end, err := b.closure(pending, start, true)
		if err != nil {
			return 0, err
		}
		for _, pc := range end {
			if b.prog.Inst[pc].Op == syntax.InstMatch {
				s.atEnd = true
			}
		}
	}
	b.d.states = append(b.d.states, s)
	b.index[key.String()] = len(b.d.states) - 1
	return len(b.d.states) - 1, nil
}

// ranges returns the rune ranges (inclusive pairs) that instruction pc reads.
func (b *dfaBuilder) ranges(pc uint32) []rune {
	in := &b.prog.Inst[pc]
	switch in.Op {
	case syntax.InstRune:
		if len(in.Rune) == 1 {
			return []rune{in.Rune[0], in.Rune[0]}
		}
		return in.Rune
	case syntax.InstRune1:
		return []rune{in.Rune[0], in.Rune[0]}
	case syntax.InstRuneAny:
		return []rune{0, unicode.MaxRune}
	case syntax.InstRuneAnyNotNL:
		return []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}
	}
	return nil
}

// expand computes the edges of s.
func (b *dfaBuilder) expand(s *dfaState) error {
	if s.match {
		return nil
	}
	cuts := []rune{0, unicode.MaxRune + 1}
	for _, pc := range s.insts {
		rs := b.ranges(pc)
		for i := 0; i+1 < len(rs); i += 2 {
			cuts = append(cuts, rs[i], rs[i+1]+1)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	for i := 0; i+1 < len(cuts); i++ {
		lo, hi := cuts[i], cuts[i+1]-1
		var next []uint32
		for _, pc := range s.insts {
			rs := b.ranges(pc)
			for j := 0; j+1 < len(rs); j += 2 {
				if rs[j] <= lo && lo <= rs[j+1] {
					next = append(next, b.prog.Inst[pc].Out)
					break
				}
			}
		}
		if len(next) == 0 {
			continue
		}
		insts, err := b.closure(next, false, false)
		if err != nil {
			return err
		}
		if len(insts) == 0 {
			continue
		}
		to, err := b.state(insts, false)
		if err != nil {
			return err
		}
		if n := len(s.edges); n > 0 && s.edges[n-1].to == to && s.edges[n-1].hi == lo-1 {
			s.edges[n-1].hi = hi
			continue
		}
		s.edges = append(s.edges, dfaEdge{lo: lo, hi: hi, to: to})
	}
	return nil
}

// match runs the DFA on s (for tests of the generator).
func (d *dfa) match(s string) bool {
	st := d.states[0]
	if st.match {
		return true
	}
	for _, r := range s {
		next := -1
		for _, e := range st.edges {
			if e.lo <= r && r <= e.hi {
				next = e.to
				break
			}
		}
		if next < 0 {
			return false
		}
		st = d.states[next]
		if st.match {
			return true
		}
	}
	return st.atEnd
}

// emit writes a Go function name(s []byte) bool that runs the DFA.
func (d *dfa) emit(w *strings.Builder, name string) {
	fmt.Fprintf(w, "// %s reports whether s contains a match of the pattern %s,\n", name, "`"+d.pattern+"`")
	fmt.Fprintf(w, "// as regexp.MatchString does.\n")
	fmt.Fprintf(w, "func %s(s []byte) bool {\n", name)
	if d.states[0].match {
		fmt.Fprintf(w, "\treturn true\n}\n\n")
		return
	}
	// Number the states that can be reached and are not final.
	num := make([]int, len(d.states))
	for i := range num {
		num[i] = -1
	}
	order := []int{0}
	num[0] = 0
	for i := 0; i < len(order); i++ {
		for _, e := range d.states[order[i]].edges {
			if num[e.to] < 0 && !d.states[e.to].match {
				num[e.to] = len(order)
				order = append(order, e.to)
			}
		}
	}
	fmt.Fprintf(w, "\tstate := 0\n")
	fmt.Fprintf(w, "\tfor _, c := range string(s) {\n")
	fmt.Fprintf(w, "\t\tswitch state {\n")
	for _, i := range order {
		s := d.states[i]
		fmt.Fprintf(w, "\t\tcase %d:\n", num[i])
		fmt.Fprintf(w, "\t\t\tswitch {\n")
		// One case per target, in the order the targets first appear.
		var targets []int
		conds := map[int][]string{}
		for _, e := range s.edges {
			if _, ok := conds[e.to]; !ok {
				targets = append(targets, e.to)
			}
			conds[e.to] = append(conds[e.to], runeCond(e.lo, e.hi))
		}
		for _, to := range targets {
			fmt.Fprintf(w, "\t\t\tcase %s:\n", strings.Join(conds[to], ", "))
			if d.states[to].match {
				fmt.Fprintf(w, "\t\t\t\treturn true\n")
			} else {
				fmt.Fprintf(w, "\t\t\t\tstate = %d\n", num[to])
			}
		}
		fmt.Fprintf(w, "\t\t\tdefault:\n\t\t\t\treturn false\n")
		fmt.Fprintf(w, "\t\t\t}\n")
	}
	fmt.Fprintf(w, "\t\t}\n\t}\n")
	var ends []string
	for _, i := range order {
		if d.states[i].atEnd {
			ends = append(ends, fmt.Sprintf("state == %d", num[i]))
		}
	}
	if len(ends) == 0 {
		fmt.Fprintf(w, "\treturn false\n}\n\n")
		return
	}
	fmt.Fprintf(w, "\treturn %s\n}\n\n", strings.Join(ends, " || "))
}

func runeCond(lo, hi rune) string {
	if lo == 0 && hi == unicode.MaxRune {
		return "true"
	}
	if lo == hi {
		return "c == " + runeLit(lo)
	}
	if lo == 0 {
		return "c <= " + runeLit(hi)
	}
	if hi == unicode.MaxRune {
		return "c >= " + runeLit(lo)
	}
	return "c >= " + runeLit(lo) + " && c <= " + runeLit(hi)
}

func runeLit(r rune) string {
	if r < utf8.RuneSelf && strconv.IsPrint(r) && r != '\'' && r != '\\' {
		return strconv.QuoteRune(r)
	}
	return fmt.Sprintf("0x%X", r)
}
