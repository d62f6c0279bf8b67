// Package sqlite implements Haven's registry.Store on an embedded SQLite
// database through modernc.org/sqlite, a pure-Go driver.
//
// The database runs in WAL mode with synchronous=FULL, so a commit that has
// returned survives a crash or power loss. All writes go through one writer
// goroutine that commits them in groups: while one transaction is being made
// durable, the next callers queue, and their writes then share a single
// fsync. Each caller's write runs in its own savepoint, so one failing write
// never undoes another, and no caller is answered before its commit is durable.
package sqlite

import (
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/haven-registry/haven/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded SQLite migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations")
	return sub
}

var dialect = sqlstore.Dialect{Name: "sqlite", IsUniqueViolation: isUniqueViolation, IsUnavailable: isUnavailable, IsDiskFull: isDiskFull,
	IsForeignKeyViolation: func(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY },
	// secure_delete (set on every connection) zeroes deleted content in the
	// database file; truncating the WAL drops the page images written
	// before the erasure.
	PostErase: []string{"PRAGMA wal_checkpoint(TRUNCATE)"}}

func sqliteCode(err error) int {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return 0
	}
	return e.Code()
}

func isUniqueViolation(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isUnavailable reports a storage failure that may pass: a full disk, an I/O
// error, a file that cannot be opened or is read-only, no memory, or a lock
// held too long.
// isDiskFull reports a write refused for want of disk space.
func isDiskFull(err error) bool {
	return sqliteCode(err)&0xff == sqlite3.SQLITE_FULL || errors.Is(err, syscall.ENOSPC)
}

func isUnavailable(err error) bool {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// DB is a Haven store on one SQLite file.
type DB struct {
	*sqlstore.Store
	Path string
}

// Open opens (creating if needed) the SQLite database at path. It does not
// migrate; call Migrate or CheckSchema.
func Open(path string) (*DB, error) {
	// The database holds wrapped keys and sealed fields: only the owner
	// may read it. SQLite gives its WAL and shared-memory files the same
	// mode.
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	dsn := func(txlock string) string {
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "secure_delete(ON)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", txlock)
		return "file:" + path + "?" + q.Encode()
	}
	readers, err := sql.Open("sqlite", dsn("deferred"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers.SetMaxOpenConns(8)
	readers.SetMaxIdleConns(8)
	// Each connection keeps its own page cache; idle ones are closed so that
	// an idle server gives the memory back.
	readers.SetConnMaxIdleTime(5 * time.Second)
	writer, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		readers.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One writer goroutine runs one transaction at a time; the second
	// connection lets statements be prepared while that transaction holds
	// the first (database/sql then prepares them on the transaction's
	// connection once and reuses them).
	writer.SetMaxOpenConns(2)
	writer.SetMaxIdleConns(2)
	writer.SetConnMaxLifetime(0)
	if err := writer.Ping(); err != nil {
		readers.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	gw := newGroupWriter(writer, 256)
	return &DB{Store: sqlstore.New(readers, dialect, gw, Migrations(), gw.Close, writer.Close).WithWriteDB(writer), Path: path}, nil
}

// createPrivate creates an empty file with mode 0600 unless path exists.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}
