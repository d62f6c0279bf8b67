package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
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

// TestShredLifecycle: a server is sealed, then shredded while sealed, then
// killed. It does not restart on its own with a new master key; after
// haven vault init-master --after-shred it does, and an old card reads with
// its dose and without demographics. Then the same with the offline
// haven shred on a stopped server.
func TestShredLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary; skipped with -short")
	}
	bin := havenBinary(t)
	dir := t.TempDir()
	flags := []string{"--data", dir}
	srv := startServe(t, bin, nil, flags...)
	adminTok := runCLI(t, bin, nil, append(flags, "token", "create", "--role", "admin")...)
	admin := apiClient{base: "http://" + srv.addr, token: adminTok, http: http.DefaultClient}
	admin.mustDo(t, "POST", "/api/v1/sites", "", `{"code":"YB-1","name":"Yanji","jurisdiction":"CN-JL-YB","services":["vaccination"]}`, 201)
	vacc := apiClient{base: "http://" + srv.addr, token: runCLI(t, bin, nil, append(flags, "token", "create", "--role", "vaccinator", "--site", "YB-1")...), http: http.DefaultClient}
	register := func(name string) string {
		var p struct {
			CardCode string `json:"card_code"`
		}
		json.Unmarshal(vacc.mustDo(t, "POST", "/api/v1/persons", "", `{"given_name":"`+name+`","phone":"+82 10 5555 0199","birth_date":"1985"}`, 201), &p)
		vacc.mustDo(t, "POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", "", `{"product":"coronavac","date":"2021-09-17","site":"YB-1"}`, 201)
		return p.CardCode
	}
	readOld := func(card, name string) {
		t.Helper()
		out := vacc.mustDo(t, "GET", "/api/v1/persons/"+card+"?purpose=care", "", "", 200)
		var rec struct {
			CardCode     string `json:"card_code"`
			GivenName    string `json:"given_name"`
			Phone        string `json:"phone"`
			Vaccinations []struct{ Product string }
		}
		if err := json.Unmarshal(out, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.CardCode != card || len(rec.Vaccinations) != 1 {
			t.Fatalf("old card after the shred: %s", out)
		}
		if rec.GivenName != "" || rec.Phone != "" || bytes.Contains(out, []byte(name)) {
			t.Fatalf("demographics readable after the shred: %s", out)
		}
	}
	card := register("Ryeo-Seon")
	cliEnv := []string{"HAVEN_TOKEN=" + adminTok}
	runCLI(t, bin, cliEnv, append(flags, "--addr", srv.addr, "seal")...)
	runCLI(t, bin, cliEnv, append(flags, "--addr", srv.addr, "seal", "--shred")...) // while sealed
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
		t.Fatalf("the key ring survived seal --shred: %v", err)
	}
	srv.kill()

	// Restarting does not quietly make a new master key.
	mustRefuseServe(t, bin, flags, "init-master --after-shred")
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
		t.Fatal("a refused start wrote a master key")
	}
	runCLI(t, bin, nil, append(flags, "vault", "init-master", "--after-shred")...)
	srv = startServe(t, bin, nil, flags...)
	vacc.base, admin.base = "http://"+srv.addr, "http://"+srv.addr
	readOld(card, "Ryeo-Seon")
	second := register("Tuyaara") // the new ring works for new persons
	srv.kill()

	// The offline shred, on a stopped server.
	cmd := exec.Command(bin, append(flags, "shred")...)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("shred without --yes acted: %s", out)
	}
	runCLI(t, bin, nil, append(flags, "shred", "--yes")...)
	mustRefuseServe(t, bin, flags, "init-master --after-shred")
	runCLI(t, bin, nil, append(flags, "vault", "init-master", "--after-shred")...)
	srv = startServe(t, bin, nil, flags...)
	vacc.base = "http://" + srv.addr
	readOld(card, "Ryeo-Seon")
	readOld(second, "Tuyaara")
}

// mustRefuseServe starts haven serve and expects it to exit with an error
// that names hint, without ever answering.
func mustRefuseServe(t *testing.T, bin string, flags []string, hint string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append([]string{}, flags...), "--addr", freeAddr(t), "serve")...)
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("haven serve started (or hung) after a shred: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), hint) {
		t.Fatalf("haven serve refused without saying what to do (%q):\n%s", hint, out)
	}
}

// haven vault init-master never writes over a ring, and after a shred only
// with --after-shred; haven shred needs --yes.
func TestVaultInitMaster(t *testing.T) {
	dir := t.TempDir()
	ring := filepath.Join(dir, "master.key")
	if _, err := runHaven(t, dir, "", "token", "create", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := runHaven(t, dir, "", "audit", "checkpoint"); err != nil { // makes the ring
		t.Fatal(err)
	}
	before, _ := os.ReadFile(ring)
	if _, err := runHaven(t, dir, "", "vault", "init-master", "--after-shred"); err == nil {
		t.Fatal("init-master wrote over an existing ring")
	}
	if after, _ := os.ReadFile(ring); !bytes.Equal(before, after) {
		t.Fatal("the ring changed")
	}
	if _, err := runHaven(t, dir, "", "vault", "shred"); err == nil {
		t.Fatal("vault shred acted without --yes")
	}
	if _, err := os.Stat(ring); err != nil {
		t.Fatal("the ring is gone after a refused shred")
	}
	out, err := runHaven(t, dir, "", "vault", "shred", "--yes")
	if err != nil || !strings.Contains(out, "init-master --after-shred") {
		t.Fatalf("vault shred --yes = %q, %v", out, err)
	}
	if _, err := os.Stat(ring); !os.IsNotExist(err) {
		t.Fatal("the ring survived vault shred")
	}
	// Nothing makes a new master key by itself now.
	if _, err := runHaven(t, dir, "", "vault", "init-master"); err == nil {
		t.Fatal("init-master without --after-shred made a ring after a shred")
	}
	if _, err := runHaven(t, dir, "", "audit", "checkpoint"); err == nil {
		t.Fatal("a command made a new master key after a shred")
	}
	if _, err := os.Stat(ring); !os.IsNotExist(err) {
		t.Fatal("a refused command wrote a ring")
	}
	if _, err := runHaven(t, dir, "", "vault", "init-master", "--after-shred"); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.Open(ring, vault.Options{}); err != nil {
		t.Fatalf("the new ring: %v", err)
	}
}
