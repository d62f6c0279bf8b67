package audit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// DefaultCheckpointEvery is how often Log signs a checkpoint when Every is 0.
const DefaultCheckpointEvery = 1000

// Log appends records to a Store one at a time, chaining each entry to the
// last, and signs a checkpoint every Every entries when a Signer is set.
// Appends from one Log are serialised by a mutex; stores shared by several
// processes must also reject a duplicate Seq (ECONFLICT), on which Log
// re-reads the head and retries.
type Log struct {
	Store       Store
	Signer      *Signer         // optional
	Checkpoints CheckpointStore // where signed checkpoints go; required with Signer
	Every       uint64          // checkpoint interval in entries; 0 means DefaultCheckpointEvery

	mu   sync.Mutex
	head *Entry // cached last entry; nil until read
}

// Append chains r after the last entry at time now and stores it. Returns
// EINVALID naming the field if r is not valid, ECONFLICT if another writer
// kept winning the race, or the store's error.
func (l *Log) Append(ctx context.Context, r Record, now time.Time) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if l.head == nil || attempt > 0 {
			if err := l.loadHead(ctx); err != nil {
				return Entry{}, err
			}
		}
		e, err := Next(l.head, r, now)
		if err != nil {
			return Entry{}, err
		}
		err = l.Store.Append(ctx, e)
		if registry.ErrorCode(err) == registry.ECONFLICT && attempt < 3 {
			continue
		}
		if err != nil {
			return Entry{}, fmt.Errorf("audit: append %s: %w", r.Action, err)
		}
		l.head = &e
		every := l.Every
		if every == 0 {
			every = DefaultCheckpointEvery
		}
		if l.Signer != nil && e.Seq%every == 0 {
			if _, err := l.checkpointLocked(ctx, e, now); err != nil {
				return e, err
			}
		}
		return e, nil
	}
}

func (l *Log) loadHead(ctx context.Context) error {
	last, err := l.Store.Last(ctx)
	switch registry.ErrorCode(err) {
	case "":
		l.head = &last
	case registry.ENOTFOUND:
		l.head = nil
	default:
		return fmt.Errorf("audit: read last entry: %w", err)
	}
	return nil
}

// Checkpoint signs and stores a checkpoint of the current last entry, for a
// timer or a clean shutdown. Returns ENOTFOUND if the log is empty and
// EINVALID if the Log has no Signer.
func (l *Log) Checkpoint(ctx context.Context, now time.Time) (Checkpoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Signer == nil || l.Checkpoints == nil {
		return Checkpoint{}, registry.Errorf(registry.EINVALID, "audit log has no checkpoint signer or store")
	}
	if err := l.loadHead(ctx); err != nil {
		return Checkpoint{}, err
	}
	if l.head == nil {
		return Checkpoint{}, registry.Errorf(registry.ENOTFOUND, "audit log is empty")
	}
	return l.checkpointLocked(ctx, *l.head, now)
}

func (l *Log) checkpointLocked(ctx context.Context, e Entry, now time.Time) (Checkpoint, error) {
	if l.Checkpoints == nil {
		return Checkpoint{}, registry.Errorf(registry.EINVALID, "audit log has a signer but no checkpoint store")
	}
	c, err := l.Signer.Sign(e, now)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := l.Checkpoints.SaveCheckpoint(ctx, c); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: save checkpoint %d: %w", e.Seq, err)
	}
	return c, nil
}
