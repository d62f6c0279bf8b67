package stats

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	mrand "math/rand/v2"
	"slices"
	"time"
)

// Table is one published two-way table with its margins, for one release
// block. A nil count is a suppressed cell. Rows holds each row's labels,
// in the order RowHeader names them.
type Table struct {
	Name         string     `json:"table"`                  // "doses" or "tests"
	Block        string     `json:"block"`                  // the release block, "2026-W05/2026-W08"
	Jurisdiction string     `json:"jurisdiction,omitempty"` // for a dose table, whose doses
	RowHeader    []string   `json:"row_header"`             // ["product", "dose"] or ["jurisdiction"]
	Rows         [][]string `json:"rows"`
	Weeks        []string   `json:"weeks"`       // ISO weeks, "2026-W05"
	Cells        [][]*int64 `json:"cells"`       // [row][week]
	RowTotals    []*int64   `json:"row_totals"`  // per row, over the block
	WeekTotals   []*int64   `json:"week_totals"` // per week, over all rows
	Total        *int64     `json:"total"`
	Suppressed   int        `json:"suppressed"` // cells withheld, margins included
}

// Coverage is one aggregate release: for one finished block, one dose
// table per jurisdiction (product × dose number × ISO week) and one tests
// table (jurisdiction × ISO week). It is the only person-derived data
// that leaves Haven.
type Coverage struct {
	GeneratedAt time.Time `json:"generated_at"`
	Block       string    `json:"block"`          // the release block, "2026-W05/2026-W08"; empty if none
	From        string    `json:"from,omitempty"` // its first ISO week
	To          string    `json:"to,omitempty"`   // its last ISO week
	K           int       `json:"k"`              // counts below k (and cells that would reveal them) are withheld
	Noise       *Noise    `json:"noise,omitempty"`
	Doses       []Table   `json:"doses"` // by jurisdiction
	Tests       Table     `json:"tests"`
}

// Build makes the coverage tables from dose and test counts. A release
// covers one fixed block of BlockWeeks ISO weeks: the latest block that
// lies wholly within the period and ended before opts.GeneratedAt. So no
// two releases overlap in part (they are the same block or disjoint), and
// none can be differenced against another; if no block qualifies, the
// release is empty (Block is "", no tables). Rows outside the block are
// left out. Each table, margins
// included, goes through optional noise, then primary suppression of
// counts 1 to k-1, then complementary suppression until no suppressed
// cell can be worked out exactly from what is published (see the package
// documentation). Returns EINVALID naming the field of a bad option or
// row.
func Build(doses []DoseRow, tests []TestRow, opts Options) (Coverage, error) {
	if err := opts.normalise(); err != nil {
		return Coverage{}, err
	}
	var es, et int64
	if opts.Noise != nil {
		var err error
		if es, et, err = opts.Noise.rational(); err != nil {
			return Coverage{}, err
		}
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
	var seriesRows [][]string
	for _, p := range products {
		for d := 1; d <= opts.MaxDose; d++ {
			seriesRows = append(seriesRows, []string{p, doseLabel(d, opts.MaxDose)})
		}
	}
	jurRows := [][]string{}
	for _, j := range jurs {
		jurRows = append(jurRows, []string{j})
	}

	out := Coverage{GeneratedAt: opts.GeneratedAt, K: opts.K, Noise: opts.Noise, Doses: []Table{},
		Tests: Table{Name: "tests", RowHeader: []string{"jurisdiction"}, Rows: [][]string{}, Weeks: []string{}}}
	blocks := blocksWithin(opts.From, opts.To, opts.GeneratedAt)
	if len(blocks) == 0 {
		return out, nil
	}
	b := blocks[len(blocks)-1]
	var weeks []string
	col := map[string]int{}
	for c, m := range b.mondays {
		weeks = append(weeks, Week(m))
		col[Week(m)] = c
	}
	out.Block, out.From, out.To = b.label, weeks[0], weeks[len(weeks)-1]

	// Dose counts: [jurisdiction][product*MaxDose + dose-1][week].
	nSeries := len(products) * opts.MaxDose
	dcells := make([][][]int64, len(jurs))
	for j := range jurs {
		dcells[j] = matrix(nSeries, len(weeks))
	}
	tcells := matrix(len(jurs), len(weeks))
	for _, r := range doses {
		c, ok := col[Week(r.Date.Time())]
		ji, okJ := jIndex[r.Jurisdiction]
		pi, okP := pIndex[r.Product]
		if !ok || !okJ || !okP {
			continue // outside the block or the fixed rows
		}
		d := min(r.DoseNumber, opts.MaxDose) - 1
		dcells[ji][pi*opts.MaxDose+d][c] += r.Count
	}
	for _, r := range tests {
		c, ok := col[Week(r.Date.Time())]
		ji, okJ := jIndex[r.Jurisdiction]
		if ok && okJ {
			tcells[ji][c] += r.Count
		}
	}

	for ji, j := range jurs {
		smp, err := opts.sampler("doses", b.label, j)
		if err != nil {
			return Coverage{}, err
		}
		t, err := publish(dcells[ji], weeks, int64(opts.K), smp, es, et)
		if err != nil {
			return Coverage{}, err
		}
		t.Name, t.Block, t.Jurisdiction, t.RowHeader, t.Rows = "doses", b.label, j, []string{"product", "dose"}, seriesRows
		out.Doses = append(out.Doses, t)
	}
	smp, err := opts.sampler("tests", b.label, "")
	if err != nil {
		return Coverage{}, err
	}
	t, err := publish(tcells, weeks, int64(opts.K), smp, es, et)
	if err != nil {
		return Coverage{}, err
	}
	t.Name, t.Block, t.RowHeader, t.Rows = "tests", b.label, []string{"jurisdiction"}, jurRows
	out.Tests = t
	return out, nil
}

// sampler returns the noise source of one table: nil without noise; a
// stream keyed by NoiseKey and the table's identity when a key is set (so a
// repeated request cannot average the noise away); crypto/rand otherwise.
func (o *Options) sampler(table, blk, jur string) (*sampler, error) {
	if o.Noise == nil {
		return nil, nil
	}
	if o.NoiseKey == nil {
		r := o.Rand
		if r == nil {
			r = rand.Reader
		}
		return &sampler{r: r}, nil
	}
	m := hmac.New(sha256.New, o.NoiseKey)
	for _, s := range []string{"haven/stats/noise/v1", table, blk, jur} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	var seed [32]byte
	copy(seed[:], m.Sum(nil))
	return &sampler{r: mrand.NewChaCha8(seed)}, nil
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
