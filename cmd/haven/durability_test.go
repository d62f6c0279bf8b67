package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/storetest"
)

// builds holds the binaries built for this test run, by build tags.
var builds sync.Map // tags → func() (string, error)

// buildHaven builds the haven binary with the given build tags ("" for
// none) once per test run and returns its path.
func buildHaven(t *testing.T, tags string) string {
	t.Helper()
	build, _ := builds.LoadOrStore(tags, sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "haven-bin-")
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, "haven")
		out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, ".").CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go build -tags %q: %v\n%s", tags, err, out)
		}
		return bin, nil
	}))
	bin, err := build.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// havenBinary builds the haven binary once per test run.
func havenBinary(t *testing.T) string { return buildHaven(t, "") }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveProcess is one running `haven serve`.
type serveProcess struct {
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
}

// startServe starts `haven serve` with the given global flags and waits
// until /healthz answers.
func startServe(t *testing.T, bin string, env []string, flags ...string) *serveProcess {
	t.Helper()
	addr := freeAddr(t)
	args := append(append([]string{}, flags...), "--addr", addr, "serve", "--log-level", "warn")
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, addr: addr, logs: logs}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("haven serve did not start: %s", logs)
	return nil
}

func (p *serveProcess) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

func runCLI(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("haven %s: %v (%s)", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// apiClient sends JSON to one server.
type apiClient struct {
	base, token string
	http        *http.Client
}

func (c apiClient) do(method, path, key, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes(), err
}

func (c apiClient) mustDo(t *testing.T, method, path, key, body string, want int) []byte {
	t.Helper()
	status, out, err := c.do(method, path, key, body)
	if err != nil || status != want {
		t.Fatalf("%s %s = %d %s (%v); want %d", method, path, status, out, err, want)
	}
	return out
}

type doseSent struct {
	card, key, body string
	id              string // set when acknowledged
}

// startWithPersons starts haven serve with env and flags on a fresh data
// folder, makes the site YB-1, a vaccinator token for it and ten persons,
// and returns the server, a client with that token and the card codes.
func startWithPersons(t *testing.T, bin string, env, flags []string) (*serveProcess, apiClient, []string) {
	t.Helper()
	srv := startServe(t, bin, env, flags...)
	admin := apiClient{base: "http://" + srv.addr, token: runCLI(t, bin, env, append(flags, "token", "create", "--role", "admin")...), http: http.DefaultClient}
	admin.mustDo(t, "POST", "/api/v1/sites", "", `{"code":"YB-1","name":"Yanji","jurisdiction":"CN-JL-YB","services":["vaccination"]}`, 201)
	vacc := runCLI(t, bin, env, append(flags, "token", "create", "--role", "vaccinator", "--site", "YB-1")...)
	client := apiClient{base: "http://" + srv.addr, token: vacc, http: &http.Client{Timeout: 5 * time.Second}}
	var cards []string
	for i := range 10 {
		var p struct {
			CardCode string `json:"card_code"`
		}
		json.Unmarshal(client.mustDo(t, "POST", "/api/v1/persons", fmt.Sprintf("p%d", i), `{}`, 201), &p)
		cards = append(cards, p.CardCode)
	}
	return srv, client, cards
}

// TestCrashDurability kills `haven serve` with SIGKILL several times while
// clients record doses, restarts it, and checks that every acknowledged dose
// is stored exactly once and that every retry returns the original result.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the binary; skipped with -short")
	}
	bin := havenBinary(t)
	dir := t.TempDir()
	flags := []string{"--data", dir}
	// Every acknowledged dose is retried below, hundreds in a few seconds:
	// more replays than the default read limit admits.
	readLimit := []string{"HAVEN_READ_LIMIT=100000"}
	srv, client, cards := startWithPersons(t, bin, readLimit, flags)

	var (
		mu   sync.Mutex
		sent []*doseSent
	)
	for round := range 4 {
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
					d := &doseSent{card: cards[(c+i)%len(cards)], key: fmt.Sprintf("r%d-c%d-%d", round, c, i),
						body: fmt.Sprintf(`{"product":"coronavac","date":"2021-09-%02d","site":"YB-1","lot":"R%dC%dI%d"}`, 1+i%28, round, c, i)}
					mu.Lock()
					sent = append(sent, d)
					mu.Unlock()
					status, out, err := client.do("POST", "/api/v1/persons/"+d.card+"/vaccinations", d.key, d.body)
					if err != nil || status != http.StatusCreated {
						return // the server is gone; this dose is unacknowledged
					}
					var v struct{ ID string }
					json.Unmarshal(out, &v)
					mu.Lock()
					d.id = v.ID
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(150+100*round) * time.Millisecond)
		srv.kill()
		close(stop)
		wg.Wait()
		srv = startServe(t, bin, readLimit, flags...)
		client.base = "http://" + srv.addr
	}

	acked := 0
	final := map[string]*doseSent{}
	for _, d := range sent {
		status, out, err := client.do("POST", "/api/v1/persons/"+d.card+"/vaccinations", d.key, d.body)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("retry of %s = %d %s (%v)", d.key, status, out, err)
		}
		var v struct{ ID string }
		json.Unmarshal(out, &v)
		if d.id != "" {
			acked++
			if v.ID != d.id {
				t.Fatalf("retry of acknowledged %s returned %s, first answer was %s", d.key, v.ID, d.id)
			}
		}
		d.id = v.ID
		final[d.id] = d
	}
	if acked == 0 {
		t.Fatal("no dose was acknowledged before the crashes; the test proved nothing")
	}
	stored := 0
	for _, card := range cards {
		var rec struct {
			Vaccinations []struct{ ID, Lot string }
		}
		json.Unmarshal(client.mustDo(t, "GET", "/api/v1/persons/"+card+"?purpose=care", "", "", 200), &rec)
		for _, v := range rec.Vaccinations {
			d, ok := final[v.ID]
			if !ok || d.card != card {
				t.Fatalf("stored dose %s (lot %s) matches no request: recorded twice or for the wrong person", v.ID, v.Lot)
			}
			stored++
		}
	}
	if stored != len(final) {
		t.Fatalf("stored %d doses for %d distinct requests", stored, len(final))
	}
	t.Logf("%d doses sent over 4 crashes, %d acknowledged before a crash, all stored exactly once", len(sent), acked)
}

