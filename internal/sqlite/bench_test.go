package sqlite_test

import (
	"context"
	"encoding/hex"
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
	// The compact layout of migration 0009: names as dictionary IDs, the
	// pseudonym as the ID of its prefix ("ps1_", 3) and 16 bytes.
	rec := audit.Record{Actor: "tk_0123456789ab", Role: "vaccinator", Action: "person.read", Purpose: "care", Subject: "ps1_00112233445566778899aabbccddeeff"}
	var ids []any
	for _, name := range []string{rec.Actor, rec.Role, rec.Action, rec.Purpose} {
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO audit_names (id, name) SELECT MAX(id) + 1, ? FROM audit_names RETURNING id`, name).Scan(&id); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	subject, _ := hex.DecodeString("03" + rec.Subject[len("ps1_"):])
	ins, err := tx.PrepareContext(ctx, `INSERT INTO audit_log (chain, seq, at, actor, role, action, purpose, subject, hash, mac, heads)
		VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, X'', X'')`)
	if err != nil {
		b.Fatal(err)
	}
	var last *audit.Entry
	now := time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)
	for i := range n {
		e, err := audit.Next(last, rec, now.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ins.ExecContext(ctx, append([]any{int64(e.Seq), e.Time.UnixMicro()}, append(ids, subject, e.Hash[:])...)...); err != nil {
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
