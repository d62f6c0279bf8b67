package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/haven-registry/haven/internal/cert"
)

const keysUsage = `usage: haven keys <command> [flags]

commands:
  init        --country CC [--org NAME] [--force]   create a CSCA and a document signer (DSC) in <data>/keys
  trust-list  [--out FILE]                          print the trust list (kid -> DSC) as JSON`

// keysCommand implements "haven keys init|trust-list".
func keysCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, keysUsage)
		return errors.New("keys: missing command (init or trust-list)")
	}
	switch args[0] {
	case "init":
		return keysInit(env, args[1:])
	case "trust-list":
		return keysTrustList(env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, keysUsage)
		return nil
	}
	fmt.Fprintln(env.Stderr, keysUsage)
	return fmt.Errorf("keys: unknown command %q", args[0])
}

func keysInit(env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("haven keys init", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	country := fs.String("country", env.Getenv("HAVEN_COUNTRY"), "ISO 3166-1 alpha-2 country of the operator (env HAVEN_COUNTRY)")
	org := fs.String("org", "Haven", "organisation named in the certificates and as certificate issuer")
	force := fs.Bool("force", false, "replace existing keys; the old DSC stays in the trust list as retired, so certificates it signed keep verifying")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keys init: unexpected argument %q", fs.Arg(0))
	}
	dir := certKeysDir(env)
	secrets, err := certSecrets(env)
	if err != nil {
		return fmt.Errorf("keys init: %w", err)
	}
	k, err := cert.InitKeys(dir, secrets, cert.KeyOptions{Country: *country, Organization: *org, Now: env.Now(), Force: *force})
	if err != nil {
		return fmt.Errorf("keys init: %w", err)
	}
	fmt.Fprintf(env.Stdout, "keys written to %s\nDSC kid %x, valid until %s\n", dir, cert.KID(k.DSC), k.DSC.NotAfter.UTC().Format("2006-01-02"))
	return nil
}

func keysTrustList(env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("haven keys trust-list", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	out := fs.String("out", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	k, err := loadCertKeys(env)
	if err != nil {
		return fmt.Errorf("keys trust-list: %w", err)
	}
	b, err := k.TrustList().MarshalJSON()
	if err != nil {
		return fmt.Errorf("keys trust-list: %w", err)
	}
	b = append(b, '\n')
	if *out != "" {
		return os.WriteFile(*out, b, 0o644)
	}
	_, err = env.Stdout.Write(b)
	return err
}
