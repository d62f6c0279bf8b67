package nodesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// Options tune a Syncer. Zero values take the defaults.
type Options struct {
	// MaxBatch is the number of events pushed at once until the central
	// names its own max_batch (default syncwire.DefaultBatch; at most
	// syncwire.MaxEvents).
	MaxBatch int
	// PullEvery is how often the feed is pulled while nothing is pushed
	// (default 10 s).
	PullEvery time.Duration
	// BackoffMin and BackoffMax bound the wait after a transport error or
	// a 5xx: BackoffMin doubling up to BackoffMax (defaults 0.5 s and
	// 15 s), half of each wait random.
	BackoffMin, BackoffMax time.Duration
	// RevokedEvery is how often hello is tried again once the token is
	// revoked (401) or the node refused (403) (default 1 minute).
	RevokedEvery time.Duration
	// PullLimit is the page size asked for (default DefaultPullLimit).
	PullLimit int
	// Logger gets state changes and failures (nil: discarded).
	Logger *slog.Logger
	// Now is the node's clock, for the skew (nil: time.Now).
	Now func() time.Time
	// Busy reports whether the clinic is being served (a request ended
	// within the last second). While it is, the pusher rests nine times
	// the time a batch took (building, the exchange, settling) after each
	// one, so that catching up a backlog runs at most a tenth of the time
	// and clinic work comes first (nil: never busy).
	Busy func() bool
}

// restFactor is how long the pusher rests, in multiples of its own work,
// while the clinic is busy; maxRest bounds one rest.
const (
	restFactor = 9
	maxRest    = 5 * time.Second
)

// Syncer runs a node's sync with the central: hello, then pushes of the
// outbox and pulls of the feed, for as long as Run runs. It holds one batch
// in memory at a time. Its only goroutine is Run's; Kick may be called from
// any goroutine.
type Syncer struct {
	client *Client
	local  Local
	opts   Options
	log    *slog.Logger
	kick   chan struct{}

	// Run's own state.
	batch     int    // events per push
	failures  int    // consecutive failures, for the back-off
	lastState string // for logging changes only
	lastError string
}

// NewSyncer returns a syncer that moves local's events through client.
func NewSyncer(client *Client, local Local, opts Options) *Syncer {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = syncwire.DefaultBatch
	}
	opts.MaxBatch = min(opts.MaxBatch, syncwire.MaxEvents)
	if opts.PullEvery <= 0 {
		opts.PullEvery = 10 * time.Second
	}
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = 500 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 15 * time.Second
	}
	opts.BackoffMax = max(opts.BackoffMax, opts.BackoffMin)
	if opts.RevokedEvery <= 0 {
		opts.RevokedEvery = time.Minute
	}
	if opts.PullLimit <= 0 {
		opts.PullLimit = DefaultPullLimit
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Syncer{client: client, local: local, opts: opts, log: log, kick: make(chan struct{}, 1), batch: opts.MaxBatch}
}

