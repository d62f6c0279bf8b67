package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/storetest"
)

// BenchmarkErasure1M measures erasure on a database of one million persons
// (HAVEN_BENCH_PERSONS to change it) in epochs of vault.DefaultEpochSize:
// each erasure (ErasePerson, then AfterErase, which rewraps the rest of the
// person's epoch in batches and destroys its key) is timed while 16 clients
// record doses, and dose throughput is compared with the same load without
// erasures. See docs/adr/0004-epoch-keys.md.
//
//	HAVEN_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./internal/postgres -run '^$' -bench Erasure1M -benchtime 1x -timeout 60m
func BenchmarkErasure1M(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	defer db.Close()
	v, _ := storetest.MustVault(b, 0)
	n := storetest.BenchPersons()
	start := time.Now()
	conn, err := db.DB().Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// Bulk load with COPY, the triggers off for the session; the epochs
	// are registered in key_epochs afterwards, as the trigger would have.
	if _, err := conn.ExecContext(ctx, `SET session_replication_role = replica`); err != nil {
		b.Fatal(err)
	}
	persons := storetest.SealedBatches(b, v, n, func(batch []registry.SealedPerson) {
		err := conn.Raw(func(dc any) error {
			c := dc.(*stdlib.Conn).Conn()
			_, err := c.CopyFrom(ctx, pgx.Identifier{"persons"}, []string{"id", "card_code", "created_at", "wrapped_key", "sealed"},
				pgx.CopyFromSlice(len(batch), func(i int) ([]any, error) {
					p := batch[i]
					return []any{p.ID[:], string(p.CardCode), p.CreatedAt.UnixMicro(), p.WrappedKey, p.Sealed}, nil
				}))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	for _, q := range []string{
		`RESET session_replication_role`,
		`INSERT INTO key_epochs (id) SELECT DISTINCT substr(wrapped_key, 1, 9) FROM persons WHERE length(wrapped_key) = 81 ON CONFLICT DO NOTHING`,
		`VACUUM ANALYZE persons`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	conn.Close()
	b.Logf("loaded %d persons in %v", n, time.Since(start).Round(time.Second))
	b.ResetTimer()
	for b.Loop() {
		rep := storetest.MeasureErasure(b, db, v, persons[:1000], storetest.Victims(persons, 40), 16, 20*time.Second)
		b.Log(rep)
		b.ReportMetric(float64(rep.P50().Milliseconds()), "ms/erase-p50")
		b.ReportMetric(100*rep.DuringDoses/rep.BaselineDoses, "%dose-throughput")
	}
}
