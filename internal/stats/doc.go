// Package stats makes the only person-derived data that leaves Haven: fixed
// aggregate tables with small-cell suppression and optional noise, and a
// report of the sites and jurisdictions whose doses lag. It reads plain
// count rows (no person, no card code, no status of any kind) that the
// stores produce, and knows nothing about storage or HTTP.
//
// # Tables
//
// Build returns a Coverage for one release block: for each jurisdiction a
// table of doses by product and dose number (rows; dose numbers from
// MaxDose up share a row, "4+") and ISO week (columns), and one table of
// tests by jurisdiction and ISO week. Every table carries its row totals,
// week totals and grand total. The tables are fixed: the only choices are
// the period, k, the dose grouping, the row sets and the noise. There is no
// breakdown by residence or immigration status, nor any field that could
// carry one.
//
// Releases follow a fixed calendar: each ISO year is cut into blocks of
// four ISO weeks (1–4, 5–8, …, 49–52 or 53), and a release is the latest
// block that lies wholly within the requested period and has ended. Any
// two releases are therefore the same block or disjoint blocks. Without
// that, a request for weeks 1–5 and another for weeks 1–6 would give a
// suppressed week-6 cell as the difference of two published row totals.
// What remains: records entered late for a block already released change
// its counts, and the difference between two releases of the same block
// reveals them. Publish a block once, some time after it ends, or use
// keyed noise.
//
// # Suppression
//
// Each table, margins included, is protected on its own:
//
//  1. Primary: every count from 1 to k-1 (k = 11 by default, as in the CMS
//     cell-size rule) is withheld. Zeros are shown.
//  2. Complementary: a withheld cell must not be recoverable from what is
//     published. With the margins' signs flipped, each row and column of
//     the table sums to zero, so the table is a network: cells are edges
//     between row and column nodes, and the values an attacker cannot tell
//     apart are those reachable by moving ±1 around cycles of withheld
//     cells. Haven assumes the strongest attacker: one who knows that a
//     small withheld cell lies in [1, k-1] and a complementary one in
//     [k, ∞). A withheld cell is protected when a cycle of withheld cells
//     through it can move one step within those bounds; because the
//     constraint matrix is totally unimodular this test is exact (a cell
//     that is not protected has only one feasible value). Unprotected
//     cells get the cheapest such cycle (a shortest path, costed by the
//     values it withholds) until every withheld cell is protected, or, if
//     none exists, the whole table is withheld. Zeros are never withheld.
//
// The tests try to recover every withheld cell of hundreds of random tables
// from their published cells and margins, by linear algebra (differencing)
// and by a search over the bounds, and fail if any cell is pinned.
//
// Protection holds within one release; the fixed block calendar below
// keeps releases from overlapping.
//
// # Noise
//
// With Options.Noise, every interior cell gets discrete two-sided geometric
// noise before suppression, drawn with integer-only arithmetic from
// crypto/rand (see Noise for what ε means). Fresh noise on every request
// can be averaged away by asking many times; with Options.NoiseKey the
// noise of a table is drawn from a ChaCha8 stream seeded by
// HMAC-SHA-256(key, table, block, jurisdiction), so the same request gets
// the same noise. K and ε are operator settings; an analyst's request must
// not choose them, and Build refuses a k below DefaultK.
//
// # Gaps
//
// Gaps compares each site's and jurisdiction's doses in one ISO week with
// the median of its own previous weeks and with its peers (see Gaps for the
// exact definition). The report holds no counts (they could undo the
// coverage tables' suppression by differencing) and rounds ratios to one
// decimal; a unit whose week is below k gets its reasons but no ratio.
//
// # API
//
//	type DoseRow{Jurisdiction, Site, Product string; DoseNumber int; Date registry.Date; Count int64}
//	type TestRow{Jurisdiction, Site string; Date registry.Date; Count int64}
//	type Options{From, To time.Time; K, MaxDose int; Jurisdictions, Products []string; Noise *Noise; NoiseKey []byte; Rand io.Reader; GeneratedAt time.Time}
//	type Noise{Epsilon float64}
//	Build(doses []DoseRow, tests []TestRow, opts Options) (Coverage, error)
//	type Coverage{GeneratedAt, Block, From, To, K, Noise, Doses []Table, Tests Table}   JSON for GET /api/v1/stats/coverage
//	type Table{Name, Block, Jurisdiction, RowHeader, Rows, Weeks, Cells [][]*int64, RowTotals, WeekTotals, Total, Suppressed}
//	BlockWeeks = 4; DefaultK = 11; DefaultMaxDose = 4
//	WriteText(w, Coverage) error / WriteCSV(w, Coverage) error                    for haven stats
//	type GapOptions{Week time.Time; Baseline int; Ratio float64; MinBaseline int64; K int; GeneratedAt time.Time}
//	Gaps(doses []DoseRow, opts GapOptions) (GapReport, error)
//	type GapReport{GeneratedAt, Week, BaselineWeeks, Ratio, Judged, Skipped, Gaps []Gap}
//	type Gap{Level, Code, Jurisdiction string; Ratio, PeerRatio *float64; Reasons []string}
//	WriteGapsText(w, GapReport) error / WriteGapsCSV(w, GapReport) error
//	Week(t time.Time) string                                                      ISO week label, "2026-W05"
//
// A nil count in JSON (null) and "*" in text and CSV mean withheld. Bad
// options or rows fail with registry.EINVALID naming the field
// ("doses[3].count", "noise.epsilon").
package stats
