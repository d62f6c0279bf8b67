package mllp_test

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/mllp"
)

// TestClientTLSPins checks the accepted spellings of a pin, each against a
// live server.
func TestClientTLSPins(t *testing.T) {
	p := newPKI(t)
	srvTLS, err := mllp.ServerTLS(p.serverCert, p.serverKey, "")
	if err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, &mllp.Server{Handler: echo, TLSConfig: srvTLS})

	h := hex.EncodeToString(p.serverSPKI)
	var colons []string
	for i := 0; i < len(h); i += 2 {
		colons = append(colons, strings.ToUpper(h[i:i+2]))
	}
	b64 := base64.StdEncoding.EncodeToString(p.serverSPKI)
	wrong := strings.Repeat("0", 64)
	tests := []struct {
		name    string
		pin     string
		connect bool // whether the pin matches
		err     string
	}{
		{"ok/hex", h, true, ""},
		{"ok/hex-upper-with-colons", strings.Join(colons, ":"), true, ""},
		{"ok/base64", b64, true, ""},
		{"ok/base64-curl", "sha256//" + b64, true, ""},
		{"ok/base64-unpadded", strings.TrimRight(b64, "="), true, ""},
		{"ok/list", wrong + ", " + b64, true, ""},
		{"fail/mismatch", wrong, false, ""},
		{"fail/short-hex", h[:62], false, "not a SHA-256 hash"},
		{"fail/not-hex", strings.Repeat("zz", 32), false, "not a SHA-256 hash"},
		{"fail/sha1-size", base64.StdEncoding.EncodeToString(p.serverSPKI[:20]), false, "not a SHA-256 hash"},
		{"fail/empty-item", h + ",", false, "not a SHA-256 hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := mllp.ClientTLS("", tt.pin, "", "")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ClientTLS returned %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := &mllp.Client{Addr: addr, TLSConfig: cfg}
			defer c.Close()
			_, err = c.Send(t.Context(), []byte("MSH"))
			if tt.connect != (err == nil) {
				t.Fatalf("Send: %v", err)
			}
			if !tt.connect && !strings.Contains(err.Error(), "matches no pin") {
				t.Errorf("error %q does not name the pin", err)
			}
		})
	}
}

func TestTLSConfigErrors(t *testing.T) {
	p := newPKI(t)
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("no PEM here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name string
		fn   func() error
		want string
	}{
		{"fail/server-missing-cert", func() error { _, err := mllp.ServerTLS(missing, p.serverKey, ""); return err }, "server certificate"},
		{"fail/server-key-mismatch", func() error { _, err := mllp.ServerTLS(p.serverCert, p.clientKey, ""); return err }, "server certificate"},
		{"fail/server-client-ca-empty", func() error { _, err := mllp.ServerTLS(p.serverCert, p.serverKey, empty); return err }, "no PEM certificate"},
		{"fail/server-client-ca-missing", func() error { _, err := mllp.ServerTLS(p.serverCert, p.serverKey, missing); return err }, "client CA"},
		{"fail/client-ca-empty", func() error { _, err := mllp.ClientTLS(empty, "", "", ""); return err }, "no PEM certificate"},
		{"fail/client-cert-without-key", func() error { _, err := mllp.ClientTLS(p.caFile, "", p.clientCert, ""); return err }, "need both"},
		{"fail/client-cert-missing", func() error { _, err := mllp.ClientTLS(p.caFile, "", missing, p.clientKey); return err }, "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("ok/min-version", func(t *testing.T) {
		s, err := mllp.ServerTLS(p.serverCert, p.serverKey, p.caFile)
		if err != nil {
			t.Fatal(err)
		}
		c, err := mllp.ClientTLS(p.caFile, "", p.clientCert, p.clientKey)
		if err != nil {
			t.Fatal(err)
		}
		if s.MinVersion != 0x0303 || c.MinVersion != 0x0303 {
			t.Fatalf("MinVersion %#x, %#x, want TLS 1.2", s.MinVersion, c.MinVersion)
		}
	})
}
