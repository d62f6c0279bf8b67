package iis_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/iis"
	"github.com/haven-registry/haven/internal/registry"
)

// fakeIIS is a Sender standing in for an upstream IIS: it keeps every
// message and answers with reply (an AA ACK when reply is nil).
type fakeIIS struct {
	mu    sync.Mutex
	sent  [][]byte
	reply func(n int, msg []byte) ([]byte, error) // n counts from 0
}

var _ iis.Sender = (*fakeIIS)(nil)

func (s *fakeIIS) Send(_ context.Context, msg []byte) ([]byte, error) {
	s.mu.Lock()
	n := len(s.sent)
	s.sent = append(s.sent, bytes.Clone(msg))
	reply := s.reply
	s.mu.Unlock()
	if reply == nil {
		return ackTo(msg, nil)
	}
	return reply(n, msg)
}

func (s *fakeIIS) messages() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// ackTo writes the IIS's ACK of msg with errs.
func ackTo(msg []byte, errs hl7.Errors) ([]byte, error) {
	m, err := hl7.ParseMessage(msg)
	if err != nil {
		return nil, err
	}
	return hl7.NewACK(m.Header(), errs, hl7.Envelope{SendingApplication: hl7.HD{Namespace: "STATEIIS"},
		ControlID: "IIS-" + m.Header().ControlID, Time: now})
}

// sent is what a test reads from a VXU the feed sent.
type sent struct {
	control string // MSH-10
	pid     *hl7.Patient
	dose    hl7.Administration
	pid5    string // PID-5 as written
	pid7    string
}

func readSent(t *testing.T, b []byte) sent {
	t.Helper()
	m, err := hl7.ParseMessage(b)
	if err != nil {
		t.Fatalf("the feed sent an unreadable message: %v\n%s", err, show(b))
	}
	v, errs := hl7.ReadVXU(m)
	if errs.Fatal() {
		t.Fatalf("the feed sent a VXU its own reader rejects: %v\n%s", errs, show(b))
	}
	if len(v.Administrations) != 1 {
		t.Fatalf("the feed sent %d orders in one VXU, want 1", len(v.Administrations))
	}
	pid := m.Find("PID", 1)
	return sent{control: v.Header.ControlID, pid: &v.Patient, dose: v.Administrations[0],
		pid5: pid.Field(5).Raw(), pid7: pid.Field(7).Raw()}
}

// feedFixture is a service that reports upstream, a person with a full
// birth date and a fake IIS behind a feed.
type feedFixture struct {
	*fixture
	card registry.CardCode
	iis  *fakeIIS
	feed *iis.Feed
}

func newFeedFixture(t *testing.T) *feedFixture {
	t.Helper()
	f := newFixture(t, true)
	x := &feedFixture{fixture: f, iis: &fakeIIS{},
		card: f.register(t, clinic.PersonInput{FamilyName: "Kim", GivenName: "Minji", BirthDate: "1985-09-23", Sex: "female", Phone: "010-1234-5678"})}
	// Step needs a Logger (it is defaulted by Run only).
	logger := slog.New(slog.NewJSONHandler(f.log, nil))
	x.feed = &iis.Feed{Service: f.svc, Sender: x.iis, Facility: "HAVEN-TEST", Receiver: "STATEIIS", Logger: logger}
	return x
}

// dose records an administered dose at YB-1 for card.
func (x *feedFixture) dose(t *testing.T, card registry.CardCode, date, lot string) registry.Vaccination {
	t.Helper()
	d, err := x.svc.RecordVaccination(context.Background(), vaccinator("YB-1"), card,
		clinic.VaccinationInput{Product: product(t, "208", "PFR"), Date: date, Site: "YB-1", Lot: lot}, "")
	if err != nil {
		t.Fatal(err)
	}
	return d.Vaccination
}

