package cert_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
)

// TestDirStoreWriteSecretReportsEveryError checks that a key that cannot be
// written is an error: with a directory where the key file should be, the
// rename fails, and the caller must hear of it rather than believe the key
// was saved.
func TestDirStoreWriteSecretReportsEveryError(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "dsc.key.pem"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A file inside makes the directory non-empty, so no rename can
	// replace it.
	if err := os.WriteFile(filepath.Join(dir, "dsc.key.pem", "x"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := cert.DirStore(dir).WriteSecret("dsc.key.pem", []byte("secret"))
	if err == nil {
		t.Fatal("WriteSecret over a directory returned nil; the key was not written")
	}
	if registry.ErrorField(err) != "dsc.key.pem" {
		t.Errorf("error names %q, want the key file", registry.ErrorField(err))
	}
	// And a normal write works and reads back.
	if err := cert.DirStore(dir).WriteSecret("ok.pem", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	got, err := cert.DirStore(dir).ReadSecret("ok.pem")
	if err != nil || string(got) != "secret" {
		t.Fatalf("read back %q, %v", got, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ok.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}
