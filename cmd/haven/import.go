package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

// importColumns is the one layout "haven import" reads: a CSV header with
// these names (in any order; absent columns are empty), or NDJSON objects
// with the same keys. Each line is one record of one person; the lines of a
// person share "person" (the source's own ID for them) or "card_code" (a
// person already in Haven). importHelp is its help topic.
var importColumns = []string{
	"person", "card_code", "given_name", "family_name", "birth_date", "birth_date_estimated", "sex", "phone",
	"type", "key", "product", "cvx", "mvx", "date", "site", "lot", "source", "payment", "amount", "currency",
	"not_given", "reason", "kind", "result",
}

const importHelp = `usage: haven import [--source NAME] [--format csv|ndjson] [--rejects FILE] [--cards FILE] [--workers N] FILE

Loads persons, doses and tests from FILE (CSV with a header, or NDJSON), for
example a clinic's paper backlog or another registry's export. Every line
goes through the same validation, encryption and audit as the API. A line is
one record: type "vaccination" (the default) or "test", with its own key
(the source's ID for the record, required). Lines of one person share
"person" (the source's ID for them; the first line registers the person,
with the given_name, family_name, birth_date, sex and phone it has) or
"card_code" (a person already registered). Re-running an import adds
nothing twice: persons and records are found again by keyed hashes of
their source IDs under --source.

Columns: ` + "person, card_code, given_name, family_name, birth_date, birth_date_estimated, sex, phone, type, key, product, cvx, mvx, date, site, lot, source, payment, amount, currency, not_given, reason, kind, result" + `

  --source NAME    the source system (default: FILE's base name without extension); keep it for re-runs
  --format F       csv or ndjson (default: from the file name; .ndjson/.jsonl are NDJSON)
  --rejects FILE   where to write the rejected lines (default FILE.rejects.csv)
  --cards FILE     also write person,card_code for every person of the file (the cards to print)
  --workers N      persons imported at once (default 8)
`

// importLine is one line of an import, with its number in the file.
type importLine struct {
	n      int
	fields map[string]string
}

// importGroup is the consecutive lines of one person.
type importGroup struct {
	person, card string
	lines        []importLine
}

// importStats counts what an import did.
type importStats struct {
	mu                             sync.Mutex
	lines, registered, matched     int
	vaccinations, tests, unchanged int
	rejected                       int
	bytesRead, bytesTotal          int64
	rejects                        *csv.Writer
	cards                          *csv.Writer
	seenCards                      map[string]bool
	started                        time.Time
}

func (st *importStats) reject(n int, field, msg string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.rejected++
	_ = st.rejects.Write([]string{strconv.Itoa(n), field, msg})
}

// importCommand implements "haven import".
func importCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	source := fs.String("source", "", "the source system (default: FILE's base name without extension); keep it for re-runs")
	format := fs.String("format", "", "csv or ndjson (default: from the file name; .ndjson and .jsonl are NDJSON)")
	rejectsPath := fs.String("rejects", "", "where to write the rejected lines (default FILE.rejects.csv)")
	cardsPath := fs.String("cards", "", "also write person,card_code for every person of the file (the cards to print)")
	workers := fs.Int("workers", 8, "persons imported at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{errors.New("usage: haven import [--source NAME] [--format csv|ndjson] [--rejects FILE] [--cards FILE] [--workers N] FILE")}
	}
	path := fs.Arg(0)
	if *source == "" {
		*source = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if *format == "" {
		*format = "csv"
		if ext := strings.ToLower(filepath.Ext(path)); ext == ".ndjson" || ext == ".jsonl" {
			*format = "ndjson"
		}
	}
	if *format != "csv" && *format != "ndjson" {
		return &usageError{fmt.Errorf("--format %q: want csv or ndjson", *format)}
	}
	if *workers < 1 || *workers > 256 {
		return &usageError{fmt.Errorf("--workers %d: want 1 to 256", *workers)}
	}
	if *rejectsPath == "" {
		*rejectsPath = path + ".rejects.csv"
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}

	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := openVault(env)
	if err != nil {
		return err
	}
	if v.Sealed() {
		return registry.Errorf(registry.ESEALED, "Haven is sealed; run haven unlock first.")
	}
	svc := operatorService(env, db, v)

	rf, err := os.Create(*rejectsPath)
	if err != nil {
		return err
	}
	defer rf.Close()
	st := &importStats{rejects: csv.NewWriter(rf), bytesTotal: fi.Size(), started: time.Now(), seenCards: map[string]bool{}}
	_ = st.rejects.Write([]string{"line", "field", "error"})
	if *cardsPath != "" {
		cf, err := os.OpenFile(*cardsPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer cf.Close()
		st.cards = csv.NewWriter(cf)
		_ = st.cards.Write([]string{"person", "card_code"})
		defer st.cards.Flush()
	}

	groups := make(chan importGroup, *workers*2)
	var wg sync.WaitGroup
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range groups {
				importPerson(ctx, svc, *source, g, st)
			}
		}()
	}
	progress := newProgress(env, st)
	readErr := readImport(ctx, f, *format, st, groups)
	close(groups)
	wg.Wait()
	progress.stop()
	st.rejects.Flush()
	if err := st.rejects.Error(); err != nil {
		return fmt.Errorf("writing %s: %w", *rejectsPath, err)
	}
	fmt.Fprintf(env.Stdout, "lines %d: persons registered %d, found %d; vaccinations recorded %d, tests recorded %d; already imported %d; rejected %d (%s)\n",
		st.lines, st.registered, st.matched, st.vaccinations, st.tests, st.unchanged, st.rejected, *rejectsPath)
	fmt.Fprintf(env.Stdout, "took %s\n", time.Since(st.started).Round(time.Millisecond))
	if readErr != nil {
		return readErr
	}
	if st.rejected > 0 {
		return fmt.Errorf("%d lines rejected; see %s (line, field, error)", st.rejected, *rejectsPath)
	}
	return nil
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r  io.Reader
	st *importStats
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.st.mu.Lock()
	c.st.bytesRead += int64(n)
	c.st.mu.Unlock()
	return n, err
}

