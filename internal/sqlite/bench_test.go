package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
)

// BenchmarkAuditVerify1M checks a chain of one million entries stored in
// SQLite, as `haven audit verify` does. The goal is under 10 s per check.
//
//	go test ./internal/sqlite -run '^$' -bench AuditVerify1M -benchtime 3x
func BenchmarkAuditVerify1M(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	db := MustOpenDB(b)
	defer db.Close()
	tx, err := db.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO audit_log (seq, at, actor, role, action, purpose, subject, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	var last *audit.Entry
	now := time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)
	for i := range n {
		e, err := audit.Next(last, audit.Record{Actor: "tk_0123456789ab", Role: "vaccinator", Action: "person.read",
			Purpose: "care", Subject: "ps1_00112233445566778899aabbccddeeff"}, now.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ins.ExecContext(ctx, int64(e.Seq), e.Time.UnixMicro(), e.Actor, e.Role, e.Action, e.Purpose, e.Subject, e.PrevHash[:], e.Hash[:]); err != nil {
			b.Fatal(err)
		}
		last = &e
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := audit.Verify(ctx, db, nil)
		if err != nil || rep.Entries != n {
			b.Fatalf("Verify = %+v, %v", rep, err)
		}
	}
}
