package main

import (
	"bytes"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/syncwire"
)

// The chaos proofs of offline clinic nodes (docs/adr/0006, Proofs): kill -9
// of either side mid-backlog, a proxy that duplicates, delays, replays and
// drops, clocks two days wrong, and a token revoked mid-backlog. Each ends
// with every record at the central exactly once.

// chaosSeed returns a seed for a test's random choices, logged so that a
// failure's choices can be made again with HAVEN_CHAOS_SEED (the processes'
// timing is another matter).
func chaosSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("HAVEN_CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("HAVEN_CHAOS_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("random seed %d (HAVEN_CHAOS_SEED)", seed)
	return seed
}

// pastDate is the date days before today (UTC), a valid dose date anywhere.
func pastDate(days int) string {
	return time.Now().UTC().AddDate(0, 0, -days).Format(time.DateOnly)
}

// recordDoses records count doses at the node over cards, 8 at a time,
// under the idempotency keys tag-i, and returns their IDs, each with its
// card. It reports failures with t.Errorf, so it may run in a goroutine;
// the caller checks t.Failed.
func (n *node) recordDoses(t *testing.T, cards []string, site string, count int, tag string) map[string]string {
	var (
		mu  sync.Mutex
		ids = map[string]string{}
		wg  sync.WaitGroup
		sem = make(chan struct{}, 8)
	)
	for i := range count {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			body := fmt.Sprintf(`{"product":"comirnaty","date":%q,"site":%q,"lot":"%s-%d"}`, pastDate(1+i%300), site, tag, i)
			status, out, err := n.staff.do("POST", "/api/v1/persons/"+cards[i%len(cards)]+"/vaccinations", fmt.Sprintf("%s-%d", tag, i), body)
			if err != nil || status != 201 {
				t.Errorf("dose %s-%d: %d %s %v", tag, i, status, out, err)
				return
			}
			var v struct {
				ID string `json:"id"`
			}
			json.Unmarshal(out, &v)
			mu.Lock()
			ids[v.ID] = cards[i%len(cards)]
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != count && !t.Failed() {
		t.Errorf("%d doses recorded under %d IDs", count, len(ids))
	}
	return ids
}

// idSet is the set of the keys of m.
func idSet[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for id := range m {
		out[id] = true
	}
	return out
}

// registerPersons registers count persons at the node, 8 at a time, and
// returns their cards.
func (n *node) registerPersons(t *testing.T, count int) []string {
	t.Helper()
	var (
		mu    sync.Mutex
		cards []string
		wg    sync.WaitGroup
		sem   = make(chan struct{}, 8)
	)
	for i := range count {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			body := fmt.Sprintf(`{"birth_date":"19%02d-0%d-1%d","sex":"female"}`, 50+i%40, 1+i%9, i%10)
			status, out, err := n.staff.do("POST", "/api/v1/persons", "", body)
			var p struct {
				CardCode string `json:"card_code"`
			}
			if err != nil || status != 201 || json.Unmarshal(out, &p) != nil {
				t.Errorf("register: %d %s %v", status, out, err)
				return
			}
			mu.Lock()
			cards = append(cards, p.CardCode)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return cards
}

// correct marks a record entered in error at the node; an error, not a
// failure, so that it may run in a goroutine.
func (n *node) correct(card, id string) error {
	status, out, err := n.staff.do("POST", "/api/v1/persons/"+card+"/records/"+id+"/entered-in-error", "", `{}`)
	if err != nil || status != 201 {
		return fmt.Errorf("entered in error %s: %d %s %v", id, status, out, err)
	}
	return nil
}

// outboxAtRest is how many events wait in a stopped node's outbox, as
// haven sync status reads its data folder.
func (n *node) outboxAtRest() int {
	n.t.Helper()
	var st struct {
		Role    string `json:"role"`
		Pending int    `json:"pending"`
	}
	out := n.cli("sync", "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Role != "node" {
		n.t.Fatalf("haven sync status --json on the node's folder: %v %s", err, out)
	}
	return st.Pending
}

// doses returns the doses of a card as the node shows them: ID → status.
// An ID shown twice fails the test.
func (n *node) doses(card string) map[string]string {
	n.t.Helper()
	var rec struct {
		Vaccinations []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"vaccinations"`
	}
	if err := json.Unmarshal(n.staff.mustDo(n.t, "GET", "/api/v1/persons/"+card+"?purpose=care", "", "", 200), &rec); err != nil {
		n.t.Fatal(err)
	}
	out := map[string]string{}
	for _, v := range rec.Vaccinations {
		if _, ok := out[v.ID]; ok {
			n.t.Fatalf("the node shows dose %s of %s twice", v.ID, card)
		}
		out[v.ID] = v.Status
	}
	return out
}

// centralDoses returns the doses of a card at the central: ID → status.
func (w *syncWorld) centralDoses(db *sql.DB, card string) map[string]string {
	w.t.Helper()
	rows, err := db.Query(`SELECT encode(v.id, 'hex'), v.status FROM vaccinations v JOIN persons p ON p.id = v.person_id WHERE p.card_code = $1`, card)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			w.t.Fatal(err)
		}
		out[id] = status
	}
	return out
}

// centralColumn maps each dose ID at the central to one column of its row.
func (w *syncWorld) centralColumn(db *sql.DB, column string) map[string]string {
	w.t.Helper()
	rows, err := db.Query(`SELECT encode(id, 'hex'), ` + column + ` FROM vaccinations`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			w.t.Fatal(err)
		}
		out[id] = v
	}
	return out
}

// TestSyncKill9: kill -9 of the node during its catch-up, and separately
// of the central, three times each, at random points; every dose reaches
// the central exactly once and the outbox empties.
func TestSyncKill9(t *testing.T) {
	w := newSyncWorld(t)
	a := w.newNode("YB-1", "")
	db := w.centralDB()
	rng := rand.New(rand.NewPCG(chaosSeed(t), 1))
	// More than one batch (syncwire.DefaultBatch): a kill may fall before
	// the first commit, between batches, between a commit and its
	// acknowledgement, or in the apply itself. The catch-up takes about
	// half a second here, so the kills fall 50 to 600 ms after the restart.
	const backlog = 2100
	var (
		ids      = map[string]bool{}
		mid      = map[string]int{} // rounds whose kill came with events still queued
		lostAcks int                // kills after the central applied a batch and before the node's ack
	)
	for round := range 6 {
		victim := "node"
		if round%2 == 1 {
			victim = "central"
		}
		// New persons each round, so that no history grows long (recording
		// a dose evaluates the person's whole history).
		start := time.Now()
		cards := a.registerPersons(t, 100)
		a.waitFor("the round's persons at the central", 15*time.Second, func() bool { return a.pending() == 0 })
		w.central.kill()
		batch := idSet(a.recordDoses(t, cards, "YB-1", backlog, fmt.Sprintf("r%d", round)))
		recorded := time.Since(start)
		if t.Failed() {
			t.FailNow()
		}
		maps.Copy(ids, batch)
		if p := a.pending(); p != backlog {
			t.Fatalf("round %d: %d events queued with the central down; want %d", round, p, backlog)
		}
		// Restarted with the central up, the node pushes at once rather
		// than at the end of its back-off: the kill falls in a catch-up.
		a.kill()
		before := w.count(db, `SELECT count(*) FROM vaccinations`)
		w.central.start()
		a.start()
		restarted := time.Now()
		when := ""
		if round == 2 || round == 3 {
			// Right behind the central's commit of the first batch: for
			// the node, before its acknowledgement; for the central, in
			// or before the apply of the second batch, or before its
			// answer.
			for w.count(db, `SELECT count(*) FROM vaccinations`)-before < syncwire.DefaultBatch {
				if time.Since(restarted) > 30*time.Second {
					t.Fatalf("round %d: the first batch never reached the central; logs:\n%s", round, a.logs.String())
				}
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(21)) * time.Millisecond)
			when = " (behind the first commit)"
		} else {
			time.Sleep(time.Duration(50+rng.IntN(551)) * time.Millisecond)
		}
		delay := time.Since(restarted).Round(time.Millisecond)
		var pending int
		if victim == "node" {
			a.kill()
			pending = a.outboxAtRest()
		} else {
			w.central.kill()
			pending = a.pending()
		}
		applied := w.count(db, `SELECT count(*) FROM vaccinations`) - before
		t.Logf("round %d: kill -9 of the %s %s after the restart%s: %d of %d doses applied at the central, %d events queued on the node",
			round, victim, delay, when, applied, backlog, pending)
		switch {
		case applied > backlog:
			t.Fatalf("round %d: the central applied %d doses of a backlog of %d", round, applied, backlog)
		case applied+pending < backlog:
			t.Fatalf("round %d: %d doses neither at the central nor queued on the node after the kill", round, backlog-applied-pending)
		case applied+pending > backlog:
			lostAcks++
			t.Logf("round %d: %d events applied at the central but not yet acknowledged on the node", round, applied+pending-backlog)
		}
		if pending > 0 {
			mid[victim]++
		}
		if victim == "node" {
			a.start() // same data folder; the token is kept in it
		} else {
			w.central.start()
		}
		took := w.waitCentral(t, batch, 30*time.Second, func() string { return a.logs.String() })
		a.waitFor("an empty outbox", 15*time.Second, func() bool { return a.pending() == 0 })
		w.exactlyOnce(t, ids)
		t.Logf("round %d: the backlog was complete at the central %s after the restart (round: %s, recording %s)",
			round, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), recorded.Round(time.Millisecond))
	}
	t.Logf("kills mid-backlog: node %d of 3, central %d of 3; kills between the central's commit and the node's ack: %d", mid["node"], mid["central"], lostAcks)
	if mid["node"]+mid["central"] == 0 {
		t.Fatal("no kill fell while events were queued: the test proved nothing about crashes mid-backlog")
	}

	// And once for certain between the central's commit and the node's
	// acknowledgement: a proxy holds the central's answer to the first
	// batch while the node is killed.
	px := newSyncProxy(w, false, rng.Uint64())
	cards := a.registerPersons(t, 100)
	a.waitFor("the persons at the central", 15*time.Second, func() bool { return a.pending() == 0 })
	w.central.kill()
	batch := idSet(a.recordDoses(t, cards, "YB-1", backlog, "lost-ack"))
	if t.Failed() {
		t.FailNow()
	}
	maps.Copy(ids, batch)
	a.kill()
	a.serve = []string{"--upstream", px.url(), "--node-label", "clinic-YB-1"}
	gate := px.holdPushes(0, true)
	before := w.count(db, `SELECT count(*) FROM vaccinations`)
	w.central.start()
	a.start()
	select {
	case <-gate.held:
	case <-time.After(30 * time.Second):
		t.Fatalf("the node's first push never came; logs:\n%s", a.logs.String())
	}
	a.kill()
	close(gate.release)
	applied := w.count(db, `SELECT count(*) FROM vaccinations`) - before
	pending := a.outboxAtRest()
	t.Logf("kill -9 of the node with the central's answer held: %d doses applied at the central, %d events queued on the node", applied, pending)
	if applied != syncwire.DefaultBatch || pending != backlog {
		t.Fatalf("with the answer to the first batch held, the central applied %d doses and the node kept %d events; want %d and %d",
			applied, pending, syncwire.DefaultBatch, backlog)
	}
	a.start()
	w.waitCentral(t, batch, 30*time.Second, func() string { return a.logs.String() })
	a.waitFor("an empty outbox", 15*time.Second, func() bool { return a.pending() == 0 })

	if n := len(ids); n != 7*backlog {
		t.Fatalf("%d distinct doses recorded; want %d", n, 7*backlog)
	}
	w.exactlyOnce(t, ids)
	if st := a.status(); st["failed"].(float64) != 0 {
		t.Fatalf("the central refused events: %v", st)
	}
}

// syncProxy is an HTTP proxy between nodes (plain http on loopback) and the
// central (https). With chaos it sends every push and pull to the central
// twice (in turn or at once) and answers with one of the two answers, delays
// some, replays old push bodies after newer ones, and drops some answers
// (502 after the central applied the request). Its gate holds pushes.
type syncProxy struct {
	t      *testing.T
	target string
	client *http.Client
	srv    *httptest.Server
	chaos  bool

	mu    sync.Mutex
	rng   *rand.Rand
	saved []proxied // push requests seen, for replays
	stats proxyStats
	gate  *pushGate
	// droppedPush and droppedPull: an answer of each was lost.
	droppedPush, droppedPull bool
}

// proxied is a request as forwarded.
type proxied struct {
	method, uri string
	header      http.Header
	body        []byte
}

// proxyAnswer is the central's answer to one forwarded request.
type proxyAnswer struct {
	status int
	header http.Header
	body   []byte
}

type proxyStats struct {
	Pushes, Pulls, Others    int
	Concurrent, Delayed      int
	SecondAnswer             int
	Replays                  int
	Dropped                  int
	PushStatus, ReplayStatus map[int]int
}

// pushGate holds pushes once the proxy has answered after pushes 200:
// before they reach the central, or with answers, the central's answers.
type pushGate struct {
	after    int
	answers  bool
	held     chan struct{} // closed when a push is first held
	release  chan struct{}
	heldOnce sync.Once
}

func newSyncProxy(w *syncWorld, chaos bool, seed uint64) *syncProxy {
	p := &syncProxy{t: w.t, target: "https://" + w.central.addr, chaos: chaos, rng: rand.New(rand.NewPCG(seed, 2)),
		stats: proxyStats{PushStatus: map[int]int{}, ReplayStatus: map[int]int{}},
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: w.tls.Pool}, DisableCompression: true, MaxIdleConnsPerHost: 8}}}
	p.srv = httptest.NewServer(p)
	w.t.Cleanup(p.srv.Close)
	return p
}

// url is the proxy's address, for a node's --upstream.
func (p *syncProxy) url() string { return p.srv.URL }

// holdPushes makes pushes wait, once after more pushes were answered
// 200, until the gate's release is closed: before they are forwarded, or
// with answers, after the central answered them.
func (p *syncProxy) holdPushes(after int, answers bool) *pushGate {
	g := &pushGate{answers: answers, held: make(chan struct{}), release: make(chan struct{})}
	p.mu.Lock()
	g.after = p.stats.PushStatus[http.StatusOK] + after
	p.gate = g
	p.mu.Unlock()
	p.t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
	})
	return g
}

func (p *syncProxy) snapshot() proxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.PushStatus, s.ReplayStatus = maps.Clone(s.PushStatus), maps.Clone(s.ReplayStatus)
	return s
}

// chance is true with probability f.
func (p *syncProxy) chance(f float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < f
}

// drop decides to lose an answer the central gave: the first of pushes
// and of pulls, then one in seven or so.
func (p *syncProxy) drop(push bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := &p.droppedPull
	if push {
		first = &p.droppedPush
	}
	if !*first || p.rng.Float64() < 0.15 {
		*first = true
		p.stats.Dropped++
		return true
	}
	return false
}

func (p *syncProxy) intN(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.IntN(n)
}

// forward sends one request to the central; a transport failure is a 502.
func (p *syncProxy) forward(r proxied) proxyAnswer {
	req, err := http.NewRequest(r.method, p.target+r.uri, bytes.NewReader(r.body))
	if err != nil {
		return proxyAnswer{status: http.StatusBadGateway, body: []byte(err.Error())}
	}
	req.Header = r.header.Clone()
	res, err := p.client.Do(req)
	if err != nil {
		return proxyAnswer{status: http.StatusBadGateway, body: []byte(err.Error())}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return proxyAnswer{status: http.StatusBadGateway, body: []byte(err.Error())}
	}
	return proxyAnswer{status: res.StatusCode, header: res.Header, body: body}
}

// twice sends a request to the central twice, in turn or at once, and
// returns one answer at random.
func (p *syncProxy) twice(r proxied) proxyAnswer {
	var ans [2]proxyAnswer
	if p.chance(0.25) {
		var wg sync.WaitGroup
		for i := range ans {
			wg.Go(func() { ans[i] = p.forward(r) })
		}
		wg.Wait()
		p.mu.Lock()
		p.stats.Concurrent++
		p.mu.Unlock()
	} else {
		ans[0] = p.forward(r)
		ans[1] = p.forward(r)
	}
	i := p.intN(2)
	p.mu.Lock()
	p.stats.SecondAnswer += i
	p.mu.Unlock()
	return ans[i]
}

func (p *syncProxy) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadGateway)
		return
	}
	r := proxied{method: req.Method, uri: req.URL.RequestURI(), header: req.Header.Clone(), body: body}
	for _, h := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		r.header.Del(h)
	}
	push := req.Method == http.MethodPost && req.URL.Path == "/api/v1/sync/push"
	pull := req.Method == http.MethodGet && req.URL.Path == "/api/v1/sync/pull"
	p.mu.Lock()
	switch {
	case push:
		p.stats.Pushes++
	case pull:
		p.stats.Pulls++
	default:
		p.stats.Others++
	}
	g := p.gate
	held := g != nil && push && p.stats.PushStatus[http.StatusOK] >= g.after
	p.mu.Unlock()
	if held && !g.answers {
		g.heldOnce.Do(func() { close(g.held) })
		<-g.release
	}
	var ans proxyAnswer
	switch {
	case !p.chaos || !push && !pull:
		ans = p.forward(r)
	default:
		if p.chance(0.3) {
			time.Sleep(time.Duration(p.intN(201)) * time.Millisecond)
			p.mu.Lock()
			p.stats.Delayed++
			p.mu.Unlock()
		}
		ans = p.twice(r)
	}
	if push {
		p.mu.Lock()
		p.stats.PushStatus[ans.status]++
		old := slices.Clone(p.saved)
		p.saved = append(p.saved, r)
		if len(p.saved) > 30 {
			p.saved = p.saved[1:]
		}
		p.mu.Unlock()
		// An old body, sent again after newer ones.
		if p.chaos && len(old) > 0 && p.chance(0.4) {
			replay := p.forward(old[p.intN(len(old))])
			p.mu.Lock()
			p.stats.Replays++
			p.stats.ReplayStatus[replay.status]++
			p.mu.Unlock()
		}
	}
	if held && g.answers {
		// The central has answered (and committed): the node waits.
		g.heldOnce.Do(func() { close(g.held) })
		<-g.release
	}
	if p.chaos && (push || pull) && ans.status == http.StatusOK && p.drop(push) {
		http.Error(rw, "proxy: the answer was lost", http.StatusBadGateway)
		return
	}
	for k, vs := range ans.header {
		if k == "Content-Length" || k == "Connection" || k == "Transfer-Encoding" {
			continue
		}
		rw.Header()[k] = vs
	}
	rw.WriteHeader(ans.status)
	rw.Write(ans.body)
}

// TestSyncChaosProxy: a proxy between the nodes and the central duplicates
// every push and pull, delays some, replays old pushes after newer ones
// and loses some answers. Node A records 500 doses and corrects some;
// node B looks up A's persons and records and corrects doses for them.
// Nothing is applied twice, nothing is lost, and each node's pull cursor
// never skips: both end with exactly the central's doses of those persons.
func TestSyncChaosProxy(t *testing.T) {
	w := newSyncWorld(t)
	px := newSyncProxy(w, true, chaosSeed(t))
	// The test reads the shared cards often while it waits for the pulls.
	const reads = "HAVEN_READ_LIMIT=100000"
	a := w.startNodeAt(w.nodeToken("YB-1", "clinic-YB-1"), "YB-1", px.url(), "", reads)
	b := w.startNodeAt(w.nodeToken("YB-2", "clinic-YB-2"), "YB-2", px.url(), "", reads)
	db := w.centralDB()
	cards := a.registerMany(20)
	a.waitFor("A's persons at the central", 30*time.Second, func() bool { return a.pending() == 0 })
	shared := cards[:4] // looked up and used at B too

	var (
		mu         sync.Mutex
		aIDs       = map[string]bool{}
		bIDs       = map[string]bool{}
		bCard      = map[string]string{} // B's dose → card
		corrected  = map[string]bool{}
		wg         sync.WaitGroup
		correctErr = func(err error) {
			if err != nil {
				t.Error(err)
			}
		}
	)
	for _, card := range shared {
		b.record(card) // the lookup: B follows the person from now on
	}
	wg.Go(func() {
		// In small waves, so that they travel in many pushes.
		for wave := range 25 {
			ids := a.recordDoses(t, cards, "YB-1", 20, fmt.Sprintf("a%d", wave))
			mu.Lock()
			maps.Copy(aIDs, idSet(ids))
			mu.Unlock()
			// Corrections right behind their doses, often in the same
			// pushed batch.
			n := 0
			for id, card := range ids {
				if n == 1+wave%2 {
					break
				}
				n++
				correctErr(a.correct(card, id))
				mu.Lock()
				corrected[id] = true
				mu.Unlock()
			}
			time.Sleep(time.Duration(px.intN(150)) * time.Millisecond)
		}
	})
	wg.Go(func() {
		for wave := range 10 {
			for i, card := range shared {
				body := fmt.Sprintf(`{"product":"comirnaty","date":%q,"site":"YB-2","lot":"B%d-%d"}`, pastDate(10+wave), wave, i)
				status, out, err := b.staff.do("POST", "/api/v1/persons/"+card+"/vaccinations", fmt.Sprintf("b%d-%d", wave, i), body)
				if err != nil || status != 201 {
					t.Errorf("B's dose: %d %s %v", status, out, err)
					return
				}
				var v struct {
					ID string `json:"id"`
				}
				json.Unmarshal(out, &v)
				mu.Lock()
				bIDs[v.ID], bCard[v.ID] = true, card
				mu.Unlock()
				if wave == 2 && i < 2 {
					correctErr(b.correct(card, v.ID))
					mu.Lock()
					corrected[v.ID] = true
					mu.Unlock()
				}
			}
			time.Sleep(time.Duration(100+px.intN(300)) * time.Millisecond)
		}
	})
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	all := maps.Clone(aIDs)
	maps.Copy(all, bIDs)
	logs := func() string { return "A:\n" + a.logs.String() + "\nB:\n" + b.logs.String() }
	took := w.waitCentral(t, all, 45*time.Second, logs)
	t.Logf("%d doses of A and %d of B at the central %s after the last was recorded", len(aIDs), len(bIDs), took.Round(time.Millisecond))
	for name, n := range map[string]*node{"A": a, "B": b} {
		n.waitFor(name+"'s empty outbox", 30*time.Second, func() bool { return n.pending() == 0 })
		if st := n.status(); st["failed"].(float64) != 0 {
			t.Fatalf("the central refused events of %s: %v", name, st)
		}
	}
	w.exactlyOnce(t, all)

	// Each correction applied once, and only those.
	inError := map[string]bool{}
	for id, status := range w.centralColumn(db, "status") {
		if status == "entered-in-error" {
			inError[id] = true
		}
	}
	if !maps.Equal(inError, corrected) {
		t.Fatalf("the central holds %d doses entered in error; %d were corrected at the nodes (same set: false)", len(inError), len(corrected))
	}

	// The pull cursors never skipped: every dose of the shared persons, at
	// the central, is on both nodes with the central's status, once.
	for _, card := range shared {
		want := w.centralDoses(db, card)
		for name, n := range map[string]*node{"A": a, "B": b} {
			var got map[string]string
			waitUntil(t, fmt.Sprintf("%s to hold the central's %d doses of %s", name, len(want), card), 30*time.Second, func() bool {
				got = n.doses(card)
				return maps.Equal(got, want)
			}, func() string {
				return fmt.Sprintf("%s differs from the central: %s\n%s's status: %v\nthe central's feed for %s: %s",
					name, diffDoses(got, want, bIDs), name, n.status(), name, w.feedOf(db, "clinic-YB-"+map[string]string{"A": "1", "B": "2"}[name]))
			})
		}
	}
	for id, card := range bCard {
		if w.centralDoses(db, card)[id] == "" {
			t.Fatalf("B's dose %s is not among the central's doses of %s", id, card)
		}
	}

	st := px.snapshot()
	t.Logf("proxy: %+v", st)
	switch {
	case st.Concurrent == 0 || st.SecondAnswer == 0:
		t.Errorf("the proxy never sent a request twice at once or never answered with the second answer: %+v", st)
	case st.Delayed == 0 || st.Dropped == 0:
		t.Errorf("the proxy never delayed or never dropped an answer: %+v", st)
	case st.ReplayStatus[http.StatusOK] == 0:
		t.Errorf("no old push was replayed to the central: %+v", st)
	}
	for status, n := range st.ReplayStatus {
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Errorf("%d replays of old pushes were answered %d; want 200 (or 503 when busy)", n, status)
		}
	}
}

// diffDoses describes how a node's doses (got) differ from the central's
// (want); ofB names the doses recorded at node B.
func diffDoses(got, want map[string]string, ofB map[string]bool) string {
	var out []string
	who := func(id string) string {
		if ofB[id] {
			return "B's"
		}
		return "A's"
	}
	for id, st := range want {
		switch g, ok := got[id]; {
		case !ok:
			out = append(out, fmt.Sprintf("%s dose %s (%s) missing", who(id), id, st))
		case g != st:
			out = append(out, fmt.Sprintf("%s dose %s %s, at the central %s", who(id), id, g, st))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			out = append(out, fmt.Sprintf("%s dose %s not at the central", who(id), id))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// feedOf describes the central's feed for the node labelled label: its
// head and the rows not yet acknowledged.
func (w *syncWorld) feedOf(db *sql.DB, label string) string {
	var head int64
	db.QueryRow(`SELECT h.seq FROM sync_feed_heads h JOIN sync_nodes n ON n.node_id = h.node_id WHERE n.label = $1`, label).Scan(&head)
	rows, err := db.Query(`SELECT f.seq, f.kind, COALESCE(encode(f.record_id, 'hex'), '') FROM sync_feed f
		JOIN sync_nodes n ON n.node_id = f.node_id WHERE n.label = $1 ORDER BY f.seq`, label)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	out := fmt.Sprintf("head %d; rows:", head)
	for rows.Next() {
		var (
			seq          int64
			kind, record string
		)
		rows.Scan(&seq, &kind, &record)
		out += fmt.Sprintf(" %d:%s:%s", seq, kind, record)
	}
	return out
}

// TestSyncClockSkew: nodes whose clocks run two days ahead and two days
// behind register, record (dated their own today, and the true today),
// correct and edit; everything reaches the central, every dose keeps the
// date it was entered with, and each node shows its skew.
func TestSyncClockSkew(t *testing.T) {
	w := newSyncWorld(t)
	bin := havenClockBinary(t)
	db := w.centralDB()
	type side struct {
		name      string
		site      string
		offset    time.Duration
		n         *node
		cards     []string
		dates     map[string]string // dose ID → date entered
		corrected string
	}
	sides := []*side{{name: "ahead", site: "YB-1", offset: 48 * time.Hour}, {name: "behind", site: "YB-2", offset: -48 * time.Hour}}
	for _, s := range sides {
		s.n = w.newNode(s.site, bin, "HAVEN_TEST_CLOCK_OFFSET="+s.offset.String())
		s.dates = map[string]string{}
		// The skew is measured at enrolment; with it the node knows the
		// central's today.
		s.n.waitFor("the skew measured", 15*time.Second, func() bool {
			v, _ := s.n.status()["clock_skew_seconds"].(float64)
			return v != 0
		})
	}
	for _, s := range sides {
		own := time.Now().Add(s.offset).UTC().Format(time.DateOnly)
		today := time.Now().UTC().Format(time.DateOnly)
		for i := range 3 {
			card := s.n.register(fmt.Sprintf(`{"birth_date":"199%d-03-0%d","sex":"female"}`, i, i+1))
			s.cards = append(s.cards, card)
			for _, date := range []string{own, today, pastDate(30 + i)} {
				id := s.n.dose(card, s.site, date)
				s.dates[id] = date
				if i == 0 && date == own {
					s.corrected = id // corrected below
				}
			}
		}
		if err := s.n.correct(s.cards[0], s.corrected); err != nil {
			t.Fatal(err)
		}
		s.n.staff.mustDo(t, "PATCH", "/api/v1/persons/"+s.cards[1], "", `{"birth_date":"1980-01-02"}`, 200)
	}
	all := map[string]bool{}
	for _, s := range sides {
		s.n.waitFor(s.name+"'s outbox empty", 30*time.Second, func() bool { return s.n.pending() == 0 })
		for id := range s.dates {
			all[id] = true
		}
	}
	w.exactlyOnce(t, all)
	dates, statuses := w.centralColumn(db, "dose_date"), w.centralColumn(db, "status")
	central := apiClient{base: w.admin.base, http: w.admin.http, token: w.central.cli("token", "create", "--role", "vaccinator", "--site", "YB-1")}
	for _, s := range sides {
		st := s.n.status()
		if st["failed"].(float64) != 0 || st["state"] != "online" {
			t.Errorf("%s: sync status %v; want online with nothing refused", s.name, st)
		}
		skew, _ := st["clock_skew_seconds"].(float64)
		t.Logf("%s (%s): clock_skew_seconds %.3f", s.name, s.offset, skew)
		if want := s.offset.Seconds(); math.Abs(skew-want) > 5 {
			t.Errorf("%s: clock_skew_seconds = %.3f; want %.0f ± 5", s.name, skew, want)
		}
		for id, date := range s.dates {
			if dates[id] != date {
				t.Errorf("%s: dose %s entered for %s is dated %q at the central", s.name, id, date, dates[id])
			}
			want := "completed"
			if id == s.corrected {
				want = "entered-in-error"
			}
			if statuses[id] != want {
				t.Errorf("%s: dose %s is %q at the central; want %q", s.name, id, statuses[id], want)
			}
		}
		var p struct {
			BirthDate string `json:"birth_date"`
		}
		json.Unmarshal(central.mustDo(t, "GET", "/api/v1/persons/"+s.cards[1]+"?purpose=care", "", "", 200), &p)
		if p.BirthDate != "1980" {
			t.Errorf("%s: the edited birth date reads %q at the central; want the year 1980", s.name, p.BirthDate)
		}
	}
	// Across the two clocks: the node ahead looks up a card of the node
	// behind and sees its doses with the dates entered.
	ahead, behind := sides[0], sides[1]
	var rec struct {
		Vaccinations []struct {
			ID   string `json:"id"`
			Date string `json:"date"`
		} `json:"vaccinations"`
	}
	json.Unmarshal(ahead.n.staff.mustDo(t, "GET", "/api/v1/persons/"+behind.cards[0]+"?purpose=care", "", "", 200), &rec)
	if len(rec.Vaccinations) != 3 {
		t.Fatalf("the node ahead sees %d doses of the card of the node behind; want 3", len(rec.Vaccinations))
	}
	for _, v := range rec.Vaccinations {
		if behind.dates[v.ID] != v.Date {
			t.Errorf("the node ahead sees dose %s dated %s; entered for %s", v.ID, v.Date, behind.dates[v.ID])
		}
	}
	var cs struct {
		Nodes []struct {
			Label string  `json:"label"`
			Skew  float64 `json:"clock_skew_seconds"`
		} `json:"nodes"`
	}
	json.Unmarshal(w.admin.mustDo(t, "GET", "/api/v1/sync/status", "", "", 200), &cs)
	t.Logf("the central's view of the nodes' skew, before they say hello again: %+v", cs.Nodes)
	// A node reports its measured skew in its hello: after a restart the
	// central shows it too.
	for _, s := range sides {
		s.n.stop()
		s.n.start()
	}
	waitUntil(t, "the nodes' skew at the central", 15*time.Second, func() bool {
		json.Unmarshal(w.admin.mustDo(t, "GET", "/api/v1/sync/status", "", "", 200), &cs)
		ok := len(cs.Nodes) == 2
		for _, n := range cs.Nodes {
			want := 48 * time.Hour.Seconds()
			if n.Label == "clinic-YB-2" {
				want = -want
			}
			ok = ok && math.Abs(n.Skew-want) <= 5
		}
		return ok
	}, func() string { return fmt.Sprintf("the central shows %+v", cs.Nodes) })
}

// TestSyncRevokedToken: the node's token is revoked after the central
// applied the first batch of a backlog; the next batch gets 401, the node
// shows "revoked" with a one-line error, its queued events stay, clinic
// work goes on; restarted with a new token it resumes, nothing lost or
// doubled.
func TestSyncRevokedToken(t *testing.T) {
	w := newSyncWorld(t)
	px := newSyncProxy(w, false, chaosSeed(t))
	a := w.startNodeAt(w.nodeToken("YB-1", "clinic-YB-1"), "YB-1", px.url(), "")
	cards := a.registerMany(40)
	a.waitFor("the persons at the central", 15*time.Second, func() bool { return a.pending() == 0 })
	db := w.centralDB()
	before := w.count(db, `SELECT count(*) FROM vaccinations`)

	w.central.kill()
	ids := idSet(a.recordDoses(t, cards, "YB-1", 2600, "backlog")) // two batches
	if t.Failed() {
		t.FailNow()
	}
	a.stop()
	gate := px.holdPushes(1, false)
	w.central.start()
	a.start()
	select {
	case <-gate.held:
	case <-time.After(30 * time.Second):
		t.Fatalf("the node's second push never came; proxy %+v; logs:\n%s", px.snapshot(), a.logs.String())
	}
	applied := w.count(db, `SELECT count(*) FROM vaccinations`) - before
	if applied == 0 || applied >= len(ids) {
		t.Fatalf("%d of %d doses applied before the revocation; want some, not all", applied, len(ids))
	}
	w.admin.mustDo(t, "DELETE", "/api/v1/tokens/"+w.tokenID("node", "clinic-YB-1"), "", "", 204)
	close(gate.release)

	a.waitFor("the state revoked", 15*time.Second, func() bool { return a.status()["state"] == "revoked" })
	if n := px.snapshot().PushStatus[http.StatusUnauthorized]; n != 1 {
		t.Errorf("%d pushes answered 401 after the revocation; want the next batch, once", n)
	}
	st := a.status()
	msg, _ := st["last_error"].(string)
	if msg == "" || strings.ContainsAny(msg, "\r\n") || !strings.Contains(msg, "revoked") || st["last_error_code"] != "unauthorized" {
		t.Fatalf("revoked node's status: last_error %q, code %v; want one line saying the token was revoked, code unauthorized", msg, st["last_error_code"])
	}
	t.Logf("revoked: %d doses applied, status: %s", applied, msg)
	queued := a.pending()
	if queued != len(ids)-applied {
		t.Fatalf("%d events queued on the revoked node; want the %d the central did not apply", queued, len(ids)-applied)
	}
	for range 10 {
		time.Sleep(300 * time.Millisecond)
		if p, c := a.pending(), w.count(db, `SELECT count(*) FROM vaccinations`)-before; p != queued || c != applied {
			t.Fatalf("after the revocation: %d events queued (was %d), %d doses at the central (was %d)", p, queued, c, applied)
		}
	}
	// Clinic work goes on, and queues.
	ids[a.dose(cards[0], "YB-1", pastDate(3))] = true
	if p := a.pending(); p != queued+1 {
		t.Fatalf("a dose recorded on the revoked node queued %d events; want 1", p-queued)
	}
	var cs struct {
		Nodes []struct {
			ID      string `json:"id"`
			Revoked bool   `json:"revoked"`
		} `json:"nodes"`
	}
	json.Unmarshal(w.admin.mustDo(t, "GET", "/api/v1/sync/status", "", "", 200), &cs)
	if len(cs.Nodes) != 1 || !cs.Nodes[0].Revoked {
		t.Errorf("the central's sync status: %+v; want the one node, revoked", cs.Nodes)
	}

	// Re-enrolment: a new token for the same site, the same data folder.
	a.stop()
	a.setEnv("HAVEN_UPSTREAM_TOKEN", w.nodeToken("YB-1", "clinic-YB-1-new"))
	a.start()
	took := w.waitCentral(t, ids, 30*time.Second, func() string { return a.logs.String() })
	t.Logf("resumed with the new token: the rest at the central %s after the restart", took.Round(time.Millisecond))
	a.waitFor("an empty outbox", 15*time.Second, func() bool { return a.pending() == 0 })
	w.exactlyOnce(t, ids)
	if st := a.status(); st["state"] != "online" || st["failed"].(float64) != 0 {
		t.Fatalf("after re-enrolment: %v", st)
	}
	json.Unmarshal(w.admin.mustDo(t, "GET", "/api/v1/sync/status", "", "", 200), &cs)
	if len(cs.Nodes) != 1 || cs.Nodes[0].Revoked {
		t.Errorf("the central's sync status after re-enrolment: %+v; want the same node, bound to the new token", cs.Nodes)
	}
}
