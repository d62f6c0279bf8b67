package vault

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseRing feeds arbitrary bytes to the key-ring parser, which reads a
// file an attacker with disk access could have replaced: it must never panic
// and never accept a ring that load would then trip over.
func FuzzParseRing(f *testing.F) {
	dir := f.TempDir()
	for i, mk := range []func(string) error{
		func(p string) error { _, err := Create(p, Options{}); return err },
		func(p string) error {
			_, err := CreateWithPassphrase(p, []byte("pass"), Options{KDF: KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}})
			return err
		},
	} {
		p := filepath.Join(dir, string(rune('a'+i)))
		if err := mk(p); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"format":"haven-kek/1","current":0,"keks":[{"version":0}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseRing(data)
		if err != nil {
			return
		}
		if len(r.PseudonymKey) != wrappedSize || r.Current == 0 {
			t.Fatalf("accepted a ring with current=%d and a %d-byte pseudonym key", r.Current, len(r.PseudonymKey))
		}
		for _, e := range r.KEKs {
			if e.Argon2id != nil && e.Argon2id.MemoryKiB > 4<<20 {
				t.Fatalf("accepted argon2id memory %d KiB", e.Argon2id.MemoryKiB)
			}
		}
	})
}
