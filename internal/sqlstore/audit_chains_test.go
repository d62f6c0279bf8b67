package sqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/sqlstore"
)

// These tests run the per-writer chains of PostgreSQL (Dialect.AuditChains)
// on a SQLite file, through a runner that can lose a transaction after the
// caller's writes ran: the in-memory chain heads must then never fork a
// chain, whatever happened to the commit. The PostgreSQL conformance suite
// (internal/postgres) runs the same code concurrently.

var chainDialect = sqlstore.Dialect{Name: "sqlite",
	IsUniqueViolation: func(err error) bool { return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") },
	IsForeignKeyViolation: func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
	},
	AuditChains: true}

// lossyRunner runs each write in its own transaction. After fn, it can roll
// the transaction back and report an error (a failed commit), or commit it
// and still report an error (a commit whose acknowledgement was lost).
type lossyRunner struct {
	db               *sql.DB
	rollback, unsure atomic.Bool
}

var errLost = errors.New("connection lost during commit")

func (r *lossyRunner) RunTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if r.rollback.Swap(false) {
		tx.Rollback()
		return errLost
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if r.unsure.Swap(false) {
		return errLost
	}
	return nil
}

// openChains opens a store with per-writer chains on the SQLite file at
// path (migrating it), as one process would.
func openChains(t *testing.T, path string) (*sqlstore.Store, *lossyRunner) {
	t.Helper()
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	// Two connections: the store prepares a statement on first use while a
	// transaction holds the other.
	db.SetMaxOpenConns(2)
	r := &lossyRunner{db: db}
	s := sqlstore.New(db, chainDialect, r, sqlite.Migrations())
	if _, err := s.Migrate(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, r
}

func chainKey(t *testing.T) *audit.ChainKey {
	k, err := audit.NewChainKey(bytes.Repeat([]byte{5}, audit.ChainKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func read(t *testing.T, s *sqlstore.Store, r string) error {
	return s.AppendAudit(context.Background(), registry.AuditRecord{Time: time.Now(), Actor: "tk_a1b2c3d4e5f6", Role: "vaccinator",
		Action: "person.read", Purpose: "care", Subject: "ps1_00112233445566778899aabbccdd" + r})
}

// verified checks the whole log under k and returns its chains but 0.
func verified(t *testing.T, s *sqlstore.Store, k *audit.ChainKey) audit.Report {
	t.Helper()
	rep, err := audit.VerifyLog(context.Background(), s, audit.Options{ChainKeys: []*audit.ChainKey{k}})
	if err != nil {
		t.Fatalf("VerifyLog = %+v, %v", rep, err)
	}
	return rep
}

func TestChainsSurviveLostCommits(t *testing.T) {
	s, r := openChains(t, filepath.Join(t.TempDir(), "haven.db"))
	k := chainKey(t)
	s.SetAuditChain(func() *audit.ChainKey { return k })
	for _, step := range []struct {
		name     string
		rollback bool // the commit fails: nothing was written
		unsure   bool // the commit succeeds, but the caller hears it failed
	}{{"ok", false, false}, {"rolled-back", true, false}, {"ok", false, false}, {"unsure", false, true}, {"ok", false, false}, {"ok", false, false}} {
		r.rollback.Store(step.rollback)
		r.unsure.Store(step.unsure)
		err := read(t, s, "ee")
		if (err != nil) != (step.rollback || step.unsure) {
			t.Fatalf("%s: AppendAudit = %v", step.name, err)
		}
	}
	// One chain, holding the epoch entry and the five entries that
	// committed (the unsure one among them), in order, without a gap.
	rep := verified(t, s, k)
	if len(rep.Chains) != 1 || rep.Chains[0].LastSeq != 6 || rep.Entries != 6 || rep.MACs != 6 {
		t.Fatalf("report = %+v", rep)
	}
}

// TestChainsTakenOver: one process stalls past its lease and another takes
// its chain over; the first one's next write fails (the primary key refuses
// the fork) and it moves to another chain. Chains released on close are
// taken over by the next process instead of new ones.
func TestChainsTakenOver(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "haven.db")
	a, _ := openChains(t, path)
	k := chainKey(t)
	a.SetAuditChain(func() *audit.ChainKey { return k })
	if err := read(t, a, "01"); err != nil {
		t.Fatal(err)
	}
	// a's lease lapses (it stalled); b takes its chain over.
	if _, err := a.DB().ExecContext(ctx, `UPDATE audit_chains SET lease_until = 0`); err != nil {
		t.Fatal(err)
	}
	b, _ := openChains(t, path)
	b.SetAuditChain(func() *audit.ChainKey { return k })
	if err := read(t, b, "02"); err != nil {
		t.Fatal(err)
	}
	if rep := verified(t, b, k); len(rep.Chains) != 1 {
		t.Fatalf("b did not take a's chain over: %+v", rep.Chains)
	}
	err := read(t, a, "03")
	if registry.ErrorCode(err) != registry.EUNAVAILABLE {
		t.Fatalf("a appended to a chain b took over: %v", err)
	}
	if err := read(t, a, "04"); err != nil {
		t.Fatalf("a after dropping the chain: %v", err)
	}
	rep := verified(t, b, k)
	if len(rep.Chains) != 2 || rep.Entries != 5 {
		t.Fatalf("report = %+v", rep)
	}
	// Both close and give their chains back; the next process takes one
	// of them over, reading its head, and adds no chain.
	a.Close()
	b.Close()
	c, _ := openChains(t, path)
	c.SetAuditChain(func() *audit.ChainKey { return k })
	for i := range 3 {
		if err := read(t, c, "1"+string(rune('0'+i))); err != nil {
			t.Fatal(err)
		}
	}
	rep = verified(t, c, k)
	if len(rep.Chains) != 2 || rep.Entries != 8 {
		t.Fatalf("after the takeover: %+v", rep)
	}
	// A join names both chains' heads.
	head, err := c.JoinAuditChains(ctx, time.Now())
	if err != nil || len(head.Heads) != 2 || head.Chain != 0 {
		t.Fatalf("JoinAuditChains = %+v, %v", head, err)
	}
	rep = verified(t, c, k)
	for _, ch := range rep.Chains {
		if ch.Joined != ch.LastSeq {
			t.Fatalf("chain %d joined up to %d of %d", ch.Chain, ch.Joined, ch.LastSeq)
		}
	}
}

// TestAuditCompact: names and pseudonyms go to the dictionary once; a
// subject that is not hex after a prefix is kept as text; every entry reads
// back exactly as written.
func TestAuditCompact(t *testing.T) {
	ctx := context.Background()
	s, _ := openChains(t, filepath.Join(t.TempDir(), "haven.db"))
	subjects := []string{"ps1_00112233445566778899aabbccddeeff", "", "site:YB-1", "token:tk_0a1b2c3d4e5f", "outbox:123456789",
		"pack:seed@ABCDEF0123", "heads:" + strings.Repeat("ab", 32), "0011223344556677", "x:001"}
	for _, subj := range subjects {
		if err := s.AppendAudit(ctx, registry.AuditRecord{Time: time.Now(), Actor: "tk_a1b2c3d4e5f6", Role: "admin", Action: "site.create", Subject: subj}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.Scan(ctx, 1, func(e audit.Entry) error { got = append(got, e.Subject); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != strings.Join(subjects, "|") {
		t.Fatalf("subjects read back = %q", got)
	}
	var names int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_names`).Scan(&names); err != nil {
		t.Fatal(err)
	}
	// The three fixed names, the actor, the role, the action, and the
	// prefixes token:tk_ and heads: (ps1_ is fixed).
	if names != 3+3+2 {
		t.Fatalf("%d names in the dictionary", names)
	}
	var size int
	if err := s.DB().QueryRowContext(ctx, `SELECT length(subject) FROM audit_log WHERE seq = 1`).Scan(&size); err != nil || size != 17 {
		t.Fatalf("a pseudonym takes %d bytes (%v), want 17", size, err)
	}
	verified(t, s, chainKey(t))
}
