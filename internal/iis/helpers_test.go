package iis_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/iis"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/vault"
)

// now is the fixtures' clock: after every dose date in the samples.
var now = time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)

// sampleCard is the card code the samples in internal/hl7/testdata carry in
// PID-3 and QPD-3; tests replace it with one registered in their fixture.
const sampleCard = "7KQM-X4TD-9HCA"

// siteCodes are the sites every fixture has: the facilities the samples
// name in RXA-11.4 (decoded), and one more for a vaccinator elsewhere.
var siteCodes = []string{"YB-1", "YB-2", "CLINIC-3", "Clinic A~2", "종로보건소", "延吉诊所"}

// admin is the administrator of the tests.
var admin = clinic.Actor{TokenID: "tk_admin", Role: registry.RoleAdmin, Addr: "192.0.2.9"}

// vaccinator is a vaccinator at sites. Vaccinators differ only in their
// sites; they share a token ID, so they share idempotency keys.
func vaccinator(sites ...string) clinic.Actor {
	return clinic.Actor{TokenID: "tk_vax", Role: registry.RoleVaccinator, Sites: sites, Addr: "192.0.2.1"}
}

// fixture is a clinic service on a SQLite store in a temporary folder, with
// an HL7 handler whose log (and the service's) goes to a buffer.
type fixture struct {
	dir    string
	db     *sqlite.DB
	svc    *clinic.Service
	h      *iis.Handler
	log    *syncBuffer
	closed bool
}

// newFixture builds a fixture; reportUpstream queues doses for the feed.
func newFixture(tb testing.TB, reportUpstream bool) *fixture {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, "haven.db")
	tmpl, err := migratedDB()
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, tmpl, 0o600); err != nil {
		tb.Fatal(err)
	}
	db, err := sqlite.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.CheckSchema(context.Background()); err != nil {
		tb.Fatal(err)
	}
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	buf := new(syncBuffer)
	logger := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	lim := clinic.ReadLimits(100000)
	svc := clinic.New(clinic.Deps{Logger: logger, Store: db, Vault: v, Catalog: catalog.Default(), Schedule: "cdc",
		Limits: &lim, Now: func() time.Time { return now }, ReportUpstream: reportUpstream})
	f := &fixture{dir: dir, db: db, svc: svc, h: iis.NewHandler(svc, logger, "HAVEN-IIS"), log: buf}
	tb.Cleanup(func() { f.close(tb) })
	return f
}

// close closes the store (once).
func (f *fixture) close(tb testing.TB) {
	tb.Helper()
	if f.closed {
		return
	}
	f.closed = true
	if err := f.db.Close(); err != nil {
		tb.Errorf("closing the store: %v", err)
	}
}

// migratedDB returns the bytes of a migrated database with the sites, made
// once: migrating takes most of a fixture's time.
var migratedDB = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "haven-iis-test-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	path := filepath.Join(dir, "haven.db")
	db, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx, now); err != nil {
		db.Close()
		return nil, err
	}
	for _, code := range siteCodes {
		if _, err := db.CreateSite(ctx, registry.Site{Code: code, Name: code, Jurisdiction: "CN-JL-YB",
			Services: []string{registry.ServiceVaccination, registry.ServiceTesting}, CreatedAt: now}, registry.Write{}); err != nil {
			db.Close()
			return nil, err
		}
	}
	// Closing checkpoints the WAL into the database file.
	if err := db.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

// register registers a person and returns their card code.
func (f *fixture) register(tb testing.TB, in clinic.PersonInput) registry.CardCode {
	tb.Helper()
	reg, err := f.svc.RegisterPerson(context.Background(), vaccinator("YB-1"), in, "")
	if err != nil {
		tb.Fatal(err)
	}
	return reg.Record.Person.CardCode
}

// record reads a person's record as a vaccinator.
func (f *fixture) record(tb testing.TB, card registry.CardCode) *registry.Record {
	tb.Helper()
	rec, err := f.svc.ReadRecord(context.Background(), vaccinator("YB-1"), card, "care")
	if err != nil {
		tb.Fatalf("ReadRecord(%s): %v", card, err)
	}
	return rec
}

// count returns the number of rows in a table.
func (f *fixture) count(tb testing.TB, table string) int {
	tb.Helper()
	var n int
	if err := f.db.DB().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// counts returns the rows of the tables a VXU writes to.
func (f *fixture) counts(tb testing.TB) map[string]int {
	tb.Helper()
	out := map[string]int{}
	for _, t := range []string{"persons", "vaccinations", "tests", "outbox"} {
		out[t] = f.count(tb, t)
	}
	return out
}

// auditSince returns the access-log entries after seq.
func (f *fixture) auditSince(tb testing.TB, seq uint64) []audit.Entry {
	tb.Helper()
	var out []audit.Entry
	if err := f.db.Scan(context.Background(), seq+1, func(e audit.Entry) error {
		out = append(out, e)
		return nil
	}); err != nil && registry.ErrorCode(err) != registry.ENOTFOUND {
		tb.Fatal(err)
	}
	return out
}

// lastAudit returns the sequence number of the last access-log entry.
func (f *fixture) lastAudit(tb testing.TB) uint64 {
	tb.Helper()
	e, err := f.db.Last(context.Background())
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return 0
	}
	if err != nil {
		tb.Fatal(err)
	}
	return e.Seq
}

