package stats

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// blockStart is the Monday of 2026-W05, the first week of the release
// block 2026-W05/2026-W08; afterBlock is a release time once it has ended.
var (
	blockStart = time.Date(2026, 1, 26, 0, 0, 0, 0, time.UTC)
	afterBlock = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// cell is a position in the table with margins: row R is the week totals,
// column C the row totals, (R, C) the grand total.
type cell struct{ i, j int }

// attacker knows everything published about one table, plus, to be as
// strong as possible, which suppressed cells are small (1..k-1) and which
// were suppressed to protect them (and so are ≥ k).
type attacker struct {
	R, C       int
	k          int64
	val        [][]int64 // published, fixed or assigned values
	state      [][]int8  // known (published or held fixed), assigned, or open
	truth      [][]int64 // used only to centre the search window and for bounds
	vars       []cell
	eqs        [][]term
	nodes      int
	determined map[cell]bool
}

const (
	open int8 = iota
	known
	assigned
)

type term struct {
	c    cell
	coef int64
}

func newAttacker(t *testing.T, tab Table, truth [][]int64, k int64) *attacker {
	t.Helper()
	return buildAttacker(t, tab, truth, k, true)
}

// buildAttacker sets the attacker up; strict also checks that the table is
// what a correct Build publishes (true values, no small counts, no
// suppressed zeros), which hand-made unsafe tables are not.
func buildAttacker(t *testing.T, tab Table, truth [][]int64, k int64, strict bool) *attacker {
	t.Helper()
	R, C := len(tab.Rows), len(tab.Weeks)
	a := &attacker{R: R, C: C, k: k}
	a.val, a.state, a.truth = make([][]int64, R+1), make([][]int8, R+1), make([][]int64, R+1)
	for i := 0; i <= R; i++ {
		a.val[i], a.state[i], a.truth[i] = make([]int64, C+1), make([]int8, C+1), make([]int64, C+1)
	}
	for i := 0; i < R; i++ {
		for j := 0; j < C; j++ {
			x := truth[i][j]
			a.truth[i][j] += x
			a.truth[i][C] += x
			a.truth[R][j] += x
			a.truth[R][C] += x
		}
	}
	get := func(i, j int) *int64 {
		switch {
		case i < R && j < C:
			return tab.Cells[i][j]
		case i < R:
			return tab.RowTotals[i]
		case j < C:
			return tab.WeekTotals[j]
		}
		return tab.Total
	}
	for i := 0; i <= R; i++ {
		for j := 0; j <= C; j++ {
			c := cell{i, j}
			if p := get(i, j); p != nil {
				if strict && *p != a.truth[i][j] {
					t.Fatalf("published %d at %v, true value %d", *p, c, a.truth[i][j])
				}
				if strict && *p >= 1 && *p < k {
					t.Fatalf("small count %d published at %v", *p, c)
				}
				a.val[i][j], a.state[i][j] = *p, known
			} else {
				if strict && a.truth[i][j] == 0 {
					t.Fatalf("zero suppressed at %v", c)
				}
				a.vars = append(a.vars, c)
			}
		}
	}
	// Rows: parts minus total; columns likewise.
	for i := 0; i <= R; i++ {
		var eq []term
		for j := 0; j < C; j++ {
			eq = append(eq, term{cell{i, j}, 1})
		}
		a.eqs = append(a.eqs, append(eq, term{cell{i, C}, -1}))
	}
	for j := 0; j <= C; j++ {
		var eq []term
		for i := 0; i < R; i++ {
			eq = append(eq, term{cell{i, j}, 1})
		}
		a.eqs = append(a.eqs, append(eq, term{cell{R, j}, -1}))
	}
	return a
}

func (a *attacker) bounds(c cell) (int64, int64) {
	if x := a.truth[c.i][c.j]; x >= 1 && x < a.k {
		return 1, a.k - 1
	}
	return a.k, math.MaxInt64
}

func (a *attacker) set(c cell, v int64) { a.val[c.i][c.j], a.state[c.i][c.j] = v, assigned }
func (a *attacker) unset(c cell)        { a.state[c.i][c.j] = open }

// propagate fills in every cell an equation forces; it returns the cells
// it assigned and false on a contradiction.
func (a *attacker) propagate() ([]cell, bool) {
	var set []cell
	for changed := true; changed; {
		changed = false
		for _, eq := range a.eqs {
			var sum int64
			nOpen := 0
			var last term
			for _, tm := range eq {
				if a.state[tm.c.i][tm.c.j] != open {
					sum += tm.coef * a.val[tm.c.i][tm.c.j]
				} else {
					nOpen++
					last = tm
				}
			}
			switch nOpen {
			case 0:
				if sum != 0 {
					return set, false
				}
			case 1:
				v := -sum * last.coef // coef is ±1
				lo, hi := a.bounds(last.c)
				if v < lo || v > hi {
					return set, false
				}
				a.set(last.c, v)
				set = append(set, last.c)
				changed = true
			}
		}
	}
	return set, true
}

func (a *attacker) search() bool {
	a.nodes++
	if a.nodes > 200_000 {
		return false
	}
	set, ok := a.propagate()
	defer func() {
		for _, c := range set {
			a.unset(c)
		}
	}()
	if !ok {
		return false
	}
	// Branch on a cell of the equation with the fewest open cells.
	var next cell
	best := math.MaxInt
	for _, eq := range a.eqs {
		n := 0
		var first cell
		for _, tm := range eq {
			if a.state[tm.c.i][tm.c.j] == open {
				if n == 0 {
					first = tm.c
				}
				n++
			}
		}
		if n > 0 && n < best {
			best, next = n, first
		}
	}
	if best == math.MaxInt {
		return true
	}
	lo, hi := a.bounds(next)
	t := a.truth[next.i][next.j]
	for _, v := range []int64{t, t + 1, t - 1, t + 2, t - 2} {
		if v < lo || v > hi {
			continue
		}
		a.set(next, v)
		found := a.search()
		a.unset(next)
		if found {
			return true
		}
	}
	return false
}

// recoverable reports whether every solution consistent with what was
// published gives cell c its true value, as far as a search within ±2 of
// the truth can tell: it looks for a solution with another value.
func (a *attacker) recoverable(c cell) bool {
	// Search first among the suppressed cells near c (sharing rows and
	// columns within a few steps), holding the others at their true values;
	// any solution found is a real one, so this only ever errs towards
	// "recoverable". Widen until the whole table is free.
	for radius := 1; ; radius++ {
		near := a.near(c, radius)
		for _, v := range a.vars {
			if !near[v] {
				a.val[v.i][v.j], a.state[v.i][v.j] = a.truth[v.i][v.j], known
			}
		}
		found := a.alternative(c)
		for _, v := range a.vars {
			a.state[v.i][v.j] = open
		}
		if found {
			return false
		}
		if len(near) == len(a.vars) {
			return true
		}
	}
}

// near returns the suppressed cells within radius row/column steps of c.
func (a *attacker) near(c cell, radius int) map[cell]bool {
	rows, cols := map[int]bool{c.i: true}, map[int]bool{c.j: true}
	out := map[cell]bool{}
	for r := 0; r < radius; r++ {
		for _, v := range a.vars {
			if rows[v.i] || cols[v.j] {
				out[v] = true
			}
		}
		for v := range out {
			rows[v.i], cols[v.j] = true, true
		}
	}
	return out
}

// alternative looks for a solution that gives c a value other than its true one.
func (a *attacker) alternative(c cell) bool {
	lo, hi := a.bounds(c)
	t := a.truth[c.i][c.j]
	a.nodes = 0
	for _, v := range []int64{t + 1, t - 1, t + 2, t - 2} {
		if v < lo || v > hi {
			continue
		}
		a.set(c, v)
		found := a.search()
		a.unset(c)
		if found {
			return true
		}
	}
	return false
}

// linearlyDetermined reports whether the published equations alone (no
// bounds) fix cell c: whether c's unit vector lies in the row space of the
// system restricted to the suppressed cells. This is the differencing
// attack on totals.
func (a *attacker) linearlyDetermined(c cell) bool {
	if a.determined == nil {
		a.determined = a.solveLinear()
	}
	return a.determined[c]
}

// solveLinear returns the suppressed cells that the equations alone fix,
// from one reduced row echelon form of the system.
func (a *attacker) solveLinear() map[cell]bool {
	col := map[cell]int{}
	for i, v := range a.vars {
		col[v] = i
	}
	n := len(a.vars)
	var m [][]*big.Rat
	for _, eq := range a.eqs {
		row := make([]*big.Rat, n)
		for i := range row {
			row[i] = new(big.Rat)
		}
		nz := false
		for _, tm := range eq {
			if k, ok := col[tm.c]; ok {
				row[k].SetInt64(tm.coef)
				nz = true
			}
		}
		if nz {
			m = append(m, row)
		}
	}
	// Reduced row echelon form.
	pivotOf := map[int]int{} // column → row
	r := 0
	for k := 0; k < n && r < len(m); k++ {
		p := -1
		for i := r; i < len(m); i++ {
			if m[i][k].Sign() != 0 {
				p = i
				break
			}
		}
		if p < 0 {
			continue
		}
		m[r], m[p] = m[p], m[r]
		inv := new(big.Rat).Inv(m[r][k])
		for x := k; x < n; x++ {
			m[r][x].Mul(m[r][x], inv)
		}
		for i := range m {
			if i != r && m[i][k].Sign() != 0 {
				f := new(big.Rat).Set(m[i][k])
				for x := k; x < n; x++ {
					m[i][x].Sub(m[i][x], new(big.Rat).Mul(f, m[r][x]))
				}
			}
		}
		pivotOf[k] = r
		r++
	}
	out := map[cell]bool{}
	for k, pr := range pivotOf {
		fixed := true
		for x := 0; x < n; x++ {
			if x == k || m[pr][x].Sign() == 0 {
				continue
			}
			if _, pivot := pivotOf[x]; !pivot {
				fixed = false // depends on a free variable
				break
			}
		}
		out[a.vars[k]] = fixed
	}
	return out
}

// randomTests makes a tests table with R jurisdictions and C weeks whose
// counts mix zeros, small counts and large ones.
func randomTests(rng *rand.Rand, R, C int) ([]TestRow, [][]int64) {
	truth := make([][]int64, R)
	var rows []TestRow
	for i := range truth {
		truth[i] = make([]int64, C)
		for j := range truth[i] {
			var x int64
			switch p := rng.IntN(10); {
			case p < 3:
				x = 0
			case p < 6:
				x = 1 + rng.Int64N(10)
			default:
				x = 11 + rng.Int64N(50)
			}
			truth[i][j] = x
			if x > 0 {
				rows = append(rows, TestRow{
					Jurisdiction: fmt.Sprintf("J%02d", i),
					Site:         "S",
					Date:         registry.DateOf(blockStart.AddDate(0, 0, 7*j+rng.IntN(7))),
					Count:        x,
				})
			}
		}
	}
	return rows, truth
}

func buildTests(t *testing.T, rows []TestRow, R int) Table {
	t.Helper()
	jurs := make([]string, R)
	for i := range jurs {
		jurs[i] = fmt.Sprintf("J%02d", i)
	}
	cov, err := Build(nil, rows, Options{
		From: blockStart, To: blockStart.AddDate(0, 0, 7*BlockWeeks-1), Jurisdictions: jurs, GeneratedAt: afterBlock,
	})
	if err != nil {
		t.Fatal(err)
	}
	if cov.Block != "2026-W05/2026-W08" {
		t.Fatalf("block %q", cov.Block)
	}
	return cov.Tests
}

// gridTable runs the suppression directly on an R×C table of any shape.
func gridTable(truth [][]int64, C int) Table {
	g := newGrid(truth, C, DefaultK)
	g.suppress()
	weeks := make([]string, C)
	for j := range weeks {
		weeks[j] = fmt.Sprint("w", j)
	}
	t := g.table(weeks)
	for i := range truth {
		t.Rows = append(t.Rows, []string{fmt.Sprint("r", i)})
	}
	return t
}

// TestNoSuppressedCellRecoverable publishes many random tables, through
// Build (four-week blocks) and through the suppression alone (any shape),
// and then attacks every suppressed cell with what is published: it must
// never be pinned to one value.
func TestNoSuppressedCellRecoverable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	suppressed := 0
	attack := func(n int, tab Table, truth [][]int64) {
		a := newAttacker(t, tab, truth, DefaultK)
		for _, c := range a.vars {
			suppressed++
			if a.linearlyDetermined(c) {
				t.Fatalf("table %d (%d×%d): cell %v (true %d) follows from the totals by differencing\n%v", n, a.R, a.C, c, a.truth[c.i][c.j], truth)
			}
			if a.recoverable(c) {
				t.Fatalf("table %d (%d×%d): cell %v (true %d) is recoverable from what is published (search nodes %d)\n%v", n, a.R, a.C, c, a.truth[c.i][c.j], a.nodes, truth)
			}
		}
	}
	for n := 0; n < 150; n++ {
		R := 1 + rng.IntN(6)
		rows, truth := randomTests(rng, R, BlockWeeks)
		attack(n, buildTests(t, rows, R), truth)
	}
	for n := 0; n < 300; n++ {
		R, C := 1+rng.IntN(5), 1+rng.IntN(8)
		_, truth := randomTests(rng, R, C)
		attack(n, gridTable(truth, C), truth)
	}
	if suppressed < 1000 {
		t.Fatalf("only %d suppressed cells attacked; the test data are too easy", suppressed)
	}
}