// outbox lists the outbox as an administrator.
func (x *feedFixture) outbox(t *testing.T) *clinic.Outbox {
	t.Helper()
	o, err := x.svc.ListOutbox(context.Background(), admin, 100)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// drain steps the feed until nothing is left to send.
func (x *feedFixture) drain(t *testing.T) {
	t.Helper()
	for range 100 {
		ok, err := x.feed.Step(context.Background())
		if err != nil {
			t.Fatalf("Step: %v", err)
		}
		if !ok {
			return
		}
	}
	t.Fatal("the feed never ran out of reports")
}

// TestFeedOrder sends three doses with an IIS that accepts everything: in
// the order recorded, each once, and the outbox is empty after.
func TestFeedOrder(t *testing.T) {
	t.Parallel()
	x := newFeedFixture(t)
	var doses []registry.Vaccination
	for _, d := range []struct{ date, lot string }{{"2021-06-01", "L1"}, {"2021-05-01", "L2"}, {"2021-07-01", "L3"}} {
		doses = append(doses, x.dose(t, x.card, d.date, d.lot))
	}
	if o := x.outbox(t); o.Status.Pending != 3 || len(o.Items) != 3 {
		t.Fatalf("outbox = %+v, want 3 pending", o.Status)
	}
	x.drain(t)
	msgs := x.iis.messages()
	if len(msgs) != len(doses) {
		t.Fatalf("%d messages sent, want %d", len(msgs), len(doses))
	}
	controls := map[string]bool{}
	for i, b := range msgs {
		s := readSent(t, b)
		if s.dose.FillerOrder.ID != doses[i].ID.String() || s.dose.FillerOrder.Namespace != hl7.HavenAuthority {
			t.Errorf("message %d reports %v, want %s^HAVEN (queue order)", i, s.dose.FillerOrder, doses[i].ID)
		}
		if s.dose.Action != hl7.ActionAdd {
			t.Errorf("message %d RXA-21 = %s, want A", i, s.dose.Action)
		}
		if controls[s.control] {
			t.Errorf("MSH-10 %s used twice", s.control)
		}
		controls[s.control] = true
		// The zero Profile: the card code and nothing else about the person.
		id, ok := s.pid.Identifier(hl7.HavenAuthority)
		if !ok || id.ID != string(x.card) || len(s.pid.Identifiers) != 1 {
			t.Errorf("message %d PID-3 = %+v, want only %s^^^HAVEN", i, s.pid.Identifiers, x.card)
		}
		if s.pid5 != "" || s.pid7 != "" || s.pid.Sex != "" || len(s.pid.Phones) != 0 || bytes.Contains(b, []byte("Minji")) {
			t.Errorf("message %d names the person beyond the card code:\n%s", i, show(b))
		}
	}
	o := x.outbox(t)
	if o.Status.Pending != 0 || o.Status.Failed != 0 || len(o.Items) != 0 {
		t.Errorf("outbox after delivery = %+v %+v, want empty", o.Status, o.Items)
	}
	if ok, err := x.feed.Step(context.Background()); ok || err != nil {
		t.Errorf("Step on an empty outbox = %v, %v", ok, err)
	}
	if n := len(x.iis.messages()); n != len(doses) {
		t.Errorf("%d messages after the outbox emptied, want %d", n, len(doses))
	}
}

// TestFeedOutcomes checks how each kind of reply to the first of two
// reports settles it: sent, set aside as failed (and the feed goes on), or
// retried (it stays first in line, and nothing later is sent before it).
func TestFeedOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rxa5 := hl7.Location{Segment: "RXA", Seq: 1, Field: 5, Rep: 1, Comp: 1}
	errAt := func(code hl7.Code, loc hl7.Location) hl7.Errors {
		return hl7.Errors{{Location: loc, Code: code, Severity: hl7.SeverityError, Message: "rejected"}}
	}
	for _, tc := range []struct {
		name  string
		reply func(msg []byte) ([]byte, error)
		want  string // sent, failed or retry
		why   []string
	}{
		{name: "ok/AA", reply: func(m []byte) ([]byte, error) { return ackTo(m, nil) }, want: "sent"},
		{
			name: "ok/AA-with-warning", want: "sent",
			reply: func(m []byte) ([]byte, error) {
				return ackTo(m, hl7.Errors{{Location: rxa5, Code: hl7.CodeTableValue, Severity: hl7.SeverityWarning}})
			},
		},
		{
			name: "fail/AE-103", want: "failed", why: []string{"AE", "103", "RXA^1^5^1^1"},
			reply: func(m []byte) ([]byte, error) { return ackTo(m, errAt(hl7.CodeTableValue, rxa5)) },
		},
		{
			name: "fail/AR-204", want: "failed", why: []string{"AR", "204", "PID^1^3"},
			reply: func(m []byte) ([]byte, error) {
				return ackTo(m, errAt(hl7.CodeUnknownKey, hl7.Location{Segment: "PID", Seq: 1, Field: 3}))
			},
		},
		{
			name: "retry/transport-error", want: "retry", why: []string{"connection reset"},
			reply: func([]byte) ([]byte, error) { return nil, errors.New("connection reset") },
		},
		{
			name: "retry/AR-207", want: "retry", why: []string{"207"},
			reply: func(m []byte) ([]byte, error) { return ackTo(m, errAt(hl7.CodeInternal, hl7.Location{})) },
		},
		{
			// Another Haven refusing the site: 207 naming a field needs an
			// operator, and must not hold the queue.
			name: "fail/AR-207-at-a-field", want: "failed", why: []string{"207", "RXA^1^11^1^4"},
			reply: func(m []byte) ([]byte, error) {
				return ackTo(m, errAt(hl7.CodeInternal, hl7.Location{Segment: "RXA", Seq: 1, Field: 11, Rep: 1, Comp: 4}))
			},
		},
		{
			name: "retry/AR-206", want: "retry", why: []string{"206"},
			reply: func(m []byte) ([]byte, error) {
				return ackTo(m, errAt(hl7.CodeRecordLocked, hl7.Location{Segment: "PID", Seq: 1}))
			},
		},
		{
			name: "retry/ack-of-another-message", want: "retry", why: []string{"another message"},
			reply: func(m []byte) ([]byte, error) {
				return ackTo(setField(m, "MSH", 1, 10, "SOMETHING-ELSE"), nil)
			},
		},
		{
			name: "retry/not-hl7", want: "retry", why: []string{"not an HL7 message"},
			reply: func([]byte) ([]byte, error) { return []byte("<html>502 Bad Gateway</html>"), nil },
		},
		{
			name: "retry/upstream-v231-ack", want: "retry",
			reply: func([]byte) ([]byte, error) { return sample(t, "ack-v231.hl7"), nil },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newFeedFixture(t)
			first, second := x.dose(t, x.card, "2021-06-01", "L1"), x.dose(t, x.card, "2021-06-22", "L2")
			x.iis.reply = func(n int, m []byte) ([]byte, error) {
				if n == 0 {
					return tc.reply(m)
				}
				return ackTo(m, nil)
			}
			settled, err := x.feed.Step(ctx)
			o := x.outbox(t)
			switch tc.want {
			case "sent":
				if !settled || err != nil {
					t.Fatalf("Step = %v, %v; want settled", settled, err)
				}
				if len(o.Items) != 1 || o.Items[0].RecordID != second.ID {
					t.Errorf("outbox = %+v, want the second report only", o.Items)
				}
			case "failed":
				if !settled || err != nil {
					t.Fatalf("Step = %v, %v; want settled", settled, err)
				}
				if o.Status.Failed != 1 || len(o.Items) != 2 || !o.Items[0].Failed || o.Items[0].RecordID != first.ID {
					t.Fatalf("outbox = %+v %+v, want the first report failed", o.Status, o.Items)
				}
			case "retry":
				if settled || err == nil {
					t.Fatalf("Step = %v, %v; want an error to retry", settled, err)
				}
				if len(o.Items) != 2 || o.Items[0].RecordID != first.ID || o.Items[0].Failed || o.Items[0].Attempts != 1 || o.Items[1].Attempts != 0 {
					t.Fatalf("outbox = %+v, want the first report pending first with one attempt", o.Items)
				}
			}
			if bytes.Contains(x.log.Bytes(), []byte(x.card)) {
				t.Errorf("the log names the card code:\n%s", x.log.Bytes())
			}
			if tc.want != "sent" {
				for _, w := range tc.why {
					if !strings.Contains(o.Items[0].LastError, w) {
						t.Errorf("LastError = %q, want it to name %q", o.Items[0].LastError, w)
					}
				}
			}
			// The next step: the second report, or the first again under
			// the same control ID.
			if ok, err := x.feed.Step(ctx); !ok || err != nil {
				t.Fatalf("second Step = %v, %v", ok, err)
			}
			msgs := x.iis.messages()
			if len(msgs) != 2 {
				t.Fatalf("%d messages sent, want 2", len(msgs))
			}
			a, b := readSent(t, msgs[0]), readSent(t, msgs[1])
			want := second.ID.String()
			if tc.want == "retry" {
				want = first.ID.String()
				if a.control != b.control {
					t.Errorf("a resent report has MSH-10 %s, first sent as %s", b.control, a.control)
				}
			}
			if b.dose.FillerOrder.ID != want {
				t.Errorf("second message reports %s, want %s", b.dose.FillerOrder.ID, want)
			}
		})
	}
}

