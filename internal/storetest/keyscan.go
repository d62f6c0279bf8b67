package storetest

import (
	"bytes"
	"os"
	"testing"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// KeyScan is what ScanForKeys found in some bytes.
type KeyScan struct {
	Bytes   int                  // bytes scanned
	Windows int                  // candidate windows tried
	Keys    int                  // windows that unwrapped under a key the vault holds
	Opened  map[registry.ID]bool // persons whose sealed fields one of those keys opened
}

// ScanForKeys treats data (a database file, a WAL segment, a backup) as an
// attacker with the vault's keys would: every byte window that could be a
// wrapped data key is tried with every key the vault holds, the epoch keys
// (each window relabelled with each held epoch, so a key is tried on any
// window, not only on the ones that name it) and the current KEK (for keys
// from before epochs). Each key that unwraps is then tried on the sealed
// fields of each of persons (their ID and Sealed bytes, as kept before any
// erasure). It reports which persons opened.
func ScanForKeys(v *vault.Vault, data []byte, persons []registry.SealedPerson) KeyScan {
	res := KeyScan{Bytes: len(data), Opened: map[registry.ID]bool{}}
	var held [][]byte
	for _, e := range v.Epochs() {
		held = append(held, e.ID.Prefix())
	}
	kek := v.KeyVersion()
	zero := make([]byte, vault.EpochPrefixSize-1)
	seen := map[string]bool{}
	try := func(w []byte) {
		if seen[string(w)] {
			return
		}
		res.Windows++
		k, err := v.Unwrap(w)
		if err != nil {
			return
		}
		k.Destroy()
		seen[string(w)] = true
		res.Keys++
		for _, p := range persons {
			if res.Opened[p.ID] {
				continue
			}
			if _, err := registry.OpenPerson(v, registry.SealedPerson{ID: p.ID, CardCode: p.CardCode, WrappedKey: w, Sealed: p.Sealed}); err == nil {
				res.Opened[p.ID] = true
			}
		}
	}
	w := make([]byte, vault.WrappedKeySize)
	for i := 0; i+vault.LegacyWrappedKeySize <= len(data); i++ {
		switch {
		case data[i] == 0 && i+vault.WrappedKeySize <= len(data) && !bytes.Equal(data[i+1:i+vault.EpochPrefixSize], zero):
			for _, p := range held {
				copy(w, p)
				copy(w[vault.EpochPrefixSize:], data[i+vault.EpochPrefixSize:i+vault.WrappedKeySize])
				try(bytes.Clone(w))
			}
		case data[i] == kek:
			try(bytes.Clone(data[i : i+vault.LegacyWrappedKeySize]))
		}
	}
	return res
}

// ReadRange reads bytes [from, to) of a file (to < 0: to its end). In CI a
// file that cannot be read fails the test; elsewhere it skips it, since
// only a test running beside the database (as root) can read its files.
func ReadRange(tb testing.TB, path string, from, to int64) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("read %s: %v (in CI the tests run as root beside PostgreSQL)", path, err)
		}
		tb.Skipf("cannot read %s (%v): run as a user who may read the database files", path, err)
	}
	if to < 0 || to > int64(len(data)) {
		to = int64(len(data))
	}
	if from > to {
		from = to
	}
	return data[from:to]
}
