package iis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/mllp"
	"github.com/haven-registry/haven/internal/registry"
)

// Sender delivers one HL7 message to the upstream IIS and returns its
// reply (the ACK). An error means the message may not have arrived.
type Sender interface {
	Send(ctx context.Context, msg []byte) ([]byte, error)
}

// HTTPSender posts each message to URL (Content-Type application/hl7-v2),
// with a bearer token when Token is set.
type HTTPSender struct {
	URL    string
	Token  string
	Client *http.Client
}

// Send implements Sender.
func (s *HTTPSender) Send(ctx context.Context, msg []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(msg))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/hl7-v2")
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("the IIS answered HTTP %d", resp.StatusCode)
	}
	return body, nil
}

// MLLPSender sends each message over one MLLP connection, reconnecting as
// needed.
type MLLPSender struct{ Client *mllp.Client }

// Send implements Sender.
func (s *MLLPSender) Send(ctx context.Context, msg []byte) ([]byte, error) {
	return s.Client.Send(ctx, msg)
}

// Feed reports recorded doses to an upstream IIS as VXU^V04 messages, from
// the durable outbox (registry.Store's), one at a time and in the order
// they were queued, at least once: a report leaves the outbox only after
// the IIS acknowledged it, and a resent report keeps its message control
// ID (so the IIS can tell a resend). Transport failures and ACKs that
// reject for a passing reason (207, internal error) are retried with
// exponential back-off and jitter, holding the queue; an ACK that rejects
// the message itself (AE or AR) sets the report aside as failed, visible to
// the operator ("haven iis status"), and the feed goes on.
type Feed struct {
	Service *clinic.Service
	Sender  Sender
	// Profile names the person fields the IIS requires beyond the card code
	// (the zero Profile sends the card code only).
	Profile hl7.Profile
	Logger  *slog.Logger
	// Facility names Haven in MSH-4; Receiver the IIS in MSH-5/MSH-6.
	Facility, Receiver string
	// Poll is how often an empty outbox is looked at (default 1 s); MinBackoff
	// and MaxBackoff bound the wait after a failure (default 1 s and 5 min).
	Poll, MinBackoff, MaxBackoff time.Duration
	// SendTimeout bounds one delivery, reply included (default 60 s): an IIS
	// that takes a message and never answers must not stall the feed.
	SendTimeout time.Duration
}

// logger is the feed's logger, or one that discards.
func (f *Feed) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