// TestFeedRetryReport puts a report the IIS rejected back in the queue.
func TestFeedRetryReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := newFeedFixture(t)
	first := x.dose(t, x.card, "2021-06-01", "L1")
	x.dose(t, x.card, "2021-06-22", "L2")
	x.iis.reply = func(n int, m []byte) ([]byte, error) {
		if n == 0 {
			return ackTo(m, hl7.Errors{{Location: hl7.Location{Segment: "RXA", Seq: 1, Field: 15}, Code: hl7.CodeDataType, Severity: hl7.SeverityError}})
		}
		return ackTo(m, nil)
	}
	x.drain(t)
	if n := len(x.iis.messages()); n != 2 {
		t.Fatalf("%d messages, want 2 (the failed one is not retried on its own)", n)
	}
	o := x.outbox(t)
	if len(o.Items) != 1 || !o.Items[0].Failed || o.Items[0].RecordID != first.ID {
		t.Fatalf("outbox = %+v, want the first report failed", o.Items)
	}
	seq := o.Items[0].Seq
	if err := x.svc.RetryReport(ctx, vaccinator("YB-1"), seq); registry.ErrorCode(err) != registry.EFORBIDDEN {
		t.Errorf("RetryReport by a vaccinator = %v, want EFORBIDDEN", err)
	}
	if err := x.svc.RetryReport(ctx, admin, seq+100); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("RetryReport of no report = %v, want ENOTFOUND", err)
	}
	if err := x.svc.RetryReport(ctx, admin, seq); err != nil {
		t.Fatal(err)
	}
	if o := x.outbox(t); o.Status.Pending != 1 || o.Status.Failed != 0 || o.Items[0].Failed {
		t.Fatalf("outbox after retry = %+v %+v, want one pending", o.Status, o.Items)
	}
	x.drain(t)
	msgs := x.iis.messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3", len(msgs))
	}
	again, orig := readSent(t, msgs[2]), readSent(t, msgs[0])
	if again.dose.FillerOrder.ID != first.ID.String() || again.control != orig.control {
		t.Errorf("resent %s as %s, want %s as %s", again.dose.FillerOrder.ID, again.control, first.ID, orig.control)
	}
	if o := x.outbox(t); len(o.Items) != 0 {
		t.Errorf("outbox = %+v, want empty", o.Items)
	}
}

