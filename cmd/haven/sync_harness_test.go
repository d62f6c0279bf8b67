package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/haven-registry/haven/internal/storetest"
	"github.com/haven-registry/haven/internal/testenv"
)

// The harness of the offline-node tests: a central `haven serve` on
// PostgreSQL over TLS, and nodes, each a `haven serve --upstream` on its own
// SQLite data folder, all separate processes (docs/adr/0006).

// havenClockBinary builds the binary with -tags testclock, whose clock
// HAVEN_TEST_CLOCK_OFFSET moves.
func havenClockBinary(t *testing.T) string { return buildHaven(t, "testclock") }

// proc is one running haven serve.
type proc struct {
	t      *testing.T
	bin    string
	global []string // flags before the command (--data)
	serve  []string // flags after "serve"
	env    []string
	addr   string
	https  bool
	cmd    *exec.Cmd
	logs   *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the process's output copier and
// the test reading it at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (p *proc) start() {
	p.t.Helper()
	args := append(append([]string{}, p.global...), "--addr", p.addr, "serve", "--log-level", "warn")
	args = append(args, p.serve...)
	cmd := exec.Command(p.bin, args...)
	cmd.Env = append(os.Environ(), p.env...)
	p.logs = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd = cmd
	scheme := "http"
	if p.https {
		scheme = "https"
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := client.Get(scheme + "://" + p.addr + "/healthz")
		if err == nil {
			res.Body.Close()
			return
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	p.t.Fatalf("haven serve did not start: %s", p.logs)
}

// kill stops the process with SIGKILL.
func (p *proc) kill() {
	if p.cmd != nil && p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// stop stops the process gracefully.
func (p *proc) stop() {
	if p.cmd != nil && p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.kill()
		}
	}
}

// cli runs a haven command on the process's data folder.
func (p *proc) cli(args ...string) string {
	p.t.Helper()
	cmd := exec.Command(p.bin, append(append([]string{}, p.global...), args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		p.t.Fatalf("haven %s: %v (%s %s)", strings.Join(args, " "), err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}

// syncWorld is a central and its nodes.
type syncWorld struct {
	t        *testing.T
	bin      string
	tls      testenv.LoopbackTLS
	central  *proc
	pgURL    string
	admin    apiClient // at the central
	trustOut string    // the central's trust list file
}

// newSyncWorld starts a central on a fresh PostgreSQL schema, with keys,
// the sites YB-1 and YB-2, and an admin token.
func newSyncWorld(t *testing.T, extra ...string) *syncWorld {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a central and clinic nodes as separate processes; skipped with -short")
	}
	w := &syncWorld{t: t, bin: havenBinary(t), tls: testenv.NewLoopbackTLS(t), pgURL: storetest.PostgresURL(t)}
	data := t.TempDir()
	flags := append([]string{"--tls-cert", w.tls.CertFile, "--tls-key", w.tls.KeyFile}, extra...)
	w.central = &proc{t: t, bin: w.bin, addr: freeAddr(t), https: true,
		global: []string{"--data", data}, serve: flags, env: []string{"HAVEN_DB=" + w.pgURL}}
	w.central.cli("keys", "init", "--country", "KR")
	w.central.start()
	t.Cleanup(w.central.kill)
	w.admin = apiClient{base: "https://" + w.central.addr, token: w.central.cli("token", "create", "--role", "admin"),
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.tls.Pool}}}}
	for _, site := range []string{"YB-1", "YB-2"} {
		w.admin.mustDo(t, "POST", "/api/v1/sites", "", `{"code":"`+site+`","name":"Yanji `+site+`","jurisdiction":"CN-JL-YB","services":["vaccination","testing"]}`, 201)
	}
	return w
}

// centralDB opens the central's database, for counting what it holds.
func (w *syncWorld) centralDB() *sql.DB {
	w.t.Helper()
	db, err := sql.Open("pgx", w.pgURL)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { db.Close() })
	return db
}

