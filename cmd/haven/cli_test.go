package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
)

// cliResult is what one run() call gave.
type cliResult struct {
	stdout, stderr string
	err            error
}

// cliRun calls run() in-process with args (after "haven"), the given
// environment and an empty standard input.
func cliRun(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), append([]string{"haven"}, args...), getenv, strings.NewReader(""), &out, &errOut)
	return cliResult{out.String(), errOut.String(), err}
}

// treeSnapshot maps every file and folder under dir to its mode, size and
// content hash, so that any change shows.
func treeSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().String()
		if !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:])
		}
		snap[path] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func diffSnapshots(before, after map[string]string) []string {
	var d []string
	for p, v := range after {
		if w, ok := before[p]; !ok {
			d = append(d, "new "+p)
		} else if w != v {
			d = append(d, "changed "+p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			d = append(d, "removed "+p)
		}
	}
	slices.Sort(d)
	return d
}

// helpForms lists every way of asking for the usage of topic ("serve",
// "token create"…).
func helpForms(topic string) [][]string {
	words := strings.Fields(topic)
	forms := [][]string{
		append([]string{"help"}, words...),
		append(slices.Clone(words), "--help"),
		append(slices.Clone(words), "-h"),
		append(slices.Clone(words), "-help"),
	}
	if len(words) == 2 {
		// Help among the subcommand's arguments, as users type it.
		forms = append(forms, []string{words[0], words[1], "--role", "admin", "--help"}, []string{words[0], "help", words[1]})
	}
	if hasSubcommands(topic) {
		forms = append(forms, []string{words[0], "help"})
	}
	return forms
}

// TestHelpNeverActs asks for help in every form, on every command and
// subcommand, against a data folder holding a database and a key ring, with
// the current folder empty: each prints that usage on stdout, returns nil
// (exit 0), and creates or changes nothing. Before this, `backup --help`
// wrote a backup named --help, `erase --help` tried to erase card "--help",
// `token revoke --help` revoked ID "--help", and `unlock --help` asked for
// a passphrase.
func TestHelpNeverActs(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	data := filepath.Join(t.TempDir(), "data")
	if r := cliRun(t, nil, "--data", data, "token", "create", "--role", "admin"); r.err != nil {
		t.Fatalf("setting up the data folder: %v", r.err)
	}
	if r := cliRun(t, nil, "--data", data, "audit", "key"); r.err != nil { // makes the key ring and audit key
		t.Fatalf("setting up the key ring: %v", r.err)
	}
	fresh := filepath.Join(t.TempDir(), "never-made")
	env := map[string]string{
		"HAVEN_ADDR":  "127.0.0.1:1", // nothing listens: a seal or unlock that acted would fail
		"HAVEN_TOKEN": "hvn_not_a_token",
	}
	before, beforeCwd := treeSnapshot(t, data), treeSnapshot(t, cwd)

	type tc struct {
		name  string
		args  []string
		usage string // what stdout must start with
	}
	var tests []tc
	for _, form := range [][]string{{}, {"help"}, {"--help"}, {"-h"}, {"-help"}, {"help", "help"}} {
		tests = append(tests, tc{"list/" + strings.Join(form, " "), form, "Haven: "})
	}
	for name := range commands() {
		if _, ok := findTopic(name); !ok {
			t.Errorf("command %q has no help topic in help.go", name)
		}
	}
	for _, topic := range helpTopics {
		words := strings.Fields(topic.name)
		if _, ok := commands()[words[0]]; !ok {
			t.Errorf("help topic %q names no command", topic.name)
		}
		first, _, _ := strings.Cut(topic.usage, "\n")
		for _, form := range helpForms(topic.name) {
			tests = append(tests, tc{topic.name + "/" + strings.Join(form, " "), form, first})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, dataFlag := range [][]string{{"--data", data}, {"--data", fresh}} {
				// The data folder given before the command, and after it.
				for _, args := range [][]string{append(slices.Clone(dataFlag), tt.args...), append(slices.Clone(tt.args), dataFlag...)} {
					r := cliRun(t, env, args...)
					if r.err != nil {
						t.Fatalf("haven %s: error %v (exit %d), want nil", strings.Join(args, " "), r.err, exitCode(r.err))
					}
					if !strings.HasPrefix(r.stdout, tt.usage) {
						t.Fatalf("haven %s printed on stdout:\n%s\nwant it to start with %q", strings.Join(args, " "), r.stdout, tt.usage)
					}
					if r.stderr != "" {
						t.Errorf("haven %s wrote to stderr: %s", strings.Join(args, " "), r.stderr)
					}
				}
			}
			if d := diffSnapshots(before, treeSnapshot(t, data)); len(d) > 0 {
				t.Fatalf("the data folder changed: %v", d)
			}
			if d := diffSnapshots(beforeCwd, treeSnapshot(t, cwd)); len(d) > 0 {
				t.Fatalf("the current folder changed: %v", d)
			}
			if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("help made the data folder %s (%v)", fresh, err)
			}
		})
	}
}