// TestNoSuppressedCellRecoverableLarge attacks larger tables (up to a year
// of weekly counts) the same way: differencing, then a bounded search.
func TestNoSuppressedCellRecoverableLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 8; n++ {
		R, C := 8+rng.IntN(8), 20+rng.IntN(33)
		_, truth := randomTests(rng, R, C)
		tab := gridTable(truth, C)
		a := newAttacker(t, tab, truth, DefaultK)
		for _, c := range a.vars {
			if a.linearlyDetermined(c) {
				t.Fatalf("table %d (%d×%d): cell %v follows from the totals", n, R, C, c)
			}
			if a.recoverable(c) {
				t.Fatalf("table %d (%d×%d): cell %v (true %d) is recoverable (search nodes %d)", n, R, C, c, a.truth[c.i][c.j], a.nodes)
			}
		}
		t.Logf("table %d: %d×%d, %d of %d cells suppressed", n, R, C, len(a.vars), (R+1)*(C+1))
	}
}

// TestBuildSuppresses shows a small cell, and the cells that would give it
// away, withheld in a dose table.
func TestBuildSuppresses(t *testing.T) {
	var doses []DoseRow
	add := func(prod string, w int, n int64) {
		doses = append(doses, DoseRow{Jurisdiction: "XX", Site: "S", Product: prod, DoseNumber: 1,
			Date: registry.DateOf(blockStart.AddDate(0, 0, 7*w)), Count: n})
	}
	truth := [][]int64{{3, 40, 0, 0}, {50, 60, 20, 30}}
	for w := 0; w < 4; w++ {
		for i, prod := range []string{"a", "b"} {
			if truth[i][w] > 0 {
				add(prod, w, truth[i][w])
			}
		}
	}
	cov, err := Build(doses, nil, Options{From: blockStart, To: blockStart.AddDate(0, 0, 27), MaxDose: 1, GeneratedAt: afterBlock})
	if err != nil {
		t.Fatal(err)
	}
	tab := cov.Doses[0]
	if tab.Cells[0][0] != nil {
		t.Fatalf("count 3 published: %v", *tab.Cells[0][0])
	}
	if tab.Suppressed < 4 {
		t.Fatalf("only %d cells suppressed; a lone small cell is recoverable from its row and column", tab.Suppressed)
	}
	a := newAttacker(t, tab, truth, DefaultK)
	for _, c := range a.vars {
		if a.linearlyDetermined(c) || a.recoverable(c) {
			t.Fatalf("cell %v recoverable", c)
		}
	}
}

