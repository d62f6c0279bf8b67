package postgres_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/postgres"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/storetest"
)

func TestAuditChain(t *testing.T) {
	storetest.RunAuditChain(t, func(t *testing.T) registry.Store { return MustOpenDB(t) })
}

func TestAuditMigration(t *testing.T) {
	url := storetest.PostgresURL(t)
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	storetest.RunAuditMigration(t, raw, true, postgres.Migrations(), func(t *testing.T) storetest.AuditChainStore {
		db, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestAuditChainsAcrossProcesses: two stores on one database (two haven
// processes) append concurrently, each to chains of its own; one closes
// and gives its chains back, and a third process takes them over instead
// of making new ones. A join and a checkpoint then cover every chain, and
// the log verifies.
func TestAuditChainsAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	open := func() *postgres.DB {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a := open()
	if _, err := a.Migrate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	b := open()
	k, err := audit.NewChainKey(bytes.Repeat([]byte{4}, audit.ChainKeySize))
	if err != nil {
		t.Fatal(err)
	}
	rec := func(i int) registry.AuditRecord {
		return registry.AuditRecord{Time: time.Now(), Actor: "tk_00aa11bb22cc", Role: "vaccinator", Action: "person.read", Purpose: "care",
			Subject: fmt.Sprintf("ps1_%032x", i)}
	}
	var wg sync.WaitGroup
	for _, db := range []*postgres.DB{a, b} {
		db.SetAuditChain(func() *audit.ChainKey { return k })
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					if err := db.AppendAudit(ctx, rec(w*100+i)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	chains := func(db *postgres.DB) int {
		var n int
		if err := db.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_chains`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := chains(a)
	if before < 2 || before > 16 {
		t.Fatalf("%d chains for 16 writers in two processes", before)
	}
	a.Close()
	c := open()
	c.SetAuditChain(func() *audit.ChainKey { return k })
	for i := range 5 {
		if err := c.AppendAudit(ctx, rec(1000+i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := chains(c); n != before {
		t.Fatalf("the third process made a chain (%d, was %d) instead of taking one over", n, before)
	}
	head, err := c.JoinAuditChains(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{6}, ed25519.SeedSize))
	signer, err := audit.NewSigner("test", priv)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := signer.Sign(head, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyLog(ctx, b, audit.Options{External: []audit.Checkpoint{cp}, Keys: []ed25519.PublicKey{signer.PublicKey()},
		Checkpoints: []audit.Checkpoint{cp}, ChainKeys: []*audit.ChainKey{k}})
	if err != nil {
		t.Fatalf("VerifyLog = %+v, %v", rep, err)
	}
	if want := uint64(2*8*20 + 5); rep.Entries != want+uint64(len(rep.Chains))+2 { // an epoch entry per chain; chain 0: epoch, join
		t.Fatalf("report: %d entries in %d chains, want %d writes", rep.Entries, len(rep.Chains), want)
	}
	for _, ch := range rep.Chains {
		if ch.Joined != ch.LastSeq {
			t.Fatalf("chain %d joined up to %d of %d", ch.Chain, ch.Joined, ch.LastSeq)
		}
	}
}

// BenchmarkAuditThroughput records doses, each with its idempotency key and
// (but for one phase) its audit entry, from 32 writers for 5 s
// (HAVEN_AUDIT_BENCH_SECONDS) per phase: in one store, then in two stores
// on the same database (two processes), each beside a floor of plain
// one-row inserts from as many writers through as many pools, in the same
// run. Two rounds, interleaved.
//
//	HAVEN_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./internal/postgres -run '^$' -bench AuditThroughput -benchtime 1x
func BenchmarkAuditThroughput(b *testing.B) {
	if testing.Short() {
		b.Skip("measures for 50 s; skipped with -short")
	}
	ctx := context.Background()
	url := storetest.PostgresURL(b)
	open := func() *postgres.DB {
		db, err := postgres.Open(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}
	db1 := open()
	if _, err := db1.Migrate(ctx, time.Now()); err != nil {
		b.Fatal(err)
	}
	db2 := open()
	d := 5 * time.Second
	if s, err := strconv.Atoi(os.Getenv("HAVEN_AUDIT_BENCH_SECONDS")); err == nil && s > 0 {
		d = time.Duration(s) * time.Second
	}
	const writers = 32
	persons, subjects := storetest.BenchSubjects(b, db1, 1000)
	both := func(f func(*postgres.DB) float64) float64 {
		var wg sync.WaitGroup
		var r1, r2 float64
		wg.Add(2)
		go func() { defer wg.Done(); r1 = f(db1) }()
		go func() { defer wg.Done(); r2 = f(db2) }()
		wg.Wait()
		return r1 + r2
	}
	var floor, bare, one, floor2, two float64
	const rounds = 2
	for round := range rounds {
		f := storetest.PlainInserts(b, db1.DB(), true, writers, d)
		n := storetest.StoreDoses(b, db1, persons, subjects, writers, d, false)
		o := storetest.AuditedDoses(b, db1, persons, subjects, writers, d)
		f2 := both(func(db *postgres.DB) float64 { return storetest.PlainInserts(b, db.DB(), true, writers, d) })
		t := both(func(db *postgres.DB) float64 { return storetest.AuditedDoses(b, db, persons, subjects, writers, d) })
		b.Logf("round %d: one store: plain inserts %.0f rows/s, doses without audit %.0f/s, audited doses %.0f/s; two stores: plain inserts %.0f rows/s, audited doses %.0f/s",
			round, f, n, o, f2, t)
		floor, bare, one, floor2, two = floor+f/rounds, bare+n/rounds, one+o/rounds, floor2+f2/rounds, two+t/rounds
	}
	b.ReportMetric(floor, "floor-rows/s")
	b.ReportMetric(bare, "unaudited-doses/s")
	b.ReportMetric(one, "doses/s")
	b.ReportMetric(floor2, "floor-rows/s-2pools")
	b.ReportMetric(two, "doses/s-2stores")
}

// BenchmarkAuditFootprint registers 20,000 persons (HAVEN_FOOTPRINT_PERSONS)
// with three doses each as the clinic writes them, then reports bytes on
// disk per person by table (pg_total_relation_size: heap, indexes and
// TOAST), after VACUUM ANALYZE.
//
//	HAVEN_TEST_POSTGRES=… go test ./internal/postgres -run '^$' -bench AuditFootprint -benchtime 1x
func BenchmarkAuditFootprint(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 20,000 persons; skipped with -short")
	}
	ctx := context.Background()
	n := 20_000
	if s, err := strconv.Atoi(os.Getenv("HAVEN_FOOTPRINT_PERSONS")); err == nil && s > 0 {
		n = s
	}
	db := MustOpenDB(b)
	defer db.Close()
	v, _ := storetest.MustVault(b, 0)
	storetest.LoadClinicLike(b, db, v, n, 16)
	if _, err := db.DB().ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
	rows, err := db.DB().QueryContext(ctx, `SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' ORDER BY 2 DESC`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var all, auditBytes int64
	for rows.Next() {
		var (
			name string
			size int64
		)
		if err := rows.Scan(&name, &size); err != nil {
			b.Fatal(err)
		}
		all += size
		if strings.HasPrefix(name, "audit_") {
			auditBytes += size
		}
		if size > 8192*2 {
			b.Logf("%-22s %10d bytes  %7.1f bytes/person", name, size, float64(size)/float64(n))
		}
	}
	var heap, idx, rowsN int64
	if err := db.DB().QueryRowContext(ctx, `SELECT pg_relation_size('audit_log'), pg_indexes_size('audit_log'), (SELECT COUNT(*) FROM audit_log)`).Scan(&heap, &idx, &rowsN); err != nil {
		b.Fatal(err)
	}
	b.Logf("audit_log: %d entries, heap %.1f bytes/entry, indexes %.1f bytes/entry", rowsN, float64(heap)/float64(rowsN), float64(idx)/float64(rowsN))
	b.Logf("total %.1f bytes/person, audit %.1f bytes/person (%.1f bytes/entry)", float64(all)/float64(n), float64(auditBytes)/float64(n), float64(auditBytes)/float64(4*n))
	b.ReportMetric(float64(all)/float64(n), "bytes/person")
	b.ReportMetric(float64(auditBytes)/float64(n), "audit-bytes/person")
}
