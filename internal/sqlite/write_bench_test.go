package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// BenchmarkRecordVaccinationParallel is the store's share of recording a
// dose, as the clinic action writes it (an idempotency claim, the dose with
// its dose number, an audit entry), from 32 concurrent writers sharing the
// group commit: durable writes a second.
//
//	go test ./internal/sqlite -run '^$' -bench RecordVaccinationParallel -benchtime 5s
func BenchmarkRecordVaccinationParallel(b *testing.B) {
	for _, variant := range []struct {
		name        string
		idem, audit bool
	}{{"full", true, true}, {"no-idempotency", false, true}, {"no-audit", true, false}, {"bare", false, false}} {
		b.Run(variant.name, func(b *testing.B) {
			ctx := context.Background()
			db := MustOpenDB(b)
			defer db.Close()
			now := time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)
			persons := make([]registry.ID, 5000)
			for i := range persons {
				p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
					WrappedKey: []byte("wrapped"), Sealed: make([]byte, 120)}
				if _, err := db.CreatePerson(ctx, p, registry.Write{}); err != nil {
					b.Fatal(err)
				}
				persons[i] = p.ID
			}
			var n atomic.Int64
			b.SetParallelism(16) // 32 writers on 2 cores
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					v := registry.Vaccination{ID: registry.NewID(), PersonID: persons[i%int64(len(persons))], Product: "coronavac",
						Date: registry.Date{Year: 2021, Month: 9, Day: 1 + int(i%28)}, Site: "YB-1", Lot: "L1",
						Source: registry.SourceAdministered, Payment: registry.Payment{Kind: "free"}, RecordedAt: now,
						Status: registry.StatusCompleted}
					var w registry.Write
					if variant.idem {
						h := sha256.Sum256([]byte(fmt.Sprint(i)))
						w.Idem = &registry.Idempotency{Scope: "tk_bench", Key: fmt.Sprintf("k-%d", i), RequestHash: h[:], Kind: "vaccination",
							ResourceID: v.ID.String(), CreatedAt: now}
					}
					if variant.audit {
						w.Audit = &registry.AuditRecord{Time: now, Actor: "tk_bench", Role: "vaccinator", Action: "vaccination.create",
							Purpose: "care", Subject: "ps1_00112233445566778899aabbccddeeff"}
					}
					if _, err := db.RecordVaccination(ctx, v, w); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
		})
	}
}