// readImport reads the file line by line and sends each run of lines of one
// person as a group. A line that cannot be read is rejected.
func readImport(ctx context.Context, r io.Reader, format string, st *importStats, out chan<- importGroup) error {
	br := bufio.NewReaderSize(countingReader{r, st}, 1<<16)
	var cur importGroup
	flush := func() {
		if len(cur.lines) > 0 {
			out <- cur
		}
		cur = importGroup{}
	}
	add := func(l importLine) {
		st.mu.Lock()
		st.lines++
		st.mu.Unlock()
		person, card := strings.TrimSpace(l.fields["person"]), strings.TrimSpace(l.fields["card_code"])
		if person == "" && card == "" {
			st.reject(l.n, "person", "Each line needs person (the source's ID for the person) or card_code.")
			return
		}
		if strings.TrimSpace(l.fields["key"]) == "" {
			st.reject(l.n, "key", "Each line needs key, the source's ID for the record, so that a re-run adds nothing twice.")
			return
		}
		if person != cur.person || card != cur.card {
			flush()
			cur.person, cur.card = person, card
		}
		cur.lines = append(cur.lines, l)
	}
	if format == "ndjson" {
		n := 0
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				n++
				if s := strings.TrimSpace(string(line)); s != "" {
					fields, ferr := ndjsonFields(s)
					if ferr != nil {
						st.reject(n, "", ferr.Error())
					} else {
						add(importLine{n: n, fields: fields})
					}
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		flush()
		return nil
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("line 1: the file needs a header line naming its columns: %w", err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !knownColumn(h) {
			return fmt.Errorf("line 1: unknown column %q; the columns are: %s", h, strings.Join(importColumns, ", "))
		}
		cols[i] = h
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			st.reject(line, "", "Not a CSV line: "+err.Error())
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				continue
			}
			return err
		}
		if len(rec) > len(cols) {
			st.reject(line, "", fmt.Sprintf("The line has %d fields; the header names %d.", len(rec), len(cols)))
			continue
		}
		fields := make(map[string]string, len(rec))
		for i, v := range rec {
			fields[cols[i]] = v
		}
		add(importLine{n: line, fields: fields})
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	flush()
	return nil
}

func knownColumn(c string) bool {
	for _, k := range importColumns {
		if c == k {
			return true
		}
	}
	return false
}

// ndjsonFields reads one NDJSON object of strings (and booleans or numbers,
// kept as written).
func ndjsonFields(s string) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("Not a JSON object: %v", err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if !knownColumn(k) {
			return nil, fmt.Errorf("Unknown field %q; the fields are: %s", k, strings.Join(importColumns, ", "))
		}
		var str string
		if err := json.Unmarshal(v, &str); err == nil {
			out[k] = str
			continue
		}
		out[k] = strings.Trim(string(v), " ")
	}
	return out, nil
}

var recordIndex = regexp.MustCompile(`^(vaccinations|tests)\[(\d+)\]\.?(.*)$`)

// importPerson imports one person's lines as one history batch. When the
// actions refuse a record, its line is rejected and the rest are tried
// again, so that one bad line costs only itself.
func importPerson(ctx context.Context, svc *clinic.Service, source string, g importGroup, st *importStats) {
	lines := g.lines
	conflicts := 0
	for len(lines) > 0 && ctx.Err() == nil {
		in, vLines, tLines, bad := historyInput(source, g, lines, st)
		if len(bad) > 0 {
			lines = without(lines, bad)
			continue
		}
		res, err := svc.RecordHistory(ctx, clinic.Operator(), in, "")
		if err == nil {
			st.mu.Lock()
			if res.Registered {
				st.registered++
			} else if !st.seenCards[string(res.Card)] {
				st.matched++
			}
			st.vaccinations += len(res.Vaccinations)
			st.tests += len(res.Tests)
			st.unchanged += res.Unchanged
			if st.cards != nil && !st.seenCards[string(res.Card)] {
				_ = st.cards.Write([]string{g.person, string(res.Card)})
			}
			st.seenCards[string(res.Card)] = true
			st.mu.Unlock()
			return
		}
		field := registry.ErrorField(err)
		m := recordIndex.FindStringSubmatch(field)
		switch {
		case m != nil:
			i, _ := strconv.Atoi(m[2])
			idx := vLines
			if m[1] == "tests" {
				idx = tLines
			}
			if i >= len(idx) {
				rejectAll(lines, field, err, st)
				return
			}
			st.reject(idx[i].n, m[3], registry.ErrorMessage(err))
			lines = without(lines, []int{idx[i].n})
		case (registry.ErrorCode(err) == registry.ECONFLICT || registry.ErrorCode(err) == registry.EUNAVAILABLE) && conflicts < 3:
			// Another worker registered the same person a moment ago, or
			// the store was busy: try the batch again once it is settled.
			conflicts++
			time.Sleep(time.Duration(conflicts) * 50 * time.Millisecond)
		default:
			rejectAll(lines, strings.TrimPrefix(field, "person."), err, st)
			return
		}
	}
}

