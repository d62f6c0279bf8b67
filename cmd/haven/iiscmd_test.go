package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server"
)

// outboxFixture is a data folder whose outbox holds reports for doses
// recorded through the API, with a server on it for comparisons.
type outboxFixture struct {
	dir   string
	db    database
	srv   *httptest.Server
	admin string
	doses []string // record IDs, in the order recorded
}

func newOutboxFixture(t *testing.T, n int) *outboxFixture {
	t.Helper()
	ctx := context.Background()
	f := &outboxFixture{dir: t.TempDir()}
	env := &commandEnv{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, DataDir: f.dir, Now: time.Now}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	v, err := openVault(env)
	if err != nil {
		t.Fatal(err)
	}
	svc := clinic.New(clinic.Deps{Store: db, Vault: v, Keys: v, Catalog: catalog.Default(), ReportUpstream: true})
	f.srv = httptest.NewServer(server.New(server.Deps{Service: svc}))
	t.Cleanup(f.srv.Close)
	if _, err := db.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination"}}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	token := func(role registry.Role, sites ...string) string {
		secret, tok, err := clinic.NewToken(role, sites, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateToken(ctx, tok, registry.Write{}); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	f.admin = token(registry.RoleAdmin)
	vacc := apiClient{base: f.srv.URL, token: token(registry.RoleVaccinator, "YB-1"), http: http.DefaultClient}
	var p struct {
		CardCode string `json:"card_code"`
	}
	json.Unmarshal(vacc.mustDo(t, "POST", "/api/v1/persons", "", `{"given_name":"Mina"}`, 201), &p)
	for i := range n {
		var d struct{ ID string }
		json.Unmarshal(vacc.mustDo(t, "POST", "/api/v1/persons/"+p.CardCode+"/vaccinations", "",
			`{"product":"coronavac","date":"2021-09-`+strconv.Itoa(10+i)+`","site":"YB-1"}`, 201), &d)
		f.doses = append(f.doses, d.ID)
	}
	return f
}

// items returns the outbox as the store holds it.
func (f *outboxFixture) items(t *testing.T) []registry.OutboxItem {
	t.Helper()
	items, err := f.db.ListOutbox(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// TestIISStatusAndRetry runs haven iis status (text and JSON) and haven iis
// retry on an outbox with a report waiting, one that failed to go out and
// one the IIS rejected.
func TestIISStatusAndRetry(t *testing.T) {
	f := newOutboxFixture(t, 3)
	ctx := context.Background()
	items := f.items(t)
	if len(items) != 3 {
		t.Fatalf("%d reports queued for 3 doses", len(items))
	}
	for i, it := range items {
		if it.Report.RecordID.String() != f.doses[i] {
			t.Fatalf("report %d is for %s, want %s (the order recorded)", it.Seq, it.Report.RecordID, f.doses[i])
		}
	}
	rejected, failing := items[0].Seq, items[1].Seq
	if err := f.db.SettleReport(ctx, rejected, registry.ReportOutcome{Failed: true, Error: "ACK AE 103 at RXA-5", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SettleReport(ctx, failing, registry.ReportOutcome{Error: "mllp: dial tcp: connection refused\n(again)", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	data := []string{"--data", f.dir}

	r := cliRun(t, nil, append(data, "iis", "status")...)
	if r.err != nil {
		t.Fatalf("iis status: %v", r.err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^pending +2$`),
		regexp.MustCompile(`(?m)^failed +1$`),
		regexp.MustCompile(`(?m)^oldest pending +queued \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, \d+s ago$`),
		regexp.MustCompile(`(?m)^last error +mllp: dial tcp: connection refused \(again\)$`),
		regexp.MustCompile(`(?m)^SEQ +RECORD +A/D +QUEUED AT +ATTEMPTS +FAILED +LAST ERROR$`),
		regexp.MustCompile(`(?m)^` + strconv.FormatInt(rejected, 10) + ` +` + f.doses[0] + ` +A +\S+ +1 +yes +ACK AE 103 at RXA-5$`),
		regexp.MustCompile(`(?m)^` + strconv.FormatInt(failing, 10) + ` +` + f.doses[1] + ` +A +\S+ +1 +no +mllp: dial tcp: connection refused \(again\)$`),
		regexp.MustCompile(`(?m)^` + strconv.FormatInt(items[2].Seq, 10) + ` +` + f.doses[2] + ` +A +\S+ +0 +no +-$`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("iis status printed:\n%s\nwant a line matching %s", r.stdout, want)
		}
	}

	// --json has the API's shape and values.
	r = cliRun(t, nil, append(data, "iis", "status", "--json")...)
	if r.err != nil {
		t.Fatalf("iis status --json: %v", r.err)
	}
	api := apiClient{base: f.srv.URL, token: f.admin, http: http.DefaultClient}
	var fromCLI, fromAPI map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &fromCLI); err != nil {
		t.Fatalf("iis status --json: %v\n%s", err, r.stdout)
	}
	json.Unmarshal(api.mustDo(t, "GET", "/api/v1/iis/outbox", "", "", 200), &fromAPI)
	if !reflect.DeepEqual(fromCLI, fromAPI) {
		t.Errorf("iis status --json:\n%s\nGET /api/v1/iis/outbox:\n%v", r.stdout, fromAPI)
	}
	var st struct {
		Pending, Failed int64
		Oldest          *time.Time
		Reports         []struct {
			Seq    int64
			Failed bool
		}
	}
	json.Unmarshal([]byte(r.stdout), &st)
	if st.Pending != 2 || st.Failed != 1 || st.Oldest == nil || len(st.Reports) != 3 || !st.Reports[0].Failed {
		t.Errorf("iis status --json = %+v", st)
	}
	r = cliRun(t, nil, append(data, "iis", "status", "--json", "--limit", "1")...)
	if json.Unmarshal([]byte(r.stdout), &st); r.err != nil || len(st.Reports) != 1 || st.Reports[0].Seq != rejected {
		t.Errorf("iis status --json --limit 1 = %s (%v)", r.stdout, r.err)
	}
	if r = cliRun(t, nil, append(data, "iis", "status", "--limit", "2")...); !strings.Contains(r.stdout, "(the 2 oldest of 3; --limit lists more)") {
		t.Errorf("iis status --limit 2 does not say more are left:\n%s", r.stdout)
	}

	// retry puts the rejected report back in its place.
	r = cliRun(t, nil, append(data, "iis", "retry", strconv.FormatInt(rejected, 10))...)
	if r.err != nil || !strings.Contains(r.stdout, "report "+strconv.FormatInt(rejected, 10)+" is queued again") {
		t.Fatalf("iis retry: %q %v", r.stdout, r.err)
	}
	pending, err := f.db.PendingReports(ctx, 10)
	if err != nil || len(pending) != 3 || pending[0].Seq != rejected {
		t.Fatalf("after iis retry the pending reports are %+v (%v); want all three, the retried one first", pending, err)
	}
	r = cliRun(t, nil, append(data, "iis", "status")...)
	if !regexp.MustCompile(`(?m)^failed +0$`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^pending +3$`).MatchString(r.stdout) {
		t.Errorf("iis status after the retry:\n%s", r.stdout)
	}

	// Both were audited as the operator.
	var log struct {
		Entries []struct{ Action, Actor string }
	}
	auditor := apiClient{base: f.srv.URL, token: f.tokenFor(t, registry.RoleAuditor), http: http.DefaultClient}
	json.Unmarshal(auditor.mustDo(t, "GET", "/api/v1/audit?limit=1000", "", "", 200), &log)
	seen := map[string]bool{}
	for _, e := range log.Entries {
		seen[e.Action] = true
	}
	if !seen[string(clinic.ActOutboxList)] || !seen[string(clinic.ActOutboxRetry)] {
		t.Errorf("the access log lacks outbox.list or outbox.retry: %+v", log.Entries)
	}
}

func (f *outboxFixture) tokenFor(t *testing.T, role registry.Role) string {
	t.Helper()
	secret, tok, err := clinic.NewToken(role, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateToken(context.Background(), tok, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestIISEmptyOutbox: a data folder whose feed has delivered everything, or
// that never had one.
func TestIISEmptyOutbox(t *testing.T) {
	dir := t.TempDir()
	r := cliRun(t, nil, "--data", dir, "iis", "status")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{"pending", "0", "oldest pending", "The outbox is empty"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("iis status on an empty outbox:\n%s\nwant %q", r.stdout, want)
		}
	}
	r = cliRun(t, nil, "--data", dir, "iis", "status", "--json")
	if r.err != nil || strings.TrimSpace(r.stdout) != `{"pending":0,"failed":0,"reports":[]}` {
		t.Errorf("iis status --json on an empty outbox = %s (%v)", r.stdout, r.err)
	}
}

// TestIISExitCodes: wrong usage exits 2, a report that is not there 1, with
// the error codes the API gives.
func TestIISExitCodes(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		exit int
		code string
	}{
		{[]string{"iis"}, 2, ""},
		{[]string{"iis", "frob"}, 2, ""},
		{[]string{"iis", "status", "extra"}, 2, ""},
		{[]string{"iis", "status", "--limit", "0"}, 2, registry.EINVALID},
		{[]string{"iis", "status", "--limit", "1001"}, 2, registry.EINVALID},
		{[]string{"iis", "status", "--nope"}, 2, ""},
		{[]string{"iis", "retry"}, 2, ""},
		{[]string{"iis", "retry", "1", "2"}, 2, ""},
		{[]string{"iis", "retry", "abc"}, 2, registry.EINVALID},
		{[]string{"iis", "retry", "0"}, 2, registry.EINVALID},
		{[]string{"iis", "retry", "42"}, 1, registry.ENOTFOUND},
	} {
		r := cliRun(t, nil, append([]string{"--data", dir}, tt.args...)...)
		if got := exitCode(r.err); got != tt.exit {
			t.Errorf("haven %s: exit %d (%v), want %d", strings.Join(tt.args, " "), got, r.err, tt.exit)
		}
		if tt.code != "" && registry.ErrorCode(r.err) != tt.code {
			t.Errorf("haven %s: code %q (%v), want %q", strings.Join(tt.args, " "), registry.ErrorCode(r.err), r.err, tt.code)
		}
		if r.stdout != "" {
			t.Errorf("haven %s printed %q on failing", strings.Join(tt.args, " "), r.stdout)
		}
	}
}

// TestIISHelpMentionsEveryFlag is TestHelpMentionsEveryFlag for haven iis
// status.
func TestIISHelpMentionsEveryFlag(t *testing.T) {
	var stderr bytes.Buffer
	env := &commandEnv{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr,
		DataDir: filepath.Join(t.TempDir(), "data"), Now: time.Now}
	if err := iisCommand(context.Background(), env, []string{"status", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("iis status -h: %v", err)
	}
	topic, _ := findTopic("iis status")
	flags := regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`).FindAllStringSubmatch(stderr.String(), -1)
	if len(flags) == 0 {
		t.Fatalf("iis status -h listed no flags:\n%s", stderr.String())
	}
	for _, fl := range flags {
		if !regexp.MustCompile(`--` + regexp.QuoteMeta(fl[1]) + `([^a-z0-9-]|$)`).MatchString(topic.usage) {
			t.Errorf("haven help iis status does not mention --%s", fl[1])
		}
	}
}

// TestWriteOutboxRows covers what a store-backed outbox rarely shows: a
// report of a record marked entered in error (D), an old report, and an
// error holding a tab.
func TestWriteOutboxRows(t *testing.T) {
	now := time.Date(2025, 11, 30, 10, 0, 0, 0, time.UTC)
	id := registry.ID{1, 2, 3}
	ob := &clinic.Outbox{
		Status: registry.OutboxStatus{Pending: 1, Oldest: now.Add(-72 * time.Hour), LastError: "a\tb"},
		Items:  []clinic.OutboxEntry{{Seq: 7, RecordID: id, Deleted: true, QueuedAt: "2025-11-27T10:00:00Z", Attempts: 4, LastError: "a\tb"}},
	}
	var b bytes.Buffer
	if err := writeOutbox(&b, ob, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"queued 2025-11-27T10:00:00Z, 3 days ago",
		"7    " + id.String() + "  D    2025-11-27T10:00:00Z  4         no      a b",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("writeOutbox wrote:\n%s\nwant %q", b.String(), want)
		}
	}
}