// TestRetryAcrossProcesses runs two `haven serve` processes on one
// PostgreSQL database and sends each request to both at once: both answers
// must be the original result, and exactly one dose is stored.
func TestRetryAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	pg := storetest.PostgresURL(t)
	bin := havenBinary(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	// Each retry answered from the other process is a read of the one card,
	// and one process may answer all twenty: the per-card read limit (a
	// burst of 20 at the default) is lifted, as this test is about retries.
	env := []string{"HAVEN_DB=" + pg, "HAVEN_MASTER_KEY_FILE=" + keyFile, "HAVEN_READ_LIMIT=6000"}
	runCLI(t, bin, env, "--data", t.TempDir(), "migrate")
	a := startServe(t, bin, env, "--data", t.TempDir())
	b := startServe(t, bin, env, "--data", t.TempDir())
	admin := apiClient{base: "http://" + a.addr, token: runCLI(t, bin, env, "token", "create", "--role", "admin"), http: http.DefaultClient}
	admin.mustDo(t, "POST", "/api/v1/sites", "", `{"code":"YB-1","name":"Yanji","jurisdiction":"CN-JL-YB","services":["vaccination"]}`, 201)
	vacc := runCLI(t, bin, env, "token", "create", "--role", "vaccinator", "--site", "YB-1")
	ca := apiClient{base: "http://" + a.addr, token: vacc, http: http.DefaultClient}
	cb := apiClient{base: "http://" + b.addr, token: vacc, http: http.DefaultClient}

	first := ca.mustDo(t, "POST", "/api/v1/persons", "person-1", `{"given_name":"Lee"}`, 201)
	again := cb.mustDo(t, "POST", "/api/v1/persons", "person-1", `{"given_name":"Lee"}`, 201)
	// The retry answers with the same person, but never shows the holder
	// secret again: it is printed on the card once.
	var firstP, againP map[string]any
	json.Unmarshal(first, &firstP)
	json.Unmarshal(again, &againP)
	if firstP["holder_secret"] == nil || againP["holder_secret"] != nil {
		t.Fatalf("holder secret: first %v, retry %v", firstP["holder_secret"], againP["holder_secret"])
	}
	delete(firstP, "holder_secret")
	if fa, _ := json.Marshal(firstP); !bytes.Equal(fa, must(json.Marshal(againP))) {
		t.Fatalf("person retry on the second process = %s, want %s", again, first)
	}
	var p struct {
		CardCode string `json:"card_code"`
	}
	json.Unmarshal(first, &p)
	const n = 20
	for i := range n {
		key, body := fmt.Sprintf("dose-%d", i), fmt.Sprintf(`{"product":"511","date":"2021-09-%02d","site":"YB-1"}`, i+1)
		var outA, outB []byte
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			outA = ca.mustDo(t, "POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", key, body, 201)
		}()
		go func() {
			defer wg.Done()
			outB = cb.mustDo(t, "POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", key, body, 201)
		}()
		wg.Wait()
		if !bytes.Equal(outA, outB) {
			t.Fatalf("dose %d: the two processes answered differently:\n%s\n%s", i, outA, outB)
		}
	}
	var rec struct{ Vaccinations []struct{ ID string } }
	json.Unmarshal(cb.mustDo(t, "GET", "/api/v1/persons/"+p.CardCode+"?purpose=care", "", "", 200), &rec)
	if len(rec.Vaccinations) != n {
		t.Fatalf("stored %d doses for %d requests sent twice each", len(rec.Vaccinations), n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
