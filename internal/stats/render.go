package stats

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// SuppressedMark stands for a withheld count in text and CSV output.
const SuppressedMark = "*"

func cellText(x *int64) string {
	if x == nil {
		return SuppressedMark
	}
	return strconv.FormatInt(*x, 10)
}

// WriteText renders the coverage tables for a terminal (haven stats): one
// block per table, weeks across, with row and week totals.
func WriteText(w io.Writer, c Coverage) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if c.Block == "" {
		fmt.Fprintf(tw, "No finished %d-week block lies wholly within the period: nothing to publish.\n", BlockWeeks)
		return tw.Flush()
	}
	fmt.Fprintf(tw, "Coverage %s (%s to %s), counts below %d withheld (%s)", c.Block, c.From, c.To, c.K, SuppressedMark)
	if c.Noise != nil {
		fmt.Fprintf(tw, ", geometric noise ε=%g", c.Noise.Epsilon)
	}
	fmt.Fprint(tw, "\n")
	for _, t := range c.inOrder() {
		title := "Tests by jurisdiction and week"
		if t.Name == "doses" {
			title = "Doses in " + t.Jurisdiction + " by product, dose and week"
		}
		fmt.Fprintf(tw, "\n%s\n", title)
		head := append(append(append([]string{}, t.RowHeader...), t.Weeks...), "total")
		fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
		for i, labels := range t.Rows {
			cells := append([]string{}, labels...)
			for _, x := range t.Cells[i] {
				cells = append(cells, cellText(x))
			}
			cells = append(cells, cellText(t.RowTotals[i]))
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
		cells := []string{"total"}
		for range len(t.RowHeader) - 1 {
			cells = append(cells, "")
		}
		for _, x := range t.WeekTotals {
			cells = append(cells, cellText(x))
		}
		cells = append(cells, cellText(t.Total))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}

// inOrder lists the tables of a release: the dose tables, then the tests
// table; none for an empty release.
func (c Coverage) inOrder() []Table {
	if c.Block == "" {
		return nil
	}
	return append(append([]Table{}, c.Doses...), c.Tests)
}

// CSVHeader is the header of WriteCSV's long format.
var CSVHeader = []string{"table", "block", "jurisdiction", "product", "dose", "week", "count"}

// WriteCSV renders the coverage tables in long format, one cell per line:
// table,block,jurisdiction,product,dose,week,count. Margins use "total" in
// place of the label they sum over; a withheld count is "*".
func WriteCSV(w io.Writer, c Coverage) error {
	cw := csv.NewWriter(w)
	cw.Write(CSVHeader)
	emit := func(t Table, labels []string, week string, x *int64) {
		var rec []string
		if t.Name == "doses" {
			rec = []string{"doses", t.Block, t.Jurisdiction, labels[0], labels[1], week, cellText(x)}
		} else {
			rec = []string{"tests", t.Block, labels[0], "", "", week, cellText(x)}
		}
		cw.Write(rec)
	}
	for _, t := range c.inOrder() {
		total := make([]string, len(t.RowHeader))
		for i := range total {
			total[i] = "total"
		}
		for i, labels := range t.Rows {
			for j, x := range t.Cells[i] {
				emit(t, labels, t.Weeks[j], x)
			}
			emit(t, labels, "total", t.RowTotals[i])
		}
		for j, x := range t.WeekTotals {
			emit(t, total, t.Weeks[j], x)
		}
		emit(t, total, "total", t.Total)
	}
	cw.Flush()
	return cw.Error()
}

// WriteGapsText renders a gap report for a terminal. A ratio that is
// withheld or unknown shows as "-".
func WriteGapsText(w io.Writer, r GapReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Gaps in %s (baseline: median of %s to %s; lag below %.2f×): %d judged, %d too small to judge\n",
		r.Week, first(r.BaselineWeeks), last(r.BaselineWeeks), r.Ratio, r.Judged, r.Skipped)
	fmt.Fprintln(tw, "level\tcode\tjurisdiction\tratio\tpeer ratio\treasons")
	for _, g := range r.Gaps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", g.Level, g.Code, g.Jurisdiction,
			floatText(g.Ratio), floatText(g.PeerRatio), strings.Join(g.Reasons, ","))
	}
	return tw.Flush()
}

// WriteGapsCSV renders a gap report as CSV with the columns of WriteGapsText.
func WriteGapsCSV(w io.Writer, r GapReport) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"week", "level", "code", "jurisdiction", "ratio", "peer_ratio", "reasons"})
	for _, g := range r.Gaps {
		cw.Write([]string{r.Week, g.Level, g.Code, g.Jurisdiction, floatText(g.Ratio), floatText(g.PeerRatio), strings.Join(g.Reasons, " ")})
	}
	cw.Flush()
	return cw.Error()
}

func floatText(x *float64) string {
	if x == nil {
		return "-"
	}
	return strconv.FormatFloat(*x, 'f', 1, 64)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}
