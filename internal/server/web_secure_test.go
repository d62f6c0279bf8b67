package server_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/server"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/vault"
)

// Behind a TLS-terminating proxy the request arrives without TLS; with
// SecureCookies the cookies are still Secure, and without it they are not.
func TestSecureCookiesBehindProxy(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, secure := range []bool{false, true} {
		srv := server.New(server.Deps{Service: clinic.New(clinic.Deps{Store: db, Vault: v, Catalog: catalog.Default()}), SecureCookies: secure})
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "http://haven.internal/signin", nil))
		ck := rec.Header().Get("Set-Cookie")
		if ck == "" {
			t.Fatalf("GET /signin set no cookie (status %d)", rec.Code)
		}
		if got := strings.Contains(ck, "; Secure"); got != secure {
			t.Errorf("SecureCookies=%v: cookie %q", secure, ck)
		}
	}
}
