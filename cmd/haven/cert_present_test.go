package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert/sdjwt"
)

func TestCertPresent(t *testing.T) {
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	issuer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := sdjwt.Issue(issuer, "k1", sdjwt.Claims{
		Vaccinated: true, Doses: 2, LastDose: "2026-05-02", Product: "Comirnaty",
		ValidUntil: "2027-05-02", CardCode: "HV7K-Q4MX-2P", Name: "Ana Lima", BirthYear: 1990,
	}, sdjwt.IssueOptions{Now: now, Count: 2, HolderKeys: []crypto.PublicKey{holder.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	credFile := filepath.Join(dir, "creds.txt")
	if err := os.WriteFile(credFile, []byte(strings.Join(creds, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(holder)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "holder.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(holder)
	if err != nil {
		t.Fatal(err)
	}
	ecKeyFile := filepath.Join(dir, "holder-ec.pem")
	if err := os.WriteFile(ecKeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := map[string]crypto.PublicKey{"k1": issuer.Public()}

	tests := []struct {
		name      string
		args      []string
		stdin     string
		disclosed []string // nil: the output is not a presentation
		kb        bool
		wantOut   string // substring of stdout, when disclosed is nil
		wantErr   string
	}{
		{name: "ok/default-reveal", args: []string{credFile}, disclosed: []string{"covid19_vaccinated", "valid_until"}},
		{name: "ok/reveal-after-file", args: []string{credFile, "--reveal", "doses,last_dose"}, disclosed: []string{"doses", "last_dose"}},
		{name: "ok/reveal-nothing", args: []string{"--reveal", "", credFile}, disclosed: []string{}},
		{name: "ok/stdin", args: []string{"--reveal", "name", "-"}, stdin: creds[1], disclosed: []string{"name"}},
		{name: "ok/stdin-no-arg", args: []string{"--reveal", "birth_year"}, stdin: creds[0] + "\n", disclosed: []string{"birth_year"}},
		{name: "ok/second-of-batch", args: []string{"--index", "1", "--reveal", "doses", credFile}, disclosed: []string{"doses"}},
		{name: "ok/key-binding", args: []string{"--reveal", "doses", "--holder-key", keyFile, "--aud", "https://clinic.example", "--nonce", "n-42", credFile}, disclosed: []string{"doses"}, kb: true},
		{name: "ok/key-binding-ec-pem", args: []string{"--holder-key", ecKeyFile, "--aud", "https://clinic.example", "--nonce", "n-42", credFile}, disclosed: []string{"covid19_vaccinated", "valid_until"}, kb: true},
		{name: "ok/list", args: []string{"--list", credFile}, wantOut: "birth_year\ncard_code\ncovid19_vaccinated\ndoses\nlast_dose\nname\nproduct_type\nvalid_until\n"},
		{name: "fail/unknown-claim", args: []string{"--reveal", "passport", credFile}, wantErr: `no disclosable claim "passport"`},
		{name: "fail/index-out-of-range", args: []string{"--index", "2", credFile}, wantErr: "out of range"},
		{name: "fail/missing-file", args: []string{filepath.Join(dir, "nope.txt")}, wantErr: "no such file"},
		{name: "fail/empty-stdin", args: []string{"-"}, stdin: "\n\n", wantErr: "holds no credential"},
		{name: "fail/not-sd-jwt", args: []string{"-"}, stdin: "HC1:6BFOXN%TS3DH0YOJ58S", wantErr: "Not an SD-JWT"},
		{name: "fail/key-without-nonce", args: []string{"--holder-key", keyFile, "--aud", "a", credFile}, wantErr: "--nonce"},
		{name: "fail/nonce-without-key", args: []string{"--nonce", "n", "--aud", "a", credFile}, wantErr: "need --holder-key"},
		{name: "fail/bad-key-file", args: []string{"--holder-key", credFile, "--aud", "a", "--nonce", "n", credFile}, wantErr: "not a PEM file"},
		{name: "fail/two-files", args: []string{credFile, credFile}, wantErr: "one credential file"},
		{name: "fail/unknown-flag", args: []string{"--show-all", credFile}, wantErr: "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := &commandEnv{
				Getenv: func(string) string { return "" },
				Stdin:  strings.NewReader(tc.stdin),
				Stdout: &stdout, Stderr: &stderr,
				Now: func() time.Time { return now },
			}
			err := certPresentCommand(context.Background(), env, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v (stderr %s)", err, stderr.String())
			}
			if tc.disclosed == nil {
				if got := stdout.String(); got != tc.wantOut {
					t.Fatalf("stdout = %q, want %q", got, tc.wantOut)
				}
				return
			}
			opts := sdjwt.VerifyOptions{Now: now.Add(time.Minute)}
			if tc.kb {
				opts.RequireKeyBinding, opts.Audience, opts.Nonce = true, "https://clinic.example", "n-42"
			}
			res, err := sdjwt.Verify(stdout.String(), keys, opts)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			var got []string
			for k := range res.Disclosed {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.disclosed) && len(got)+len(tc.disclosed) > 0 {
				t.Errorf("disclosed %v, want %v", got, tc.disclosed)
			}
			if tc.kb != (res.HolderBinding == sdjwt.BindingKey) {
				t.Errorf("holder binding = %q, want key binding %v", res.HolderBinding, tc.kb)
			}
		})
	}
}

// TestCertPresentEndToEnd issues a batch with "haven cert issue --format
// sd-jwt", presents one credential with "haven cert present" and checks with
// "haven cert verify --json" that exactly the chosen claims are disclosed.
func TestCertPresentEndToEnd(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	now := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	newEnv := func(stdin string) (*commandEnv, *bytes.Buffer) {
		var out bytes.Buffer
		return &commandEnv{
			Getenv: func(string) string { return "" }, Stdin: strings.NewReader(stdin),
			Stdout: &out, Stderr: &bytes.Buffer{}, DataDir: data, Now: func() time.Time { return now },
		}, &out
	}
	env, _ := newEnv("")
	if err := keysCommand(ctx, env, []string{"init", "--country", "KR"}); err != nil {
		t.Fatal(err)
	}
	req := `{"person":{"card_code":"7KQM-X4TD-9HCA","birth_date":"1975"},
	         "vaccination":{"product":"EU/1/20/1507","dose":2,"series":2,"date":"2026-03-30","country":"KR"}}`
	env, out := newEnv(req)
	if err := certCommand(ctx, env, []string{"issue", "--format", "sd-jwt", "--count", "2"}); err != nil {
		t.Fatal(err)
	}
	batch := out.String()
	if n := len(strings.Fields(batch)); n != 2 {
		t.Fatalf("issue printed %d credentials, want 2", n)
	}

	env, out = newEnv(batch)
	if err := certPresentCommand(ctx, env, []string{"--index", "1", "--reveal", "covid19_vaccinated,doses", "-"}); err != nil {
		t.Fatal(err)
	}
	presentation := strings.TrimSpace(out.String())
	for _, secret := range []string{"7KQM-X4TD-9HCA", "1975", "2026-03-30"} {
		if strings.Contains(decodedSegments(presentation), secret) {
			t.Errorf("presentation reveals %q", secret)
		}
	}

	env, out = newEnv("")
	if err := certCommand(ctx, env, []string{"verify", "--json", presentation}); err != nil {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	var res struct {
		Valid     bool           `json:"valid"`
		Format    string         `json:"format"`
		Disclosed map[string]any `json:"disclosed"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	want := map[string]any{"covid19_vaccinated": true, "doses": float64(2)}
	if !res.Valid || res.Format != "sd-jwt" || len(res.Disclosed) != len(want) {
		t.Fatalf("verify result %s", out.String())
	}
	for k, v := range want {
		if res.Disclosed[k] != v {
			t.Errorf("disclosed %s = %v, want %v", k, res.Disclosed[k], v)
		}
	}
}

// decodedSegments returns the base64url-decoded text of every segment of a
// presentation.
func decodedSegments(p string) string {
	var sb strings.Builder
	for _, part := range strings.Split(p, "~") {
		for _, seg := range strings.Split(part, ".") {
			if b, err := base64.RawURLEncoding.DecodeString(seg); err == nil {
				sb.Write(b)
				sb.WriteByte('\n')
			}
		}
	}
	return sb.String()
}
