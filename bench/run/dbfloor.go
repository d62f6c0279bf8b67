package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx", as internal/postgres uses
	_ "modernc.org/sqlite"             // driver "sqlite", as internal/sqlite uses
)

// vaccinationsTable is shaped like Haven's vaccinations table (migration
// 0001 of internal/sqlite and internal/postgres), with its index; blob is
// BLOB or BYTEA, integer INTEGER or BIGINT.
func vaccinationsTable(name, blob, integer string) []string {
	return []string{
		fmt.Sprintf(`CREATE TABLE %s (
	id               %[2]s PRIMARY KEY,
	person_id        %[2]s,
	product          TEXT NOT NULL,
	dose_date        TEXT NOT NULL,
	dose_number      %[3]s NOT NULL,
	site             TEXT NOT NULL,
	lot              TEXT NOT NULL,
	source           TEXT NOT NULL,
	payment_kind     TEXT NOT NULL,
	payment_amount   TEXT NOT NULL,
	payment_currency TEXT NOT NULL,
	recorded_at      %[3]s NOT NULL,
	status           TEXT NOT NULL,
	replaces         %[2]s,
	replaced_by      %[2]s
)`, name, blob, integer),
		fmt.Sprintf(`CREATE INDEX %[1]s_person ON %[1]s (person_id, dose_date)`, name),
	}
}

// doseRow returns the values of row i of a floor's vaccinations table, for
// one of persons (16-byte IDs).
func doseRow(i int, persons [][]byte) []any {
	id := make([]byte, 16)
	rand.Read(id)
	products := [...]string{"coronavac", "bbibp-corv", "comirnaty", "zf2001"}
	return []any{id, persons[i%len(persons)], products[i%4], fmt.Sprintf("2021-09-%02d", 1+i%28), int64(1 + i%4),
		"BENCH-1", fmt.Sprintf("B%d", i), "administered", "free", "", "", time.Now().UnixNano(), "completed"}
}

const insertDose = `INSERT INTO %s (id, person_id, product, dose_date, dose_number, site, lot, source,
	payment_kind, payment_amount, payment_currency, recorded_at, status) VALUES (%s)`

func personIDs(n int) [][]byte {
	ids := make([][]byte, n)
	for i := range ids {
		ids[i] = make([]byte, 16)
		rand.Read(ids[i])
	}
	return ids
}

// sqliteFloor is what raw SQLite inserts achieve in a fresh database in
// dir, durable as Haven's (WAL, synchronous=FULL).
type sqliteFloor struct {
	single  float64 // rows/s, one row per transaction
	batched float64 // rows/s, 100 rows per transaction
}

// runSQLiteFloor inserts vaccination rows into a fresh database in dir for
// d one per transaction, then for d 100 per transaction, on one
// connection with the pragmas of internal/sqlite, and returns the rates.
func runSQLiteFloor(ctx context.Context, dir string, d time.Duration, persons int) (sqliteFloor, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)", "secure_delete(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "floor.db")+"?"+q.Encode())
	if err != nil {
		return sqliteFloor{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range vaccinationsTable("vaccinations", "BLOB", "INTEGER") {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return sqliteFloor{}, fmt.Errorf("sqlite floor: %w", err)
		}
	}
	stmt, err := db.PrepareContext(ctx, fmt.Sprintf(insertDose, "vaccinations", "?,?,?,?,?,?,?,?,?,?,?,?,?"))
	if err != nil {
		return sqliteFloor{}, fmt.Errorf("sqlite floor: %w", err)
	}
	defer stmt.Close()
	ids := personIDs(persons)
	insert := func(perTx int) (float64, error) {
		rows := 0
		start := time.Now()
		for time.Since(start) < d {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return 0, err
			}
			ts := tx.StmtContext(ctx, stmt)
			for range perTx {
				if _, err := ts.ExecContext(ctx, doseRow(rows, ids)...); err != nil {
					tx.Rollback()
					return 0, err
				}
				rows++
			}
			if err := tx.Commit(); err != nil {
				return 0, err
			}
		}
		return float64(rows) / time.Since(start).Seconds(), nil
	}
	var f sqliteFloor
	if f.single, err = insert(1); err != nil {
		return f, fmt.Errorf("sqlite floor: %w", err)
	}
	if f.batched, err = insert(100); err != nil {
		return f, fmt.Errorf("sqlite floor: %w", err)
	}
	return f, nil
}