// TestFeedEnteredInError reports a dose and its deletion (RXA-21 D, the
// same ORC-3).
func TestFeedEnteredInError(t *testing.T) {
	t.Parallel()
	x := newFeedFixture(t)
	d := x.dose(t, x.card, "2021-06-01", "L1")
	if _, err := x.svc.MarkEnteredInError(context.Background(), vaccinator("YB-1"), x.card, d.ID, clinic.Correction{}, ""); err != nil {
		t.Fatal(err)
	}
	x.drain(t)
	msgs := x.iis.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want the dose and its deletion", len(msgs))
	}
	for i, want := range []hl7.Action{hl7.ActionAdd, hl7.ActionDelete} {
		s := readSent(t, msgs[i])
		if s.dose.Action != want || s.dose.FillerOrder.ID != d.ID.String() {
			t.Errorf("message %d: RXA-21 %s for %s, want %s for %s", i, s.dose.Action, s.dose.FillerOrder.ID, want, d.ID)
		}
	}
}

// TestFeedErased drops the reports of a person erased before they were
// sent.
func TestFeedErased(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := newFeedFixture(t)
	gone := x.register(t, clinic.PersonInput{BirthDate: "1990"})
	x.dose(t, gone, "2021-06-01", "GONE")
	kept := x.dose(t, x.card, "2021-06-02", "KEPT")
	if err := x.svc.ErasePerson(ctx, admin, gone); err != nil {
		t.Fatal(err)
	}
	x.drain(t)
	msgs := x.iis.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want only the remaining person's", len(msgs))
	}
	if s := readSent(t, msgs[0]); s.dose.FillerOrder.ID != kept.ID.String() || bytes.Contains(msgs[0], []byte(gone)) {
		t.Errorf("sent %s, want %s", s.dose.FillerOrder.ID, kept.ID)
	}
	if o := x.outbox(t); len(o.Items) != 0 {
		t.Errorf("outbox = %+v, want empty", o.Items)
	}
}

