package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The proofs of offline clinic nodes (docs/adr/0006): a central on
// PostgreSQL and nodes on SQLite, as separate processes over TLS.

// recordMany records n doses at the node over persons, concurrently, and
// returns their IDs.
func (n *node) recordMany(t *testing.T, cards []string, site string, count int) map[string]bool {
	t.Helper()
	var (
		mu  sync.Mutex
		ids = map[string]bool{}
		wg  sync.WaitGroup
		sem = make(chan struct{}, 8)
	)
	for i := range count {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%300).Format(time.DateOnly)
			body := fmt.Sprintf(`{"product":"comirnaty","date":%q,"site":%q,"lot":"L%d"}`, date, site, i)
			status, out, err := n.staff.do("POST", "/api/v1/persons/"+cards[i%len(cards)]+"/vaccinations", fmt.Sprintf("dose-%d", i), body)
			if err != nil || status != 201 {
				t.Errorf("dose %d: %d %s %v", i, status, out, err)
				return
			}
			var v struct {
				ID string `json:"id"`
			}
			json.Unmarshal(out, &v)
			mu.Lock()
			ids[v.ID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// registerMany registers n persons without demographics.
func (n *node) registerMany(n2 int) []string {
	var cards []string
	for i := range n2 {
		cards = append(cards, n.register(fmt.Sprintf(`{"birth_date":"19%02d-0%d-1%d","sex":"female"}`, 50+i%40, 1+i%9, i%10)))
	}
	return cards
}

// exactlyOnce fails unless the central holds every ID once.
func (w *syncWorld) exactlyOnce(t *testing.T, ids map[string]bool) {
	t.Helper()
	got := w.centralDoseIDs(w.centralDB())
	missing, twice := 0, 0
	for id := range ids {
		switch got[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if missing > 0 || twice > 0 {
		t.Fatalf("the central holds %d of the node's %d doses: %d missing, %d more than once", len(ids)-missing, len(ids), missing, twice)
	}
}

// waitCentral waits until the central holds every ID.
func (w *syncWorld) waitCentral(t *testing.T, ids map[string]bool, within time.Duration, logs func() string) time.Duration {
	t.Helper()
	db := w.centralDB()
	start := time.Now()
	waitUntil(t, fmt.Sprintf("%d doses at the central", len(ids)), within, func() bool {
		got := w.centralDoseIDs(db)
		for id := range ids {
			if got[id] == 0 {
				return false
			}
		}
		return true
	}, logs)
	return time.Since(start)
}

// TestSyncPartition: with the central down, a node records 1,000 doses; the
// central comes back and within 30 s holds all of them exactly once.
func TestSyncPartition(t *testing.T) {
	w := newSyncWorld(t)
	a := w.newNode("YB-1", "")
	cards := a.registerMany(50)
	w.central.kill()
	ids := a.recordMany(t, cards, "YB-1", 1000)
	if p := a.pending(); p < 1000 {
		t.Fatalf("the node has %d events waiting with the central down; want at least 1,000", p)
	}
	st := a.status()
	if st["state"] == "online" || st["last_error"] == "" {
		t.Errorf("with the central down, sync status = %v; want offline with an error", st)
	}
	w.central.start()
	took := w.waitCentral(t, ids, 30*time.Second, func() string { return a.logs.String() })
	t.Logf("1,000 doses reached the central %s after it came back", took.Round(time.Millisecond))
	w.exactlyOnce(t, ids)
	db := w.centralDB()
	if n := w.count(db, `SELECT count(*) FROM persons`); n != 50 {
		t.Errorf("the central holds %d persons; want 50", n)
	}
	a.waitFor("an empty outbox", 10*time.Second, func() bool { return a.pending() == 0 })
}

// TestSyncTwoNodesOnePerson: a card registered at node A is used at node B
// while A is offline; the central ends with both doses, A sees B's dose
// after its next sync, and both forecasts count every dose.
func TestSyncTwoNodesOnePerson(t *testing.T) {
	w := newSyncWorld(t)
	a := w.newNode("YB-1", "")
	b := w.newNode("YB-2", "")
	card := a.register(`{"given_name":"순희","family_name":"김","birth_date":"1990-04-01","sex":"female"}`)
	first := a.dose(card, "YB-1", "2026-01-10")
	a.waitFor("A's person and dose at the central", 15*time.Second, func() bool { return a.pending() == 0 })
	a.stop()

	rec := b.record(card) // looked up at the central
	if vs, _ := rec["vaccinations"].([]any); len(vs) != 1 {
		t.Fatalf("B's lookup of A's card has %d doses; want 1: %v", len(vs), rec)
	}
	if rec["given_name"] != nil {
		t.Errorf("B received A's person's name: %v", rec)
	}
	second := b.dose(card, "YB-2", "2026-03-01")
	b.waitFor("B's dose at the central", 15*time.Second, func() bool { return b.pending() == 0 })
	w.exactlyOnce(t, map[string]bool{first: true, second: true})

	a.start()
	a.waitFor("B's dose at A", 30*time.Second, func() bool {
		vs, _ := a.record(card)["vaccinations"].([]any)
		return len(vs) == 2
	})
	for name, n := range map[string]*node{"A": a, "B": b} {
		var f struct {
			Evaluations []any `json:"evaluations"`
		}
		json.Unmarshal(n.staff.mustDo(t, "GET", "/api/v1/persons/"+card+"/forecast", "", "", 200), &f)
		if len(f.Evaluations) < 2 {
			t.Errorf("the forecast at %s evaluates %d doses; want both", name, len(f.Evaluations))
		}
	}
	if rec := a.record(card); rec["given_name"] != "순희" {
		t.Errorf("A lost its own person's name after syncing: %v", rec["given_name"])
	}
}

// TestSyncErasureBothWays: an erasure at the central removes the person from
// each node that holds them; an erasure at a node reaches the central.
func TestSyncErasureBothWays(t *testing.T) {
	w := newSyncWorld(t)
	a := w.newNode("YB-1", "")
	b := w.newNode("YB-2", "")
	db := w.centralDB()

	// At the central: A registered the person, B looked them up.
	card := a.register(`{"given_name":"Mi","birth_date":"1985-02-03","sex":"female"}`)
	a.dose(card, "YB-1", "2026-02-01")
	a.waitFor("sync", 15*time.Second, func() bool { return a.pending() == 0 })
	b.record(card)
	w.admin.mustDo(t, "DELETE", "/api/v1/persons/"+card, "", "", 204)
	for name, n := range map[string]*node{"A": a, "B": b} {
		n.waitFor("the erasure at "+name, 30*time.Second, func() bool {
			status, _, _ := n.staff.do("GET", "/api/v1/persons/"+card+"?purpose=care", "", "")
			return status == 404
		})
	}
	if n := w.count(db, `SELECT count(*) FROM persons WHERE card_code = $1`, card); n != 0 {
		t.Errorf("the central still holds the erased card")
	}

	// At a node: the erasure reaches the central and the other node.
	card2 := a.register(`{"given_name":"Yu","birth_date":"1979","sex":"male"}`)
	a.dose(card2, "YB-1", "2026-02-02")
	a.waitFor("sync", 15*time.Second, func() bool { return a.pending() == 0 })
	b.record(card2)
	a.admin.mustDo(t, "DELETE", "/api/v1/persons/"+card2, "", "", 204)
	a.waitFor("the erasure at the central", 30*time.Second, func() bool {
		return w.count(db, `SELECT count(*) FROM persons WHERE card_code = $1`, card2) == 0
	})
	b.waitFor("the erasure at B", 30*time.Second, func() bool {
		status, _, _ := b.staff.do("GET", "/api/v1/persons/"+card2+"?purpose=care", "", "")
		return status == 404
	})
	if n := w.count(db, `SELECT count(*) FROM sync_tombstones`); n != 2 {
		t.Errorf("the central keeps %d tombstones; want 2", n)
	}
}

// TestSyncLeastData: names and phones registered at nodes never reach the
// central's database (pg_dump), nor do holder secrets.
func TestSyncLeastData(t *testing.T) {
	if _, err := exec.LookPath("pg_dump"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pg_dump is needed in CI")
		}
		t.Skip("pg_dump not installed")
	}
	w := newSyncWorld(t)
	a := w.newNode("YB-1", "")
	markers := []string{"김순희마커", "金顺姬标记", "MARKERGIVEN", "MARKERFAMILY", "+82-10-9988-7766"}
	var secrets []string
	for i := range 5 {
		body := fmt.Sprintf(`{"given_name":"%s","family_name":"%s","given_name_icao":"MARKERGIVEN","family_name_icao":"MARKERFAMILY","phone":"+82-10-9988-7766","birth_date":"1991-0%d-15","sex":"female"}`,
			markers[0], markers[1], i+1)
		var p struct {
			CardCode     string `json:"card_code"`
			HolderSecret string `json:"holder_secret"`
		}
		json.Unmarshal(a.staff.mustDo(t, "POST", "/api/v1/persons", "", body, 201), &p)
		secrets = append(secrets, p.HolderSecret)
		a.dose(p.CardCode, "YB-1", "2026-04-01")
	}
	a.waitFor("sync", 15*time.Second, func() bool { return a.pending() == 0 })
	db := w.centralDB()
	if n := w.count(db, `SELECT count(*) FROM persons`); n != 5 {
		t.Fatalf("the central holds %d persons; want 5", n)
	}
	u, _ := url.Parse(w.pgURL)
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path")
	u.RawQuery = q.Encode()
	out, err := exec.Command("pg_dump", "--dbname", u.String(), "--schema", schema, "--data-only").Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	dump := string(out)
	if !strings.Contains(dump, "comirnaty") {
		t.Fatal("the dump holds no doses: it is not the central's database")
	}
	for _, m := range append(markers, secrets...) {
		if strings.Contains(dump, m) {
			t.Errorf("the central's database holds %q, registered at a node", m)
		}
	}
	// The birth date is kept as the year only.
	var sealedLen int
	db.QueryRow(`SELECT max(length(sealed)) FROM persons`).Scan(&sealedLen)
	t.Logf("sealed part at the central: at most %d bytes per person", sealedLen)
}

// TestSyncOfflineCertificate: a node offline since its enrolment issues a
// certificate that verifies with the central's exported trust list.
func TestSyncOfflineCertificate(t *testing.T) {
	w := newSyncWorld(t)
	a := w.newNode("YB-1", "")
	trust := filepath.Join(t.TempDir(), "trust.json")
	w.central.cli("keys", "trust-list", "--out", trust)
	w.central.kill()
	card := a.register(`{"given_name":"Sun","family_name":"Kim","given_name_icao":"SUN","family_name_icao":"KIM","birth_date":"1990-04-01","sex":"female"}`)
	id := a.dose(card, "YB-1", "2026-01-10")
	var c struct {
		HC1 string `json:"hc1"`
	}
	json.Unmarshal(a.staff.mustDo(t, "POST", "/api/v1/persons/"+card+"/certificates", "", `{"record":"`+id+`","override":"clinical_judgement"}`, 201), &c)
	if !strings.HasPrefix(c.HC1, "HC1:") {
		t.Fatalf("no certificate: %q", c.HC1)
	}
	cmd := exec.Command(w.bin, "cert", "verify", "--trust", trust, "--json", c.HC1)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the certificate issued offline does not verify with the central's trust list: %v\n%s", err, out)
	}
	// Its metadata reaches the central when it is back: the UVCI and key
	// ID, for the record it certifies, and nothing of the names in it.
	var verified struct {
		UVCI string `json:"uvci"`
	}
	json.Unmarshal(out, &verified)
	w.central.start()
	db := w.centralDB()
	a.waitFor("the certificate's metadata at the central", 20*time.Second, func() bool {
		return w.count(db, `SELECT count(*) FROM certificates WHERE record_id = decode($1, 'hex')`, id) == 1
	})
	var uvci string
	db.QueryRow(`SELECT uvci FROM certificates`).Scan(&uvci)
	if !strings.HasPrefix(uvci, "URN:UVCI:") || (verified.UVCI != "" && verified.UVCI != uvci) {
		t.Errorf("the central keeps UVCI %q for a certificate whose UVCI is %q", uvci, verified.UVCI)
	}
}

// TestSyncErrors: a node whose central is unreachable, whose token is wrong,
// or which does not trust the central's certificate keeps working and says
// why in one line with a stable code; a URL that is not a central's is
// refused at start.
func TestSyncErrors(t *testing.T) {
	w := newSyncWorld(t)
	tok := w.central.cli("token", "create", "--role", "node", "--site", "YB-1")
	cases := []struct {
		name, code string
		flags      []string
		token      string
	}{
		{"unreachable", "unreachable", []string{"--upstream", "https://" + freeAddr(t), "--upstream-ca", w.tls.CertFile}, tok},
		{"bad token", "unauthorized", []string{"--upstream", "https://" + w.central.addr, "--upstream-ca", w.tls.CertFile}, "hvn_notatoken"},
		{"untrusted certificate", "tls", []string{"--upstream", "https://" + w.central.addr}, tok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := &node{w: w, proc: &proc{t: t, bin: w.bin, addr: freeAddr(t), global: []string{"--data", t.TempDir()},
				serve: tc.flags, env: []string{"HAVEN_UPSTREAM_TOKEN=" + tc.token}}}
			n.start()
			defer n.kill()
			n.admin = apiClient{base: "http://" + n.addr, token: n.cli("token", "create", "--role", "admin"), http: &http.Client{Timeout: 10 * time.Second}}
			var st map[string]any
			n.waitFor("the error in sync status", 20*time.Second, func() bool {
				st = n.status()
				return st["last_error_code"] == tc.code
			})
			msg, _ := st["last_error"].(string)
			if msg == "" || strings.ContainsAny(msg, "\n\r") {
				t.Errorf("last_error = %q; want one line", msg)
			}
			if st["state"] == "online" {
				t.Errorf("state online with error %q", msg)
			}
			t.Logf("%s: %s", tc.code, msg)
			// The clinic keeps working.
			if status, body, _ := n.admin.do("GET", "/api/v1/sites", "", ""); status != 200 {
				t.Errorf("the node stopped serving: %d %s", status, body)
			}
		})
	}
	// Not a central's URL at all: refused at start, in one line.
	cmd := exec.Command(w.bin, "--data", t.TempDir(), "--addr", freeAddr(t), "serve", "--upstream", "ftp://central.example")
	cmd.Env = append(os.Environ(), "HAVEN_UPSTREAM_TOKEN="+tok)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--upstream") {
		t.Errorf("a wrong --upstream URL started a node: %v %s", err, out)
	}
}