// pgAdmin creates and drops the databases of a run on the server of a
// PostgreSQL URL, through its "postgres" database.
type pgAdmin struct {
	base    *url.URL
	db      *sql.DB
	mu      sync.Mutex
	created []string
}

func openPGAdmin(ctx context.Context, rawURL string) (*pgAdmin, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("--postgres: want postgres://…, got %q", rawURL)
	}
	admin := *u
	admin.Path = "/postgres"
	db, err := sql.Open("pgx", admin.String())
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &pgAdmin{base: u, db: db}, nil
}

// create makes a fresh database haven_bench_<random> and returns its URL.
func (a *pgAdmin) create(ctx context.Context) (string, error) {
	b := make([]byte, 6)
	rand.Read(b)
	name := "haven_bench_" + hex.EncodeToString(b)
	if _, err := a.db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	a.mu.Lock()
	a.created = append(a.created, name)
	a.mu.Unlock()
	u := *a.base
	u.Path = "/" + name
	return u.String(), nil
}

// setting returns a server setting (SHOW name).
func (a *pgAdmin) setting(ctx context.Context, name string) string {
	var v string
	if err := a.db.QueryRowContext(ctx, "SHOW "+name).Scan(&v); err != nil {
		return "?"
	}
	return v
}

// close drops every database create made (ending their connections) and
// closes the admin connection. It runs on its own context, so that it
// still cleans up after an interrupt.
func (a *pgAdmin) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var first error
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, name := range a.created {
		if _, err := a.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil && first == nil {
			first = fmt.Errorf("postgres: drop %s: %w", name, err)
		}
	}
	a.created = nil
	a.db.Close()
	return first
}

// drop drops one database that create made.
func (a *pgAdmin) drop(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	name := u.Path[1:]
	if _, err := a.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("postgres: drop %s: %w", name, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, n := range a.created {
		if n == name {
			a.created = append(a.created[:i], a.created[i+1:]...)
			break
		}
	}
	return nil
}

// runPGFloor is pgbench-style plain inserts: clients connections, each
// inserting one vaccination row per statement (its own transaction,
// durable at the server's synchronous_commit) as fast as it can for d,
// into a fresh table of the database at dbURL.
func runPGFloor(ctx context.Context, dbURL string, clients int, d time.Duration, persons int) (loadgen.Result, error) {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return loadgen.Result{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(clients)
	db.SetMaxIdleConns(clients)
	for _, s := range append([]string{"DROP TABLE IF EXISTS floor_vaccinations"}, vaccinationsTable("floor_vaccinations", "BYTEA", "BIGINT")...) {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return loadgen.Result{}, fmt.Errorf("postgres floor: %w", err)
		}
	}
	query := fmt.Sprintf(insertDose, "floor_vaccinations", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13")
	conns := make([]*sql.Conn, clients)
	for i := range conns {
		if conns[i], err = db.Conn(ctx); err != nil {
			return loadgen.Result{}, fmt.Errorf("postgres floor: %w", err)
		}
		defer conns[i].Close()
	}
	ids := personIDs(persons)
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		wg        sync.WaitGroup
		firstErr  error
	)
	start := time.Now()
	for c, conn := range conns {
		wg.Go(func() {
			var local []time.Duration
			localErrs := 0
			var lastErr error
			for i := c; runCtx.Err() == nil; i += clients {
				t0 := time.Now()
				_, err := conn.ExecContext(runCtx, query, doseRow(i, ids)...)
				if runCtx.Err() != nil {
					break
				}
				if err != nil {
					localErrs++
					lastErr = err
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errs += localErrs
			if firstErr == nil {
				firstErr = lastErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return loadgen.Result{}, err
	}
	res := loadgen.Summarize(latencies, errs, time.Since(start))
	if res.OK == 0 && firstErr != nil {
		return res, fmt.Errorf("postgres floor: %w", firstErr)
	}
	return res, nil
}