// TestHelpMentionsEveryFlag keeps help.go in step with the commands: each
// subcommand's own flag set is asked for its flags (the flag package prints
// them on -h before the command does anything), and its usage text must
// name every one.
func TestHelpMentionsEveryFlag(t *testing.T) {
	flagLine := regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
	for _, topic := range []string{
		"serve", "token create", "policy check", "policy test", "policy diff", "policy simulate",
		"keys init", "keys trust-list", "cert issue", "cert verify", "cert present", "audit verify",
		"stats", "seal", "shred", "vault init-master", "bench", "import", "iis status",
	} {
		t.Run(topic, func(t *testing.T) {
			words := strings.Fields(topic)
			var stderr bytes.Buffer
			env := &commandEnv{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr,
				DataDir: filepath.Join(t.TempDir(), "data"), Addr: "127.0.0.1:1", Now: time.Now}
			err := commands()[words[0]](context.Background(), env, append(words[1:], "-h"))
			if !errors.Is(err, flag.ErrHelp) && err != nil {
				t.Fatalf("%s -h: %v", topic, err)
			}
			flags := flagLine.FindAllStringSubmatch(stderr.String(), -1)
			if len(flags) == 0 {
				t.Fatalf("%s -h listed no flags:\n%s", topic, stderr.String())
			}
			t2, _ := findTopic(topic)
			for _, f := range flags {
				if !regexp.MustCompile(`--` + regexp.QuoteMeta(f[1]) + `([^a-z0-9-]|$)`).MatchString(t2.usage) {
					t.Errorf("haven help %s does not mention --%s", topic, f[1])
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"version"}, {"--data", "x", "--version"}} {
		r := cliRun(t, nil, args...)
		if r.err != nil || !strings.HasPrefix(r.stdout, "haven ") || !strings.Contains(r.stdout, runtime.Version()) {
			t.Errorf("haven %s = %q, %v", strings.Join(args, " "), r.stdout, r.err)
		}
	}
	tests := []struct {
		name     string
		settings []debug.BuildSetting
		version  string
		want     []string
	}{
		{"ok/vcs", []debug.BuildSetting{{Key: "vcs.revision", Value: "448df91c0d3e"}, {Key: "vcs.time", Value: "2025-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "false"}},
			"(devel)", []string{"haven (devel) revision 448df91c0d3e 2025-11-30T10:00:00Z go"}},
		{"ok/modified", []debug.BuildSetting{{Key: "vcs.revision", Value: "448df91c0d3e"}, {Key: "vcs.modified", Value: "true"}},
			"v1.2.0", []string{"haven v1.2.0 revision 448df91c0d3e (modified)"}},
		{"ok/no-vcs", nil, "(devel)", []string{"revision unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := versionLine(&debug.BuildInfo{Main: debug.Module{Version: tt.version}, Settings: tt.settings})
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("versionLine = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

func TestPullGlobalFlags(t *testing.T) {
	tests := []struct {
		name             string
		args             []string
		rest             []string
		data, db, addr   string
		wantUsageFailure bool
	}{
		{"ok/none", []string{"create", "--role", "admin"}, []string{"create", "--role", "admin"}, "D0", "", "A0", false},
		{"ok/separate", []string{"--addr", "X:1", "--log-level", "warn"}, []string{"--log-level", "warn"}, "D0", "", "X:1", false},
		{"ok/equals", []string{"create", "--data=D1", "--role", "admin", "-db=sqlite:x.db"}, []string{"create", "--role", "admin"}, "D1", "sqlite:x.db", "A0", false},
		{"ok/single-dash", []string{"-data", "D2", "CARD"}, []string{"CARD"}, "D2", "", "A0", false},
		{"ok/after-positional", []string{"7KQM", "--data", "D3"}, []string{"7KQM"}, "D3", "", "A0", false},
		{"ok/stops-at-dashdash", []string{"--", "--data", "D4"}, []string{"--", "--data", "D4"}, "D0", "", "A0", false},
		{"ok/other-flags-kept", []string{"--database", "x", "--address=y"}, []string{"--database", "x", "--address=y"}, "D0", "", "A0", false},
		{"fail/no-value", []string{"--addr"}, nil, "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &commandEnv{}
			fs := globalFlags(env, func(k string) string { return map[string]string{"HAVEN_DATA": "D0", "HAVEN_ADDR": "A0"}[k] })
			rest, err := pullGlobalFlags(fs, tt.args)
			if tt.wantUsageFailure {
				if exitCode(err) != 2 {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rest, tt.rest) || env.DataDir != tt.data || env.DB != tt.db || env.Addr != tt.addr {
				t.Errorf("rest %q data %q db %q addr %q; want %q %q %q %q", rest, env.DataDir, env.DB, env.Addr, tt.rest, tt.data, tt.db, tt.addr)
			}
		})
	}
}

// TestGlobalFlagsAfterCommand: --data, --db and --addr reach the command
// wherever they are written, and the last one written wins.
func TestGlobalFlagsAfterCommand(t *testing.T) {
	t.Run("ok/data-after-subcommand", func(t *testing.T) {
		dir := t.TempDir()
		for i, args := range [][]string{
			{"token", "create", "--data", filepath.Join(dir, "a"), "--role", "admin"},
			{"token", "create", "--role", "admin", "--data=" + filepath.Join(dir, "b")},
			{"--data", filepath.Join(dir, "wrong"), "token", "create", "--role", "admin", "--data", filepath.Join(dir, "c")},
		} {
			r := cliRun(t, nil, args...)
			if r.err != nil || !strings.HasPrefix(r.stdout, "hvn_") {
				t.Fatalf("haven %s = %q, %v", strings.Join(args, " "), r.stdout, r.err)
			}
			if _, err := os.Stat(filepath.Join(dir, string(rune('a'+i)), "haven.db")); err != nil {
				t.Errorf("haven %s: %v", strings.Join(args, " "), err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "wrong")); err == nil {
			t.Error("the --data given before the command won over the one after it")
		}
	})
	t.Run("ok/db-after-subcommand", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "elsewhere.db")
		if r := cliRun(t, nil, "migrate", "--data", t.TempDir(), "--db", "sqlite:"+db); r.err != nil {
			t.Fatal(r.err)
		}
		if _, err := os.Stat(db); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ok/addr-after-subcommand", func(t *testing.T) {
		var got string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r.URL.Path
			io.WriteString(w, `{"sealed":true}`)
		}))
		defer srv.Close()
		addr := strings.TrimPrefix(srv.URL, "http://")
		env := map[string]string{"HAVEN_TOKEN": "hvn_x", "HAVEN_ADDR": "127.0.0.1:1"}
		if r := cliRun(t, env, "seal", "--addr", addr); r.err != nil || got != "/api/v1/seal" {
			t.Fatalf("seal --addr %s: %v, request to %q", addr, r.err, got)
		}
	})
}

// TestExitCodes: 0 for success and help, 1 for failure, 2 for wrong usage,
// in-process through exitCode, and from the binary through main.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"ok/help", []string{"help"}, 0},
		{"ok/no-arguments", nil, 0},
		{"ok/command-help", []string{"erase", "--help"}, 0},
		{"ok/policy-check", []string{"policy", "check", "--pack", "2021-09", "--jurisdiction", "KR", "--facts", `{}`, "--as-of", "2021-09-17"}, 0},
		{"usage/unknown-command", []string{"serv"}, 2},
		{"usage/unknown-help-topic", []string{"help", "serv"}, 2},
		{"usage/unknown-global-flag", []string{"--dat", dir, "migrate"}, 2},
		{"usage/unknown-flag", []string{"token", "create", "--rol", "admin"}, 2},
		{"usage/bad-flag-value", []string{"stats", "--k", "many"}, 2},
		{"usage/refused-flag-value", []string{"stats", "--from", "2021-02-30"}, 2},
		{"usage/missing-role", []string{"token", "create"}, 2},
		{"usage/global-flag-without-value", []string{"serve", "--addr"}, 2},
		{"usage/missing-argument-erase", []string{"erase"}, 2},
		{"usage/missing-argument-backup", []string{"backup"}, 2},
		{"usage/missing-argument-revoke", []string{"token", "revoke"}, 2},
		{"usage/missing-subcommand", []string{"token"}, 2},
		{"usage/unknown-subcommand", []string{"policy", "chek"}, 2},
		{"usage/missing-required-flag", []string{"policy", "check", "--facts", "{}"}, 2},
		{"usage/missing-file", []string{"forecast"}, 2},
		{"usage/extra-argument", []string{"migrate", "now"}, 2},
		{"usage/version-argument", []string{"version", "now"}, 2},
		{"fail/bad-card-code", []string{"erase", "7KQM-X4TD-9HCA"}, 1},
		{"fail/unknown-pack", []string{"policy", "check", "--pack", "1999-01", "--jurisdiction", "KR", "--facts", `{}`}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data", dir}, tt.args...)
			if r := cliRun(t, nil, args...); exitCode(r.err) != tt.code {
				t.Errorf("haven %s: exit %d (%v), want %d", strings.Join(args, " "), exitCode(r.err), r.err, tt.code)
			}
		})
	}
	t.Run("binary", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the binary; skipped with -short")
		}
		bin := havenBinary(t)
		for _, tt := range []struct {
			args       []string
			code       int
			stdout     string
			stderrLine bool
		}{
			{[]string{"--help"}, 0, "Haven: ", false},
			{[]string{"backup", "--help"}, 0, "usage: haven backup", false},
			{[]string{"frobnicate"}, 2, "", true},
			{[]string{"erase", "7KQM-X4TD-9HCA"}, 1, "", true},
		} {
			cmd := exec.Command(bin, append([]string{"--data", dir}, tt.args...)...)
			cmd.Dir = t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.HasPrefix(stdout.String(), tt.stdout) {
				t.Errorf("haven %s: exit %d, stdout %q; want %d, %q", strings.Join(tt.args, " "), code, stdout.String(), tt.code, tt.stdout)
			}
			if lines := strings.Count(stderr.String(), "\n"); tt.stderrLine && (lines != 1 || !strings.HasPrefix(stderr.String(), "haven: ")) {
				t.Errorf("haven %s: stderr %q, want one line starting haven:", strings.Join(tt.args, " "), stderr.String())
			}
		}
	})
}

// TestPolicyBundledPacks: --pack, --from and --to name a bundled pack from
// any folder, as well as a pack folder; simulate reports the share left out
// of each residence status group.
func TestPolicyBundledPacks(t *testing.T) {
	population, err := filepath.Abs(filepath.Join("..", "..", "internal", "policy", "testdata", "population.csv"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // outside the source tree
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"ok/check", []string{"policy", "check", "--pack", "2021-09", "--jurisdiction", "CN-JL", "--as-of", "2021-09-17",
			"--facts", `{"residence_status":"registered_irregular","years_resident":22,"has_child_with_citizen":true}`},
			[]string{"outcome:       not_eligible", "policy:        2021-09"}},
		{"ok/test", []string{"policy", "test", "--pack", "inclusive"}, []string{"pack inclusive", "0 failed"}},
		{"ok/diff", []string{"policy", "diff", "--from", "2021-09", "--to", "inclusive-paid", "--as-of", "2021-09-17"}, []string{"from 2021-09", "to   inclusive-paid"}},
		{"ok/simulate", []string{"policy", "simulate", "--pack", "2021-09", "--population", population, "--as-of", "2021-09-17", "--svg", ""},
			[]string{"share left out of each residence status group", "registered_irregular"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cliRun(t, nil, tt.args...)
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
	t.Run("ok/simulate-share-of-each-group", func(t *testing.T) {
		r := cliRun(t, nil, "policy", "simulate", "--pack", "2021-09", "--population", population, "--as-of", "2021-09-17", "--svg", "", "--json")
		if r.err != nil {
			t.Fatal(r.err)
		}
		var sim struct {
			Jurisdictions []struct {
				Jurisdiction string  `json:"jurisdiction"`
				Share        float64 `json:"share_left_out"`
			} `json:"jurisdictions"`
			ByStatus []statusShare `json:"left_out_by_status"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &sim); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		var whole float64
		for _, j := range sim.Jurisdictions {
			if j.Jurisdiction == "CN-JL" {
				whole = j.Share
			}
		}
		var group *statusShare
		for i, s := range sim.ByStatus {
			if s.Jurisdiction == "CN-JL" && s.Status == "registered_irregular" {
				group = &sim.ByStatus[i]
			}
		}
		// 6,000 registered-irregular women of 1,009,200 people: under 1 %
		// of Jilin, but all of their group.
		if group == nil || group.Population != 6000 || group.LeftOut != 6000 || group.Share != 1 || whole > 0.01 {
			t.Fatalf("CN-JL registered_irregular = %+v, whole share %v", group, whole)
		}
	})
	t.Run("fail/unknown-name", func(t *testing.T) {
		r := cliRun(t, nil, "policy", "test", "--pack", "2019-01")
		if r.err == nil || !strings.Contains(r.err.Error(), "bundled: 2021-09, inclusive, inclusive-paid") {
			t.Fatalf("err = %v", r.err)
		}
	})
	t.Run("ok/folder-wins", func(t *testing.T) {
		// A folder of that name is a folder: a pack author's copy.
		if err := os.Mkdir("inclusive", 0o755); err != nil {
			t.Fatal(err)
		}
		r := cliRun(t, nil, "policy", "test", "--pack", "inclusive")
		if r.err == nil || !strings.Contains(r.err.Error(), "pack.yaml") {
			t.Fatalf("err = %v", r.err)
		}
	})
}

// TestForecastAsTheAPIDoes: haven forecast takes an estimated birth year, a
// partial birth date and an empty history, as the API does, and says how it
// read the birth date.
func TestForecastAsTheAPIDoes(t *testing.T) {
	tests := []struct {
		name          string
		input         string
		used, reading string
		estimated     bool
		evaluations   int
		textWant      string
		errWant       string
	}{
		{name: "ok/estimated-year-no-history", input: `{"birth_date":"1985","birth_date_estimated":true,"doses":[]}`,
			used: "1985-01-01", reading: "earliest", estimated: true, textWant: "birth date 1985 (estimated) read as 1985-01-01"},
		{name: "ok/no-doses-field", input: `{"birth_date":"1985-04"}`, used: "1985-04-01", reading: "earliest", textWant: "birth date 1985-04 read as 1985-04-01"},
		{name: "ok/year-with-dose", input: `{"birth_date":"1960","doses":[{"date":"2021-09-17","cvx":"511"}]}`,
			used: "1960-01-01", reading: "earliest", evaluations: 1, textWant: "read as 1960-01-01"},
		{name: "ok/exact", input: `{"birth_date":"1960-11-10","doses":[]}`, used: "1960-11-10", reading: "exact", textWant: "assessed 2021-09-17\n"},
		{name: "fail/impossible-birth-date", input: `{"birth_date":"1985-02-30","doses":[]}`, errWant: "birth_date"},
		{name: "fail/no-birth-date", input: `{"doses":[]}`, errWant: "birth_date"},
		{name: "fail/unknown-field", input: `{"birth_date":"1985","name":"x"}`, errWant: "unknown field"},
		{name: "fail/bad-observation-date", input: `{"birth_date":"1985","observations":[{"code":"055","date":"2021-13-01"}]}`, errWant: "observations[0].date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, out := forecastEnv(tt.input)
			err := forecastCommand(context.Background(), env, []string{"--schedule", "who", "--as-of", "2021-09-17", "--json", "-"})
			if tt.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errWant) {
					t.Fatalf("err = %v, want one naming %s", err, tt.errWant)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Used        string            `json:"birth_date_used"`
				Reading     string            `json:"birth_date_reading"`
				Estimated   bool              `json:"birth_date_estimated"`
				Evaluations []json.RawMessage `json:"evaluations"`
				Forecasts   []struct {
					VaccineGroup string `json:"vaccine_group"`
				} `json:"forecasts"`
			}
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if res.Used != tt.used || res.Reading != tt.reading || res.Estimated != tt.estimated || len(res.Evaluations) != tt.evaluations || len(res.Forecasts) == 0 {
				t.Fatalf("forecast = %s", out)
			}
			env, out = forecastEnv(tt.input)
			if err := forecastCommand(context.Background(), env, []string{"--schedule", "who", "--as-of", "2021-09-17", "-"}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.textWant) {
				t.Errorf("text output lacks %q:\n%s", tt.textWant, out)
			}
		})
	}
}
