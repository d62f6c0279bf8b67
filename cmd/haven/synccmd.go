package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

// syncCommand implements "haven sync status [--json]" and "haven sync retry
// SEQ|--all": the state of offline-node sync (docs/adr/0006), read and
// changed in the store as the operator, on the server's own machine, with
// the server running or not, as haven iis does for the IIS feed.
func syncCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("usage: haven sync status [--json] | retry SEQ|--all")
	}
	switch args[0] {
	case "status":
		return syncStatusCommand(ctx, env, args[1:])
	case "retry":
		return syncRetryCommand(ctx, env, args[1:])
	}
	return usageErrorf("sync: unknown command %q (haven help sync lists them)", args[0])
}

// syncFailedShown is how many refused events haven sync status lists.
const syncFailedShown = 20

// isNodeFolder reports whether the data folder is an offline clinic
// node's: one that holds the node token kept by haven serve --upstream.
func isNodeFolder(env *commandEnv) (bool, error) {
	_, err := os.Stat(upstreamTokenFile(env))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	}
	return false, err
}

// syncService is the clinic service of the data folder for the sync
// commands: a node's when the folder holds a node token. It has no vault:
// sync status and retry touch no person, and a passphrase key ring need
// not be unlocked for them.
func syncService(env *commandEnv, db registry.Store) (*clinic.Service, error) {
	node, err := isNodeFolder(env)
	if err != nil {
		return nil, err
	}
	return clinic.New(clinic.Deps{Store: db, Catalog: catalog.Default(), Now: env.Now, Sync: &clinic.SyncConfig{Node: node}}), nil
}

func syncStatusCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("sync status", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	asJSON := fs.Bool("json", false, "write the status as JSON (the shape of GET /api/v1/sync/status)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("sync status: unexpected argument %q", fs.Arg(0))
	}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := syncService(env, db)
	if err != nil {
		return err
	}
	st, err := svc.SyncStatus(ctx, clinic.Operator())
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(st)
	}
	var failed []registry.SyncItem
	if st.Role == "node" && st.Failed > 0 {
		if failed, err = svc.FailedSync(ctx, clinic.Operator(), syncFailedShown); err != nil {
			return err
		}
	}
	return writeSyncStatus(env.Stdout, st, failed, env.Now())
}

// writeSyncStatus writes the status as text: on a node, its link to the
// central and the events the central refused; on a central, one row per
// node.
func writeSyncStatus(w io.Writer, st *clinic.SyncStatus, failed []registry.SyncItem, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "role\t%s\n", st.Role)
	switch st.Role {
	case "node":
		fmt.Fprintf(tw, "upstream\t%s\n", orDash(st.Upstream))
		fmt.Fprintf(tw, "state\t%s\n", st.State)
		if st.OldestPending.IsZero() {
			fmt.Fprintf(tw, "pending\t%d\n", st.Pending)
		} else {
			fmt.Fprintf(tw, "pending\t%d (oldest queued %s, %s ago)\n", st.Pending, stampOf(st.OldestPending), age(now.Sub(st.OldestPending)))
		}
		fmt.Fprintf(tw, "failed\t%d\n", st.Failed)
		fmt.Fprintf(tw, "last contact\t%s\n", when(st.LastContact, now))
		if !st.OfflineSince.IsZero() {
			fmt.Fprintf(tw, "offline since\t%s\n", when(st.OfflineSince, now))
		}
		if st.LastError == "" {
			fmt.Fprintf(tw, "last error\t-\n")
		} else {
			code := ""
			if st.LastErrorCode != "" {
				code = "[" + st.LastErrorCode + "] "
			}
			at := ""
			if !st.LastErrorAt.IsZero() {
				at = " (" + when(st.LastErrorAt, now) + ")"
			}
			fmt.Fprintf(tw, "last error\t%s%s%s\n", code, oneLine(st.LastError), at)
		}
		fmt.Fprintf(tw, "clock skew\t%s\n", skew(st.ClockSkewSeconds))
		fmt.Fprintf(tw, "last push\t%s\n", when(st.LastPush, now))
		fmt.Fprintf(tw, "last pull\t%s\n", when(st.LastPull, now))
		fmt.Fprintf(tw, "acked seq\t%d\n", st.AckedSeq)
		fmt.Fprintf(tw, "pull cursor\t%d\n", st.PullCursor)
		if err := tw.Flush(); err != nil {
			return err
		}
		return writeSyncFailed(w, st, failed)
	case "central":
		fmt.Fprintf(tw, "nodes\t%d\n", len(st.Nodes))
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tLABEL\tSITES\tAPPLIED SEQ\tPENDING\tLAST CONTACT\tCLOCK SKEW\tREVOKED")
		for _, n := range st.Nodes {
			revoked := "no"
			if n.Revoked {
				revoked = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", n.ID, orDash(oneLine(n.Label)), orDash(strings.Join(n.Sites, ",")),
				n.AppliedSeq, n.Pending, when(n.LastContact, now), skew(n.ClockSkewSeconds), revoked)
		}
		return tw.Flush()
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nThis server is not a clinic node (no upstream.token in the data folder), and no node has enrolled with it.")
	return err
}

// writeSyncFailed lists the events the central refused, with how to send
// them again.
func writeSyncFailed(w io.Writer, st *clinic.SyncStatus, failed []registry.SyncItem) error {
	if len(failed) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nRefused by the central (fix the cause, then haven sync retry SEQ, or --all):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tKIND\tRECORD\tQUEUED AT\tREASON")
	for _, it := range failed {
		record := "-"
		if it.Event.RecordID != (registry.ID{}) {
			record = it.Event.RecordID.String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", it.Seq, it.Event.Kind, record, stampOf(it.Event.At), orDash(oneLine(it.LastError)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if int64(len(failed)) < st.Failed {
		fmt.Fprintf(w, "(the %d oldest of %d)\n", len(failed), st.Failed)
	}
	return nil
}

// when is a moment for people: RFC 3339 in UTC and how long ago, or "never".
func when(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return stampOf(t) + ", " + age(now.Sub(t)) + " ago"
}

func stampOf(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// skew words this clock minus the central's.
func skew(seconds float64) string {
	d := time.Duration(math.Round(math.Abs(seconds))) * time.Second
	switch {
	case d == 0:
		return "0s"
	case seconds > 0:
		return age(d) + " ahead of the central"
	}
	return age(d) + " behind the central"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// syncRetryCommand queues again the events of the person of a refused
// event (SEQ), or of every refused event (--all).
func syncRetryCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("sync retry", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	all := fs.Bool("all", false, "queue every event the central refused again")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var seq int64
	switch {
	case *all && fs.NArg() == 0:
	case !*all && fs.NArg() == 1:
		n, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil || n < 1 {
			return &usageError{err: registry.FieldErrorf(registry.EINVALID, "seq", "Want a refused event's number (from haven sync status), not %q.", fs.Arg(0))}
		}
		seq = n
	default:
		return usageErrorf("usage: haven sync retry SEQ|--all")
	}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := syncService(env, db)
	if err != nil {
		return err
	}
	n, err := svc.RetrySync(ctx, clinic.Operator(), seq)
	if err != nil {
		return err
	}
	if n == 0 {
		_, err = fmt.Fprintln(env.Stdout, "no refused events: nothing was queued again")
		return err
	}
	noun := "events are"
	if n == 1 {
		noun = "event is"
	}
	_, err = fmt.Fprintf(env.Stdout, "%d %s queued again; a running node sends them at its next push\n", n, noun)
	return err
}
