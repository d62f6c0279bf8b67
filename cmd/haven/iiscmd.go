package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/api"
)

// iisCommand implements "haven iis status [--json] [--limit N]" and "haven
// iis retry SEQ": the outbox of the upstream IIS feed (haven serve
// --iis-upstream), read and changed in the store as the operator, on the
// server's own machine, as haven token list does. A running server's feed
// sees a retried report at its next look at the outbox.
func iisCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) == 0 {
		return usageErrorf("usage: haven iis status [--json] [--limit N] | retry SEQ")
	}
	switch args[0] {
	case "status":
		return iisStatus(ctx, env, args[1:])
	case "retry":
		return iisRetry(ctx, env, args[1:])
	}
	return usageErrorf("iis: unknown command %q (haven help iis lists them)", args[0])
}

func iisStatus(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("iis status", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	asJSON := fs.Bool("json", false, "write the status as JSON (the shape of GET /api/v1/iis/outbox)")
	limit := fs.Int("limit", 100, "list at most this many reports, oldest first (1 to 1000)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("iis status: unexpected argument %q", fs.Arg(0))
	}
	if *limit < 1 || *limit > 1000 {
		return registry.FieldErrorf(registry.EINVALID, "--limit", "Want a number from 1 to 1000, not %d.", *limit)
	}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	ob, err := operatorService(env, db, nil).ListOutbox(ctx, clinic.Operator(), *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(api.OutboxBody(ob))
	}
	return writeOutbox(env.Stdout, ob, env.Now())
}

// writeOutbox writes the outbox as text: the summary, then one row per
// report (A for a dose recorded, D for one marked entered in error).
func writeOutbox(w io.Writer, ob *clinic.Outbox, now time.Time) error {
	st := ob.Status
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "pending\t%d\n", st.Pending)
	fmt.Fprintf(tw, "failed\t%d\n", st.Failed)
	if st.Oldest.IsZero() {
		fmt.Fprintf(tw, "oldest pending\t-\n")
	} else {
		fmt.Fprintf(tw, "oldest pending\tqueued %s, %s ago\n", st.Oldest.UTC().Format(time.RFC3339), age(now.Sub(st.Oldest)))
	}
	if st.LastError == "" {
		fmt.Fprintf(tw, "last error\t-\n")
	} else {
		fmt.Fprintf(tw, "last error\t%s\n", oneLine(st.LastError))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ob.Items) == 0 {
		_, err := fmt.Fprintln(w, "\nThe outbox is empty: nothing waits to be reported.")
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tRECORD\tA/D\tQUEUED AT\tATTEMPTS\tFAILED\tLAST ERROR")
	for _, it := range ob.Items {
		action, failed, lastErr := "A", "no", "-"
		if it.Deleted {
			action = "D"
		}
		if it.Failed {
			failed = "yes"
		}
		if it.LastError != "" {
			lastErr = oneLine(it.LastError)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", it.Seq, it.RecordID, action, it.QueuedAt, it.Attempts, failed, lastErr)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := st.Pending + st.Failed; int64(len(ob.Items)) < n {
		fmt.Fprintf(w, "(the %d oldest of %d; --limit lists more)\n", len(ob.Items), n)
	}
	return nil
}

// age is a duration for people: whole seconds, or whole days beyond two.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d >= 48*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return d.Round(time.Second).String()
}

// oneLine keeps an error on one line of the table: control characters
// (tabs, line breaks) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// iisRetry puts a report the IIS rejected back in the queue, in its place.
func iisRetry(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) != 1 {
		return usageErrorf("usage: haven iis retry SEQ")
	}
	seq, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || seq < 1 {
		// Wrong in form (exit 2), with the code the API gives for it.
		return &usageError{err: registry.FieldErrorf(registry.EINVALID, "seq", "Want a report's number (from haven iis status), not %q.", args[0])}
	}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := operatorService(env, db, nil).RetryReport(ctx, clinic.Operator(), seq); err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "report %d is queued again; the feed sends it in its place\n", seq)
	return err
}
