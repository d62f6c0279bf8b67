package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/storetest"
)

// BenchmarkErasure1M is internal/postgres's BenchmarkErasure1M on SQLite.
//
//	go test ./internal/sqlite -run '^$' -bench Erasure1M -benchtime 1x -timeout 60m
func BenchmarkErasure1M(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	defer db.Close()
	v, _ := storetest.MustVault(b, 0)
	n := storetest.BenchPersons()
	start := time.Now()
	persons := storetest.SealedBatches(b, v, n, func(batch []registry.SealedPerson) {
		tx, err := db.DB().BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO persons (id, card_code, created_at, wrapped_key, sealed) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range batch {
			if _, err := ins.ExecContext(ctx, p.ID[:], string(p.CardCode), p.CreatedAt.UnixMicro(), p.WrappedKey, p.Sealed); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	})
	if _, err := db.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d persons in %v", n, time.Since(start).Round(time.Second))
	b.ResetTimer()
	for b.Loop() {
		rep := storetest.MeasureErasure(b, db, v, persons[:1000], storetest.Victims(persons, 40), 16, 20*time.Second)
		b.Log(rep)
		b.ReportMetric(float64(rep.P50().Milliseconds()), "ms/erase-p50")
		b.ReportMetric(100*rep.DuringDoses/rep.BaselineDoses, "%dose-throughput")
	}
}
