package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// EpochStore is what the Rotator needs from a database: the persons whose
// data keys are wrapped under one epoch are found by the key's prefix
// (EpochID.Prefix), and a small table records, per epoch, whether an
// erasure asked for it to be retired, whether it is closed to new keys
// (the database then refuses to store a key wrapped under it) and whether
// its key was destroyed. No key is ever stored there. internal/sqlstore
// implements it.
type EpochStore interface {
	// KeyEpochs calls fn for every epoch the database knows and has not
	// recorded as destroyed.
	KeyEpochs(ctx context.Context, fn func(prefix []byte, retire, closed bool) error) error
	// CountKeyEpoch returns how many stored data keys are wrapped under
	// the epoch.
	CountKeyEpoch(ctx context.Context, prefix []byte) (int, error)
	// ClaimKeyEpoch leases the epoch to owner until until, unless another
	// owner holds a lease that runs past now, and reports whether owner
	// holds it. Several processes' rotators thus do not retire one epoch
	// twice at once (which would be wasteful, not wrong).
	ClaimKeyEpoch(ctx context.Context, prefix []byte, owner string, now, until time.Time) (bool, error)
	// RewrapKeyEpoch replaces up to limit stored data keys wrapped under
	// the epoch with rewrap(key), in one transaction, and returns how many
	// it found. A key changed meanwhile (erased) is left alone.
	RewrapKeyEpoch(ctx context.Context, prefix []byte, limit int, rewrap func([]byte) ([]byte, error)) (int, error)
	// CloseKeyEpoch closes the epoch to new keys, then rewraps every key
	// still under it, in one transaction, and returns how many it found.
	// Once it returns, no stored key is wrapped under the epoch, and none
	// can be stored under it.
	CloseKeyEpoch(ctx context.Context, prefix []byte, rewrap func([]byte) ([]byte, error)) (int, error)
	// DestroyedKeyEpoch records that the epoch's key is gone (closing it
	// too).
	DestroyedKeyEpoch(ctx context.Context, prefix []byte) error
}

// RotatorOptions configure a Rotator. The zero value gives the documented
// defaults (docs/adr/0004-epoch-keys.md).
type RotatorOptions struct {
	// Poll is how often Run reloads the ring and looks for work: epochs an
	// erasure (here or in another process) asked to retire, epochs older
	// than MaxAge, a full intake. Default 10 s.
	Poll time.Duration
	// MaxAge is the longest an epoch key lives; older ones are rotated
	// (their persons rewrapped under a fresh key, the old key destroyed).
	// Default 7 days; negative turns scheduled rotation off.
	MaxAge time.Duration
	// Batch is how many data keys one rewrap transaction rewrites. Default 200.
	Batch int
	// Pause is the shortest rest between two batches. Default 10 ms.
	Pause time.Duration
	// Share is the largest share of time a retirement spends in rewrap
	// transactions: after a batch that took t it rests at least
	// t·(1−Share)/Share, so that dose recording keeps its throughput while
	// an epoch is retired for an erasure (docs/adr/0004-epoch-keys.md).
	// Default 0.15 (it rests about six times as long as it works); 1 means no
	// rest beyond Pause.
	Share float64
	// ScheduledShare is Share for retirements that no erasure asked for
	// (epochs older than MaxAge, unused ones): they are not urgent.
	// Default 0.05.
	ScheduledShare float64
	// Lease is how long one process may hold an epoch it is retiring
	// before another may take it over. Default 2 min.
	Lease time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives warnings (epoch IDs and counts only). Default: none.
	Logger *slog.Logger
}

// DefaultPoll and DefaultMaxAge are the Rotator's defaults; the bounds in
// docs/privacy.md follow from them.
const (
	DefaultPoll   = 10 * time.Second
	DefaultMaxAge = 7 * 24 * time.Hour
)

// Rotator retires key epochs: for an epoch that must go (an erasure touched
// it, or it is older than MaxAge) it moves new persons to a fresh intake,
// rewraps the epoch's persons in batches under a fresh epoch key, closes
// the epoch in the database, destroys its key in the ring, and records
// that. Every copy of a data key wrapped under the old epoch, wherever it
// lingers, then opens under nothing. It also moves the intake on when it
// is full. One Rotator runs in each haven serve (Run); operator commands
// call AfterErase. It is safe for concurrent use.
type Rotator struct {
	v     *Vault
	s     EpochStore
	opts  RotatorOptions
	owner string
	mu    sync.Mutex // one pass at a time
	kick  chan struct{}
}

