package main

import (
	"context"
	"fmt"
	"log/slog"
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

// masterKeyPath returns where the key ring is: HAVEN_MASTER_KEY_FILE if set,
// otherwise master.key in the data folder (which it creates, mode 0700).
func masterKeyPath(env *commandEnv) (string, error) {
	if path := env.Getenv("HAVEN_MASTER_KEY_FILE"); path != "" {
		return path, nil
	}
	if err := os.MkdirAll(env.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("data folder: %w", err)
	}
	return filepath.Join(env.DataDir, "master.key"), nil
}

// openVault opens the key ring: HAVEN_MASTER_KEY_FILE if set, otherwise
// master.key in the data folder, created with mode 0600 on first run. With
// HAVEN_PASSPHRASE_FILE the key is derived from the passphrase instead.
//
// Where the ring was shredded (haven seal --shred, haven shred) it fails
// rather than make a new master key: that takes haven vault init-master
// --after-shred, on purpose.
func openVault(env *commandEnv) (*vault.Vault, error) {
	path, err := masterKeyPath(env)
	if err != nil {
		return nil, err
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

// startKeyRotator starts, for haven serve, the background rotator of key
// epochs (docs/adr/0004-epoch-keys.md) and returns it, or nil if the
// database keeps no key epochs. It runs until ctx ends: every
// vault.DefaultPoll it reloads the key ring (dropping epoch keys other
// processes destroyed, sealing if the ring was shredded), retires the
// epochs erasures asked for (here, in other processes, or by haven erase)
// and those older than vault.DefaultMaxAge, and moves a full intake on.
// After a successful ErasePerson, call AfterErase on it to finish the
// erasure at once.
func startKeyRotator(ctx context.Context, db database, v *vault.Vault, logger *slog.Logger) *vault.Rotator {
	es, ok := db.(vault.EpochStore)
	if !ok {
		return nil
	}
	rot := vault.NewRotator(v, es, vault.RotatorOptions{Logger: logger})
	go rot.Run(ctx)
	return rot
}
