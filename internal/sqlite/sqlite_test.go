package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/storetest"
)

// MustOpenDB returns a migrated SQLite store in a temporary folder.
func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(filepath.Join(tb.TempDir(), "haven.db"))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Migrate(context.Background(), time.Now()); err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store { return MustOpenDB(t) })
}

func TestSyncConformance(t *testing.T) {
	storetest.RunSync(t, func(t *testing.T) storetest.SyncStore { return MustOpenDB(t) })
}

func TestSchemaCheck(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "haven.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := registry.ErrorCode(db.CheckSchema(ctx)); got != registry.ESTALESCHEMA {
		t.Fatalf("CheckSchema on a new database = %q, want %q", got, registry.ESTALESCHEMA)
	}
	applied, err := db.Migrate(ctx, time.Now())
	if err != nil || len(applied) == 0 {
		t.Fatalf("Migrate = %v, %v", applied, err)
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
	if again, err := db.Migrate(ctx, time.Now()); err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing to do", again, err)
	}
}

// A write that returned is still there after the store is closed and opened
// again.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "haven.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	p := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: time.Now()}
	if _, err := db.CreatePerson(ctx, p, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.FindPerson(ctx, p.CardCode); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}
