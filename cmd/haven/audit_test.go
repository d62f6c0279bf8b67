package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/vault"
)

// auditEnv runs haven in-process with one environment.
type auditEnv struct {
	dir string
	env map[string]string
}

func (e auditEnv) getenv(k string) string { return e.env[k] }

// run calls run() and returns stdout, stderr and the error.
func (e auditEnv) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"haven", "--data", e.dir}, args...), e.getenv, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// serve runs `haven serve` in-process until stop is called, which shuts it
// down gracefully (the final checkpoint is signed).
func (e auditEnv) serve(t *testing.T, flags ...string) (base string, stop func()) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"haven", "--data", e.dir, "--addr", addr, "serve", "--log-level", "error"}, flags...)
	go func() { done <- run(ctx, args, e.getenv, strings.NewReader(""), io.Discard, io.Discard) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("haven serve exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("haven serve did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("haven serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return "http://" + addr, stop
}

// auditWorkload makes a site, a vaccinator and a few persons with doses.
func auditWorkload(t *testing.T, e auditEnv, base string, persons int) {
	t.Helper()
	out, _, err := e.run(t, "token", "create", "--role", "admin")
	if err != nil {
		t.Fatal(err)
	}
	admin := apiClient{base: base, token: strings.TrimSpace(out), http: http.DefaultClient}
	site := fmt.Sprintf("S-%d", time.Now().UnixNano()%100000)
	admin.mustDo(t, "POST", "/api/v1/sites", "", `{"code":"`+site+`","name":"Yanji","jurisdiction":"CN-JL-YB","services":["vaccination"]}`, 201)
	out, _, err = e.run(t, "token", "create", "--role", "vaccinator", "--site", site)
	if err != nil {
		t.Fatal(err)
	}
	vacc := apiClient{base: base, token: strings.TrimSpace(out), http: http.DefaultClient}
	for i := range persons {
		var p struct {
			CardCode string `json:"card_code"`
		}
		json.Unmarshal(vacc.mustDo(t, "POST", "/api/v1/persons", fmt.Sprintf("p-%s-%d", site, i), `{}`, 201), &p)
		vacc.mustDo(t, "POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", fmt.Sprintf("d-%s-%d", site, i),
			`{"product":"coronavac","date":"2021-09-17","site":"`+site+`"}`, 201)
		vacc.mustDo(t, "GET", "/api/v1/persons/"+p.CardCode+"?purpose=care", "", "", 200)
	}
}

// auditRows reads the log as stored (SQLite keeps every entry in chain 0),
// decoding the compact layout of migration 0009: names from audit_names,
// the subject, and each entry's PrevHash from the entry before it.
func auditRows(t *testing.T, dir string) []audit.Entry {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	names := auditNames(t, db)
	rows, err := db.Query(`SELECT seq, at, actor, role, action, purpose, subject, hash, mac FROM audit_log WHERE chain = 0 ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var (
		out  []audit.Entry
		prev audit.Hash
	)
	for rows.Next() {
		var (
			e                         audit.Entry
			seq, at                   int64
			actor, role, action, purp int64
			subject, hash, mac        []byte
		)
		if err := rows.Scan(&seq, &at, &actor, &role, &action, &purp, &subject, &hash, &mac); err != nil {
			t.Fatal(err)
		}
		e.Seq, e.Time = uint64(seq), time.UnixMicro(at).UTC()
		e.Actor, e.Role, e.Action, e.Purpose = names[actor], names[role], names[action], names[purp]
		switch {
		case len(subject) == 0:
		case subject[0] == 0:
			e.Subject = string(subject[1:])
		default:
			id, n := binary.Uvarint(subject)
			e.Subject = names[int64(id)] + hex.EncodeToString(subject[n:])
		}
		copy(e.Hash[:], hash)
		e.PrevHash, prev = prev, e.Hash
		if len(mac) > 0 {
			var m audit.MAC
			copy(m[:], mac)
			e.MAC = &m
		}
		out = append(out, e)
	}
	return out
}

// auditNames reads the log's dictionary.
func auditNames(t *testing.T, db *sql.DB) map[int64]string {
	t.Helper()
	rows, err := db.Query(`SELECT id, name FROM audit_names`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names := map[int64]string{}
	for rows.Next() {
		var (
			id   int64
			name string
		)
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		names[id] = name
	}
	return names
}

// rewriteLog replaces the stored log with rows, as someone with the
// database file would (adding names to the dictionary as needed, and
// storing subjects as text, which the store reads as well).
func rewriteLog(t *testing.T, dir string, rows []audit.Entry) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM audit_log`); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{"": 0}
	for id, name := range auditNames(t, db) {
		ids[name] = id
	}
	id := func(name string) int64 {
		if id, ok := ids[name]; ok {
			return id
		}
		var id int64
		if err := db.QueryRow(`INSERT INTO audit_names (id, name) SELECT MAX(id) + 1, ? FROM audit_names RETURNING id`, name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[name] = id
		return id
	}
	for _, e := range rows {
		mac := []byte{} // none
		if e.MAC != nil {
			mac = e.MAC[:]
		}
		if _, err := db.Exec(`INSERT INTO audit_log (chain, seq, at, actor, role, action, purpose, subject, hash, mac, heads) VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, X'')`,
			int64(e.Seq), e.Time.UnixMicro(), id(e.Actor), id(e.Role), id(e.Action), id(e.Purpose), append([]byte{0}, e.Subject...), e.Hash[:], mac); err != nil {
			t.Fatal(err)
		}
	}
}

// copyDir copies a data folder (the server is stopped).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range entries {
		if f.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info()
		if err := os.WriteFile(filepath.Join(dst, f.Name()), data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestAuditVerifyDetectsShortening is the list: with the log keyed
// and its checkpoints exported, `haven audit verify --checkpoints` catches
// the log cut short by 1, 10 or every entry, the checkpoints table emptied,
// and an entry deleted with the chain recomputed (which needs the chain
// key); the edits of TestAuditVerifyDetectsTampering are caught on a keyed
// log too. Each of these passed on a bare SHA-256 chain with checkpoints
// signed every 10 minutes.
func TestAuditVerifyDetectsShortening(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	e := auditEnv{dir: dir}
	// A log from before keying: operator entries without a MAC.
	if _, _, err := e.run(t, "token", "create", "--role", "analyst"); err != nil {
		t.Fatal(err)
	}
	base, stop := e.serve(t, "--audit-export", export, "--checkpoint-every", "100ms")
	auditWorkload(t, e, base, 8)
	time.Sleep(300 * time.Millisecond)
	auditWorkload(t, e, base, 4)
	stop()

	out, errOut, err := e.run(t, "audit", "verify", "--checkpoints", export)
	if err != nil || !strings.Contains(out, "audit log OK") || !strings.Contains(out, "keyed from entry 2") {
		t.Fatalf("verify of the untouched log = %q %q, %v", out, errOut, err)
	}
	rows := auditRows(t, dir)
	if len(rows) < 40 {
		t.Fatalf("only %d entries; the test proves little", len(rows))
	}
	for _, r := range rows[1:] {
		if r.MAC == nil && r.Role != audit.RoleOperator {
			t.Fatalf("entry %d (%s by %s) was written without the chain key", r.Seq, r.Action, r.Role)
		}
	}
	// Without the export, verify says what it cannot see.
	if _, errOut, err := e.run(t, "audit", "verify"); err != nil || !strings.Contains(errOut, "warning: no external checkpoints") {
		t.Fatalf("verify without external checkpoints: %q, %v", errOut, err)
	}
	cps, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	exported, err := audit.ParseCheckpoints(cps)
	if err != nil || len(exported) < 2 || exported[len(exported)-1].Seq != uint64(len(rows)) {
		t.Fatalf("export holds %d checkpoints (%v), the last of seq %d; want the head %d", len(exported), err, exported[len(exported)-1].Seq, len(rows))
	}

	n := len(rows)
	// The entry to delete: one with a keyed entry before it, so that the
	// MACs place the rewrite exactly there.
	k := 19
	for rows[k-1].MAC == nil || rows[k].MAC == nil {
		k++
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		entry  string // the error must name it
		// withoutExport: also caught without --checkpoints
		withoutExport bool
	}{
		{"fail/truncated-1", func(t *testing.T, dir string) {
			tamper(t, dir, fmt.Sprintf(`DELETE FROM audit_log WHERE seq > %d`, n-1), fmt.Sprintf(`DELETE FROM audit_checkpoints WHERE seq > %d`, n-1))
		}, fmt.Sprintf("entry %d (truncated)", n), false},
		{"fail/truncated-10", func(t *testing.T, dir string) {
			tamper(t, dir, fmt.Sprintf(`DELETE FROM audit_log WHERE seq > %d`, n-10), fmt.Sprintf(`DELETE FROM audit_checkpoints WHERE seq > %d`, n-10))
		}, fmt.Sprintf("entry %d (truncated)", n-9), false},
		{"fail/truncated-all", func(t *testing.T, dir string) {
			tamper(t, dir, `DELETE FROM audit_log`, `DELETE FROM audit_checkpoints`)
		}, "entry 1 (truncated)", false},
		{"fail/checkpoints-deleted", func(t *testing.T, dir string) {
			tamper(t, dir, `DELETE FROM audit_checkpoints`)
		}, "(checkpoints-deleted)", false},
		{"fail/deleted-recomputed", func(t *testing.T, dir string) {
			r := auditRows(t, dir)
			r = append(r[:k:k], r[k+1:]...)
			for i := k; i < len(r); i++ {
				r[i].Seq, r[i].PrevHash = uint64(i+1), r[i-1].Hash
				r[i].Hash = r[i].ComputeHash()
			}
			rewriteLog(t, dir, r)
			tamper(t, dir, `DELETE FROM audit_checkpoints`)
		}, fmt.Sprintf("entry %d (", k+1), true},
		{"fail/deleted-recomputed-macs-dropped", func(t *testing.T, dir string) {
			r := auditRows(t, dir)
			r = append(r[:k:k], r[k+1:]...)
			for i := k; i < len(r); i++ {
				r[i].Seq, r[i].PrevHash, r[i].MAC = uint64(i+1), r[i-1].Hash, nil
				r[i].Hash = r[i].ComputeHash()
			}
			rewriteLog(t, dir, r)
			tamper(t, dir, `DELETE FROM audit_checkpoints`)
		}, fmt.Sprintf("entry %d (", k+1), true},
		{"fail/changed", func(t *testing.T, dir string) {
			tamper(t, dir, `UPDATE audit_log SET subject = X'00' || CAST('token:other' AS BLOB) WHERE seq = 14`)
		}, "entry 14", true},
		{"fail/deleted", func(t *testing.T, dir string) { tamper(t, dir, `DELETE FROM audit_log WHERE seq = 12`) }, "entry 12", true},
		{"fail/reordered", func(t *testing.T, dir string) {
			tamper(t, dir, `UPDATE audit_log SET seq = 100000 WHERE seq = 13`, `UPDATE audit_log SET seq = 13 WHERE seq = 15`, `UPDATE audit_log SET seq = 15 WHERE seq = 100000`)
		}, "entry 13", true},
		{"fail/inserted", func(t *testing.T, dir string) {
			tamper(t, dir, `UPDATE audit_log SET seq = seq + 100000 WHERE seq >= 13`, `UPDATE audit_log SET seq = seq - 99999 WHERE seq >= 100013`,
				`INSERT INTO audit_log SELECT chain, 13, at, actor, role, COALESCE((SELECT id FROM audit_names WHERE name = 'person.read'), action), purpose, subject, hash, mac, heads FROM audit_log WHERE seq = 12`)
		}, "entry 13", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := auditEnv{dir: copyDir(t, dir)}
			tt.tamper(t, c.dir)
			_, _, err := c.run(t, "audit", "verify", "--checkpoints", export)
			if err == nil {
				t.Fatal("haven audit verify --checkpoints passed a tampered log")
			}
			if !strings.Contains(err.Error(), tt.entry) {
				t.Fatalf("error %q does not name %s", err, tt.entry)
			}
			if tt.withoutExport {
				if _, _, err := c.run(t, "audit", "verify"); err == nil || !strings.Contains(err.Error(), tt.entry) {
					t.Fatalf("without the export: %v, want an error naming %s", err, tt.entry)
				}
			}
			t.Log(err)
		})
	}
}

// TestAuditCrashWindow kills `haven serve` with SIGKILL three times while
// clients record doses. After each kill, the entries that no signed
// checkpoint covers (in the database or the export) must all have been
// written in the last auditCheckpointEvery before the kill (plus a second
// of slack for a loaded machine), and the log still verifies against the
// export.
func TestAuditCrashWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the binary; skipped with -short")
	}
	const slack = time.Second
	bin := havenBinary(t)
	dir := t.TempDir()
	export := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	env := []string{"HAVEN_AUDIT_EXPORT=" + export}
	flags := []string{"--data", dir}
	srv, client, cards := startWithPersons(t, bin, env, flags)
	for round := range 3 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					body := fmt.Sprintf(`{"product":"coronavac","date":"2021-09-%02d","site":"YB-1"}`, 1+i%28)
					if status, _, err := client.do("POST", "/api/v1/persons/"+cards[(c+i)%len(cards)]+"/vaccinations", fmt.Sprintf("r%d-c%d-%d", round, c, i), body); err != nil || status != http.StatusCreated {
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(2500+700*round) * time.Millisecond)
		killedAt := time.Now()
		srv.kill()
		close(stop)
		wg.Wait()

		rows := auditRows(t, dir)
		covered := lastCheckpointed(t, dir, export)
		if covered == 0 {
			t.Fatalf("round %d: %d entries and no signed checkpoint", round, len(rows))
		}
		uncovered := 0
		for _, r := range rows {
			if r.Seq <= covered {
				continue
			}
			uncovered++
			if age := killedAt.Sub(r.Time); age > auditCheckpointEvery+slack {
				t.Fatalf("round %d: entry %d, written %s before the kill, has no signed checkpoint (the last covers %d of %d)",
					round, r.Seq, age.Round(time.Millisecond), covered, len(rows))
			}
		}
		t.Logf("round %d: %d entries, %d without a checkpoint at the kill", round, len(rows), uncovered)
		if out, err := runCLIErr(bin, env, append(flags, "audit", "verify")...); err != nil {
			t.Fatalf("round %d: audit verify after the kill: %v\n%s", round, err, out)
		}
		srv = startServe(t, bin, env, flags...)
		client.base = "http://" + srv.addr
	}
	// A clean stop signs the head.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
	rows := auditRows(t, dir)
	if covered := lastCheckpointed(t, dir, export); covered != rows[len(rows)-1].Seq {
		t.Fatalf("after a clean stop the last checkpoint covers %d of %d entries", covered, len(rows))
	}
	if out, err := runCLIErr(bin, env, append(flags, "audit", "verify")...); err != nil || !strings.Contains(out, "audit log OK") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}

