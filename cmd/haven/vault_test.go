package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/vault"
)

// After "haven vault rotate", every person still opens under the new key,
// the key files still decrypt, and a wrapped key copied before the rotation
// (as a backup would hold it) opens under nothing Haven still has.
func TestVaultRotate(t *testing.T) {
	dir := t.TempDir()
	if _, err := runHaven(t, dir, "", "token", "create", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := runHaven(t, dir, "", "keys", "init", "--country", "KR"); err != nil {
		t.Fatal(err)
	}
	if _, err := runHaven(t, dir, "", "audit", "checkpoint"); err != nil {
		t.Fatal(err)
	}
	ring := filepath.Join(dir, "master.key")
	v, err := vault.Open(ring, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: time.Now(),
		Demographics: registry.Demographics{GivenName: "Mi-young"}, HolderSecret: "ABCDEFGHJK"}
	sealed, err := registry.SealPerson(v, p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreatePerson(ctx, sealed, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if _, err := runHavenArgs(t, []string{"haven", "--data", dir, "--addr", "127.0.0.1:1", "vault", "rotate"}); err != nil {
		t.Fatalf("vault rotate: %v", err)
	}
	v2, err := vault.Open(ring, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now, err := db.FindPerson(ctx, p.CardCode)
	if err != nil {
		t.Fatal(err)
	}
	if string(now.WrappedKey) == string(sealed.WrappedKey) {
		t.Fatal("the wrapped key was not rewritten")
	}
	opened, err := registry.OpenPerson(v2, *now)
	if err != nil || opened.Demographics.GivenName != "Mi-young" {
		t.Fatalf("person after rotation: %+v, %v", opened, err)
	}
	if _, err := registry.OpenPerson(v2, sealed); err == nil {
		t.Fatal("a wrapped key from before the rotation still opens")
	}
	// The key files were rewrapped too: the server's pieces still load.
	env := &commandEnv{Getenv: func(string) string { return "" }, DataDir: dir, Now: time.Now}
	if _, err := auditSigner(env, v2); err != nil {
		t.Fatalf("audit signing key after rotation: %v", err)
	}
	if _, err := loadCertKeys(env); err != nil {
		t.Fatalf("certificate keys after rotation: %v", err)
	}
	if out, err := runHaven(t, dir, "", "audit", "verify"); err != nil {
		t.Fatalf("audit verify after rotation: %v %s", err, out)
	}
}

func runHavenArgs(t *testing.T, args []string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	return out.String(), err
}
