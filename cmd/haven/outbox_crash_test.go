package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/mllp"
)

// fakeIIS is an upstream IIS on MLLP that records each message it receives
// (its MSH-10 control ID and the ORC-3 of its RXA, Haven's record ID) and
// acknowledges it with AA after a short delay, so that deliveries are in
// flight. It can hold the reply to one message until told to go on.
type fakeIIS struct {
	delay time.Duration

	mu       sync.Mutex
	received []iisReceipt
	problems []string

	// holdAt, when positive, is the number of the message (1 for the first
	// received) whose reply waits: held is closed when it arrives, and the
	// reply goes when release is closed.
	holdAt        atomic.Int64
	held, release chan struct{}
}

type iisReceipt struct {
	controlID, record, action string
}

func (f *fakeIIS) ServeMLLP(ctx context.Context, peer mllp.Peer, msg []byte) []byte {
	m, err := hl7.ParseMessage(msg)
	if err != nil {
		f.problem("unreadable message: %v", err)
		return nil
	}
	vxu, errs := hl7.ReadVXU(m)
	if vxu == nil || errs.Fatal() || len(vxu.Administrations) != 1 {
		f.problem("not a VXU with one RXA: %v", errs)
		return nil
	}
	a := vxu.Administrations[0]
	f.mu.Lock()
	f.received = append(f.received, iisReceipt{controlID: vxu.Header.ControlID, record: a.FillerOrder.ID, action: string(a.Action)})
	n := int64(len(f.received))
	f.mu.Unlock()
	if n == f.holdAt.Load() {
		close(f.held)
		<-f.release
	}
	time.Sleep(f.delay)
	ack, err := hl7.NewACK(&vxu.Header, nil, hl7.Envelope{ControlID: "x", Time: time.Now()})
	if err != nil {
		f.problem("writing the ACK: %v", err)
	}
	return ack
}

func (f *fakeIIS) problem(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

func (f *fakeIIS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.received)
}

func (f *fakeIIS) log() []iisReceipt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]iisReceipt(nil), f.received...)
}