// Kick wakes Run to push and pull at once: call it after each local write
// that queued an event. It never blocks; kicks that come while Run is busy
// make one more round, however many they are. While Run backs off after a
// failure, or the token is revoked, a kick waits for the back-off to end.
func (s *Syncer) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run syncs until ctx ends, then returns ctx's error. It says hello until
// the central answers, then, in rounds: pushes batches while Local has
// some, then pulls pages while the central has more; a round starts on a
// Kick, or PullEvery after the last. Every exchange is reported to
// Local.SyncContact. On failure it waits and tries again, never giving up:
//
//   - unreachable, TLS, protocol and 5xx: state offline, back-off from
//     BackoffMin doubling to BackoffMax, half random;
//   - busy: the central's Retry-After, and up to half again at random;
//   - too_large: the batch is halved (down to one event) and sent again;
//   - behind: hello again, at once the first time (Local re-queues);
//   - unauthorized (state revoked) and forbidden (refused): nothing is
//     pushed or pulled; hello is tried every RevokedEvery, so that a
//     re-enrolment at the central resumes sync;
//   - a failure of Local (sealed, disk_full, others): back-off, with the
//     state sealed or disk_full reported when the error says so.
func (s *Syncer) Run(ctx context.Context) error {
	enrolled := false
	prev := "" // the code of the last failure, "" after a success
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var err error
		if !enrolled {
			// The back-off counts on until a round succeeds, so that a
			// central that accepts hello and fails the rest is not hammered.
			err = s.hello(ctx)
			enrolled = err == nil
		}
		if enrolled {
			if err = s.round(ctx); err == nil {
				s.failures, prev = 0, ""
				if !s.sleep(ctx, s.opts.PullEvery, true) {
					return ctx.Err()
				}
				continue
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		code := ErrorCode(err)
		again := code == prev
		prev = code
		var wait time.Duration
		switch code {
		case CodeUnauthorized, CodeForbidden:
			enrolled = false
			s.failures = 0
			wait = s.opts.RevokedEvery + rand.N(s.opts.RevokedEvery/10+1)
		case CodeBehind:
			enrolled = false
			if !again {
				continue // hello again at once; back off if it keeps happening
			}
			s.failures++
			wait = backoff(s.opts.BackoffMin, s.opts.BackoffMax, s.failures)
		case CodeBusy:
			var e *Error
			errors.As(err, &e)
			if d := e.RetryAfter; d > 0 {
				wait = d + rand.N(d/2+1)
				break
			}
			s.failures++
			wait = backoff(s.opts.BackoffMin, s.opts.BackoffMax, s.failures)
		default:
			s.failures++
			wait = backoff(s.opts.BackoffMin, s.opts.BackoffMax, s.failures)
		}
		s.log.Debug("sync: waiting", "code", ErrorCode(err), "wait", wait.Round(time.Millisecond))
		if !s.sleep(ctx, wait, false) {
			return ctx.Err()
		}
	}
}

// sleep waits d, or until a kick when kickable; false when ctx ended.
func (s *Syncer) sleep(ctx context.Context, d time.Duration, kickable bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	var kick <-chan struct{}
	if kickable {
		kick = s.kick
	}
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-kick:
	}
	return true
}

// hello enrols the node, or reports why it could not.
func (s *Syncer) hello(ctx context.Context) error {
	h, err := s.local.SyncHello(ctx)
	if err != nil {
		return s.localFailed(ctx, "hello", err)
	}
	start := s.opts.Now()
	ans, err := s.client.Hello(ctx, h)
	end := s.opts.Now()
	if err != nil {
		return s.failed(ctx, "hello", err)
	}
	if err := s.local.SyncEnrolled(ctx, ans); err != nil {
		return s.localFailed(ctx, "hello", err)
	}
	if ans.MaxBatch > 0 {
		s.batch = min(ans.MaxBatch, syncwire.MaxEvents)
	}
	c := Contact{State: StateOnline, Direction: "hello"}
	c.Skew, c.Measured = skew(start, end, ans.Now)
	s.contact(ctx, c)
	return nil
}

// round pushes until the outbox is empty, then pulls until the feed is.
func (s *Syncer) round(ctx context.Context) error {
	select { // this round serves every kick so far
	case <-s.kick:
	default:
	}
	var acked int64 // the last seq acknowledged in this round
	for {
		work := time.Now() // the node's own share of this batch: build, encode, settle
		batch, err := s.local.SyncBatch(ctx, s.batch)
		if err != nil {
			return s.localFailed(ctx, "push", err)
		}
		if batch == nil || len(batch.Events) == 0 {
			break
		}
		if first := batch.Events[0].Seq; acked != 0 && first <= acked {
			return s.localFailed(ctx, "push", fmt.Errorf("nodesync: the outbox offers seq %d again after the central acknowledged %d", first, acked))
		}
		body, err := syncwire.EncodePush(batch, syncwire.DefaultLevel)
		if registry.ErrorCode(err) == registry.ETOOLARGE && len(batch.Events) > 1 {
			s.batch = max(1, len(batch.Events)/2)
			s.log.Info("sync: batch too large to encode; halved", "events", s.batch)
			continue
		}
		if err != nil {
			return s.localFailed(ctx, "push", err)
		}
		start := s.opts.Now()
		ans, err := s.client.Push(ctx, body)
		end := s.opts.Now()
		if ErrorCode(err) == CodeTooLarge && len(batch.Events) > 1 {
			s.batch = max(1, len(batch.Events)/2)
			s.contact(ctx, Contact{State: StateOnline, Direction: "push", Code: CodeTooLarge,
				Error: fmt.Sprintf("%s; sending %d events at a time", err.Error(), s.batch)})
			continue
		}
		if err != nil {
			return s.failed(ctx, "push", err)
		}
		if err := s.local.SyncAcked(ctx, batch, ans); err != nil {
			return s.localFailed(ctx, "push", err)
		}
		batchTime := time.Since(work)
		acked = batch.Events[len(batch.Events)-1].Seq
		if ans.MaxBatch > 0 {
			// Follow the central, but after a 413 grow back at most
			// twofold a batch.
			s.batch = min(ans.MaxBatch, syncwire.MaxEvents, 2*max(s.batch, len(batch.Events)))
		}
		c := Contact{State: StateOnline, Direction: "push", Events: len(batch.Events), Bytes: int64(len(body))}
		c.Skew, c.Measured = skew(start, end, ans.Now)
		s.contact(ctx, c)
		if s.opts.Busy != nil && s.opts.Busy() {
			// Clinic work comes first: rest while it is being served.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(restFactor*batchTime, maxRest)):
			}
		}
	}
	for {
		after, err := s.local.SyncPullCursor(ctx)
		if err != nil {
			return s.localFailed(ctx, "pull", err)
		}
		start := s.opts.Now()
		page, n, err := s.client.pull(ctx, after, s.opts.PullLimit)
		end := s.opts.Now()
		if err != nil {
			return s.failed(ctx, "pull", err)
		}
		if err := s.local.SyncPulled(ctx, page); err != nil {
			return s.localFailed(ctx, "pull", err)
		}
		c := Contact{State: StateOnline, Direction: "pull", Events: len(page.Events), Bytes: n}
		c.Skew, c.Measured = skew(start, end, page.Header.Now)
		s.contact(ctx, c)
		if !page.Header.More {
			return nil
		}
	}
}

