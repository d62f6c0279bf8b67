package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server"
)

// TestCLIParity drives each action the CLI offers through the CLI and the
// JSON API, with good and bad input, on one data folder: both must give the
// same error code (or none) and write the same audit entries. The API and
// the web pages are compared in internal/server's TestTransportParity.
func TestCLIParity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	getenv := func(string) string { return "" }
	env := &commandEnv{Getenv: getenv, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, DataDir: dir, Now: time.Now}
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := openVault(env)
	if err != nil {
		t.Fatal(err)
	}
	// ReportUpstream queues a report for every dose (no feed runs), for the
	// outbox rows.
	svc := clinic.New(clinic.Deps{Store: db, Vault: v, Keys: v, Catalog: catalog.Default(), ReportUpstream: true})
	srv := httptest.NewServer(server.New(server.Deps{Service: svc}))
	defer srv.Close()
	if _, err := db.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{"vaccination"}}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	token := func(role registry.Role, sites ...string) (string, string) {
		secret, tok, err := clinic.NewToken(role, sites, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateToken(ctx, tok, registry.Write{}); err != nil {
			t.Fatal(err)
		}
		return secret, tok.ID
	}
	admin, _ := token(registry.RoleAdmin)
	analyst, _ := token(registry.RoleAnalyst)
	vaccinator, _ := token(registry.RoleVaccinator, "YB-1")

	api := func(secret, method, path, body string) (string, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode < 400 {
			return "", out
		}
		var e struct{ Error struct{ Code string } }
		json.Unmarshal(out, &e)
		return e.Error.Code, out
	}
	cli := func(args ...string) string {
		var out bytes.Buffer
		err := run(ctx, append([]string{"haven", "--data", dir}, args...), getenv, strings.NewReader(""), &out, io.Discard)
		return registry.ErrorCode(err)
	}
	register := func() string {
		code, out := api(vaccinator, "POST", "/api/v1/persons", `{"given_name":"Mina"}`)
		if code != "" {
			t.Fatalf("register: %s", out)
		}
		var p struct {
			CardCode string `json:"card_code"`
		}
		json.Unmarshal(out, &p)
		return p.CardCode
	}
	spare := func() string { _, id := token(registry.RoleAuditor); return id }
	// queued records a dose, which queues a report, and returns the
	// report's number.
	queued := func() string {
		code, out := api(vaccinator, "POST", "/api/v1/persons/"+register()+"/vaccinations", `{"product":"coronavac","date":"2021-09-17","site":"YB-1"}`)
		if code != "" {
			t.Fatalf("record a dose: %s", out)
		}
		items, err := db.ListOutbox(ctx, 1000)
		if err != nil || len(items) == 0 {
			t.Fatalf("the dose queued no report (%v)", err)
		}
		return strconv.FormatInt(items[len(items)-1].Seq, 10)
	}

	type pair struct{ api, cli func() string }
	rows := map[clinic.Action]map[string]pair{
		clinic.ActTokenCreate: {
			"ok": {func() string { c, _ := api(admin, "POST", "/api/v1/tokens", `{"role":"analyst"}`); return c },
				func() string { return cli("token", "create", "--role", "analyst") }},
			"bad": {func() string { c, _ := api(admin, "POST", "/api/v1/tokens", `{"role":"root"}`); return c },
				func() string { return cli("token", "create", "--role", "root") }},
			"bad-site": {func() string {
				c, _ := api(admin, "POST", "/api/v1/tokens", `{"role":"vaccinator","sites":["NOPE"]}`)
				return c
			}, func() string { return cli("token", "create", "--role", "vaccinator", "--site", "NOPE") }},
		},
		clinic.ActTokenList: {
			"ok": {func() string { c, _ := api(admin, "GET", "/api/v1/tokens", ""); return c },
				func() string { return cli("token", "list") }},
		},
		clinic.ActTokenRevoke: {
			"ok": {func() string { c, _ := api(admin, "DELETE", "/api/v1/tokens/"+spare(), ""); return c },
				func() string { return cli("token", "revoke", spare()) }},
			"bad": {func() string { c, _ := api(admin, "DELETE", "/api/v1/tokens/tk_nonexistent", ""); return c },
				func() string { return cli("token", "revoke", "tk_nonexistent") }},
		},
		clinic.ActPersonErase: {
			"ok": {func() string { c, _ := api(admin, "DELETE", "/api/v1/persons/"+register(), ""); return c },
				func() string { return cli("erase", register()) }},
			"unknown": {func() string {
				c, _ := api(admin, "DELETE", "/api/v1/persons/"+string(registry.NewCardCode()), "")
				return c
			}, func() string { return cli("erase", string(registry.NewCardCode())) }},
			"malformed": {func() string { c, _ := api(admin, "DELETE", "/api/v1/persons/7KQM-X4TD-9HCB", ""); return c },
				func() string { return cli("erase", "7KQM-X4TD-9HCB") }},
		},
		clinic.ActStatsCoverage: {
			"ok": {func() string {
				c, _ := api(analyst, "GET", "/api/v1/stats/coverage?from=2021-08-01&to=2021-09-30", "")
				return c
			},
				func() string { return cli("stats", "--from", "2021-08-01", "--to", "2021-09-30") }},
			"bad": {func() string { c, _ := api(analyst, "GET", "/api/v1/stats/coverage?from=2021-08-32", ""); return c },
				func() string { return cli("stats", "--from", "2021-08-32") }},
		},
		clinic.ActOutboxList: {
			"ok": {func() string { c, _ := api(admin, "GET", "/api/v1/iis/outbox", ""); return c },
				func() string { return cli("iis", "status") }},
			"ok-json": {func() string { c, _ := api(admin, "GET", "/api/v1/iis/outbox?limit=5", ""); return c },
				func() string { return cli("iis", "status", "--json", "--limit", "5") }},
			"bad-limit": {func() string { c, _ := api(admin, "GET", "/api/v1/iis/outbox?limit=0", ""); return c },
				func() string { return cli("iis", "status", "--limit", "0") }},
		},
		clinic.ActOutboxRetry: {
			"ok": {func() string { c, _ := api(admin, "POST", "/api/v1/iis/outbox/"+queued()+"/retry", ""); return c },
				func() string { return cli("iis", "retry", queued()) }},
			"unknown": {func() string { c, _ := api(admin, "POST", "/api/v1/iis/outbox/999999/retry", ""); return c },
				func() string { return cli("iis", "retry", "999999") }},
			"malformed": {func() string { c, _ := api(admin, "POST", "/api/v1/iis/outbox/abc/retry", ""); return c },
				func() string { return cli("iis", "retry", "abc") }},
		},
		clinic.ActStatsGaps: {
			"ok": {func() string { c, _ := api(analyst, "GET", "/api/v1/stats/gaps?week=2021-09-13", ""); return c },
				func() string { return cli("stats", "--gaps", "--to", "2021-09-13") }},
		},
	}
	last := func() uint64 {
		e, err := db.(audit.Store).Last(ctx)
		if err != nil {
			return 0
		}
		return e.Seq
	}
	since := func(from uint64, a clinic.Action) []string {
		var acts []string
		db.(audit.Store).Scan(ctx, from+1, func(e audit.Entry) error {
			if e.Action == string(a) {
				acts = append(acts, e.Action)
			}
			return nil
		})
		return acts
	}
	for a, cases := range rows {
		for name, c := range cases {
			before := last()
			apiCode := c.api()
			apiAudit := since(before, a)
			before = last()
			cliCode := c.cli()
			cliAudit := since(before, a)
			if apiCode != cliCode || !slices.Equal(apiAudit, cliAudit) {
				t.Errorf("%s/%s: API %q %v, CLI %q %v", a, name, apiCode, apiAudit, cliCode, cliAudit)
			}
			if strings.HasPrefix(name, "ok") && apiCode != "" {
				t.Errorf("%s/%s failed: %s", a, name, apiCode)
			}
			if !strings.HasPrefix(name, "ok") && apiCode == "" {
				t.Errorf("%s/%s succeeded", a, name)
			}
		}
	}
}
