package server_test

import (
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/haven-registry/haven/internal/server"
	"github.com/haven-registry/haven/internal/sqlite"
)

// TestTrustedProxy: behind a trusted proxy, junk holder attempts lock out
// only their own client and the card they attack; a real holder elsewhere
// still reads their record. From an untrusted peer, X-Forwarded-For is
// ignored, so a client cannot pose as others to spread its attempts.
func TestTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
	}{
		{"ok/trusted-proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		{"ok/no-proxy", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sqlite.Open(filepath.Join(t.TempDir(), "haven.db"))
			if err != nil {
				t.Fatal(err)
			}
			e := newTestEnvOn(t, db, func(d *server.Deps) { d.TrustedProxies = tc.trusted })
			victim, other := e.register(`{}`), e.register(`{}`)
			holder := func(from, card, secret string) int {
				return e.do("POST", "/api/v1/holder/record", "", `{"card_code":"`+card+`","holder_secret":"`+secret+`"}`,
					"X-Forwarded-For", from).status
			}
			limited := 0
			for range 12 {
				if holder("203.0.113.7", victim.CardCode, "WRONGWRONG") == http.StatusTooManyRequests {
					limited++
				}
			}
			if limited == 0 {
				t.Fatal("12 junk attempts were never limited")
			}
			status := holder("198.51.100.9", other.CardCode, other.HolderSecret)
			if tc.trusted != nil && status != http.StatusOK {
				t.Fatalf("a real holder behind the same proxy: %d, want 200", status)
			}
			if tc.trusted == nil && status != http.StatusTooManyRequests {
				t.Fatalf("a forged X-Forwarded-For from an untrusted peer escaped the limit: %d", status)
			}
		})
	}
}
