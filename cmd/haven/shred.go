package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/haven-registry/haven/internal/vault"
)

// shredCommand implements "haven shred --yes" (also "haven vault shred"):
// it destroys the key ring without a server, for a clinic whose server is
// stopped (or will not answer) when a raid is expected. It needs no key or
// passphrase: the ring file is overwritten and removed, and a shred marker
// (holding only the time) is left beside it, so that no later start makes a
// new master key by itself (see haven vault init-master --after-shred).
// Card codes, doses and tests stay in the database and stay readable;
// every person's demographics are gone for good, as are the certificate
// and audit signing keys wrapped under the ring. A server still running on
// the ring seals itself at its next key-ring check (within
// vault.DefaultPoll); haven seal --shred asks it at once.
func shredCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("shred", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	yes := fs.Bool("yes", false, "really destroy the key ring: no demographic can ever be read again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("shred: unexpected argument %q", fs.Arg(0))
	}
	path, err := masterKeyPath(env)
	if err != nil {
		return err
	}
	if !*yes {
		fmt.Fprintf(env.Stderr, "haven shred destroys the key ring %s: no name, birth date or phone stored so far can ever be read again, by anyone.\n", path)
		return errors.New("shred: add --yes to do it")
	}
	// The trace first, if the database is there; the shred goes ahead
	// regardless: this is the emergency path.
	if db, err := openReadyDatabase(ctx, env); err == nil {
		if err := db.AppendAudit(ctx, *cliAudit(env, "vault.shred", "")); err != nil {
			fmt.Fprintf(env.Stderr, "haven: shred: the access log entry failed (%v); shredding anyway\n", err)
		}
		db.Close()
	}
	if err := vault.ShredRing(path); err != nil {
		return fmt.Errorf("shred: %w", err)
	}
	fmt.Fprintf(env.Stdout, "key ring %s shredded: demographics can never be read again; card codes, doses and tests are kept.\n", path)
	fmt.Fprintln(env.Stdout, "To run Haven again: haven vault init-master --after-shred, then haven serve.")
	client := http.Client{Timeout: time.Second}
	if res, err := client.Get("http://" + env.Addr + "/healthz"); err == nil {
		res.Body.Close()
		fmt.Fprintf(env.Stdout, "A server answers at %s: it still holds the key in memory until it seals itself (within %s) or stops; haven seal makes it seal now.\n",
			env.Addr, vault.DefaultPoll)
	}
	return nil
}
