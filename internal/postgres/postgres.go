// Package postgres implements Haven's registry.Store on PostgreSQL through
// pgx. Several haven serve processes may share one database: every write is
// its own transaction, and idempotency keys are claimed with
// INSERT … ON CONFLICT DO NOTHING, so a retry that reaches another process
// waits for the first commit and then returns its result.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/haven-registry/haven/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded PostgreSQL migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

var dialect = sqlstore.Dialect{Name: "postgres", DollarParams: true,
	IsUniqueViolation:     func(err error) bool { return pgCode(err) == "23505" },
	IsForeignKeyViolation: func(err error) bool { return pgCode(err) == "23503" },
	IsUnavailable:         isUnavailable,
	IsDiskFull:            func(err error) bool { return pgCode(err) == "53100" }, // disk_full
	AuditChains:           true,                                                   // one audit chain per writer, no lock (docs/adr/0005)
	// Vacuum removes the dead row versions, which held the wrapped key, that a
	// delete leaves behind.
	PostErase: []string{"VACUUM persons, idempotency"}}

// isUnavailable reports a failure that may pass: the connection is lost or
// refused (SQLSTATE class 08, a dial error), the server is out of disk,
// memory or connections (class 53), shutting down or starting (57P01-03),
// or failing at the system level (class 58: I/O).
func isUnavailable(err error) bool {
	code := pgCode(err)
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "58"),
		code == "57P01", code == "57P02", code == "57P03":
		return true
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err)
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// DB is a Haven store on a PostgreSQL database.
type DB struct {
	*sqlstore.Store
}

// Open connects to the database at url (postgres://…). It does not migrate;
// call Migrate or CheckSchema.
func Open(ctx context.Context, url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &DB{Store: sqlstore.New(db, dialect, txRunner{db}, Migrations())}, nil
}

// txRunner runs each write in its own transaction. PostgreSQL's commit is
// durable (synchronous_commit = on) before Commit returns.
type txRunner struct{ db *sql.DB }

func (r txRunner) RunTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