// TestAttackerFindsNaiveSuppression checks the attacker itself: against
// primary suppression alone (one small cell in a row whose total is
// published) it must recover the cell.
func TestAttackerFindsNaiveSuppression(t *testing.T) {
	v := func(x int64) *int64 { return &x }
	tab := Table{
		Rows:       [][]string{{"A"}, {"B"}},
		Weeks:      []string{"w1", "w2"},
		Cells:      [][]*int64{{nil, v(20)}, {v(30), v(40)}},
		RowTotals:  []*int64{v(25), v(70)},
		WeekTotals: []*int64{v(35), v(60)},
		Total:      v(95),
	}
	a := newAttacker(t, tab, [][]int64{{5, 20}, {30, 40}}, 11)
	if !a.linearlyDetermined(cell{0, 0}) || !a.recoverable(cell{0, 0}) {
		t.Fatal("the attacker misses a cell recoverable by differencing")
	}
	// Two small cells in one row, the row total published: interval-pinned
	// when both are 1 (they must sum to 2 with each ≥ 1).
	tab.Cells = [][]*int64{{nil, nil}, {v(30), v(40)}}
	tab.RowTotals = []*int64{v(2), v(70)}
	tab.WeekTotals = []*int64{nil, nil}
	tab.Total = nil
	b := buildAttacker(t, tab, [][]int64{{1, 1}, {30, 40}}, 11, false)
	if b.linearlyDetermined(cell{0, 0}) {
		t.Fatal("linear algebra alone should not pin a cell of a pair")
	}
	if !b.recoverable(cell{0, 0}) {
		t.Fatal("the attacker misses a cell pinned by its bounds")
	}
}
