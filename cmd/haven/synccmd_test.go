package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/nodesync"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// syncStatusJSON runs haven sync status --json on the data folder and
// decodes it, checking that the output is exactly the clinic's JSON shape.
func syncStatusJSON(t *testing.T, dir string) clinic.SyncStatus {
	t.Helper()
	r := cliRun(t, nil, "--data", dir, "sync", "status", "--json")
	if r.err != nil {
		t.Fatalf("sync status --json: %v (stderr %s)", r.err, r.stderr)
	}
	var st clinic.SyncStatus
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("sync status --json printed %q: %v", r.stdout, err)
	}
	again, _ := json.Marshal(&st)
	if strings.TrimSpace(r.stdout) != string(again) {
		t.Errorf("sync status --json is not the clinic.SyncStatus JSON:\n got %s\nwant %s", r.stdout, again)
	}
	return st
}

// A data folder without a node token, where no node has enrolled, is a
// standalone registry's.
func TestSyncStatusStandalone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st := syncStatusJSON(t, dir)
	if st.Role != "standalone" || st.State != "" || len(st.Nodes) != 0 || st.Pending != 0 {
		t.Fatalf("fresh data folder: %+v, want role standalone", st)
	}
	r := cliRun(t, nil, "--data", dir, "sync", "status")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !regexp.MustCompile(`(?m)^role +standalone$`).MatchString(r.stdout) || !strings.Contains(r.stdout, "not a clinic node") {
		t.Errorf("sync status on a fresh data folder:\n%s", r.stdout)
	}
	// Nothing was refused, so nothing is queued again.
	r = cliRun(t, nil, "--data", dir, "sync", "retry", "--all")
	if r.err != nil || !strings.Contains(r.stdout, "nothing was queued again") {
		t.Errorf("sync retry --all on a fresh data folder: %q, %v", r.stdout, r.err)
	}
}

