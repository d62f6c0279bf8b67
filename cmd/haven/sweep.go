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