// count runs a counting query at the central.
func (w *syncWorld) count(db *sql.DB, q string, args ...any) int {
	w.t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// node is one clinic node.
type node struct {
	*proc
	w     *syncWorld
	data  string
	staff apiClient // a vaccinator token of the node, at the node
	admin apiClient // an admin token of the node, at the node
}

// newNode enrols a node for the given site at the central and starts it.
// env adds variables (a clock offset). It waits for its enrolment.
func (w *syncWorld) newNode(site string, bin string, env ...string) *node {
	w.t.Helper()
	tok := w.central.cli("token", "create", "--role", "node", "--site", site, "--label", "clinic-"+site)
	return w.startNode(tok, site, bin, env...)
}

// startNode starts a node with a node token on a fresh data folder.
func (w *syncWorld) startNode(tok, site, bin string, env ...string) *node {
	w.t.Helper()
	return w.startNodeAt(tok, site, "", bin, env...)
}

// startNodeAt is startNode with the node's --upstream set to upstream, an
// http:// URL on loopback (a proxy in front of the central); "" is the
// central itself, over TLS.
func (w *syncWorld) startNodeAt(tok, site, upstream, bin string, env ...string) *node {
	w.t.Helper()
	if bin == "" {
		bin = w.bin
	}
	data := w.t.TempDir()
	flags := []string{"--upstream", upstream, "--node-label", "clinic-" + site}
	if upstream == "" {
		flags = []string{"--upstream", "https://" + w.central.addr, "--upstream-ca", w.tls.CertFile, "--node-label", "clinic-" + site}
	}
	n := &node{w: w, data: data, proc: &proc{t: w.t, bin: bin, addr: freeAddr(w.t),
		// The tests poll records until a sync shows; the per-token and
		// per-card read limits are lifted so that polling is not refused.
		global: []string{"--data", data}, serve: flags, env: append([]string{"HAVEN_UPSTREAM_TOKEN=" + tok, "HAVEN_READ_LIMIT=100000"}, env...)}}
	n.start()
	w.t.Cleanup(n.kill)
	n.admin = apiClient{base: "http://" + n.addr, token: n.cli("token", "create", "--role", "admin"), http: &http.Client{Timeout: 10 * time.Second}}
	// The node copies its sites from the central at enrolment.
	n.waitFor("enrolment", 30*time.Second, func() bool {
		status, body, err := n.admin.do("GET", "/api/v1/sites", "", "")
		return err == nil && status == 200 && strings.Contains(string(body), site)
	})
	n.staff = apiClient{base: "http://" + n.addr, token: n.cli("token", "create", "--role", "vaccinator", "--site", site),
		http: &http.Client{Timeout: 10 * time.Second}}
	return n
}

// waitFor polls cond until it holds or the time runs out.
func (n *node) waitFor(what string, d time.Duration, cond func() bool) {
	n.t.Helper()
	waitUntil(n.t, what, d, cond, func() string { return n.logs.String() })
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s; logs:\n%s", d, what, logs())
}

// register registers a person at the node with demographics and returns
// the card code.
func (n *node) register(body string) string {
	n.t.Helper()
	var p struct {
		CardCode string `json:"card_code"`
	}
	if err := json.Unmarshal(n.staff.mustDo(n.t, "POST", "/api/v1/persons", "", body, 201), &p); err != nil {
		n.t.Fatal(err)
	}
	return p.CardCode
}

// dose records a dose at the node and returns its ID.
func (n *node) dose(card, site, date string) string {
	n.t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	body := fmt.Sprintf(`{"product":"comirnaty","date":%q,"site":%q}`, date, site)
	if err := json.Unmarshal(n.staff.mustDo(n.t, "POST", "/api/v1/persons/"+card+"/vaccinations", "", body, 201), &v); err != nil {
		n.t.Fatal(err)
	}
	return v.ID
}

// status is the node's `haven sync status --json` as the API answers it.
func (n *node) status() map[string]any {
	n.t.Helper()
	var st map[string]any
	json.Unmarshal(n.admin.mustDo(n.t, "GET", "/api/v1/sync/status", "", "", 200), &st)
	return st
}

// pending is how many events wait in the node's outbox.
func (n *node) pending() int {
	v, _ := n.status()["pending"].(float64)
	return int(v)
}

// record reads a card at the node.
func (n *node) record(card string) map[string]any {
	n.t.Helper()
	var rec map[string]any
	json.Unmarshal(n.staff.mustDo(n.t, "GET", "/api/v1/persons/"+card+"?purpose=care", "", "", 200), &rec)
	return rec
}

// centralDoseIDs returns the IDs of the completed doses at the central, with
// how many times each appears and how many hold a node's source reference.
func (w *syncWorld) centralDoseIDs(db *sql.DB) map[string]int {
	w.t.Helper()
	rows, err := db.Query(`SELECT encode(id, 'hex') FROM vaccinations`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		out[id]++
	}
	return out
}

// nodeToken makes a node token for site at the central.
func (w *syncWorld) nodeToken(site, label string) string {
	w.t.Helper()
	return w.central.cli("token", "create", "--role", "node", "--site", site, "--label", label)
}

// tokenID finds the ID of the central's token with the given role and
// label (GET /api/v1/tokens).
func (w *syncWorld) tokenID(role, label string) string {
	w.t.Helper()
	var list struct {
		Tokens []struct {
			ID    string `json:"id"`
			Role  string `json:"role"`
			Label string `json:"label"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(w.admin.mustDo(w.t, "GET", "/api/v1/tokens", "", "", 200), &list); err != nil {
		w.t.Fatal(err)
	}
	id := ""
	for _, tok := range list.Tokens {
		if tok.Role == role && tok.Label == label {
			if id != "" {
				w.t.Fatalf("two %s tokens are labelled %q", role, label)
			}
			id = tok.ID
		}
	}
	if id == "" {
		w.t.Fatalf("no %s token labelled %q at the central: %+v", role, label, list.Tokens)
	}
	return id
}

// setEnv sets a variable of the process's environment, for its next start
// and commands.
func (p *proc) setEnv(key, value string) {
	env := p.env[:0:0]
	for _, kv := range p.env {
		if !strings.HasPrefix(kv, key+"=") {
			env = append(env, kv)
		}
	}
	p.env = append(env, key+"="+value)
}

var _ = context.Background
