package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert"
)

func certTestEnv(t *testing.T, dataDir string, now time.Time, stdin string) (*commandEnv, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	return &commandEnv{
		Getenv:  func(string) string { return "" },
		Stdin:   strings.NewReader(stdin),
		Stdout:  &out,
		Stderr:  &bytes.Buffer{},
		DataDir: dataDir,
		Now:     func() time.Time { return now },
	}, &out
}

// TestCertCLI runs keys init, keys trust-list, cert issue and cert verify end
// to end, as an operator would.
func TestCertCLI(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	now := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)

	env, out := certTestEnv(t, data, now, "")
	if err := keysCommand(ctx, env, []string{"init", "--country", "KR", "--org", "Haven Yanbian"}); err != nil {
		t.Fatal(err)
	}
	if err := keysCommand(ctx, env, []string{"init", "--country", "KR"}); err == nil {
		t.Error("a second keys init without --force should fail")
	}
	env, out = certTestEnv(t, data, now, "")
	if err := keysCommand(ctx, env, []string{"trust-list"}); err != nil {
		t.Fatal(err)
	}
	trustFile := filepath.Join(t.TempDir(), "trust.json")
	if err := os.WriteFile(trustFile, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if tl, err := cert.ParseTrustList(out.Bytes()); err != nil || tl.Len() != 1 {
		t.Fatalf("trust list %s: %v", out.Bytes(), err)
	}

	req := `{"person":{"card_code":"7KQM-X4TD-9HCA","birth_date":"1975"},
	         "vaccination":{"product":"EU/1/20/1507","dose":1,"series":2,"date":"2026-03-30","country":"KR"}}`
	qrDir := t.TempDir()
	env, out = certTestEnv(t, data, now, req)
	if err := certCommand(ctx, env, []string{"issue", "--qr-png", filepath.Join(qrDir, "qr.png"), "--qr-svg", filepath.Join(qrDir, "qr.svg")}); err != nil {
		t.Fatal(err)
	}
	hc1 := strings.TrimSpace(out.String())
	if !strings.HasPrefix(hc1, "HC1:") {
		t.Fatalf("issue printed %q", hc1)
	}
	f, err := os.Open(filepath.Join(qrDir, "qr.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(f); err != nil {
		t.Errorf("QR PNG: %v", err)
	}
	f.Close()
	svg, err := os.ReadFile(filepath.Join(qrDir, "qr.svg"))
	if err != nil || !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Errorf("QR SVG: %v %.40s", err, svg)
	}

	dscFile := filepath.Join(data, "keys", cert.FileDSCCert)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		valid bool
		fail  string
	}{
		{"ok/local-keys", []string{"verify", "--json", hc1}, "", true, ""},
		{"ok/trust-file", []string{"verify", "--trust", trustFile, "--json", hc1}, "", true, ""},
		{"ok/dsc-file-stdin", []string{"verify", "--dsc", dscFile, "--json", "-"}, hc1 + "\n", true, ""},
		{"ok/skip-time", []string{"verify", "--skip-time", "--json", hc1}, "", true, ""},
		{"fail/expired", []string{"verify", "--at", "2027-06-01T00:00:00Z", "--json", hc1}, "", false, cert.StepTime},
		{"fail/prefix", []string{"verify", "--json", "HC2:" + hc1[4:]}, "", false, cert.StepUnprefix},
		{"fail/tampered", []string{"verify", "--json", hc1[:len(hc1)-3] + "ABC"}, "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, out := certTestEnv(t, data, now.Add(time.Hour), tc.stdin)
			err := certCommand(ctx, env, tc.args)
			if (err == nil) != tc.valid {
				t.Fatalf("err = %v, want valid %v", err, tc.valid)
			}
			var res struct {
				Valid   bool            `json:"valid"`
				Format  string          `json:"format"`
				Steps   map[string]bool `json:"steps"`
				Failed  string          `json:"failed"`
				Payload json.RawMessage `json:"payload"`
			}
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			if res.Valid != tc.valid || res.Format != "hcert" {
				t.Errorf("valid %v format %q", res.Valid, res.Format)
			}
			if tc.fail != "" && res.Failed != tc.fail {
				t.Errorf("failed %q, want %q", res.Failed, tc.fail)
			}
			if tc.valid {
				if len(res.Steps) != len(cert.HCERTSteps) && !(len(res.Steps) == len(cert.HCERTSteps)-1 && !res.Steps[cert.StepTime]) {
					t.Errorf("steps %v", res.Steps)
				}
				if !bytes.Contains(res.Payload, []byte(`"7KQM-X4TD-9HCA"`)) {
					t.Errorf("payload %s", res.Payload)
				}
			}
		})
	}

	// SD-JWT: issue a batch, present one credential, verify it.
	env, out = certTestEnv(t, data, now, req)
	if err := certCommand(ctx, env, []string{"issue", "--format", "sd-jwt", "--count", "3"}); err != nil {
		t.Fatal(err)
	}
	creds := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(creds) != 3 {
		t.Fatalf("got %d credentials", len(creds))
	}
	env, out = certTestEnv(t, data, now, creds[1])
	if err := certCommand(ctx, env, []string{"present", "--reveal", "covid19_vaccinated,doses", "-"}); err != nil {
		t.Fatal(err)
	}
	pres := strings.TrimSpace(out.String())
	env, out = certTestEnv(t, data, now.Add(time.Hour), "")
	if err := certCommand(ctx, env, []string{"verify", "--json", pres}); err != nil {
		t.Fatalf("sd-jwt verify: %v\n%s", err, out.String())
	}
	var sd struct {
		Valid     bool           `json:"valid"`
		Format    string         `json:"format"`
		Disclosed map[string]any `json:"disclosed"`
	}
	if err := json.Unmarshal(out.Bytes(), &sd); err != nil {
		t.Fatal(err)
	}
	if !sd.Valid || sd.Format != "sd-jwt" || len(sd.Disclosed) != 2 || sd.Disclosed["doses"] != float64(1) {
		t.Errorf("sd-jwt result %+v", sd)
	}
}
