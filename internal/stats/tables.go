package stats

import (
	"crypto/rand"
	"slices"
	"time"
)

// Table is one published two-way table with its margins. A nil count is a
// suppressed cell. Rows holds each row's labels, in the order RowHeader
// names them.
type Table struct {
	Name         string     `json:"table"`                  // "doses" or "tests"
	Jurisdiction string     `json:"jurisdiction,omitempty"` // for a dose table, whose doses
	RowHeader    []string   `json:"row_header"`             // ["product", "dose"] or ["jurisdiction"]
	Rows         [][]string `json:"rows"`
	Weeks        []string   `json:"weeks"`       // ISO weeks, "2026-W05"
	Cells        [][]*int64 `json:"cells"`       // [row][week]
	RowTotals    []*int64   `json:"row_totals"`  // per row, over the period
	WeekTotals   []*int64   `json:"week_totals"` // per week, over all rows
	Total        *int64     `json:"total"`
	Suppressed   int        `json:"suppressed"` // cells withheld, margins included
}

// Coverage is the whole aggregate release: one dose table per jurisdiction
// (product × dose number × ISO week) and one tests table (jurisdiction ×
// ISO week). It is the only person-derived data that leaves Haven.
type Coverage struct {
	GeneratedAt time.Time `json:"generated_at"`
	From        string    `json:"from"` // first ISO week
	To          string    `json:"to"`   // last ISO week
	K           int       `json:"k"`    // counts below k (and cells that would reveal them) are withheld
	Noise       *Noise    `json:"noise,omitempty"`
	Doses       []Table   `json:"doses"`
	Tests       Table     `json:"tests"`
}

// Build makes the coverage tables for the period in opts from dose and test
// counts. Rows outside the period are left out. Each table, margins
// included, goes through optional noise, then primary suppression of counts
// 1 to k-1, then complementary suppression until no suppressed cell can be
// worked out exactly from what is published (see the package
// documentation). Returns EINVALID naming the field of a bad option or row.
func Build(doses []DoseRow, tests []TestRow, opts Options) (Coverage, error) {
	if err := opts.normalise(); err != nil {
		return Coverage{}, err
	}
	weeks := weeksBetween(opts.From, opts.To, maxWeeks)
	col := map[string]int{}
	for i, w := range weeks {
		col[w] = i
	}
	var smp *sampler
	var es, et int64
	if opts.Noise != nil {
		var err error
		if es, et, err = opts.Noise.rational(); err != nil {
			return Coverage{}, err
		}
		r := opts.Rand
		if r == nil {
			r = rand.Reader
		}
		smp = &sampler{r: r}
	}

	// Row sets: fixed by the options, or taken from the data.
	jurs := slices.Clone(opts.Jurisdictions)
	products := slices.Clone(opts.Products)
	fixedJ, fixedP := jurs != nil, products != nil
	for i, r := range doses {
		if err := checkDose(i, r); err != nil {
			return Coverage{}, err
		}
		if !fixedJ {
			jurs = append(jurs, r.Jurisdiction)
		}
		if !fixedP {
			products = append(products, r.Product)
		}
	}
	for i, r := range tests {
		if err := checkTest(i, r); err != nil {
			return Coverage{}, err
		}
		if !fixedJ {
			jurs = append(jurs, r.Jurisdiction)
		}
	}
	slices.Sort(jurs)
	jurs = slices.Compact(jurs)
	slices.Sort(products)
	products = slices.Compact(products)
	jIndex := map[string]int{}
	for i, j := range jurs {
		jIndex[j] = i
	}
	pIndex := map[string]int{}
	for i, p := range products {
		pIndex[p] = i
	}

	// Dose counts: [jurisdiction][product*MaxDose + dose-1][week].
	nSeries := len(products) * opts.MaxDose
	dcells := make([][][]int64, len(jurs))
	for j := range dcells {
		dcells[j] = matrix(nSeries, len(weeks))
	}
	for _, r := range doses {
		w, ok := col[Week(r.Date.Time())]
		ji, okJ := jIndex[r.Jurisdiction]
		pi, okP := pIndex[r.Product]
		if !ok || !okJ || !okP {
			continue // outside the period or the fixed rows
		}
		d := min(r.DoseNumber, opts.MaxDose) - 1
		dcells[ji][pi*opts.MaxDose+d][w] += r.Count
	}
	tcells := matrix(len(jurs), len(weeks))
	for _, r := range tests {
		w, ok := col[Week(r.Date.Time())]
		ji, okJ := jIndex[r.Jurisdiction]
		if ok && okJ {
			tcells[ji][w] += r.Count
		}
	}

	out := Coverage{GeneratedAt: opts.GeneratedAt, From: weeks[0], To: weeks[len(weeks)-1], K: opts.K, Noise: opts.Noise, Doses: []Table{}}
	var seriesRows [][]string
	for _, p := range products {
		for d := 1; d <= opts.MaxDose; d++ {
			seriesRows = append(seriesRows, []string{p, doseLabel(d, opts.MaxDose)})
		}
	}
	for ji, j := range jurs {
		t, err := publish(dcells[ji], weeks, int64(opts.K), smp, es, et)
		if err != nil {
			return Coverage{}, err
		}
		t.Name, t.Jurisdiction, t.RowHeader, t.Rows = "doses", j, []string{"product", "dose"}, seriesRows
		out.Doses = append(out.Doses, t)
	}
	t, err := publish(tcells, weeks, int64(opts.K), smp, es, et)
	if err != nil {
		return Coverage{}, err
	}
	t.Name, t.RowHeader = "tests", []string{"jurisdiction"}
	for _, j := range jurs {
		t.Rows = append(t.Rows, []string{j})
	}
	out.Tests = t
	return out, nil
}

func matrix(r, c int) [][]int64 {
	m := make([][]int64, r)
	for i := range m {
		m[i] = make([]int64, c)
	}
	return m
}

// publish noises (optionally) and suppresses one table.
func publish(cells [][]int64, weeks []string, k int64, smp *sampler, es, et int64) (Table, error) {
	if smp != nil {
		noisy := matrix(len(cells), len(weeks))
		for i, row := range cells {
			for j, x := range row {
				z, err := smp.geometric2(uint64(es), uint64(et))
				if err != nil {
					return Table{}, err
				}
				noisy[i][j] = max(0, x+z)
			}
		}
		cells = noisy
	}
	g := newGrid(cells, len(weeks), k)
	g.suppress()
	return g.table(weeks), nil
}

// table renders the grid as a Table without labels.
func (g *grid) table(weeks []string) Table {
	val := func(i, j int) *int64 {
		if g.sup[i][j] {
			return nil
		}
		x := g.v[i][j]
		return &x
	}
	t := Table{Weeks: weeks, Rows: [][]string{}, Cells: make([][]*int64, g.R), RowTotals: make([]*int64, g.R), WeekTotals: make([]*int64, g.C)}
	for i := 0; i < g.R; i++ {
		t.Cells[i] = make([]*int64, g.C)
		for j := 0; j < g.C; j++ {
			t.Cells[i][j] = val(i, j)
		}
		t.RowTotals[i] = val(i, g.C)
	}
	for j := 0; j < g.C; j++ {
		t.WeekTotals[j] = val(g.R, j)
	}
	t.Total = val(g.R, g.C)
	for i := 0; i <= g.R; i++ {
		for j := 0; j <= g.C; j++ {
			if g.sup[i][j] {
				t.Suppressed++
			}
		}
	}
	return t
}