func rejectAll(lines []importLine, field string, err error, st *importStats) {
	for _, l := range lines {
		st.reject(l.n, field, registry.ErrorMessage(err))
	}
}

func without(lines []importLine, bad []int) []importLine {
	out := lines[:0:0]
	for _, l := range lines {
		drop := false
		for _, b := range bad {
			drop = drop || l.n == b
		}
		if !drop {
			out = append(out, l)
		}
	}
	return out
}

// historyInput builds the batch of a person's lines. bad lists the lines
// rejected while reading them (an unknown type, a bad flag).
func historyInput(source string, g importGroup, lines []importLine, st *importStats) (in clinic.HistoryInput, vLines, tLines []importLine, bad []int) {
	in = clinic.HistoryInput{Source: source, Card: registry.CardCode(g.card), PersonKey: g.person}
	first := lines[0].fields
	in.Person = clinic.PersonInput{GivenName: first["given_name"], FamilyName: first["family_name"], BirthDate: first["birth_date"],
		BirthDateEstimated: isTrue(first["birth_date_estimated"]), Sex: first["sex"], Phone: first["phone"]}
	if g.card != "" {
		card, err := registry.ParseCardCode(g.card)
		if err != nil {
			for _, l := range lines {
				st.reject(l.n, "card_code", "Not a card code.")
				bad = append(bad, l.n)
			}
			return
		}
		in.Card = card
	}
	for _, l := range lines {
		f := l.fields
		switch t := strings.ToLower(strings.TrimSpace(f["type"])); t {
		case "", "vaccination":
			hv := clinic.HistoryVaccination{Key: f["key"], Product: f["product"], CVX: strings.TrimSpace(f["cvx"]), MVX: strings.TrimSpace(f["mvx"]),
				Date: f["date"], Site: f["site"], Lot: f["lot"], Source: f["source"], NotGiven: isTrue(f["not_given"]), Reason: f["reason"]}
			if hv.Source == "" {
				hv.Source = string(registry.SourceHistoricalRecord)
			}
			if p := strings.TrimSpace(f["payment"]); p != "" {
				hv.Payment = &registry.Payment{Kind: p, Amount: f["amount"], Currency: f["currency"]}
			}
			in.Vaccinations = append(in.Vaccinations, hv)
			vLines = append(vLines, l)
		case "test":
			in.Tests = append(in.Tests, clinic.HistoryTest{Key: f["key"],
				TestInput: clinic.TestInput{Kind: f["kind"], Result: f["result"], Date: f["date"], Site: f["site"]}})
			tLines = append(tLines, l)
		default:
			st.reject(l.n, "type", fmt.Sprintf("Type must be vaccination or test, not %q.", t))
			bad = append(bad, l.n)
		}
	}
	return
}

func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "y":
		return true
	}
	return false
}

// progress draws a progress bar with the rate and an ETA on stderr when it
// is a terminal, four times a second.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func newProgress(env *commandEnv, st *importStats) *progress {
	p := &progress{done: make(chan struct{})}
	f, ok := env.Stderr.(*os.File)
	if !ok {
		return p
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				draw(f, st)
				fmt.Fprintln(f)
				return
			case <-t.C:
				draw(f, st)
			}
		}
	}()
	return p
}

func (p *progress) stop() { close(p.done); p.wg.Wait() }

func draw(w io.Writer, st *importStats) {
	st.mu.Lock()
	read, total, lines, rejected := st.bytesRead, st.bytesTotal, st.lines, st.rejected
	st.mu.Unlock()
	elapsed := time.Since(st.started).Seconds()
	frac := 0.0
	if total > 0 {
		frac = min(1, float64(read)/float64(total))
	}
	const width = 30
	bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("░", width-int(frac*width))
	rate := float64(lines) / max(elapsed, 0.001)
	eta := "--"
	if frac > 0.01 && frac < 1 {
		eta = (time.Duration(elapsed/frac*(1-frac)) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(w, "\r%s %3.0f%%  %d lines  %.0f lines/s  ETA %s  rejected %d ", bar, frac*100, lines, rate, eta, rejected)
}
