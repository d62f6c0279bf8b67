package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// Migration is one embedded SQL file, named NNNN_description.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations reads every *.sql file at the root of fsys, in version order. It
// returns an error naming the file if a name has no version or a version
// repeats.
func Migrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, name := range names {
		num, _, ok := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version and '_'", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migration %s: version %d repeats %s", out[i].Name, out[i].Version, out[i-1].Name)
		}
	}
	return out, nil
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at BIGINT NOT NULL)`

// Pending returns the migrations in fsys that db has not applied. A database
// with no migrations table has applied none.
func Pending(ctx context.Context, db *sql.DB, fsys fs.FS) ([]Migration, error) {
	all, err := Migrations(fsys)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, migrationsTable); err != nil {
		return nil, fmt.Errorf("migrations table: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var pending []Migration
	for _, m := range all {
		if !applied[m.Version] {
			pending = append(pending, m)
		}
	}
	return pending, nil
}

// Migrate applies the pending migrations in fsys, each in its own
// transaction, and returns their names.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS, now time.Time) ([]string, error) {
	pending, err := Pending(ctx, db, fsys)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, m := range pending {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return done, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return done, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.Version, m.Name, micros(now)); err != nil {
			tx.Rollback()
			return done, fmt.Errorf("migration %s: record: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return done, fmt.Errorf("migration %s: commit: %w", m.Name, err)
		}
		done = append(done, m.Name)
	}
	return done, nil
}

// CheckSchema returns ESTALESCHEMA if any migration in fsys is not applied.
func CheckSchema(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	pending, err := Pending(ctx, db, fsys)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return registry.Errorf(registry.ESTALESCHEMA,
			"The database schema is %d migration(s) behind (next: %s); run haven migrate.", len(pending), pending[0].Name)
	}
	return nil
}
