package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlstore"
)

// RunAuditMigration checks migration 0009 on a log written before it: one
// chain, names as text, a previous hash and a MAC of 32 bytes in every
// row, and a checkpoint signed over its head (what an installation has
// before upgrading, with its export). db is an empty database; dollar says
// whether it takes $n placeholders; open opens the store on it afterwards.
// Every entry must read back as it was written (the MAC as its first 16
// bytes), the log must verify under its chain key and against the old
// checkpoint, kept in the database and outside it, and go on growing.
func RunAuditMigration(t *testing.T, db *sql.DB, dollar bool, migrations fs.FS, open func(t *testing.T) AuditChainStore) {
	ctx := context.Background()
	d := sqlstore.Dialect{DollarParams: dollar}
	before := fstest.MapFS{}
	all, err := sqlstore.Migrations(migrations)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.Version < 9 {
			before[m.Name] = &fstest.MapFile{Data: []byte(m.SQL)}
		}
	}
	if _, err := sqlstore.Migrate(ctx, db, d, before, now); err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte{8}, audit.ChainKeySize)
	k, err := audit.NewChainKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	// The MAC as it was stored: all 32 bytes of the HMAC.
	fullMAC := func(h audit.Hash) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("haven-audit-mac/v1\x00"))
		m.Write(h[:])
		return m.Sum(nil)
	}
	recs := []audit.Record{
		{Actor: "cli", Role: audit.RoleOperator, Action: "token.create", Subject: "token:tk_0a1b2c3d4e5f"},
		{Actor: "tk_0a1b2c3d4e5f", Role: "vaccinator", Action: "person.read", Purpose: "care", Subject: "ps1_00112233445566778899aabbccddeeff"},
		audit.EpochRecord(k),
		{Actor: "tk_0a1b2c3d4e5f", Role: "vaccinator", Action: "person.create", Purpose: "care", Subject: "ps1_ffeeddccbbaa99887766554433221100"},
		{Actor: "tk_0a1b2c3d4e5f", Role: "vaccinator", Action: "vaccination.create", Purpose: "care", Subject: "ps1_ffeeddccbbaa99887766554433221100"},
		{Actor: "tk_99aa88bb77cc", Role: "admin", Action: "site.create", Subject: "site:YB-1"},
		{Actor: "system", Role: "system", Action: "policy.load", Subject: "pack:seed@0123456789abcdef"},
		{Actor: "cli", Role: audit.RoleOperator, Action: "person.erase", Subject: "ps1_00112233445566778899aabbccddeeff"},
	}
	insert := `INSERT INTO audit_log (seq, at, actor, role, action, purpose, subject, prev_hash, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	if dollar {
		for i := 1; strings.Contains(insert, "?"); i++ {
			insert = strings.Replace(insert, "?", "$"+strconv.Itoa(i), 1)
		}
	}
	var (
		want []audit.Entry
		last *audit.Entry
	)
	keyed := false
	for i, r := range recs {
		e, err := audit.Next(last, r, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		keyed = keyed || r.Action == audit.EpochAction
		var mac []byte
		if keyed && r.Role != audit.RoleOperator {
			mac = fullMAC(e.Hash)
			k.Seal(&e)
			if !bytes.Equal(e.MAC[:], mac[:audit.MACSize]) {
				t.Fatal("the MAC is not the first half of the HMAC")
			}
		}
		if _, err := db.ExecContext(ctx, insert, int64(e.Seq), e.Time.UnixMicro(), e.Actor, e.Role, e.Action, e.Purpose, e.Subject,
			e.PrevHash[:], e.Hash[:], mac); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
		last = &want[len(want)-1]
	}
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	signer, err := audit.NewSigner("haven", priv)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := signer.Sign(*last, now)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := sqlstore.Migrate(ctx, db, d, migrations, now); err != nil {
		t.Fatal(err)
	}
	s := open(t)
	if err := s.SaveCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	var got []audit.Entry
	if err := s.Scan(ctx, 1, func(e audit.Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries after the migration, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.Chain != 0 || g.Seq != w.Seq || !g.Time.Equal(w.Time) || g.Record != w.Record || g.PrevHash != w.PrevHash || g.Hash != w.Hash ||
			(w.MAC == nil) != (g.MAC == nil) || (w.MAC != nil && *w.MAC != *g.MAC) {
			t.Fatalf("entry %d after the migration = %+v, want %+v", w.Seq, g, w)
		}
	}
	opt := audit.Options{Checkpoints: []audit.Checkpoint{cp}, External: []audit.Checkpoint{cp}, Keys: []ed25519.PublicKey{signer.PublicKey()},
		ChainKeys: []*audit.ChainKey{k}}
	rep, err := audit.VerifyLog(ctx, s, opt)
	if err != nil || rep.External != 1 || rep.KeyedFrom != 3 || rep.MACs != 5 || rep.LastSeq != uint64(len(want)) {
		t.Fatalf("VerifyLog after the migration = %+v, %v", rep, err)
	}
	// The log goes on: new entries, keyed, in chain 0 or in a writer's
	// chain, and a join.
	s.SetAuditChain(func() *audit.ChainKey { return k })
	for range 3 {
		if err := s.AppendAudit(ctx, registry.AuditRecord{Time: now, Actor: "tk_0a1b2c3d4e5f", Role: "vaccinator", Action: "person.read",
			Purpose: "care", Subject: "ps1_00112233445566778899aabbccddeeff"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.JoinAuditChains(ctx, now); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.VerifyLog(ctx, s, opt); err != nil || rep.Entries < uint64(len(want))+3 {
		t.Fatalf("VerifyLog after new entries = %+v, %v", rep, err)
	}
}