// TestSyncPolicyPacks: a node copies the central's policy packs at
// enrolment and decides with them, also after a restart while the central
// is down.
func TestSyncPolicyPacks(t *testing.T) {
	// The central's packs: the bundled ones, with the inclusive pack
	// renamed, so that only a node that copied them knows it.
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", filepath.Join("..", "..", "policies", "inclusive"), filepath.Join(dir, "central-only")).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	pack := filepath.Join(dir, "central-only", "pack.yaml")
	b, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pack, []byte(strings.Replace(string(b), "name: inclusive", "name: central-only", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newSyncWorld(t, "--policies", dir)
	a := w.newNode("YB-1", "")
	decide := `{"pack":"central-only","jurisdiction":"CN-JL","service":"vaccination","as_of":"2026-12-01","facts":{}}`
	a.waitFor("the central's packs at the node", 15*time.Second, func() bool {
		status, _, _ := a.staff.do("POST", "/api/v1/eligibility", "", decide)
		return status == 200
	})
	version, _ := a.status()["policy_version"].(string)
	if !strings.HasPrefix(version, "sha256:") {
		t.Errorf("sync status names policy version %q", version)
	}
	w.central.kill()
	a.stop()
	a.start()
	if status, body, _ := a.staff.do("POST", "/api/v1/eligibility", "", decide); status != 200 {
		t.Errorf("after a restart with the central down, the node decides with %d %s; want the central's pack", status, body)
	}
	// The bundled packs a node started with are not the central's.
	if status, _, _ := a.staff.do("POST", "/api/v1/eligibility", "", strings.Replace(decide, "central-only", "inclusive", 1)); status == 200 {
		t.Errorf("the node still decides with its bundled inclusive pack; want the central's packs only")
	}
}
