package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/haven-registry/haven/internal/vault"
)

// rewrapper is a database whose wrapped data keys can be rewritten.
type rewrapper interface {
	RewrapKeys(ctx context.Context, rewrap func([]byte) ([]byte, error)) (int, error)
}

// vaultCommand implements "haven vault rotate": a new key-encryption key,
// every wrapped data key and key blob rewrapped under it, and the old key
// destroyed. Copies of wrapped keys taken before (in backups of the
// database or the keys folder) can then no longer be opened. The server must
// be stopped: it holds the old key in memory.
func vaultCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) != 1 || args[0] != "rotate" {
		return errors.New("usage: haven vault rotate (with the server stopped)")
	}
	client := http.Client{Timeout: time.Second}
	if res, err := client.Get("http://" + env.Addr + "/healthz"); err == nil {
		res.Body.Close()
		return fmt.Errorf("a server answers at %s; stop it before rotating the key", env.Addr)
	}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	rw, ok := db.(rewrapper)
	if !ok {
		return errors.New("this database cannot rewrap keys")
	}
	v, err := openVault(env)
	if err != nil {
		return err
	}
	if v.Sealed() {
		return errors.New("the vault is sealed; set HAVEN_PASSPHRASE_FILE")
	}
	version, err := v.Rotate()
	if err != nil {
		return err
	}
	n, err := rw.RewrapKeys(ctx, v.Rewrap)
	if err != nil {
		return fmt.Errorf("rewrap data keys (the old key is kept; run haven vault rotate again): %w", err)
	}
	blobs, err := rewrapBlobs(env, v)
	if err != nil {
		return fmt.Errorf("rewrap key files (the old key is kept; run haven vault rotate again): %w", err)
	}
	if err := v.Retire(); err != nil {
		return err
	}
	if err := db.AppendAudit(ctx, *cliAudit(env, "vault.rotate", fmt.Sprintf("kek:%d", version))); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "key-encryption key rotated to version %d: %d data keys and %d key files rewrapped; the old key is destroyed\n", version, n, blobs)
	return nil
}

// rewrapBlobs rewraps the vault blobs kept as files: the audit signing key
// and the certificate private keys.
func rewrapBlobs(env *commandEnv, v *vault.Vault) (int, error) {
	files := []string{filepath.Join(env.DataDir, "audit-signing.key")}
	keyFiles, _ := filepath.Glob(filepath.Join(certKeysDir(env), "*.key.pem"))
	files = append(files, keyFiles...)
	n := 0
	for _, f := range files {
		blob, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, err
		}
		if _, err := vault.BlobVersion(blob); err != nil {
			continue // not a vault blob
		}
		fresh, err := v.RewrapBlob(blob)
		if err != nil {
			return n, fmt.Errorf("%s: %w", f, err)
		}
		tmp := f + ".tmp"
		if err := os.WriteFile(tmp, fresh, 0o600); err != nil {
			return n, err
		}
		if err := os.Rename(tmp, f); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
