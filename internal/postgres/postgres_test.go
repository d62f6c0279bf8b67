package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/postgres"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/storetest"
)

// MustOpenDB returns a migrated store on a fresh schema, or skips (see
// storetest.PostgresURL).
func MustOpenDB(tb testing.TB) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), storetest.PostgresURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Migrate(context.Background(), time.Now()); err != nil {
		db.Close()
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
	db, err := postgres.Open(ctx, storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := registry.ErrorCode(db.CheckSchema(ctx)); got != registry.ESTALESCHEMA {
		t.Fatalf("CheckSchema on a new schema = %q, want %q", got, registry.ESTALESCHEMA)
	}
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after Migrate: %v", err)
	}
}
