package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/storetest"
)

func TestAuditChain(t *testing.T) {
	storetest.RunAuditChain(t, func(t *testing.T) registry.Store { return MustOpenDB(t) })
}

func TestAuditMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "haven.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	storetest.RunAuditMigration(t, raw, false, sqlite.Migrations(), func(t *testing.T) storetest.AuditChainStore {
		db, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// BenchmarkAuditFootprint registers 20,000 persons (HAVEN_FOOTPRINT_PERSONS)
// with three doses each as the clinic writes them, then reports bytes on
// disk per person by table and index (the dbstat table), after VACUUM.
//
//	go test ./internal/sqlite -run '^$' -bench AuditFootprint -benchtime 1x
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
	if _, err := db.DB().ExecContext(ctx, `VACUUM`); err != nil {
		b.Fatal(err)
	}
	rows, err := db.DB().QueryContext(ctx, `SELECT s.name, m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name
		GROUP BY s.name ORDER BY 3 DESC`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var all, auditBytes int64
	for rows.Next() {
		var (
			name, table string
			size        int64
		)
		if err := rows.Scan(&name, &table, &size); err != nil {
			b.Fatal(err)
		}
		all += size
		if strings.HasPrefix(table, "audit_") {
			auditBytes += size
		}
		if size > 4096*2 {
			b.Logf("%-28s %10d bytes  %7.1f bytes/person", name, size, float64(size)/float64(n))
		}
	}
	b.Logf("total %.1f bytes/person, audit %.1f bytes/person (%.1f bytes/entry)", float64(all)/float64(n), float64(auditBytes)/float64(n), float64(auditBytes)/float64(4*n))
	b.ReportMetric(float64(all)/float64(n), "bytes/person")
	b.ReportMetric(float64(auditBytes)/float64(n), "audit-bytes/person")
}
