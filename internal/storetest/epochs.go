package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// EpochFactory returns a fresh, migrated, empty store for one test that also
// keeps key epochs (vault.EpochStore). The suite closes it.
type EpochFactory func(t *testing.T) EpochStore

// EpochStore is a store with key epochs, as internal/sqlite and
// internal/postgres provide.
type EpochStore interface {
	registry.Store
	vault.EpochStore
}

// RunKeyEpochs runs the key-epoch conformance tests (docs/adr/0004) against
// stores made by newStore.
func RunKeyEpochs(t *testing.T, newStore EpochFactory) {
	tests := []struct {
		name string
		fn   func(*testing.T, EpochStore)
	}{
		{"EraseRetiresEpoch", testEraseRetiresEpoch},
		{"ClosedEpochRefusesKeys", testClosedEpochRefusesKeys},
		{"RetireUnderLoad", testRetireUnderLoad},
		{"Claim", testClaimKeyEpoch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// MustVault returns a file-backed vault in a temporary folder, with small
// epochs if size > 0.
func MustVault(tb testing.TB, size int) (*vault.Vault, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "master.key")
	v, err := vault.Create(path, vault.Options{EpochSize: size})
	if err != nil {
		tb.Fatal(err)
	}
	return v, path
}

// RegisterSealed seals a person with distinctive demographics under v and
// stores them.
func RegisterSealed(tb testing.TB, s registry.Store, v registry.Vault, given, phone string) registry.SealedPerson {
	tb.Helper()
	p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		Demographics: registry.Demographics{GivenName: given, FamilyName: "Zzyzx-" + given, Phone: phone}, HolderSecret: "HS" + given}
	sp, err := registry.SealPerson(v, p)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.CreatePerson(context.Background(), sp, registry.Write{}); err != nil {
		tb.Fatalf("CreatePerson %s: %v", given, err)
	}
	return sp
}

func prefixOf(sp registry.SealedPerson) []byte {
	return bytes.Clone(sp.WrappedKey[:vault.EpochPrefixSize])
}

func epochRows(t *testing.T, s EpochStore) map[string][2]bool {
	t.Helper()
	out := map[string][2]bool{}
	if err := s.KeyEpochs(context.Background(), func(p []byte, retire, closed bool) error {
		out[string(p)] = [2]bool{retire, closed}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// An erasure asks for the person's epoch to be retired, in the same
// transaction; AfterErase then rewraps the rest and destroys the key.
func testEraseRetiresEpoch(t *testing.T, s EpochStore) {
	ctx := context.Background()
	v, _ := MustVault(t, 0)
	a := RegisterSealed(t, s, v, "Mirela", "+82 10 5555 0199")
	b := RegisterSealed(t, s, v, "Ana", "+1 555 0100")
	if !bytes.Equal(prefixOf(a), prefixOf(b)) {
		t.Fatal("two registrations went to two epochs")
	}
	if n, err := s.CountKeyEpoch(ctx, prefixOf(a)); err != nil || n != 2 {
		t.Fatalf("CountKeyEpoch = %d, %v", n, err)
	}
	if rows := epochRows(t, s); len(rows) != 1 || rows[string(prefixOf(a))] != [2]bool{false, false} {
		t.Fatalf("key epochs before erasure = %v", rows)
	}
	if err := s.ErasePerson(ctx, a.CardCode, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if rows := epochRows(t, s); rows[string(prefixOf(a))] != [2]bool{true, false} {
		t.Fatalf("key epochs after erasure = %v, want retire asked", rows)
	}
	if err := vault.AfterErase(ctx, v, s); err != nil {
		t.Fatal(err)
	}
	if rows := epochRows(t, s); len(rows) != 1 {
		t.Fatalf("key epochs after AfterErase = %v, want only the one Ana moved to", rows)
	} else if _, ok := rows[string(prefixOf(a))]; ok {
		t.Fatal("the retired epoch is still listed (not recorded destroyed)")
	}
	got, err := s.FindPerson(ctx, b.CardCode)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(prefixOf(*got), prefixOf(b)) {
		t.Fatal("the other person was not rewrapped")
	}
	if p, err := registry.OpenPerson(v, *got); err != nil || p.Demographics.GivenName != "Ana" {
		t.Fatalf("the other person after AfterErase: %+v, %v", p, err)
	}
	for _, old := range []registry.SealedPerson{a, b} {
		if _, err := registry.OpenPerson(v, old); !errors.Is(err, vault.ErrKeyDestroyed) {
			t.Fatalf("a copy from before the erasure opens: %v", err)
		}
	}
	if n, err := s.CountKeyEpoch(ctx, prefixOf(a)); err != nil || n != 0 {
		t.Fatalf("CountKeyEpoch of the retired epoch = %d, %v", n, err)
	}
	if n, err := s.(interface {
		CountLegacyKeys(context.Context) (int, error)
	}).CountLegacyKeys(ctx); err != nil || n != 0 {
		t.Fatalf("CountLegacyKeys = %d, %v", n, err)
	}
}

// Once an epoch is closed, the store refuses to keep any data key under
// it: a person sealed under it, or a row rewrapped to it.
func testClosedEpochRefusesKeys(t *testing.T, s EpochStore) {
	ctx := context.Background()
	v, _ := MustVault(t, 0)
	a := RegisterSealed(t, s, v, "Li", "+86 138 0000 0000")
	n, err := s.CloseKeyEpoch(ctx, prefixOf(a), v.RewrapTo(mustEpoch(t, v)))
	if err != nil || n != 1 {
		t.Fatalf("CloseKeyEpoch = %d, %v", n, err)
	}
	late := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now, WrappedKey: a.WrappedKey, Sealed: a.Sealed}
	if _, err := s.CreatePerson(ctx, late, registry.Write{}); err == nil {
		t.Fatal("a person was stored under a closed epoch")
	}
	if got, err := s.FindPerson(ctx, a.CardCode); err != nil || bytes.Equal(prefixOf(*got), prefixOf(a)) {
		t.Fatalf("after CloseKeyEpoch the person is still under it: %v", err)
	}
	// Keys that are not under an epoch (from before epochs, or none) are
	// not checked.
	if _, err := s.CreatePerson(ctx, registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: bytes.Repeat([]byte{1}, vault.LegacyWrappedKeySize), Sealed: []byte("s")}, registry.Write{}); err != nil {
		t.Fatalf("a legacy key was refused: %v", err)
	}
}

func mustEpoch(t *testing.T, v *vault.Vault) vault.EpochID {
	t.Helper()
	id, err := v.NewEpoch()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Registrations from two vaults on one ring (two processes) go on while
// the intake is retired: every person the store acknowledged opens
// afterwards, and the erased one does not.
func testRetireUnderLoad(t *testing.T, s EpochStore) {
	ctx := context.Background()
	v, path := MustVault(t, 0)
	v2, err := vault.Open(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	erased := RegisterSealed(t, s, v, "Erased", "+7 000")
	var (
		mu     sync.Mutex
		stored []registry.SealedPerson
		wg     sync.WaitGroup
		stop   = make(chan struct{})
	)
	for w, vv := range []*vault.Vault{v, v2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
					Demographics: registry.Demographics{GivenName: fmt.Sprintf("w%d-%d", w, i)}}
				sp, err := registry.SealPerson(vv, p)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.CreatePerson(ctx, sp, registry.Write{}); err != nil {
					continue // refused under a closed epoch: an error the caller sees
				}
				mu.Lock()
				stored = append(stored, sp)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.ErasePerson(ctx, erased.CardCode, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	rot := vault.NewRotator(v, s, vault.RotatorOptions{Batch: 8, Pause: time.Millisecond})
	if err := rot.AfterErase(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(stored) < 10 {
		t.Fatalf("only %d registrations stored under load", len(stored))
	}
	for _, sp := range stored {
		got, err := s.FindPerson(ctx, sp.CardCode)
		if err != nil {
			t.Fatal(err)
		}
		for _, vv := range []*vault.Vault{v, v2} {
			if _, err := registry.OpenPerson(vv, *got); err != nil {
				t.Fatalf("a person registered during the retirement was lost: %v", err)
			}
		}
	}
	if _, err := registry.OpenPerson(v2, erased); !errors.Is(err, vault.ErrKeyDestroyed) {
		t.Fatalf("the erased person opens in the other process: %v", err)
	}
}

// A lease keeps a second rotator off an epoch that one is retiring.
func testClaimKeyEpoch(t *testing.T, s EpochStore) {
	ctx := context.Background()
	p := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8}
	t0 := now
	for _, c := range []struct {
		owner string
		at    time.Time
		want  bool
	}{
		{"a", t0, true},
		{"b", t0.Add(time.Minute), false},
		{"a", t0.Add(time.Minute), true},
		{"b", t0.Add(4 * time.Minute), true},
	} {
		ok, err := s.ClaimKeyEpoch(ctx, p, c.owner, c.at, c.at.Add(2*time.Minute))
		if err != nil || ok != c.want {
			t.Fatalf("ClaimKeyEpoch(%s at %v) = %v, %v; want %v", c.owner, c.at.Sub(t0), ok, err, c.want)
		}
	}
	if err := s.DestroyedKeyEpoch(ctx, p); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClaimKeyEpoch(ctx, p, "c", t0.Add(time.Hour), t0.Add(2*time.Hour)); err != nil || ok {
		t.Fatalf("claimed a destroyed epoch: %v, %v", ok, err)
	}
}
