package vault

import (
	"errors"
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

// A data key wrapped directly under a KEK, as before epochs, still opens;
// Rewrap moves it under an epoch, and once its KEK is retired the old copy
// reads as destroyed.
func TestLegacyWrappedKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	v, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var key [KeySize]byte
	key[0] = 7
	v.mu.RLock()
	legacy, err := v.wrapLocked(key[:], adWrap)
	v.mu.RUnlock()
	if err != nil || len(legacy) != LegacyWrappedKeySize {
		t.Fatalf("legacy wrap: %d bytes, %v", len(legacy), err)
	}
	ct, err := v.Encrypt(legacy, []byte("aad"), []byte("Mirela"))
	if err != nil {
		t.Fatal(err)
	}
	if ver, err := WrappedVersion(legacy); err != nil || ver != 1 {
		t.Fatalf("WrappedVersion(legacy) = %d, %v", ver, err)
	}
	if _, err := v.Rotate(); err != nil {
		t.Fatal(err)
	}
	moved, err := v.Rewrap(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := WrappedEpoch(moved); !ok {
		t.Fatal("Rewrap left the key under a KEK")
	}
	if err := v.Retire(); err != nil {
		t.Fatal(err)
	}
	if pt, err := v.Decrypt(moved, []byte("aad"), ct); err != nil || string(pt) != "Mirela" {
		t.Fatalf("after the move: %q, %v", pt, err)
	}
	if _, err := v.Decrypt(legacy, []byte("aad"), ct); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("the legacy copy after its KEK was retired: %v", err)
	}
}
