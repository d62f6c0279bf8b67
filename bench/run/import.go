package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// goalImport is issue 13's goal for haven import into SQLite, durable at
// the end.
const goalImport = 50000.0 // doses/s

// importSource is the --source of the import and of its re-run: the same,
// so that the re-run finds every record again.
const importSource = "bench-import"

// importGroup measures haven import of a generated NDJSON file into a
// fresh SQLite data folder, beside raw batched SQLite inserts, then runs
// the same import again and checks that it added nothing.
func (r *runner) importGroup(ctx context.Context) error {
	n := r.opts.importDoses
	persons := (n + 2) / 3
	m := r.measure(&measure{ID: "import", Kind: kindRate, Evaluated: "no (imported history is stored, not evaluated; the persons have birth dates)",
		Name:  fmt.Sprintf("`haven import` into SQLite, NDJSON, %s doses over %s persons, durable at the end (goal ≥ 50,000 doses/s)", thousands(float64(n)), thousands(float64(persons))),
		Haven: &side{What: "haven import FILE (default --workers 8), timed from its start to its exit"},
		Floor: &side{What: "modernc.org/sqlite, WAL, synchronous=FULL, one connection: rows of the vaccinations table's shape, 100 per transaction"}})
	rerun := r.measure(&measure{ID: "import-rerun", Kind: kindRate, Evaluated: "–",
		Name:  "`haven import` of the same file again (goal: adds nothing)",
		Haven: &side{What: "haven import FILE, the same --source, on the imported data folder"}})
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("Import: one generated NDJSON file of %s doses (3 a person, consecutive lines; the person's fields on their first line), "+
		"imported once into a fresh SQLite data folder, then again; the SQLite floor runs after it for %s one row per transaction, then %s 100 per transaction.",
		thousands(float64(n)), r.opts.duration, r.opts.duration))

	bin, err := r.haven(ctx)
	if err != nil {
		return fail(err, m, rerun)
	}
	dir, err := os.MkdirTemp(r.tmp, "import-")
	if err != nil {
		return fail(err, m, rerun)
	}
	defer os.RemoveAll(dir)
	// The data folder with its key ring and the site the doses name,
	// made by a haven serve stopped before the import.
	data := filepath.Join(dir, "data")
	h, err := startHaven(ctx, bin, data, "")
	if err != nil {
		return fail(err, m, rerun)
	}
	h.stop()
	file := filepath.Join(dir, "doses.ndjson")
	size, err := writeImportFile(file, n, h.site)
	if err != nil {
		return fail(err, m, rerun)
	}
	r.logf("[import] %s: %s doses over %s persons, %s MiB", file, thousands(float64(n)), thousands(float64(persons)), sig3(float64(size)/(1<<20)))

	dbPath := filepath.Join(data, "haven.db")
	before, err := countRecords(ctx, dbPath)
	if err != nil {
		return fail(err, m, rerun)
	}
	first, err := runImport(ctx, bin, data, file, filepath.Join(dir, "rejects-1.csv"))
	if err != nil {
		return fail(err, m, rerun)
	}
	after, err := countRecords(ctx, dbPath)
	if err != nil {
		return fail(err, m, rerun)
	}
	rate := float64(n) / first.took.Seconds()
	r.logf("[import] first run: %s doses/s (%s in %s); persons %s → %s, doses %s → %s; it said: %s", thousands(rate), thousands(float64(n)),
		formatDuration(first.took), thousands(float64(before.persons)), thousands(float64(after.persons)),
		thousands(float64(before.doses)), thousands(float64(after.doses)), first.summary)
	if got := after.sub(before); got.persons != int64(persons) || got.doses != int64(n) {
		return fail(fmt.Errorf("the import added %d persons and %d doses, want %d and %d (it said: %s)", got.persons, got.doses, persons, n, first.summary), m, rerun)
	}

	second, err := runImport(ctx, bin, data, file, filepath.Join(dir, "rejects-2.csv"))
	if err != nil {
		return fail(err, rerun)
	}
	again, err := countRecords(ctx, dbPath)
	if err != nil {
		return fail(err, rerun)
	}
	rerunRate := float64(n) / second.took.Seconds()
	r.logf("[import] second run: %s lines/s (%s in %s); persons %s → %s, doses %s → %s; it said: %s", thousands(rerunRate), thousands(float64(n)),
		formatDuration(second.took), thousands(float64(after.persons)), thousands(float64(again.persons)),
		thousands(float64(after.doses)), thousands(float64(again.doses)), second.summary)
	added := again.sub(after)
	rerun.addRound(sample{PerSecond: rerunRate, Count: n, Seconds: second.took.Seconds()}, nil)
	if added.persons == 0 && added.doses == 0 {
		rerun.Cell = fmt.Sprintf("**adds nothing**: persons %s and doses %s before and after; %s lines/s (%s in %s)",
			thousands(float64(again.persons)), thousands(float64(again.doses)), thousands(rerunRate), thousands(float64(n)), formatDuration(second.took))
	} else {
		rerun.Cell = fmt.Sprintf("**added %d persons and %d doses**", added.persons, added.doses)
	}
	rerun.Note = fmt.Sprintf("Counted with `SELECT count(*)` on the persons and vaccinations tables of the data folder's haven.db (database/sql, modernc.org/sqlite) "+
		"before and after each run. The first run said: %s. The second: %s. Goal (adds nothing): %s.",
		first.summary, second.summary, metWord(added.persons == 0 && added.doses == 0))

	fdir, err := os.MkdirTemp(r.tmp, "sqlite-")
	if err != nil {
		return fail(err, m)
	}
	defer os.RemoveAll(fdir)
	f, err := runSQLiteFloor(ctx, fdir, r.opts.duration, persons)
	if err != nil {
		return fail(err, m)
	}
	r.logf("[import] raw inserts: %s rows/s one per transaction, %s rows/s 100 per transaction", thousands(f.single), thousands(f.batched))
	m.addRound(sample{PerSecond: rate, Count: n, Seconds: first.took.Seconds()}, &sample{PerSecond: f.batched})
	m.Floor.What = fmt.Sprintf("modernc.org/sqlite, WAL, synchronous=FULL, one connection: rows of the vaccinations table's shape, "+
		"100 per transaction (one per transaction: %s rows/s)", thousands(f.single))
	m.Extra = map[string][]float64{"goal_ratio": {rate / goalImport}, "floor_one_row_per_transaction_per_second": {f.single}}
	m.Note = fmt.Sprintf("`haven --data DIR import --source %s --rejects FILE doses.ndjson` on a data folder that a haven serve had set up "+
		"(key ring, migrations, site %s) and stopped; each line {person, key, product, date, site, lot, source: administered}, the first of "+
		"a person with birth_date and sex. Timed from the start of the process to its exit (%s wall, %s/s: %s of the goal of 50,000 doses/s, "+
		"goal %s); it said: %s. Every dose goes through validation, encryption and an audit entry.",
		importSource, h.site, formatDuration(first.took), thousands(rate), formatRatio(rate/goalImport), metWord(rate >= goalImport), first.summary)
	return nil
}