// NewRotator returns a Rotator for the vault and store.
func NewRotator(v *Vault, s EpochStore, opts RotatorOptions) *Rotator {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Batch <= 0 {
		opts.Batch = 200
	}
	if opts.Pause == 0 {
		opts.Pause = 10 * time.Millisecond
	}
	if opts.Share <= 0 || opts.Share > 1 {
		opts.Share = 0.15
	}
	if opts.ScheduledShare <= 0 || opts.ScheduledShare > 1 {
		opts.ScheduledShare = 0.05
	}
	if opts.Lease <= 0 {
		opts.Lease = 2 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var b [8]byte
	rand.Read(b[:])
	return &Rotator{v: v, s: s, opts: opts, owner: "rot_" + hex.EncodeToString(b[:]), kick: make(chan struct{}, 1)}
}

// RotationReport says what one pass did.
type RotationReport struct {
	Retired   []EpochID // epochs whose key was destroyed
	Rewrapped int       // data keys rewrapped
	Intake    EpochID   // the intake after the pass
	Forgotten int       // epochs found already destroyed (by another process, or a shred)
	Waiting   int       // epochs due that another process is retiring (holds the lease)
}

// AfterErase retires, now, every epoch an erasure asked to retire, and
// returns once their keys are destroyed. Call it after a successful
// registry.Store ErasePerson: when it returns nil, no copy of the erased
// person's wrapped data key can be opened any more, in this database, its
// WAL, replicas or backups. If it fails (or is never called) a running
// Rotator does the same within its Poll.
//
// If another process is already retiring the epoch (it holds the lease),
// AfterErase waits for it to finish, up to RotatorOptions.Lease.
func (r *Rotator) AfterErase(ctx context.Context) error {
	deadline := time.Now().Add(r.opts.Lease)
	for {
		rep, err := r.pass(ctx, false)
		if err != nil || rep.Waiting == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return registry.Errorf(registry.EUNAVAILABLE, "vault: %d key epochs are being retired by another process, which has not finished; the running rotators will", rep.Waiting)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// AfterErase is Rotator.AfterErase for a one-off command (haven erase with
// the server stopped), with the default options.
func AfterErase(ctx context.Context, v *Vault, s EpochStore) error {
	return NewRotator(v, s, RotatorOptions{}).AfterErase(ctx)
}

// Kick makes a running Run start a pass now.
func (r *Rotator) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run makes a pass every Poll (and when kicked) until ctx ends. Failures
// are logged and retried at the next pass.
func (r *Rotator) Run(ctx context.Context) {
	if lc, ok := r.s.(interface {
		CountLegacyKeys(ctx context.Context) (int, error)
	}); ok {
		if n, err := lc.CountLegacyKeys(ctx); err == nil && n > 0 {
			r.opts.Logger.Warn("data keys from before key epochs: an erasure of these persons is not forward-secure until haven vault rotate runs", "count", n)
		}
	}
	t := time.NewTicker(r.opts.Poll)
	defer t.Stop()
	for {
		if _, err := r.Pass(ctx); err != nil && ctx.Err() == nil && registry.ErrorCode(err) != registry.ESEALED {
			r.opts.Logger.Warn("key epoch rotation failed; retrying at the next pass", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
	}
}

// Pass does everything that is due: it reloads the ring, retires the epochs
// erasures asked for and those older than MaxAge, moves a full intake on,
// destroys epoch keys that no stored data key uses, and records epochs
// destroyed elsewhere. A sealed vault makes it do nothing.
func (r *Rotator) Pass(ctx context.Context) (RotationReport, error) {
	return r.pass(ctx, true)
}

type dbEpoch struct {
	id             EpochID
	retire, closed bool
}

func (r *Rotator) pass(ctx context.Context, full bool) (rep RotationReport, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.v.Refresh(); err != nil && registry.ErrorCode(err) != registry.ESEALED {
		return rep, err
	}
	if r.v.Sealed() {
		return rep, nil
	}
	var rows []dbEpoch
	err = r.s.KeyEpochs(ctx, func(prefix []byte, retire, closed bool) error {
		if id, ok := EpochFromPrefix(prefix); ok {
			rows = append(rows, dbEpoch{id, retire, closed})
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("key epochs: %w", err)
	}
	// Reload again: an epoch the database met after the first reload was
	// saved in the ring before any key was wrapped under it, so it is in
	// the ring now unless it was destroyed.
	if err := r.v.Refresh(); err != nil {
		return rep, err
	}
	created := map[EpochID]time.Time{}
	for _, e := range r.v.Epochs() {
		created[e.ID] = e.Created
	}
	now := r.opts.Now()
	known := map[EpochID]bool{}
	var errs []error
	for _, e := range rows {
		known[e.id] = true
		c, loaded := created[e.id]
		if !loaded {
			if !r.v.HasEpoch(e.id) {
				// Destroyed elsewhere (another process, haven vault rotate, a
				// shred): whatever is still wrapped under it is gone.
				if err := r.s.DestroyedKeyEpoch(ctx, e.id.Prefix()); err != nil {
					return rep, err
				}
				rep.Forgotten++
			}
			continue
		}
		urgent := e.retire || e.closed
		if !(urgent || (full && r.opts.MaxAge > 0 && now.Sub(c) >= r.opts.MaxAge)) {
			continue
		}
		share := r.opts.Share
		if !urgent {
			share = r.opts.ScheduledShare
		}
		n, done, err := r.retire(ctx, e.id, share)
		rep.Rewrapped += n
		if err != nil {
			errs = append(errs, fmt.Errorf("retire epoch %s: %w", e.id, err))
			continue
		}
		if done {
			rep.Retired = append(rep.Retired, e.id)
		} else if urgent {
			rep.Waiting++
		}
	}
	if full {
		if err := r.housekeep(ctx, known, now, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	rep.Intake = r.v.Intake()
	return rep, errors.Join(errs...)
}

// housekeep moves a full or old intake on and destroys epoch keys that no
// stored data key uses (a rotation target that got nothing, an epoch left by
// a crash between two steps).
func (r *Rotator) housekeep(ctx context.Context, known map[EpochID]bool, now time.Time, rep *RotationReport) error {
	created := map[EpochID]time.Time{}
	for _, e := range r.v.Epochs() {
		created[e.ID] = e.Created
	}
	if in := r.v.Intake(); !in.IsZero() {
		n, err := r.s.CountKeyEpoch(ctx, in.Prefix())
		if err != nil {
			return err
		}
		old := r.opts.MaxAge > 0 && now.Sub(created[in]) >= r.opts.MaxAge
		if n >= r.v.EpochSize() || (old && n == 0) {
			if _, err := r.v.NewIntake(in); err != nil {
				return err
			}
		}
	}
	intake := r.v.Intake()
	for id, c := range created {
		if known[id] || id == intake || now.Sub(c) < r.opts.Lease {
			continue
		}
		// Not in the database, so no person's key was ever stored under it;
		// retire closes it there first, so none can be stored under it
		// while its key is destroyed.
		n, done, err := r.retire(ctx, id, r.opts.ScheduledShare)
		rep.Rewrapped += n
		if err != nil {
			return fmt.Errorf("retire unused epoch %s: %w", id, err)
		}
		if done {
			rep.Retired = append(rep.Retired, id)
		}
	}
	return nil
}

// retire rewraps every data key under epoch id under a fresh epoch (made
// only if there is something to rewrap), closes the epoch in the database,
// destroys its key and records that. done is false if another process holds
// the epoch's lease.
func (r *Rotator) retire(ctx context.Context, id EpochID, share float64) (rewrapped int, done bool, err error) {
	prefix := id.Prefix()
	claim := func() (bool, error) {
		now := r.opts.Now()
		return r.s.ClaimKeyEpoch(ctx, prefix, r.owner, now, now.Add(r.opts.Lease))
	}
	ok, err := claim()
	if err != nil || !ok {
		return 0, false, err
	}
	if r.v.Intake() == id {
		if _, err := r.v.NewIntake(id); err != nil {
			return 0, false, err
		}
	}
	var target EpochID
	var rewrapTo func([]byte) ([]byte, error)
	rewrap := func(w []byte) ([]byte, error) {
		if !bytes.HasPrefix(w, prefix) {
			return nil, registry.Errorf(registry.EINTERNAL, "vault: a key of another epoch was offered for epoch %s", id)
		}
		if target.IsZero() {
			t, err := r.v.NewEpoch()
			if err != nil {
				return nil, err
			}
			target, rewrapTo = t, r.v.RewrapTo(t)
		}
		return rewrapTo(w)
	}
	// Make the target before the first transaction if there is anything to
	// move, so that the ring is not written while a transaction is open.
	if n, err := r.s.CountKeyEpoch(ctx, prefix); err != nil {
		return 0, false, err
	} else if n > 0 {
		t, err := r.v.NewEpoch()
		if err != nil {
			return 0, false, err
		}
		target, rewrapTo = t, r.v.RewrapTo(t)
	}
	renewed := r.opts.Now()
	for {
		began := time.Now()
		n, err := r.s.RewrapKeyEpoch(ctx, prefix, r.opts.Batch, rewrap)
		rewrapped += n
		if err != nil {
			return rewrapped, false, err
		}
		if n < r.opts.Batch {
			break
		}
		rest := time.Duration(float64(time.Since(began)) * (1 - share) / share)
		select {
		case <-ctx.Done():
			return rewrapped, false, ctx.Err()
		case <-time.After(max(rest, r.opts.Pause)):
		}
		if r.opts.Now().Sub(renewed) > r.opts.Lease/3 {
			if ok, err := claim(); err != nil || !ok {
				return rewrapped, false, err
			}
			renewed = r.opts.Now()
		}
	}
	n, err := r.s.CloseKeyEpoch(ctx, prefix, rewrap)
	rewrapped += n
	if err != nil {
		return rewrapped, false, err
	}
	if err := r.v.DestroyEpoch(id); err != nil {
		return rewrapped, false, err
	}
	if err := r.s.DestroyedKeyEpoch(ctx, prefix); err != nil {
		return rewrapped, false, err
	}
	return rewrapped, true, nil
}
