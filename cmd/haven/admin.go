package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// migrateCommand implements "haven migrate": apply pending schema migrations.
func migrateCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("migrate takes no arguments")
	}
	db, err := openDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx, env.Now())
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(env.Stdout, "schema is up to date")
	}
	for _, name := range applied {
		fmt.Fprintln(env.Stdout, "applied", name)
	}
	return nil
}

// siteList collects repeated --site flags.
type siteList []string

func (l *siteList) String() string { return strings.Join(*l, ",") }
func (l *siteList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// tokenCommand implements "haven token create --role R [--site S]…", which
// prints only the new token (its hash is stored; the token is not), "haven
// token list" and "haven token revoke ID".
func tokenCommand(ctx context.Context, env *commandEnv, args []string) error {
	usage := errors.New("usage: haven token create --role admin|vaccinator|analyst|auditor|node [--site CODE]… [--label TEXT] | list | revoke ID")
	if len(args) == 0 {
		return usage
	}
	switch args[0] {
	case "create":
	case "list", "revoke":
		return tokenAdmin(ctx, env, args)
	default:
		return usage
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	role := fs.String("role", "", "admin, vaccinator, analyst, auditor or node")
	var sites siteList
	fs.Var(&sites, "site", "a site a vaccinator or clinic node may record at (repeatable, or comma-separated; required for both)")
	label := fs.String("label", "", "the staff member or device the token is for, shown by token list")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := operatorService(env, db, nil).CreateToken(ctx, clinic.Operator(), clinic.TokenInput{Role: *role, Sites: sites, Label: *label})
	if err != nil {
		return flagError(err, map[string]string{"role": "--role", "sites": "--site", "label": "--label"})
	}
	secret := t.Secret
	fmt.Fprintln(env.Stdout, secret)
	return nil
}

// tokenAdmin lists or revokes tokens. A server sharing the database stops
// accepting a revoked token within its cache time (15 s).
func tokenAdmin(ctx context.Context, env *commandEnv, args []string) error {
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := operatorService(env, db, nil)
	if args[0] == "revoke" {
		if len(args) != 2 {
			return errors.New("usage: haven token revoke ID")
		}
		if err := svc.RevokeToken(ctx, clinic.Operator(), args[1]); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "revoked", args[1])
		return nil
	}
	toks, err := svc.ListTokens(ctx, clinic.Operator())
	if err != nil {
		return err
	}
	for _, t := range toks {
		fmt.Fprintf(env.Stdout, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, strings.Join(t.Sites, ","), t.CreatedAt.Format(time.RFC3339), t.Label)
	}
	return nil
}

// operatorService is the clinic service for a command run on the server's
// own machine. v may be nil for commands that touch no person; with one, an
// erasure retires the erased person's key epoch before the command ends.
func operatorService(env *commandEnv, db registry.Store, v *vault.Vault) *clinic.Service {
	deps := clinic.Deps{Store: db, Catalog: catalog.Default(), Now: env.Now}
	if v != nil {
		deps.Vault = v
		if es, ok := db.(vault.EpochStore); ok {
			deps.AfterErase = func(ctx context.Context) error { return vault.AfterErase(ctx, v, es) }
		}
	}
	return clinic.New(deps)
}

// flagError turns an application error that names an input field into one
// that names the command-line flag it came from, keeping its code.
func flagError(err error, flags map[string]string) error {
	if f, ok := flags[registry.ErrorField(err)]; ok {
		return &registry.Error{Code: registry.ErrorCode(err), Field: f, Message: registry.ErrorMessage(err)}
	}
	return err
}