// writeImportFile writes n doses, three a person, as haven import's
// NDJSON, and returns the file's size.
func writeImportFile(path string, n int, site string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	products := [...]string{"coronavac", "bbibp-corv", "comirnaty", "zf2001"}
	months := [...]string{"03", "05", "11"} // far enough apart to be valid doses
	for i := range n {
		p, d := i/3, i%3
		person := ""
		if d == 0 {
			person = fmt.Sprintf(`"birth_date":"%d-%02d-%02d","sex":%q,`, 1950+p%60, 1+p%12, 1+p%28, [...]string{"female", "male"}[p%2])
		}
		fmt.Fprintf(w, `{"person":"P%d",%s"key":"D%d","product":%q,"date":"2021-%s-%02d","site":%q,"lot":"L%d","source":"administered"}`+"\n",
			p, person, i, products[p%4], months[d], 1+p%28, site, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	return fi.Size(), f.Close()
}

// importRun is one haven import: its wall time and its summary line.
type importRun struct {
	took    time.Duration
	summary string
}

// runImport runs haven import of file on the data folder and times it
// from start to exit.
func runImport(ctx context.Context, bin, data, file, rejects string) (importRun, error) {
	cmd := exec.CommandContext(ctx, bin, "--data", data, "import", "--source", importSource, "--rejects", rejects, file)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t := time.Now()
	err := cmd.Run()
	took := time.Since(t)
	summary, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), "\n")
	if i := strings.Index(summary, " ("); i > 0 && strings.HasSuffix(summary, ")") {
		summary = summary[:i] // the rejects file's path
	}
	if err != nil {
		return importRun{}, fmt.Errorf("haven import: %w: %s %s", err, strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()))
	}
	return importRun{took: took, summary: summary}, nil
}

// records counts the rows of a Haven database.
type records struct{ persons, doses int64 }

func (a records) sub(b records) records { return records{a.persons - b.persons, a.doses - b.doses} }

// countRecords counts the persons and the vaccinations in the SQLite
// database at path.
func countRecords(ctx context.Context, path string) (records, error) {
	var c records
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return c, err
	}
	defer db.Close()
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM persons").Scan(&c.persons); err != nil {
		return c, fmt.Errorf("count persons in %s: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM vaccinations").Scan(&c.doses); err != nil {
		return c, fmt.Errorf("count vaccinations in %s: %w", path, err)
	}
	return c, nil
}
