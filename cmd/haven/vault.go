package main

import (
	"context"
	"errors"
	"flag"
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

const vaultUsage = `usage: haven vault <command>

commands:
  rotate                     a new key-encryption key and fresh epoch keys; every data key and key file
                             rewrapped; the old keys destroyed (server stopped)
  init-master --after-shred  make a new key ring where the old one was shredded: persons keep their card
                             codes, doses and tests; their demographics stay unreadable for good
  shred --yes                destroy the key ring without a server (same as haven shred)`

// vaultCommand implements "haven vault rotate|init-master|shred".
func vaultCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, vaultUsage)
		return errors.New("vault: missing command (rotate, init-master or shred)")
	}
	switch args[0] {
	case "rotate":
		if len(args) != 1 {
			return errors.New("usage: haven vault rotate (with the server stopped)")
		}
		return vaultRotate(ctx, env)
	case "init-master":
		return vaultInitMaster(ctx, env, args[1:])
	case "shred":
		return shredCommand(ctx, env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, vaultUsage)
		return nil
	}
	fmt.Fprintln(env.Stderr, vaultUsage)
	return fmt.Errorf("vault: unknown command %q", args[0])
}

// vaultRotate implements "haven vault rotate": a new key-encryption key,
// every wrapped data key moved to fresh epoch keys and every key blob
// rewrapped under the new KEK, then the old KEK and every old epoch key
// destroyed. Copies of wrapped keys taken before (in backups of the
// database or the keys folder, in old page images) can then no longer be
// opened. It also moves data keys from before epochs to epochs. The server
// must be stopped: it holds the old keys in memory.
func vaultRotate(ctx context.Context, env *commandEnv) error {
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
	// Record the old epochs as destroyed, and drop any that held nothing.
	if es, ok := db.(vault.EpochStore); ok {
		if _, err := vault.NewRotator(v, es, vault.RotatorOptions{}).Pass(ctx); err != nil {
			return fmt.Errorf("the keys are rotated, but the key epochs could not be recorded (haven serve will): %w", err)
		}
	}
	if err := db.AppendAudit(ctx, *cliAudit(env, "vault.rotate", fmt.Sprintf("kek:%d", version))); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "key-encryption key rotated to version %d: %d data keys moved to fresh epoch keys and %d key files rewrapped; the old keys are destroyed\n", version, n, blobs)
	return nil
}

// vaultInitMaster implements "haven vault init-master --after-shred": after
// haven seal --shred or haven shred, Haven refuses to start rather than
// write a new master key by itself. This makes one on purpose. Every person
// keeps their card code, doses and tests; their demographics, sealed under
// the shredded ring, read as destroyed (vault.OpenPerson). Certificate
// private keys wrapped under the old ring are moved aside (NAME.shredded):
// run haven keys init again to issue certificates. The audit signing key is
// renewed by haven serve itself (cmd/haven/audit.go).
func vaultInitMaster(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("vault init-master", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	afterShred := fs.Bool("after-shred", false, "the old key ring was shredded: make a new one; the old demographics stay unreadable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("vault init-master: unexpected argument %q", fs.Arg(0))
	}
	path, err := masterKeyPath(env)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("vault init-master: a key ring exists at %s; Haven never writes a master key over another", path)
	}
	if _, shredded := vault.Shredded(path); shredded && !*afterShred {
		return fmt.Errorf("vault init-master: the key ring at %s was shredded; add --after-shred to make a new one (the old demographics stay unreadable)", path)
	}
	opts := vault.Options{AfterShred: *afterShred}
	var v *vault.Vault
	if pf := env.Getenv("HAVEN_PASSPHRASE_FILE"); pf != "" {
		pass, err := vault.ReadPassphraseFile(pf)
		if err != nil {
			return err
		}
		v, err = vault.CreateWithPassphrase(path, pass, opts)
		clear(pass)
		if err != nil {
			return err
		}
	} else if v, err = vault.Create(path, opts); err != nil {
		return err
	}
	moved := 0
	keyFiles, _ := filepath.Glob(filepath.Join(certKeysDir(env), "*.key.pem"))
	for _, f := range keyFiles {
		blob, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if _, err := vault.BlobVersion(blob); err != nil {
			continue // not a vault blob
		}
		if err := os.Rename(f, f+".shredded"); err != nil {
			return fmt.Errorf("vault init-master: move %s aside: %w", f, err)
		}
		moved++
	}
	fmt.Fprintf(env.Stdout, "new key ring at %s (key-encryption key version %d)", path, v.KeyVersion())
	if moved > 0 {
		fmt.Fprintf(env.Stdout, "; %d certificate key files from the shredded ring moved aside (run haven keys init)", moved)
	}
	fmt.Fprintln(env.Stdout)
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
