package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/stats"
	"github.com/haven-registry/haven/internal/vault"
)

// cliAudit is the access-log record of an operator command.
func cliAudit(env *commandEnv, action, subject string) *registry.AuditRecord {
	return &registry.AuditRecord{Time: env.Now(), Actor: "cli", Role: "operator", Action: action, Subject: subject}
}

// eraseCommand implements "haven erase CARD".
func eraseCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: haven erase CARD")
	}
	code, err := registry.ParseCardCode(args[0])
	if err != nil {
		return err
	}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := openVault(env)
	if err != nil {
		return err
	}
	if err := operatorService(env, db, v).ErasePerson(ctx, clinic.Operator(), code); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "erased", code)
	return nil
}

// statsCommand implements "haven stats": the suppressed coverage tables, or
// with --gaps the gap report, as text, CSV or JSON.
func statsCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	today := registry.DateOf(env.Now())
	from := fs.String("from", registry.DateOf(env.Now().AddDate(0, 0, -7*12)).String(), "first day (YYYY-MM-DD)")
	to := fs.String("to", today.String(), "last day (YYYY-MM-DD)")
	k := fs.Int("k", stats.DefaultK, "smallest count published in the coverage tables (at least the default)")
	epsilon := fs.Float64("epsilon", 0, "add two-sided geometric noise with this privacy parameter (0: none)")
	gaps := fs.Bool("gaps", false, "print the gap report for the week of --to instead")
	asJSON := fs.Bool("json", false, "JSON output")
	asCSV := fs.Bool("csv", false, "CSV output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := registry.ParseDate(*from)
	if err != nil {
		return registry.FieldErrorf(registry.EINVALID, "--from", "%v.", err)
	}
	t, err := registry.ParseDate(*to)
	if err != nil {
		return registry.FieldErrorf(registry.EINVALID, "--to", "%v.", err)
	}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	deps := clinic.Deps{Store: db, Catalog: catalog.Default(), Now: env.Now, Stats: clinic.StatsNoise{Epsilon: *epsilon}}
	if *epsilon != 0 {
		v, err := openVault(env)
		if err != nil {
			return err
		}
		if deps.Stats.Key, err = v.DeriveKey("stats-noise"); err != nil {
			return err
		}
	}
	svc := clinic.New(deps)
	if *gaps {
		rep, err := svc.Gaps(ctx, clinic.Operator(), t)
		if err != nil {
			return err
		}
		switch {
		case *asJSON:
			return json.NewEncoder(env.Stdout).Encode(rep)
		case *asCSV:
			return stats.WriteGapsCSV(env.Stdout, rep)
		}
		return stats.WriteGapsText(env.Stdout, rep)
	}
	cov, err := svc.Coverage(ctx, clinic.Operator(), f, t, *k)
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		return json.NewEncoder(env.Stdout).Encode(cov)
	case *asCSV:
		return stats.WriteCSV(env.Stdout, cov)
	}
	return stats.WriteText(env.Stdout, cov)
}

// backupCommand implements "haven backup DEST": an online, consistent
// snapshot of the SQLite database that holds no wrapped data keys, sealed
// fields or idempotency entries. Demographics are therefore never readable
// from a backup, whoever holds the key-encryption key, and an erasure can
// never be undone by restoring one. See docs/privacy.md.
func backupCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: haven backup DEST.db")
	}
	dest := args[0]
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("backup %s: the file exists; choose a new name", dest)
	}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	s, ok := db.(*sqlite.DB)
	if !ok {
		return errors.New("haven backup supports the SQLite store; for PostgreSQL see docs/privacy.md (pg_dump with --exclude-table-data and a key-free view)")
	}
	if err := sqlite.Backup(ctx, s, dest); err != nil {
		return err
	}
	if err := db.AppendAudit(ctx, *cliAudit(env, "backup.create", "")); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "backup written to", dest, "(without data keys: demographics are not restorable from it)")
	return nil
}

// sealCommand implements "haven seal [--shred]" and "haven unlock": they ask
// the running server (at --addr) to drop or reload its key. The admin token
// comes from HAVEN_TOKEN.
func sealCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("seal", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	shred := fs.Bool("shred", false, "also overwrite and delete the key file: nothing stored can be read again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]bool{"shred": *shred})
	return postAdmin(ctx, env, "/api/v1/seal", body)
}

func unlockCommand(ctx context.Context, env *commandEnv, args []string) error {
	var pass string
	if pf := env.Getenv("HAVEN_PASSPHRASE_FILE"); pf != "" {
		p, err := vault.ReadPassphraseFile(pf)
		if err != nil {
			return err
		}
		pass = string(p)
	} else if len(args) == 0 || args[0] != "--no-passphrase" {
		fmt.Fprint(env.Stderr, "passphrase: ")
		line, err := readPassphrase(ctx, env.Stdin, env.Stderr)
		if err != nil {
			return fmt.Errorf("passphrase: %w", err)
		}
		pass = line
	}
	body, _ := json.Marshal(map[string]string{"passphrase": pass})
	return postAdmin(ctx, env, "/api/v1/unlock", body)
}

func readLine(r io.Reader) (string, error) {
	var b [1]byte
	var line []byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				break
			}
			return "", err
		}
	}
	return strings.TrimRight(string(line), "\r"), nil
}

func postAdmin(ctx context.Context, env *commandEnv, path string, body []byte) error {
	token := env.Getenv("HAVEN_TOKEN")
	if token == "" {
		return errors.New("set HAVEN_TOKEN to an admin token")
	}
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+env.Addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reach the server at %s: %w", env.Addr, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered %d: %s", res.StatusCode, bytes.TrimSpace(out))
	}
	env.Stdout.Write(out)
	return nil
}