// TestOutboxCrash records doses one after another through the API of a
// `haven serve` that reports them to an IIS over MLLP, kills the server
// with SIGKILL three times while reports are being delivered (the first
// time while the IIS holds the reply to one, so that it is surely in
// flight), restarts it on the same data folder each time, and waits for
// the outbox to empty (haven iis status --json). The IIS must then have
// received every acknowledged dose, first in the order the doses were
// recorded, and a message twice only as the resend of the one in flight at
// a kill: the same control ID, with nothing else between its two receipts.
func TestOutboxCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and crashes the binary; skipped with -short")
	}
	const doses, kills = 200, 3
	iis := &fakeIIS{delay: 5 * time.Millisecond, held: make(chan struct{}), release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mllpSrv := &mllp.Server{Handler: iis, Logger: slog.New(slog.DiscardHandler)}
	go mllpSrv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		mllpSrv.Shutdown(ctx)
	})

	bin := havenBinary(t)
	dir := t.TempDir()
	flags := []string{"--data", dir}
	// HAVEN_IIS_UPSTREAM is the environment form of serve's --iis-upstream
	// (plain MLLP is allowed to a loopback address). Every dose retried
	// after a kill is a replayed write, which counts as a read.
	env := []string{"HAVEN_IIS_UPSTREAM=mllp://" + ln.Addr().String(), "HAVEN_READ_LIMIT=100000"}
	srv, client, cards := startWithPersons(t, bin, env, flags)
	var base atomic.Value
	base.Store(client.base)

	// The doses, recorded one after another at about the pace the feed
	// delivers them, so that kills come while doses are recorded too; each
	// is retried with its Idempotency-Key until acknowledged, across kills.
	ids := make([]string, doses)
	recorded := make(chan error, 1)
	var acked atomic.Int64
	go func() {
		deadline := time.Now().Add(40 * time.Second)
		for i := range doses {
			key, body := fmt.Sprintf("dose-%d", i), fmt.Sprintf(`{"product":"coronavac","date":"2021-09-%02d","site":"YB-1","lot":"L%d"}`, 1+i%28, i)
			for {
				c := client
				c.base = base.Load().(string)
				status, out, err := c.do("POST", "/api/v1/persons/"+cards[i%len(cards)]+"/vaccinations", key, body)
				if err == nil && status == http.StatusCreated {
					var v struct{ ID string }
					json.Unmarshal(out, &v)
					ids[i] = v.ID
					acked.Add(1)
					time.Sleep(8 * time.Millisecond)
					break
				}
				if err == nil && status != http.StatusServiceUnavailable {
					recorded <- fmt.Errorf("dose %d: %d %s", i, status, out)
					return
				}
				if time.Now().After(deadline) {
					recorded <- fmt.Errorf("dose %d: not recorded within 40 s (%v)", i, err)
					return
				}
				time.Sleep(10 * time.Millisecond) // the server is down, or restarting
			}
		}
		recorded <- nil
	}()

	var atKill []string // doses acknowledged/messages received at each kill
	kill := func() {
		srv.kill()
		atKill = append(atKill, fmt.Sprintf("%d/%d", acked.Load(), iis.count()))
	}
	start := func() {
		srv = startServe(t, bin, env, flags...)
		base.Store("http://" + srv.addr)
	}
	waitFor := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for iis.count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("the IIS received %d messages in 30 s, waiting for %d; server log:\n%s", iis.count(), n, srv.logs)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	// The first kill while the IIS holds its reply: that report is in
	// flight, so it must be resent.
	iis.holdAt.Store(int64(doses/8 + rand.IntN(doses/8)))
	select {
	case <-iis.held:
	case <-time.After(30 * time.Second):
		t.Fatalf("the IIS received %d messages in 30 s; server log:\n%s", iis.count(), srv.logs)
	}
	kill()
	close(iis.release) // the reply goes to a connection already gone
	start()
	// The others at random points: during a delivery, between two, or
	// while Haven settles one.
	for k := 1; k < kills; k++ {
		waitFor(doses*(k+1)/(kills+1) + rand.IntN(doses/8))
		time.Sleep(time.Duration(rand.IntN(12000)) * time.Microsecond)
		kill()
		start()
	}
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}

	// Wait for the outbox to empty.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct {
			Pending, Failed int64
			Reports         []json.RawMessage
		}
		out := runCLI(t, bin, env, append(flags, "iis", "status", "--json")...)
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("iis status --json: %v\n%s", err, out)
		}
		if st.Failed > 0 {
			t.Fatalf("the IIS accepts everything, yet reports failed: %s", out)
		}
		if st.Pending == 0 && len(st.Reports) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox did not empty within 60 s: %s\nserver log:\n%s", out, srv.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}

	iis.mu.Lock()
	problems := iis.problems
	iis.mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("the IIS could not read what Haven sent: %s", strings.Join(problems, "; "))
	}
	log := iis.log()
	var (
		firstAt   = map[string]int{}    // record → index of its first receipt
		controlOf = map[string]string{} // control ID → record
		order     []string              // records in the order first received
		resends   int
	)
	for i, r := range log {
		if r.action != "A" {
			t.Errorf("message %d (%s) has action %q; no dose was marked entered in error", i, r.controlID, r.action)
		}
		if rec, ok := controlOf[r.controlID]; ok && rec != r.record {
			t.Fatalf("control ID %s named record %s, then %s", r.controlID, rec, r.record)
		}
		controlOf[r.controlID] = r.record
		j, seen := firstAt[r.record]
		if !seen {
			firstAt[r.record] = i
			order = append(order, r.record)
			continue
		}
		// A repeat: the resend of the message in flight at a kill.
		resends++
		if log[j].controlID != r.controlID {
			t.Errorf("record %s was sent as %s, then again as %s: a resend must keep its control ID", r.record, log[j].controlID, r.controlID)
		}
		for k := j + 1; k < i; k++ {
			if log[k].record != r.record {
				t.Errorf("record %s (%s) was received at %d and again at %d, with %s (%s) in between: sent twice out of order",
					r.record, r.controlID, j, i, log[k].record, log[k].controlID)
				break
			}
		}
	}
	if len(order) != doses {
		t.Errorf("the IIS received %d distinct records for %d doses", len(order), doses)
	}
	position := map[string]int{}
	for i, rec := range order {
		position[rec] = i
	}
	for i, id := range ids {
		if id == "" {
			t.Fatalf("dose %d was never acknowledged", i)
		}
		if p, ok := position[id]; !ok {
			t.Errorf("dose %d (%s) was acknowledged but never reached the IIS", i, id)
		} else if p != i {
			t.Errorf("dose %d (%s) was the %d-th record the IIS received: reports went out of the order recorded", i, id, p)
		}
	}
	if resends == 0 {
		t.Error("no message was resent, yet the first kill came while the IIS held its reply")
	}
	if resends > kills {
		t.Errorf("%d messages were received twice over %d kills: some resends were not the one in flight", resends, kills)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d doses acknowledged over %d kills (doses acknowledged/messages received at each: %s); the IIS received %d messages, %d of them resends",
		acked.Load(), kills, strings.Join(atKill, ", "), len(log), resends)
}
