// Package sqlstore is the part of Haven's storage that SQLite and PostgreSQL
// share: one implementation of registry.Store over database/sql, written in
// the SQL both dialects accept. internal/sqlite and internal/postgres supply
// the connection, the dialect's few differences, the way transactions are
// committed (SQLite commits in groups through one writer) and their migration
// files.
//
// Portable encodings: IDs are 16-byte blobs, instants are Unix microseconds
// (UTC), calendar dates are 'YYYY-MM-DD' text, lists are comma-joined text.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Dialect describes how one database differs from the portable SQL.
type Dialect struct {
	Name string // "sqlite" or "postgres"
	// DollarParams rewrites ? placeholders to $1, $2, … (PostgreSQL).
	DollarParams bool
	// IsUniqueViolation reports whether err is a unique or primary-key
	// constraint violation.
	IsUniqueViolation func(error) bool
	// IsForeignKeyViolation reports whether err is a foreign-key violation.
	IsForeignKeyViolation func(error) bool
	// IsUnavailable reports whether err means the database cannot serve
	// now but may soon (full disk, I/O error, lost connection, too busy):
	// such failures answer EUNAVAILABLE, which clients retry.
	IsUnavailable func(error) bool
	// IsDiskFull reports whether err means the disk is full (a write
	// failed and was rolled back): such failures answer EDISKFULL.
	IsDiskFull func(error) bool
	// AuditChains makes every write transaction append its audit entry to
	// a chain of its own, claimed once and held until the store closes,
	// so that concurrent writers, in one process or several, never wait for
	// one another (PostgreSQL; see audit_chains.go and docs/adr/0005).
	// Without it, every entry goes to chain 0, which suits a database with
	// one writer at a time (SQLite).
	AuditChains bool
	// PostErase runs, outside any transaction, after a person is erased,
	// to purge old copies of the erased rows from the database files.
	PostErase []string
}

// TxRunner runs fn in a transaction and commits it durably before returning
// nil. An implementation may run several callers' fns in one transaction
// (group commit), each inside its own savepoint, so fn must not commit or roll
// back itself, and fn's error undoes only fn's own writes.
type TxRunner interface {
	RunTx(ctx context.Context, fn func(tx *sql.Tx) error) error
}

// Store implements registry.Store.
type Store struct {
	db         *sql.DB
	dialect    Dialect
	runner     TxRunner
	migrations fs.FS
	closers    []func() error

	// Prepared statements, by query text. Reads are prepared on db;
	// writes on writeDB, the pool the TxRunner's transactions come from.
	writeDB            *sql.DB
	readStmts, txStmts sync.Map // string → *sql.Stmt
}

// New returns a Store that reads through db, writes through runner, and
// migrates with the *.sql files of migrations. closers run, in order, when
// the Store is closed.
func New(db *sql.DB, d Dialect, runner TxRunner, migrations fs.FS, closers ...func() error) *Store {
	s := &Store{db: db, writeDB: db, dialect: d, migrations: migrations, closers: closers}
	s.runner = newAuditRunner(s, runner)
	return s
}

// WithWriteDB tells the store that the runner's transactions come from w, so
// that it prepares write statements there. It returns s.
func (s *Store) WithWriteDB(w *sql.DB) *Store {
	s.writeDB = w
	return s
}

// prepared returns the statement for query (in ? form) prepared on db,
// preparing it on first use. Parsing SQL is a large part of a small write's
// cost, so every statement is parsed once per connection.
func (s *Store) prepared(ctx context.Context, cache *sync.Map, db *sql.DB, query string) (*sql.Stmt, error) {
	if st, ok := cache.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, s.dialect.Rebind(query))
	if err != nil {
		return nil, err
	}
	if prev, loaded := cache.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// inTx returns query's statement for tx: prepared once on the write pool
// and bound to tx. A statement not prepared yet is prepared on tx's own
// connection for this call (and on the pool in the background), never by
// waiting for another connection of the pool, which concurrent transactions
// may all be holding: on PostgreSQL, 32 first writes at once would wait for
// each other for ever.
func (s *Store) inTx(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	return s.stmtIn(ctx, tx, &s.txStmts, s.writeDB, query)
}

// stmtIn is inTx for a transaction of db, whose statements cache holds.
func (s *Store) stmtIn(ctx context.Context, tx *sql.Tx, cache *sync.Map, db *sql.DB, query string) (*sql.Stmt, error) {
	if st, ok := cache.Load(query); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	go func() { _, _ = s.prepared(context.Background(), cache, db, query) }()
	return tx.PrepareContext(ctx, s.dialect.Rebind(query))
}

// txExec runs a write statement in tx.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.inTx(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// txQueryRow runs a one-row query in tx.
func (s *Store) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	st, err := s.inTx(ctx, tx, query)
	if err != nil {
		// Let the error surface from Scan through an unprepared query.
		return tx.QueryRowContext(ctx, s.dialect.Rebind(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// queryRow runs a one-row read outside any transaction.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, &s.readStmts, s.db, query)
	if err != nil {
		return s.db.QueryRowContext(ctx, s.dialect.Rebind(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Migrate applies pending migrations and returns their names.
func (s *Store) Migrate(ctx context.Context, now time.Time) ([]string, error) {
	return Migrate(ctx, s.db, s.dialect, s.migrations, now)
}

// CheckSchema returns ESTALESCHEMA if a migration is pending.
func (s *Store) CheckSchema(ctx context.Context) error {
	return CheckSchema(ctx, s.db, s.migrations)
}

// IsNew reports whether no migration has been applied yet: the database is
// empty as far as Haven is concerned.
func (s *Store) IsNew(ctx context.Context) (bool, error) {
	all, err := Migrations(s.migrations)
	if err != nil {
		return false, err
	}
	pending, err := Pending(ctx, s.db, s.migrations)
	return len(pending) == len(all), err
}

// DB returns the underlying pool, for operator commands such as backups.
func (s *Store) DB() *sql.DB { return s.db }

// Rebind converts a query written with ? placeholders to the dialect's form.
func (d Dialect) Rebind(q string) string {
	if !d.DollarParams || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: ping: %w", s.dialect.Name, err)
	}
	return nil
}

// Close runs the closers given to New, then closes the pool.
func (s *Store) Close() error {
	var errs []error
	for _, cache := range []*sync.Map{&s.readStmts, &s.txStmts} {
		cache.Range(func(_, st any) bool {
			st.(*sql.Stmt).Close()
			return true
		})
	}
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func joinList(l []string) string { return strings.Join(l, ",") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