// failed reports a failed exchange with the central and returns err.
func (s *Syncer) failed(ctx context.Context, dir string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c := Contact{State: StateOffline, Direction: dir, Error: err.Error(), Code: ErrorCode(err)}
	switch c.Code {
	case CodeUnauthorized:
		c.State = StateRevoked
	case CodeForbidden:
		c.State = StateRefused
	case CodeBusy, CodeBehind, CodeTooLarge, CodeNotFound:
		c.State = StateOnline // the central answered; it asks for something else
	case "":
		c.Code = CodeProtocol
	}
	if cause := errors.Unwrap(err); cause != nil {
		s.log.Debug("sync: cause", "direction", dir, "error", cause.Error())
	}
	s.contact(ctx, c)
	return err
}

// diskFull is the code of a write refused for want of disk space.
const diskFull = "disk_full"

// localFailed handles a failure of Local: logged, and reported when it is
// a state sync status shows (sealed, disk_full). It returns err.
func (s *Syncer) localFailed(ctx context.Context, dir string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch code := registry.ErrorCode(err); code {
	case registry.ESEALED:
		s.contact(ctx, Contact{State: StateSealed, Direction: dir, Error: registry.ErrorMessage(err), Code: code})
	case diskFull:
		s.contact(ctx, Contact{State: StateDiskFull, Direction: dir, Error: registry.ErrorMessage(err), Code: code})
	default:
		s.log.Error("sync: local failure", "direction", dir, "error", err.Error())
	}
	return err
}

// contact reports c to Local, and logs changes of state or error.
func (s *Syncer) contact(ctx context.Context, c Contact) {
	if c.State != s.lastState || c.Error != s.lastError {
		switch {
		case c.Error == "":
			s.log.Info("sync: "+c.State, "direction", c.Direction)
		default:
			s.log.Warn("sync: "+c.State, "direction", c.Direction, "code", c.Code, "error", c.Error)
		}
		s.lastState, s.lastError = c.State, c.Error
	}
	if err := s.local.SyncContact(ctx, c); err != nil && ctx.Err() == nil {
		s.log.Error("sync: recording the contact failed", "error", err.Error())
	}
}

// skew is the node's clock minus the central's, in seconds: the central's
// now is taken as the middle of the round trip [start, end].
func skew(start, end, central time.Time) (float64, bool) {
	if central.IsZero() {
		return 0, false
	}
	mid := start.Add(end.Sub(start) / 2)
	return mid.Sub(central).Seconds(), true
}

// backoff is minB·2^(n-1), capped at maxB, half of it random (as
// iis.backoff).
func backoff(minB, maxB time.Duration, n int) time.Duration {
	d := minB
	for i := 1; i < n && d < maxB; i++ {
		d *= 2
	}
	d = min(d, maxB)
	return d/2 + rand.N(d/2+1)
}