// Run delivers reports until ctx ends. It returns ctx's error.
func (f *Feed) Run(ctx context.Context) error {
	poll, minB, maxB := or(f.Poll, time.Second), or(f.MinBackoff, time.Second), or(f.MaxBackoff, 5*time.Minute)
	failures := 0
	for {
		wait := poll
		sent, err := f.Step(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			failures++
			wait = backoff(minB, maxB, failures)
			f.logger().Warn("iis feed: delivery failed; retrying", "error", err.Error(), "retry_in", wait.Round(time.Millisecond))
		case sent:
			failures = 0
			continue
		default:
			failures = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// backoff is min·2^(n-1), capped at max, with up to half of it as jitter.
func backoff(minB, maxB time.Duration, n int) time.Duration {
	d := minB
	for i := 1; i < n && d < maxB; i++ {
		d *= 2
	}
	d = min(d, maxB)
	return d/2 + rand.N(d/2+1)
}

// errRetry marks a delivery to retry (the report stays first in line).
var errRetry = errors.New("retry")

// Step delivers the oldest queued report, if any. It reports whether one was
// settled (sent, or set aside as failed), and returns an error when the
// delivery must be retried.
func (f *Feed) Step(ctx context.Context) (bool, error) {
	op := clinic.Operator()
	reports, err := f.Service.NextReports(ctx, op, 1, len(f.Profile.Fields) > 0)
	if err != nil || len(reports) == 0 {
		return false, err
	}
	r := reports[0]
	msg, err := f.message(&r)
	if err != nil {
		// A record Haven cannot write as a VXU (no CVX code): set aside.
		return true, f.Service.SettleReport(ctx, op, r.Seq, false, true, "cannot be written as a VXU: "+registry.ErrorMessage(err))
	}
	sctx, cancel := context.WithTimeout(ctx, or(f.SendTimeout, time.Minute))
	reply, err := f.Sender.Send(sctx, msg)
	cancel()
	if err != nil {
		if serr := f.Service.SettleReport(ctx, op, r.Seq, false, false, err.Error()); serr != nil {
			return false, serr
		}
		return false, fmt.Errorf("report %d: %w", r.Seq, err)
	}
	sent, rejected, why := readAck(reply, controlID(r.Seq))
	switch {
	case sent:
		return true, f.Service.SettleReport(ctx, op, r.Seq, true, false, "")
	case rejected:
		f.logger().Warn("iis feed: the IIS rejected a report; set aside", "seq", r.Seq, "ack", why)
		return true, f.Service.SettleReport(ctx, op, r.Seq, false, true, why)
	}
	if serr := f.Service.SettleReport(ctx, op, r.Seq, false, false, why); serr != nil {
		return false, serr
	}
	return false, fmt.Errorf("report %d: %s: %w", r.Seq, why, errRetry)
}

// controlID is the message control ID of a report: the same on every
// attempt.
func controlID(seq int64) string { return "HAVEN" + strconv.FormatInt(seq, 10) }

// readAck reads the IIS's reply: sent when it accepts (AA, or CA); rejected
// when it finds an error in the message (AE, or AR naming a message error);
// otherwise (AR for an internal error, 206 or 207, or with no reason; CE,
// CR) a failure to retry. The reason for the operator holds codes and
// locations only: an ACK's text may quote the message.
func readAck(reply []byte, want string) (sent, rejected bool, why string) {
	m, err := hl7.ParseMessage(reply)
	if err != nil {
		return false, false, "the reply is not an HL7 message"
	}
	ack, errs := hl7.ReadACK(m)
	if ack == nil || errs.Fatal() {
		return false, false, "the reply is not a readable ACK"
	}
	if ack.ControlID != "" && ack.ControlID != want {
		return false, false, "the ACK answers another message (" + logSafe(ack.ControlID) + ")"
	}
	var codes []string
	transient := false
	for _, e := range ack.Errors {
		if e.Severity == hl7.SeverityInfo || e.Severity == hl7.SeverityWarning {
			continue
		}
		// A locked record passes; so does an internal error, unless the
		// IIS names a field of the message (another Haven answers 207 at
		// RXA-11 for a site the token may not record at): that one needs
		// an operator, and must not hold the queue for ever.
		if e.Code == hl7.CodeRecordLocked || (e.Code == hl7.CodeInternal && (e.Location.Segment == "" || e.Location.Segment == "MSH")) {
			transient = true
		}
		codes = append(codes, strconv.Itoa(int(e.Code))+" at "+e.Location.String())
	}
	code := string(ack.Code)
	switch {
	case code == "AA" || code == "CA":
		return true, false, ""
	case code == "CR" || code == "CE" || (code == "AR" && (transient || len(codes) == 0)):
		return false, false, "ACK " + code + " " + strings.Join(codes, ", ")
	}
	return false, true, "ACK " + code + " " + strings.Join(codes, ", ")
}

// message writes the VXU of a report.
func (f *Feed) message(r *clinic.PendingReport) ([]byte, error) {
	a := administrationOf(f.Service.Catalog(), &r.Vaccination)
	a.Action = hl7.ActionAdd
	if r.Deleted {
		a.Action = hl7.ActionDelete
	}
	p := hl7.Person{CardCode: string(r.Card)}
	if d := r.Demographics; d != nil {
		if d.FamilyName != "" || d.GivenName != "" {
			p.Names = []hl7.Name{{Family: d.FamilyName, Given: d.GivenName, Type: "L"}}
		}
		p.BirthDate = hl7.Date{Year: d.BirthDate.Year, Month: d.BirthDate.Month, Day: d.BirthDate.Day}
		switch d.Sex {
		case registry.SexFemale:
			p.Sex = "F"
		case registry.SexMale:
			p.Sex = "M"
		case registry.SexOther:
			p.Sex = "O"
		case registry.SexUnknown:
			p.Sex = "U"
		}
		if d.Phone != "" {
			p.Phones = []hl7.Phone{{Use: "PRN", Equipment: "PH", Unformatted: d.Phone}}
		}
	}
	env := hl7.Envelope{SendingApplication: hl7.HD{Namespace: "HAVEN"}, SendingFacility: hl7.HD{Namespace: or2(f.Facility, "HAVEN")},
		ReceivingApplication: hl7.HD{Namespace: f.Receiver}, ReceivingFacility: hl7.HD{Namespace: f.Receiver},
		ControlID: controlID(r.Seq), Time: f.Service.Now(), ProcessingID: "P"}
	return hl7.NewVXU(p, []hl7.Administration{a}, f.Profile, env)
}

func or2(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