// lastCheckpointed returns the highest seq covered by a checkpoint in the
// database or the export.
func lastCheckpointed(t *testing.T, dir, export string) uint64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored sql.NullInt64
	if err := db.QueryRow(`SELECT max(seq) FROM audit_checkpoints`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	covered := uint64(stored.Int64)
	data, err := os.ReadFile(export)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	cps, err := audit.ParseCheckpoints(data)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	for _, c := range cps {
		covered = max(covered, c.Seq)
	}
	return covered
}

func runCLIErr(bin string, env []string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestAuditKeysAfterShred: the key ring is shredded and a new one made. The
// next start makes a new signing key and chain key (the old signing key
// file no longer opens), records the new chain key's epoch in the log, and
// `haven audit verify` still verifies the old chain: old checkpoints
// against the public key kept in audit-public-keys.jsonl, old entries
// through the new epoch's MACs.
func TestAuditKeysAfterShred(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	e := auditEnv{dir: dir}
	base, stop := e.serve(t, "--audit-export", export, "--checkpoint-every", "100ms")
	auditWorkload(t, e, base, 3)
	stop()
	oldKey, _, err := e.run(t, "audit", "key")
	if err != nil {
		t.Fatal(err)
	}
	// What `haven seal --shred` leaves: no ring. Then a new one.
	ring := filepath.Join(dir, "master.key")
	if err := os.Remove(ring); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.Create(ring, vault.Options{}); err != nil {
		t.Fatal(err)
	}
	base, stop = e.serve(t, "--audit-export", export, "--checkpoint-every", "100ms")
	auditWorkload(t, e, base, 3)
	// The HTTP route knows only the new key: the old checkpoints are
	// skipped, not an error.
	out, _, err := e.run(t, "token", "create", "--role", "auditor")
	if err != nil {
		t.Fatal(err)
	}
	auditor := apiClient{base: base, token: strings.TrimSpace(out), http: http.DefaultClient}
	var api audit.Report
	json.Unmarshal(auditor.mustDo(t, "GET", "/api/v1/audit/verify", "", "", 200), &api)
	if !api.OK || api.Skipped == 0 {
		t.Fatalf("GET /api/v1/audit/verify after the shred = %+v", api)
	}
	stop()

	newKey, _, err := e.run(t, "audit", "key")
	if err != nil || newKey == oldKey {
		t.Fatalf("the signing key did not change after the shred: %q, %v", newKey, err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, auditSigningKeyFile+".*.old")); len(matches) != 1 {
		t.Fatalf("the old signing key file was not kept aside: %v", matches)
	}
	keys, err := os.ReadFile(filepath.Join(dir, auditPublicKeysFile))
	if err != nil || !bytes.Contains(keys, []byte(strings.TrimSpace(oldKey))) || !bytes.Contains(keys, []byte(strings.TrimSpace(newKey))) {
		t.Fatalf("%s does not hold both public keys:\n%s", auditPublicKeysFile, keys)
	}
	out, _, err = e.run(t, "audit", "verify", "--checkpoints", export, "--json")
	var rep audit.Report
	if jerr := json.Unmarshal([]byte(out), &rep); err != nil || jerr != nil {
		t.Fatalf("verify after the shred: %v %v\n%s", err, jerr, out)
	}
	if !rep.OK || len(rep.Epochs) != 2 || rep.Epochs[0].Checked || !rep.Epochs[1].Checked || rep.Skipped != 0 || rep.External == 0 {
		t.Fatalf("report = %+v", rep)
	}
	// The old epoch's entries are now covered by the new key: changing one
	// and recomputing the chain is caught.
	c := auditEnv{dir: copyDir(t, dir)}
	r := auditRows(t, c.dir)
	r[3].Actor = "tok-someone-else"
	for i := 3; i < len(r); i++ {
		if i > 3 {
			r[i].PrevHash = r[i-1].Hash
		}
		r[i].Hash = r[i].ComputeHash()
	}
	rewriteLog(t, c.dir, r)
	tamper(t, c.dir, `DELETE FROM audit_checkpoints`)
	if _, _, err := c.run(t, "audit", "verify"); err == nil || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("verify of the rewritten old epoch = %v", err)
	}
}

