package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

var errClosed = errors.New("sqlite: store is closed")

// groupWriter runs every write of the store on one connection and commits
// queued writes together. It implements sqlstore.TxRunner.
type groupWriter struct {
	db       *sql.DB
	maxBatch int

	mu     sync.RWMutex // held for reading while enqueuing, for writing while closing
	closed bool
	reqs   chan *writeReq
	done   chan struct{}

	// The savepoint statements, prepared once (parsing them for every
	// write was a measurable part of the writer's time).
	savepoint, release, rollbackTo *sql.Stmt
}

type writeReq struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	errc chan error
}

func newGroupWriter(db *sql.DB, maxBatch int) *groupWriter {
	w := &groupWriter{db: db, maxBatch: maxBatch, reqs: make(chan *writeReq, maxBatch), done: make(chan struct{})}
	go w.loop()
	return w
}

// RunTx queues fn and waits until the transaction that ran it is durably
// committed (nil) or fn's writes were undone (an error).
func (w *groupWriter) RunTx(ctx context.Context, fn func(*sql.Tx) error) error {
	r := &writeReq{ctx: ctx, fn: fn, errc: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return errClosed
	}
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	// Once queued, wait for the outcome even if ctx ends: the write may
	// already be committed, and the caller must not guess.
	return <-r.errc
}

// Close stops accepting writes, finishes the queued ones, and returns when
// the last commit is done.
func (w *groupWriter) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.reqs)
	}
	w.mu.Unlock()
	<-w.done
	for _, st := range []*sql.Stmt{w.savepoint, w.release, w.rollbackTo} {
		if st != nil {
			st.Close()
		}
	}
	return nil
}

func (w *groupWriter) loop() {
	defer close(w.done)
	batch := make([]*writeReq, 0, w.maxBatch)
	for r := range w.reqs {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < w.maxBatch {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.commit(batch)
	}
}

// prepare prepares the savepoint statements on first use.
func (w *groupWriter) prepare() error {
	if w.savepoint != nil {
		return nil
	}
	ctx := context.Background()
	var err error
	if w.savepoint, err = w.db.PrepareContext(ctx, "SAVEPOINT w"); err != nil {
		return err
	}
	if w.release, err = w.db.PrepareContext(ctx, "RELEASE w"); err != nil {
		return err
	}
	w.rollbackTo, err = w.db.PrepareContext(ctx, "ROLLBACK TO w")
	return err
}

// commit runs the batch in one transaction, each write in a savepoint.
func (w *groupWriter) commit(batch []*writeReq) {
	results := make([]error, len(batch))
	if err := w.prepare(); err != nil {
		w.savepoint = nil
		for _, r := range batch {
			r.errc <- fmt.Errorf("sqlite: prepare savepoints: %w", err)
		}
		return
	}
	tx, err := w.db.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range batch {
			r.errc <- fmt.Errorf("sqlite: begin: %w", err)
		}
		return
	}
	savepoint, release, rollbackTo := tx.Stmt(w.savepoint), tx.Stmt(w.release), tx.Stmt(w.rollbackTo)
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := savepoint.Exec(); err != nil {
			results[i] = fmt.Errorf("sqlite: savepoint: %w", err)
			continue
		}
		if err := r.fn(tx); err != nil {
			results[i] = err
			if _, rbErr := rollbackTo.Exec(); rbErr != nil {
				// The transaction can no longer be trusted: fail the whole batch.
				tx.Rollback()
				for _, r := range batch {
					r.errc <- fmt.Errorf("sqlite: rollback to savepoint: %w", rbErr)
				}
				return
			}
		}
		if _, err := release.Exec(); err != nil {
			tx.Rollback()
			for _, r := range batch {
				r.errc <- fmt.Errorf("sqlite: release savepoint: %w", err)
			}
			return
		}
	}
	if err := tx.Commit(); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
	for i, r := range batch {
		r.errc <- results[i]
	}
}