// product returns the catalogue ID of a CVX (and MVX) code.
func product(tb testing.TB, cvx, mvx string) string {
	tb.Helper()
	p, err := catalog.Default().LookupCodes(cvx, mvx)
	if err != nil {
		tb.Fatalf("LookupCodes(%s, %s): %v", cvx, mvx, err)
	}
	return p.ID
}

// sample reads a message from internal/hl7/testdata.
func sample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "hl7", "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// withCard replaces the samples' card code with card.
func withCard(b []byte, card registry.CardCode) []byte {
	return bytes.ReplaceAll(b, []byte(sampleCard), []byte(card))
}

// setField sets field n of the seq-th segment id (from 1) of an ER7 message
// with the standard delimiters, adding empty fields as needed. In MSH, n
// counts as HL7 does (MSH-1 is the field separator).
func setField(b []byte, id string, seq, n int, value string) []byte {
	sep := "\r"
	if bytes.Contains(b, []byte("\r\n")) {
		sep = "\r\n"
	} else if !bytes.Contains(b, []byte("\r")) {
		sep = "\n"
	}
	lines := strings.Split(string(b), sep)
	k := 0
	for i, line := range lines {
		if !strings.HasPrefix(line, id+"|") {
			continue
		}
		if k++; k != seq {
			continue
		}
		fields := strings.Split(line, "|")
		at := n
		if id == "MSH" {
			at = n - 1
		}
		for len(fields) <= at {
			fields = append(fields, "")
		}
		fields[at] = value
		lines[i] = strings.Join(fields, "|")
		return []byte(strings.Join(lines, sep))
	}
	panic("setField: no segment " + id)
}

// msg joins segments into a message with CR after each.
func msg(segs ...string) []byte { return []byte(strings.Join(segs, "\r") + "\r") }

// readAck reads a single ACK.
func readAck(tb testing.TB, reply []byte) *hl7.Ack {
	tb.Helper()
	m, err := hl7.ParseMessage(reply)
	if err != nil {
		tb.Fatalf("reply is not a message: %v\n%s", err, show(reply))
	}
	a, errs := hl7.ReadACK(m)
	if errs.Fatal() {
		tb.Fatalf("reply is not an ACK: %v\n%s", errs, show(reply))
	}
	return a
}

// cardOf returns the card code an ACK assigned.
func cardOf(tb testing.TB, a *hl7.Ack) registry.CardCode {
	tb.Helper()
	c, ok := a.CardCode()
	if !ok {
		tb.Fatalf("ACK assigned no card code: %+v", a.Errors)
	}
	card, err := registry.ParseCardCode(c)
	if err != nil {
		tb.Fatalf("ACK card code %q: %v", c, err)
	}
	return card
}

// errorsOf returns the ACK's errors of severity sev.
func errorsOf(a *hl7.Ack, sev hl7.Severity) hl7.Errors {
	var out hl7.Errors
	for _, e := range a.Errors {
		if e.Severity == sev {
			out = append(out, e)
		}
	}
	return out
}

// hasError reports whether errs has one with the code at the location.
func hasError(errs hl7.Errors, code hl7.Code, loc string) bool {
	for _, e := range errs {
		if e.Code == code && e.Location.String() == loc {
			return true
		}
	}
	return false
}

// show makes a message readable in a failure.
func show(b []byte) string { return strings.ReplaceAll(string(b), "\r", "\n") }

// segments parses a reply and returns its segments.
func segments(tb testing.TB, reply []byte) []hl7.Segment {
	tb.Helper()
	m, err := hl7.ParseMessage(reply)
	if err != nil {
		tb.Fatalf("reply is not a message: %v\n%s", err, show(reply))
	}
	return m.Segments()
}

// hl7Header reads the header of the first message of a body.
func hl7Header(tb testing.TB, body []byte) *hl7.Header {
	tb.Helper()
	b, err := hl7.Parse(body)
	if err != nil || len(b.Messages) == 0 {
		tb.Fatalf("Parse: %v", err)
	}
	return b.Messages[0].Header()
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (a logger).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// vaccinationsWith returns the vaccinations with the given status.
func vaccinationsWith(rec *registry.Record, status string) []registry.Vaccination {
	var out []registry.Vaccination
	for _, v := range rec.Vaccinations {
		if v.Status == status {
			out = append(out, v)
		}
	}
	return out
}
