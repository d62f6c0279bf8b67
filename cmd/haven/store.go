package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/postgres"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/vault"
)

// database is a registry.Store that can also migrate its own schema.
type database interface {
	registry.Store
	Migrate(ctx context.Context, now time.Time) ([]string, error)
	CheckSchema(ctx context.Context) error
	IsNew(ctx context.Context) (bool, error)
}

// openDatabase opens the store named by --db: sqlite:PATH, postgres://…, or
// (when empty) haven.db in the data folder.
func openDatabase(ctx context.Context, env *commandEnv) (database, error) {
	switch dsn := env.DB; {
	case dsn == "":
		if err := os.MkdirAll(env.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data folder: %w", err)
		}
		return sqlite.Open(filepath.Join(env.DataDir, "haven.db"))
	case strings.HasPrefix(dsn, "sqlite:"):
		return sqlite.Open(strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn)
	default:
		return nil, fmt.Errorf("--db must be sqlite:PATH or postgres://…, not %q", dsn)
	}
}

// openReadyDatabase opens the store and checks that its schema is current.
// A brand-new database (nothing applied yet) is migrated on the spot, so that
// the first `haven serve` just works; an existing database that is behind is
// refused until `haven migrate` runs.
func openReadyDatabase(ctx context.Context, env *commandEnv) (database, error) {
	db, err := openDatabase(ctx, env)
	if err != nil {
		return nil, err
	}
	err = db.CheckSchema(ctx)
	if registry.ErrorCode(err) == registry.ESTALESCHEMA {
		if fresh, ferr := db.IsNew(ctx); ferr == nil && fresh {
			_, err = db.Migrate(ctx, env.Now())
		}
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openVault opens the key ring: HAVEN_MASTER_KEY_FILE if set, otherwise
// master.key in the data folder, created with mode 0600 on first run. With
// HAVEN_PASSPHRASE_FILE the key is derived from the passphrase instead.
func openVault(env *commandEnv) (*vault.Vault, error) {
	path := env.Getenv("HAVEN_MASTER_KEY_FILE")
	if path == "" {
		if err := os.MkdirAll(env.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data folder: %w", err)
		}
		path = filepath.Join(env.DataDir, "master.key")
	}
	if pf := env.Getenv("HAVEN_PASSPHRASE_FILE"); pf != "" {
		pass, err := vault.ReadPassphraseFile(pf)
		if err != nil {
			return nil, err
		}
		v, err := vault.Open(path, vault.Options{})
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			return vault.CreateWithPassphrase(path, pass, vault.Options{})
		}
		if err != nil {
			return nil, err
		}
		if v.Sealed() {
			if err := v.Unlock(pass); err != nil {
				return nil, err
			}
		}
		return v, nil
	}
	v, _, err := vault.OpenOrCreate(path, vault.Options{})
	return v, err
}