// TestFeedProfile: the fields a profile names, and only those, are sent.
func TestFeedProfile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		fields     []string
		pid5, pid7 string
	}{
		{name: "ok/card-only"},
		{name: "ok/name-and-birth-date", fields: []string{hl7.FieldName, hl7.FieldBirthDate}, pid5: "Kim^Minji^^^^^L", pid7: "19850923"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := newFeedFixture(t)
			x.feed.Profile = hl7.Profile{Fields: tc.fields}
			x.dose(t, x.card, "2021-06-01", "L1")
			x.drain(t)
			msgs := x.iis.messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			s := readSent(t, msgs[0])
			if s.pid5 != tc.pid5 || s.pid7 != tc.pid7 {
				t.Errorf("PID-5 %q PID-7 %q, want %q %q", s.pid5, s.pid7, tc.pid5, tc.pid7)
			}
			if s.pid.Sex != "" || len(s.pid.Phones) != 0 {
				t.Errorf("sex or phone sent without being in the profile:\n%s", show(msgs[0]))
			}
			if id, ok := s.pid.Identifier(hl7.HavenAuthority); !ok || id.ID != string(x.card) {
				t.Errorf("PID-3 = %+v, want %s^^^HAVEN", s.pid.Identifiers, x.card)
			}
		})
	}
}

// TestFeedNotForReceived: records received over HL7 are not reported back.
func TestFeedNotForReceived(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := newFeedFixture(t)
	for _, b := range [][]byte{sample(t, "vxu-administered.hl7"), withCard(sample(t, "vxu-historical.hl7"), x.card)} {
		if a := readAck(t, x.h.Handle(ctx, vaccinator("YB-1"), b)); a.Code != hl7.AA {
			t.Fatalf("MSA-1 = %s: %v", a.Code, a.Errors)
		}
	}
	// Even their correction over HL7.
	del := withCard(sample(t, "vxu-entered-in-error.hl7"), x.card)
	if a := readAck(t, x.h.Handle(ctx, vaccinator("YB-1"), del)); a.Code != hl7.AA {
		t.Fatalf("MSA-1 = %s: %v", a.Code, a.Errors)
	}
	if ok, err := x.feed.Step(ctx); ok || err != nil {
		t.Errorf("Step = %v, %v; want nothing to send", ok, err)
	}
	if n := len(x.iis.messages()); n != 0 {
		t.Errorf("%d messages sent for records received over HL7", n)
	}
	if o := x.outbox(t); o.Status.Pending != 0 || len(o.Items) != 0 {
		t.Errorf("outbox = %+v", o.Items)
	}
}

// TestFeedRun runs the feed until the outbox is empty, then stops it.
func TestFeedRun(t *testing.T) {
	t.Parallel()
	x := newFeedFixture(t)
	x.iis.reply = func(n int, m []byte) ([]byte, error) {
		if n == 0 {
			return nil, errors.New("the IIS is down")
		}
		return ackTo(m, nil)
	}
	x.feed.Poll, x.feed.MinBackoff, x.feed.MaxBackoff = 5*time.Millisecond, time.Millisecond, 5*time.Millisecond
	for _, lot := range []string{"L1", "L2", "L3"} {
		x.dose(t, x.card, "2021-06-01", lot)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.feed.Run(ctx) }()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if o := x.outbox(t); o.Status.Pending == 0 {
			break
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if n := len(x.iis.messages()); n != 4 {
		t.Errorf("%d messages, want 4 (one failure, three deliveries)", n)
	}
	if o := x.outbox(t); len(o.Items) != 0 {
		t.Errorf("outbox = %+v, want empty", o.Items)
	}
}

// TestFeedSendTimeout: an IIS that takes a message and never answers does
// not stall the feed; the report is retried.
func TestFeedSendTimeout(t *testing.T) {
	t.Parallel()
	x := newFeedFixture(t)
	x.feed.Sender = hangingIIS{}
	x.feed.SendTimeout = 20 * time.Millisecond
	x.dose(t, x.card, "2021-06-01", "L1")
	start := time.Now()
	ok, err := x.feed.Step(context.Background())
	if ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Step = %v, %v; want a deadline to retry", ok, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Step took %v", d)
	}
	if o := x.outbox(t); len(o.Items) != 1 || o.Items[0].Attempts != 1 || o.Items[0].Failed {
		t.Errorf("outbox = %+v, want the report pending with one attempt", o.Items)
	}
}

// hangingIIS never answers.
type hangingIIS struct{}

func (hangingIIS) Send(ctx context.Context, _ []byte) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