// nodeFolder makes a data folder that is a node's: a node token file, and
// node-side writes that queued events for the central. refused persons are
// registered (each with a dose) and pushed first, and the central refuses
// their events; pending persons are registered after, and wait. The
// outcomes of exchanges with the central, if any, are saved last.
func nodeFolder(t *testing.T, refused, pending int, contacts ...nodesync.Contact) (dir string) {
	t.Helper()
	ctx := context.Background()
	dir = filepath.Join(t.TempDir(), "data")
	env := &commandEnv{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
		DataDir: dir, Now: time.Now}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := openVault(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination"}}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	svc := clinic.New(clinic.Deps{Store: db, Vault: v, Keys: v, Catalog: catalog.Default(), Now: env.Now,
		Sync: &clinic.SyncConfig{Node: true, Upstream: "https://central.example:8443"}})
	vac := clinic.Actor{TokenID: "tk_test", Role: registry.RoleVaccinator, Sites: []string{"YB-1"}}
	register := func(n int) {
		for i := range n {
			reg, err := svc.RegisterPerson(ctx, vac, clinic.PersonInput{GivenName: "Mina", FamilyName: "Kim", BirthDate: "1990", Sex: "female"}, "")
			if err != nil {
				t.Fatal(err)
			}
			in := clinic.VaccinationInput{Product: "coronavac", Date: "2021-09-" + strconv.Itoa(10+i), Site: "YB-1"}
			if _, err := svc.RecordVaccination(ctx, vac, reg.Record.Person.CardCode, in, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	register(refused)
	if refused > 0 {
		b, err := svc.SyncBatch(ctx, 1000)
		if err != nil || b == nil {
			t.Fatalf("sync batch: %v", err)
		}
		var rej []syncwire.Reject
		for _, ev := range b.Events {
			if len(rej) == 0 || rej[len(rej)-1].Seq != ev.Seq {
				rej = append(rej, syncwire.Reject{Seq: ev.Seq, Code: "invalid", Field: "site", Message: "No site YB-1 at the central."})
			}
		}
		if err := svc.SyncAcked(ctx, b, &syncwire.PushAnswer{AppliedSeq: b.Header.Last, Rejected: rej}); err != nil {
			t.Fatal(err)
		}
	}
	register(pending)
	if err := os.WriteFile(upstreamTokenFile(env), []byte("not a real sealed token"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range contacts {
		if err := svc.SyncContact(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// haven sync status on a node's data folder, with no server running: what
// waits, what was refused and why the node is not syncing; and haven sync
// retry puts refused events back in the queue.
func TestSyncStatusNode(t *testing.T) {
	dir := nodeFolder(t, 1, 2, nodesync.Contact{State: nodesync.StateOffline, Direction: "push",
		Error: "dial tcp 192.0.2.1:8443: connect: connection refused", Code: "unreachable", Skew: 2*86400 + 30, Measured: true})

	st := syncStatusJSON(t, dir)
	if st.Role != "node" || st.State != "offline" || st.Upstream != "" && st.Upstream != "https://central.example:8443" {
		t.Errorf("node status: %+v", st)
	}
	if st.Pending < 2 || st.Failed < 1 || st.OldestPending.IsZero() {
		t.Errorf("node status: pending %d, failed %d, oldest %v; want at least 2 waiting and 1 refused", st.Pending, st.Failed, st.OldestPending)
	}
	if st.LastErrorCode != "unreachable" || !strings.Contains(st.LastError, "connection refused") || st.OfflineSince.IsZero() {
		t.Errorf("node status: last error %q (%s), offline since %v", st.LastError, st.LastErrorCode, st.OfflineSince)
	}
	if st.ClockSkewSeconds < 2*86400 {
		t.Errorf("node status: clock skew %v", st.ClockSkewSeconds)
	}

	r := cliRun(t, nil, "--data", dir, "sync", "status")
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("haven sync status:\n%s", r.stdout)
	for _, want := range []string{
		`(?m)^role +node$`,
		`(?m)^state +offline$`,
		`(?m)^pending +` + strconv.FormatInt(st.Pending, 10) + ` \(oldest queued 20\d\d-`,
		`(?m)^failed +` + strconv.FormatInt(st.Failed, 10) + `$`,
		`(?m)^last contact +never$`,
		`(?m)^last error +\[unreachable\] dial tcp .*connection refused \(20\d\d-.* ago\)$`,
		`(?m)^clock skew +2 days ahead of the central$`,
		`(?m)^SEQ +KIND +RECORD +QUEUED AT +REASON$`,
		`(?m)^\d+ +person +- +20\d\d-\S+ +.*No site YB-1 at the central`,
		`(?m)^\d+ +dose +[0-9a-f]{32} +20\d\d-`,
	} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("sync status lacks %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "Mina") || strings.Contains(r.stdout, "Kim") {
		t.Errorf("sync status shows a name:\n%s", r.stdout)
	}

	// Retry the refused person by one of their events: both their events
	// wait again.
	seq := regexp.MustCompile(`(?m)^(\d+) +person `).FindStringSubmatch(r.stdout)
	if seq == nil {
		t.Fatalf("no refused person event in:\n%s", r.stdout)
	}
	r = cliRun(t, nil, "--data", dir, "sync", "retry", seq[1])
	if r.err != nil || r.stdout != "2 events are queued again; a running node sends them at its next push\n" {
		t.Fatalf("sync retry %s: %q, %v", seq[1], r.stdout, r.err)
	}
	after := syncStatusJSON(t, dir)
	if after.Failed != st.Failed-2 || after.Pending != st.Pending+2 {
		t.Errorf("after retry: pending %d, failed %d; before: %d, %d", after.Pending, after.Failed, st.Pending, st.Failed)
	}
	// The same event again, and one that never was: not refused events.
	for _, arg := range []string{seq[1], "999999"} {
		r = cliRun(t, nil, "--data", dir, "sync", "retry", arg)
		if exitCode(r.err) != 1 || registry.ErrorCode(r.err) != registry.ENOTFOUND {
			t.Errorf("sync retry %s: %v (exit %d), want not found, exit 1", arg, r.err, exitCode(r.err))
		}
	}
	r = cliRun(t, nil, "--data", dir, "sync", "retry", "--all")
	if r.err != nil || !strings.Contains(r.stdout, "nothing was queued again") {
		t.Errorf("sync retry --all with nothing refused: %q, %v", r.stdout, r.err)
	}
}

// haven sync retry --all queues every refused event again.
func TestSyncRetryAll(t *testing.T) {
	dir := nodeFolder(t, 2, 0)
	st := syncStatusJSON(t, dir)
	if st.Failed != 4 || st.Pending != 0 {
		t.Fatalf("two refused persons with a dose each: %+v", st)
	}
	r := cliRun(t, nil, "--data", dir, "sync", "retry", "--all")
	if r.err != nil || !strings.HasPrefix(r.stdout, "4 events are queued again") {
		t.Fatalf("sync retry --all: %q, %v", r.stdout, r.err)
	}
	if st := syncStatusJSON(t, dir); st.Failed != 0 || st.Pending != 4 {
		t.Errorf("after retry --all: %+v", st)
	}
}

// The node's saved state is read by the command: a revoked token, and a
// clock behind the central's.
func TestSyncStatusRevoked(t *testing.T) {
	dir := nodeFolder(t, 0, 1, nodesync.Contact{State: nodesync.StateRevoked, Direction: "push",
		Error: "the central answered 401: token revoked", Code: "unauthorized", Skew: -400, Measured: true})
	st := syncStatusJSON(t, dir)
	if st.Role != "node" || st.State != "revoked" || st.Pending != 2 || st.LastErrorCode != "unauthorized" {
		t.Errorf("revoked node: %+v", st)
	}
	r := cliRun(t, nil, "--data", dir, "sync", "status")
	for _, want := range []string{`(?m)^state +revoked$`, `(?m)^clock skew +6m40s behind the central$`, `(?m)^pending +2 `} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("sync status lacks %s:\n%s", want, r.stdout)
		}
	}
}

// At a central, the status lists the nodes.
func TestWriteSyncStatusCentral(t *testing.T) {
	now := time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)
	st := &clinic.SyncStatus{Role: "central", Nodes: []clinic.NodeStatus{
		{ID: "0123456789abcdef0123456789abcdef", Label: "Yanbian clinic laptop", Sites: []string{"YB-1"}, AppliedSeq: 120, Pending: 37,
			LastContact: now.Add(-2 * time.Minute), ClockSkewSeconds: -3},
		{ID: "fedcba9876543210fedcba9876543210", Sites: []string{"SEL-1", "SEL-2"}, Revoked: true},
	}}
	var b bytes.Buffer
	if err := writeSyncStatus(&b, st, nil, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`(?m)^role +central$`,
		`(?m)^nodes +2$`,
		`(?m)^NODE +LABEL +SITES +APPLIED SEQ +PENDING +LAST CONTACT +CLOCK SKEW +REVOKED$`,
		`(?m)^0123456789abcdef0123456789abcdef +Yanbian clinic laptop +YB-1 +120 +37 +2021-09-17T08:58:00Z, 2m0s ago +3s behind the central +no$`,
		`(?m)^fedcba9876543210fedcba9876543210 +- +SEL-1,SEL-2 +0 +0 +never +0s +yes$`,
	} {
		if !regexp.MustCompile(want).MatchString(b.String()) {
			t.Errorf("central status lacks %s:\n%s", want, b.String())
		}
	}
}

// Wrong usage exits 2, before the data folder is touched.
func TestSyncUsage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"sync"}, {"sync", "frobnicate"}, {"sync", "status", "extra"}, {"sync", "status", "--yaml"},
		{"sync", "retry"}, {"sync", "retry", "abc"}, {"sync", "retry", "0"}, {"sync", "retry", "-3"},
		{"sync", "retry", "3", "--all"}, {"sync", "retry", "3", "4"},
	} {
		r := cliRun(t, nil, append([]string{"--data", dir}, args...)...)
		if exitCode(r.err) != 2 {
			t.Errorf("haven %s: %v (exit %d), want exit 2", strings.Join(args, " "), r.err, exitCode(r.err))
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wrong usage made the data folder (%v)", err)
	}
}

// The usage texts of sync status and retry name every flag they define,
// as TestHelpMentionsEveryFlag checks for the other commands.
func TestSyncHelpMentionsEveryFlag(t *testing.T) {
	flagLine := regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
	for _, topic := range []string{"sync status", "sync retry"} {
		words := strings.Fields(topic)
		var stderr bytes.Buffer
		env := &commandEnv{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr,
			DataDir: filepath.Join(t.TempDir(), "data"), Now: time.Now}
		err := commands()[words[0]](context.Background(), env, append(words[1:], "-h"))
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s -h: %v", topic, err)
		}
		flags := flagLine.FindAllStringSubmatch(stderr.String(), -1)
		if len(flags) == 0 {
			t.Fatalf("%s -h listed no flags:\n%s", topic, stderr.String())
		}
		tp, _ := findTopic(topic)
		for _, f := range flags {
			if !strings.Contains(tp.usage, "--"+f[1]) {
				t.Errorf("haven help %s does not mention --%s", topic, f[1])
			}
		}
	}
	r := cliRun(t, nil, "help", "sync")
	if r.err != nil || !strings.Contains(r.stdout, "haven sync retry SEQ|--all") {
		t.Errorf("haven help sync: %q, %v", r.stdout, r.err)
	}
	if r := cliRun(t, nil, "help"); !regexp.MustCompile(`(?m)^  sync +`).MatchString(r.stdout) {
		t.Errorf("haven help does not list sync:\n%s", r.stdout)
	}
}

// haven token create --role node --site makes a node token, scoped to its
// sites, that token list shows; a node token without a site is wrong usage.
func TestTokenCreateNode(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	env := &commandEnv{Getenv: func(string) string { return "" }, DataDir: dir, Now: time.Now}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination"}}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r := cliRun(t, nil, "--data", dir, "token", "create", "--role", "node", "--site", "YB-1", "--label", "Yanbian clinic laptop")
	if r.err != nil || !regexp.MustCompile(`^hvn_[a-z2-7]+\n$`).MatchString(r.stdout) {
		t.Fatalf("token create --role node: %q, %v (stderr %s)", r.stdout, r.err, r.stderr)
	}
	r = cliRun(t, nil, "--data", dir, "token", "list")
	if r.err != nil || !regexp.MustCompile(`(?m)^tk_[0-9a-f]+\tnode\tYB-1\t\S+\tYanbian clinic laptop$`).MatchString(r.stdout) {
		t.Errorf("token list: %q, %v", r.stdout, r.err)
	}
	r = cliRun(t, nil, "--data", dir, "token", "create", "--role", "node")
	if exitCode(r.err) != 2 || !strings.Contains(r.err.Error(), "site") {
		t.Errorf("token create --role node without a site: %v (exit %d), want exit 2", r.err, exitCode(r.err))
	}
	for _, topic := range [][]string{{"help", "token", "create"}, {"token", "create", "--help"}} {
		r := cliRun(t, nil, topic...)
		if r.err != nil || !strings.Contains(r.stdout, "admin, vaccinator, analyst, auditor or node") ||
			!strings.Contains(r.stdout, "haven token create --role node --site YB-1") {
			t.Errorf("haven %s: %q, %v", strings.Join(topic, " "), r.stdout, r.err)
		}
	}
}
