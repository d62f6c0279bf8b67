package stats

import (
	"container/heap"
	"math"
)

// grid is a two-way table with its margins, laid out as an (R+1)×(C+1)
// matrix: row R holds the column totals, column C the row totals, and
// cell (R, C) the grand total. Every cell, margins included, is subject to
// suppression.
type grid struct {
	R, C    int
	v       [][]int64 // values
	sup     [][]bool  // suppressed
	primary [][]bool  // suppressed because 1 ≤ v < k
	k       int64
}

// newGrid builds the table with margins from interior counts (R rows × C
// columns, all ≥ 0).
func newGrid(cells [][]int64, cols int, k int64) *grid {
	R, C := len(cells), cols
	g := &grid{R: R, C: C, k: k}
	g.v = make([][]int64, R+1)
	g.sup = make([][]bool, R+1)
	g.primary = make([][]bool, R+1)
	for i := 0; i <= R; i++ {
		g.v[i] = make([]int64, C+1)
		g.sup[i] = make([]bool, C+1)
		g.primary[i] = make([]bool, C+1)
	}
	for i, row := range cells {
		for j, x := range row {
			g.v[i][j] = x
			g.v[i][C] += x
			g.v[R][j] += x
			g.v[R][C] += x
		}
	}
	return g
}

// sign is how a cell enters the network form of the table: with the
// margins' signs flipped, every row and column of the (R+1)×(C+1) matrix
// sums to zero, so each cell is an edge between a row node and a column
// node, and a change that keeps every published total is a cycle of ±1
// steps around such edges.
func (g *grid) sign(i, j int) int {
	if (i == g.R) != (j == g.C) {
		return -1
	}
	return 1
}

// bounds are what an attacker knows about a suppressed cell: a primary cell
// lies in [1, k-1]; a complementary one is not small (zeros and small
// cells are never complementary), so it lies in [k, ∞). This is the
// strongest attacker: one who can tell the two kinds apart.
func (g *grid) bounds(i, j int, primary bool) (lo, hi int64) {
	if primary {
		return 1, g.k - 1
	}
	return g.k, math.MaxInt64
}

// arcs returns which ±1 steps of cell (i, j) keep it within its bounds, in
// network form: up means the edge's signed variable may grow (an arc from
// row node i to column node j), down that it may shrink (column to row).
func (g *grid) arcs(i, j int, primary bool) (up, down bool) {
	lo, hi := g.bounds(i, j, primary)
	x := g.v[i][j]
	inc, dec := x < hi, x > lo
	if g.sign(i, j) > 0 {
		return inc, dec
	}
	return dec, inc
}

// node numbering: rows 0..R, then columns R+1..R+1+C.
func (g *grid) colNode(j int) int { return g.R + 1 + j }

// protected reports whether suppressed cell (i, j) can take another value
// without changing anything published: whether some cycle of suppressed
// cells through it can move by one step within every cell's bounds. The
// table's constraint matrix is a network matrix, so this is exact: a
// suppressed cell whose value is not forced always lies on such a cycle.
func (g *grid) protected(i, j int) bool {
	up, down := g.arcs(i, j, g.primary[i][j])
	r, c := i, g.colNode(j)
	return (up && g.reach(c, r, i, j)) || (down && g.reach(r, c, i, j))
}

// reach reports whether a directed path from node a to node b exists over
// the arcs of suppressed cells other than (si, sj).
func (g *grid) reach(a, b, si, sj int) bool {
	n := g.R + g.C + 2
	seen := make([]bool, n)
	queue := []int{a}
	seen[a] = true
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if u == b {
			return true
		}
		if u <= g.R { // row node: arcs to columns through cells that may go up
			for j := 0; j <= g.C; j++ {
				if !g.sup[u][j] || (u == si && j == sj) {
					continue
				}
				if up, _ := g.arcs(u, j, g.primary[u][j]); up {
					if w := g.colNode(j); !seen[w] {
						seen[w] = true
						queue = append(queue, w)
					}
				}
			}
		} else { // column node: arcs to rows through cells that may go down
			j := u - g.R - 1
			for i := 0; i <= g.R; i++ {
				if !g.sup[i][j] || (i == si && j == sj) {
					continue
				}
				if _, down := g.arcs(i, j, g.primary[i][j]); down && !seen[i] {
					seen[i] = true
					queue = append(queue, i)
				}
			}
		}
	}
	return false
}

