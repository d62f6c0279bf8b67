package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// defaultIdempotencyRetention is how long a write's Idempotency-Key is kept:
// a retry within it returns the first result; after it, the key may be
// used afresh. A week covers a clinic offline for days (docs/api.md).
const defaultIdempotencyRetention = 7 * 24 * time.Hour

// sweepBatch bounds one sweep transaction, so that writes wait behind it for
// a few milliseconds at most.
const sweepBatch = 500

// sweepIdempotency deletes expired idempotency entries every interval, in
// small batches with a pause between them, until ctx ends.
func sweepIdempotency(ctx context.Context, store registry.Store, now func() time.Time, retention, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var total int64
		for ctx.Err() == nil {
			n, err := store.ExpireIdempotency(ctx, now().Add(-retention), sweepBatch)
			if err != nil {
				if ctx.Err() == nil {
					logger.Warn("idempotency sweep failed; retrying later", "error", err.Error())
				}
				break
			}
			total += n
			if n < sweepBatch {
				break
			}
			select { // leave room for the writes
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
		if total > 0 {
			logger.Info("expired idempotency keys removed", "count", total)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// followLapse is how long a node keeps a person it looked up (a shadow)
// after its last lookup of them or write for them: then the central feeds
// it an unfollow and the node deletes the shadow (docs/adr/0006).
const followLapse = 90 * 24 * time.Hour

// sweepFollows ends, every interval, the follows of nodes that have not
// used a looked-up person within followLapse, a batch at a time.
func sweepFollows(ctx context.Context, store registry.SyncStore, now func() time.Time, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		total := 0
		for ctx.Err() == nil {
			n, err := store.LapseFollows(ctx, now().Add(-followLapse), sweepBatch)
			if err != nil {
				if ctx.Err() == nil {
					logger.Warn("follow lapse sweep failed; retrying later", "error", err.Error())
				}
				break
			}
			total += n
			if n < sweepBatch {
				break
			}
		}
		if total > 0 {
			logger.Info("lapsed follows of clinic nodes ended", "count", total)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