// TestAuditSignerRefusesReplacedKey: a signing key file that does not open
// under the very ring that made it is refused, not silently replaced.
func TestAuditSignerRefusesReplacedKey(t *testing.T) {
	dir := t.TempDir()
	e := auditEnv{dir: dir}
	if _, _, err := e.run(t, "audit", "key"); err != nil {
		t.Fatal(err)
	}
	other, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := other.EncryptBlob(auditSigningKeyName, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, auditSigningKeyFile), blob, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.run(t, "audit", "key"); err == nil || !strings.Contains(err.Error(), "does not open under this key ring") {
		t.Fatalf("a replaced signing key = %v", err)
	}
}

// TestAuditVerifyTornExport: a crash while appending to the export can
// leave half a line; verify uses the rest.
func TestAuditVerifyTornExport(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	e := auditEnv{dir: dir}
	base, stop := e.serve(t, "--audit-export", export, "--checkpoint-every", "100ms")
	auditWorkload(t, e, base, 2)
	stop()
	f, err := os.OpenFile(export, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"origin":"haven","seq":`)
	f.Close()
	out, errOut, err := e.run(t, "audit", "verify", "--checkpoints", export)
	if err != nil || !strings.Contains(out, "audit log OK") || !strings.Contains(errOut, "incomplete last line") {
		t.Fatalf("verify with a torn export = %q %q, %v", out, errOut, err)
	}
}

// TestAuditRenewalWhileRunning: the key ring is renewed under a running
// server. The next checkpoint starts the new chain key's epoch and signs it
// with the old signing key first, then with the new one, so the old key
// vouches for the change; the log verifies with the new chain key.
func TestAuditRenewalWhileRunning(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := auditEnv{dir: dir}
	env := &commandEnv{Getenv: e.getenv, Stdout: io.Discard, Stderr: io.Discard, DataDir: dir, Now: time.Now}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v1, err := vault.Create(filepath.Join(dir, "master.key"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	a, err := startAudit(ctx, env, db, v1, export)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	rec := func(action string) {
		if err := db.AppendAudit(ctx, *cliAudit(env, action, "")); err != nil {
			t.Fatal(err)
		}
	}
	rec("stats.coverage")
	if err := a.checkpoint(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	oldKey := a.publicKey()

	// The ring is renewed in place (what a shred and a new ring do to the
	// vault the server holds).
	os.Remove(filepath.Join(dir, "master.key"))
	v2, err := vault.Create(filepath.Join(dir, "master.key"), vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.v = v2
	a.derived.Store(0) // as if chainKeyRecheck had passed
	rec("stats.gaps")
	if err := a.checkpoint(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	newKey := a.publicKey()
	if newKey.Equal(oldKey) {
		t.Fatal("the signing key did not change with the ring")
	}
	rows := auditRows(t, dir)
	var epochs []uint64
	for _, r := range rows {
		if r.Action == audit.EpochAction {
			epochs = append(epochs, r.Seq)
		}
	}
	if len(epochs) != 2 {
		t.Fatalf("chain-key entries at %v, want two", epochs)
	}
	data, _ := os.ReadFile(export)
	cps, err := audit.ParseCheckpoints(data)
	if err != nil {
		t.Fatal(err)
	}
	byOld := false
	for _, c := range cps {
		byOld = byOld || (c.KeyID == audit.KeyID(oldKey) && c.Seq >= epochs[1])
	}
	if !byOld {
		t.Fatalf("no checkpoint of the old key covers the new epoch (entry %d): %+v", epochs[1], cps)
	}
	if out, errOut, err := e.run(t, "audit", "verify", "--checkpoints", export); err != nil || !strings.Contains(out, "audit log OK") {
		t.Fatalf("verify = %q %q, %v", out, errOut, err)
	}
}

// BenchmarkAuditChainKey is what keying costs each audited write in a
// server: the store asks serverAudit for the chain key (an HKDF derivation
// from the vault and a comparison).
func BenchmarkAuditChainKey(b *testing.B) {
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		b.Fatal(err)
	}
	a := &serverAudit{v: v}
	b.ReportAllocs()
	for b.Loop() {
		if a.chainKey() == nil {
			b.Fatal("no chain key")
		}
	}
}

// BenchmarkAuditCheckpoint is one tick of checkpointLoop when the head has
// moved, on SQLite with synchronous=FULL: read the head, sign it, store it
// (replacing the previous one), export it to a file and sync that. A
// server does this at most once every auditCheckpointEvery.
func BenchmarkAuditCheckpoint(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	env := &commandEnv{Getenv: func(string) string { return "" }, Stdout: io.Discard, Stderr: io.Discard, DataDir: dir, Now: time.Now}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	v, err := openVault(env)
	if err != nil {
		b.Fatal(err)
	}
	a, err := startAudit(ctx, env, db, v, filepath.Join(dir, "export.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer a.close()
	for b.Loop() {
		b.StopTimer()
		if err := db.AppendAudit(ctx, *cliAudit(env, "stats.coverage", "")); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := a.checkpoint(ctx, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
