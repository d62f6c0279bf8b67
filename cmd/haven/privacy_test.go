package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// runHaven calls run() in-process with a data folder and returns stdout
// and the error.
func runHaven(t *testing.T, dir string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return "" }
	err := run(context.Background(), append([]string{"haven", "--data", dir}, args...), getenv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), err
}

// auditFixture makes a data folder whose log has several entries and a
// signed checkpoint of an earlier head.
func auditFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for i := range 3 {
		if _, err := runHaven(t, dir, "", "token", "create", "--role", "admin"); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	if _, err := runHaven(t, dir, "", "audit", "checkpoint"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := runHaven(t, dir, "", "token", "create", "--role", "analyst"); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := runHaven(t, dir, "", "audit", "verify"); err != nil || !strings.Contains(out, "6 entries") {
		t.Fatalf("verify of an untouched log = %q, %v", out, err)
	}
	return dir
}

// tamper runs SQL directly on the database file, as someone with the disk
// would.
func tamper(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestAuditVerifyDetectsTampering changes, deletes, reorders and inserts
// entries; haven audit verify must fail and name the first bad entry.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string
		entry string
	}{
		{"fail/changed", []string{`UPDATE audit_log SET subject = X'00' || CAST('token:other' AS BLOB) WHERE seq = 4`}, "entry 4"},
		{"fail/deleted", []string{`DELETE FROM audit_log WHERE seq = 2`}, "entry 2"},
		{"fail/reordered", []string{
			`UPDATE audit_log SET seq = 100 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 5`,
			`UPDATE audit_log SET seq = 5 WHERE seq = 100`}, "entry 3"},
		{"fail/inserted", []string{
			`UPDATE audit_log SET seq = seq + 10 WHERE seq >= 3`,
			`UPDATE audit_log SET seq = seq - 9 WHERE seq >= 13`,
			`INSERT INTO audit_log SELECT chain, 3, at, actor, role, COALESCE((SELECT id FROM audit_names WHERE name = 'person.read'), action), purpose, subject, hash, mac, heads FROM audit_log WHERE seq = 2`}, "entry 3"},
		{"fail/truncated-before-checkpoint", []string{`DELETE FROM audit_log WHERE seq >= 2`}, "entry 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := auditFixture(t)
			tamper(t, dir, tt.stmts...)
			_, err := runHaven(t, dir, "", "audit", "verify")
			if err == nil {
				t.Fatal("haven audit verify passed a tampered log")
			}
			if !strings.Contains(err.Error(), tt.entry) {
				t.Fatalf("error %q does not name %s", err, tt.entry)
			}
		})
	}
}

func TestBackupHoldsNoKeys(t *testing.T) {
	dir := auditFixture(t)
	tamper(t, dir, `INSERT INTO persons (id, card_code, created_at, wrapped_key, sealed) VALUES (x'00112233445566778899aabbccddeeff', 'ABCD-EFGH-JKLM', 0, x'deadbeefdeadbeefdeadbeef', x'cafebabecafebabecafebabe')`)
	dest := filepath.Join(t.TempDir(), "backup.db")
	if _, err := runHaven(t, dir, "", "backup", dest); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("ABCD-EFGH-JKLM")) {
		t.Fatal("the backup lacks the person; the scan proves nothing")
	}
	for _, secret := range [][]byte{{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}, {0xca, 0xfe, 0xba, 0xbe, 0xca, 0xfe, 0xba, 0xbe}} {
		if bytes.Contains(data, secret) {
			t.Errorf("the backup holds key material %x", secret)
		}
	}
	if info, _ := os.Stat(dest); info.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := runHaven(t, dir, "", "backup", dest); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
}

// haven stats prints the same release the API makes, and the gap report.
func TestStatsCommand(t *testing.T) {
	dir := auditFixture(t)
	out, err := runHaven(t, dir, "", "stats", "--from", "2021-08-01", "--to", "2021-09-17", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var cov struct {
		K     int
		Block string
	}
	if err := json.Unmarshal([]byte(out), &cov); err != nil || cov.K != 11 || cov.Block == "" {
		t.Fatalf("stats --json = %s (%v)", out, err)
	}
	if _, err := runHaven(t, dir, "", "stats", "--k", "5"); err == nil {
		t.Fatal("stats accepted k=5")
	}
	if out, err := runHaven(t, dir, "", "stats", "--gaps", "--to", "2021-09-17"); err != nil || out == "" {
		t.Fatalf("stats --gaps = %q, %v", out, err)
	}
}