// suppress applies primary suppression (1 ≤ v < k, margins included) and
// then complementary suppression until every suppressed cell is protected.
// For a cell that is not, it suppresses the cheapest set of published cells
// (by total value) that closes a cycle through it, found as a shortest
// path. Zero cells are never suppressed. If no cycle can be closed, every
// non-zero cell of the table is suppressed.
func (g *grid) suppress() {
	var work [][2]int
	for i := 0; i <= g.R; i++ {
		for j := 0; j <= g.C; j++ {
			if x := g.v[i][j]; x >= 1 && x < g.k {
				g.sup[i][j], g.primary[i][j] = true, true
				work = append(work, [2]int{i, j})
			}
		}
	}
	for n := 0; n < len(work); n++ {
		i, j := work[n][0], work[n][1]
		if g.protected(i, j) {
			continue
		}
		added, ok := g.complement(i, j)
		if !ok {
			g.suppressAll()
			return
		}
		work = append(work, added...)
		work = append(work, [2]int{i, j}) // check again: bounds may still pin it
	}
}

func (g *grid) suppressAll() {
	for i := 0; i <= g.R; i++ {
		for j := 0; j <= g.C; j++ {
			if g.v[i][j] != 0 {
				g.sup[i][j] = true
			}
		}
	}
}

// complement suppresses the cheapest path that closes a movable cycle
// through (i, j), in whichever direction the cell may move, and returns
// the newly suppressed cells. ok is false if no such path exists.
func (g *grid) complement(i, j int) (added [][2]int, ok bool) {
	up, down := g.arcs(i, j, g.primary[i][j])
	r, c := i, g.colNode(j)
	type cand struct {
		cost int64
		path [][2]int
	}
	var best *cand
	try := func(a, b int) {
		cost, path, found := g.cheapest(a, b, i, j)
		if found && (best == nil || cost < best.cost) {
			best = &cand{cost, path}
		}
	}
	if up {
		try(c, r)
	}
	if down {
		try(r, c)
	}
	if best == nil {
		return nil, false
	}
	for _, p := range best.path {
		if !g.sup[p[0]][p[1]] {
			g.sup[p[0]][p[1]] = true
			added = append(added, p)
		}
	}
	return added, len(added) > 0
}

// cheapest finds the least costly directed path from node a to node b,
// where a suppressed cell costs nothing and a published non-zero cell
// costs its value (the information lost by suppressing it), skipping cell
// (si, sj). Published cells are judged with complementary bounds.
func (g *grid) cheapest(a, b, si, sj int) (int64, [][2]int, bool) {
	n := g.R + g.C + 2
	dist := make([]int64, n)
	prev := make([][2]int, n) // cell used to reach the node
	from := make([]int, n)
	for x := range dist {
		dist[x] = math.MaxInt64
		from[x] = -1
	}
	dist[a] = 0
	pq := &nodeHeap{{a, 0}}
	relax := func(u, w int, ci, cj int) {
		cost := int64(0)
		if !g.sup[ci][cj] {
			cost = g.v[ci][cj]
		}
		if d := dist[u] + cost; d < dist[w] {
			dist[w], prev[w], from[w] = d, [2]int{ci, cj}, u
			heap.Push(pq, nodeItem{w, d})
		}
	}
	for pq.Len() > 0 {
		it := heap.Pop(pq).(nodeItem)
		u := it.node
		if it.dist > dist[u] {
			continue
		}
		if u == b {
			break
		}
		if u <= g.R {
			for j := 0; j <= g.C; j++ {
				if (u == si && j == sj) || g.v[u][j] == 0 {
					continue
				}
				if up, _ := g.arcs(u, j, g.sup[u][j] && g.primary[u][j]); up {
					relax(u, g.colNode(j), u, j)
				}
			}
		} else {
			j := u - g.R - 1
			for i := 0; i <= g.R; i++ {
				if (i == si && j == sj) || g.v[i][j] == 0 {
					continue
				}
				if _, down := g.arcs(i, j, g.sup[i][j] && g.primary[i][j]); down {
					relax(u, i, i, j)
				}
			}
		}
	}
	if dist[b] == math.MaxInt64 {
		return 0, nil, false
	}
	var path [][2]int
	for x := b; x != a; x = from[x] {
		path = append(path, prev[x])
	}
	return dist[b], path, true
}

type nodeItem struct {
	node int
	dist int64
}

type nodeHeap []nodeItem

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return h[i].dist < h[j].dist }
func (h nodeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)        { *h = append(*h, x.(nodeItem)) }
func (h *nodeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
