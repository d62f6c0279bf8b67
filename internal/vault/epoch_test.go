package vault_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// memStore is a vault.EpochStore over a map of persons' wrapped keys, with
// the key_epochs rules of the SQL stores: storing a key under a closed epoch
// fails, and erasure asks for the epoch to be retired.
type memStore struct {
	mu      sync.Mutex
	keys    map[string][]byte // person → wrapped key
	epochs  map[string]*memEpoch
	batches int
}

type memEpoch struct {
	retire, closed, destroyed bool
	owner                     string
	until                     time.Time
}

func newMemStore() *memStore {
	return &memStore{keys: map[string][]byte{}, epochs: map[string]*memEpoch{}}
}

func (m *memStore) epoch(prefix []byte) *memEpoch {
	e := m.epochs[string(prefix)]
	if e == nil {
		e = &memEpoch{}
		m.epochs[string(prefix)] = e
	}
	return e
}

// put stores a person's key as CreatePerson would (the trigger's rule).
func (m *memStore) put(person string, wrapped []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.putLocked(person, wrapped)
}

func (m *memStore) putLocked(person string, wrapped []byte) error {
	if _, ok := vault.WrappedEpoch(wrapped); ok {
		if e := m.epoch(wrapped[:vault.EpochPrefixSize]); e.closed {
			return errors.New("the key epoch of this data key is closed")
		}
	}
	m.keys[person] = bytes.Clone(wrapped)
	return nil
}

func (m *memStore) erase(person string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := m.keys[person]; len(w) == vault.WrappedKeySize {
		m.epoch(w[:vault.EpochPrefixSize]).retire = true
	}
	delete(m.keys, person)
}

func (m *memStore) KeyEpochs(ctx context.Context, fn func([]byte, bool, bool) error) error {
	m.mu.Lock()
	var ids []string
	for id, e := range m.epochs {
		if !e.destroyed {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	type row struct {
		id             []byte
		retire, closed bool
	}
	var rows []row
	for _, id := range ids {
		rows = append(rows, row{[]byte(id), m.epochs[id].retire, m.epochs[id].closed})
	}
	m.mu.Unlock()
	for _, r := range rows {
		if err := fn(r.id, r.retire, r.closed); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) CountKeyEpoch(ctx context.Context, prefix []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, w := range m.keys {
		if bytes.HasPrefix(w, prefix) {
			n++
		}
	}
	return n, nil
}

func (m *memStore) ClaimKeyEpoch(ctx context.Context, prefix []byte, owner string, now, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.epoch(prefix)
	if e.destroyed || (e.owner != "" && e.owner != owner && e.until.After(now)) {
		return false, nil
	}
	e.owner, e.until = owner, until
	return true, nil
}

func (m *memStore) rewrap(prefix []byte, limit int, rewrap func([]byte) ([]byte, error)) (int, error) {
	var people []string
	for p, w := range m.keys {
		if bytes.HasPrefix(w, prefix) {
			people = append(people, p)
		}
	}
	sort.Strings(people)
	if limit > 0 && len(people) > limit {
		people = people[:limit]
	}
	fresh := map[string][]byte{}
	for _, p := range people {
		w, err := rewrap(m.keys[p])
		if err != nil {
			return 0, err // nothing written: one transaction
		}
		fresh[p] = w
	}
	for p, w := range fresh {
		if err := m.putLocked(p, w); err != nil {
			return 0, err
		}
	}
	return len(people), nil
}

func (m *memStore) RewrapKeyEpoch(ctx context.Context, prefix []byte, limit int, rewrap func([]byte) ([]byte, error)) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batches++
	return m.rewrap(prefix, limit, rewrap)
}

func (m *memStore) CloseKeyEpoch(ctx context.Context, prefix []byte, rewrap func([]byte) ([]byte, error)) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.epoch(prefix)
	was := e.closed
	e.closed = true
	n, err := m.rewrap(prefix, 0, rewrap)
	if err != nil {
		e.closed = was
	}
	return n, err
}

func (m *memStore) DestroyedKeyEpoch(ctx context.Context, prefix []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.epoch(prefix)
	e.closed, e.destroyed, e.retire, e.owner = true, true, false, ""
	return nil
}

var _ vault.EpochStore = (*memStore)(nil)

// register seals a person through the registry.Vault face and stores them.
func register(t testing.TB, v *vault.Vault, m *memStore, name string) registry.SealedPerson {
	t.Helper()
	p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), Demographics: registry.Demographics{GivenName: name}}
	sp, err := registry.SealPerson(v, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.put(name, sp.WrappedKey); err != nil {
		t.Fatal(err)
	}
	return sp
}

// current returns the person as the store holds them now.
func current(m *memStore, name string, sp registry.SealedPerson) registry.SealedPerson {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp.WrappedKey = bytes.Clone(m.keys[name])
	return sp
}

// TestEpochErasure: after an erasure and AfterErase, the erased person's
// wrapped key, as any copy (a backup, a dead tuple) kept it, opens under
// nothing the vault holds, in this process or in a fresh one; everybody
// else in the same epoch still opens, from the store.
func TestEpochErasure(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.key")
	v, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := newMemStore()
	names := []string{"Mirela", "Ana", "Li", "Kim"}
	backup := map[string]registry.SealedPerson{}
	for _, n := range names {
		backup[n] = register(t, v, m, n)
	}
	epoch, _ := vault.WrappedEpoch(backup["Mirela"].WrappedKey)

	m.erase("Mirela")
	rot := vault.NewRotator(v, m, vault.RotatorOptions{Batch: 2, Pause: time.Millisecond})
	if err := rot.AfterErase(ctx); err != nil {
		t.Fatal(err)
	}
	if v.HasEpoch(epoch) {
		t.Fatal("the erased person's epoch key survived AfterErase")
	}
	if m.batches < 2 {
		t.Fatalf("rewrapped in %d batches, want batches of 2", m.batches)
	}
	fresh, err := vault.Open(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, vv := range []*vault.Vault{v, fresh} {
		_, err := registry.OpenPerson(vv, backup["Mirela"])
		if !errors.Is(err, vault.ErrKeyDestroyed) {
			t.Fatalf("the erased person's old copy opens: %v", err)
		}
		for _, n := range names[1:] {
			p, err := registry.OpenPerson(vv, current(m, n, backup[n]))
			if err != nil || p.Demographics.GivenName != n {
				t.Fatalf("%s after the erasure: %+v, %v", n, p, err)
			}
			// Their copies from before the erasure were under the same
			// epoch: they are gone too (only the live rows open).
			if _, err := registry.OpenPerson(vv, backup[n]); !errors.Is(err, vault.ErrKeyDestroyed) {
				t.Fatalf("%s's pre-erasure copy still opens: %v", n, err)
			}
		}
		if in := vv.Intake(); in == epoch || in.IsZero() {
			t.Fatalf("intake = %s after retiring %s", in, epoch)
		}
	}
	// The ring file no longer holds the epoch, and nothing of the old key
	// is in it.
	ring, _ := os.ReadFile(path)
	if bytes.Contains(ring, []byte(epoch.String())) {
		t.Fatal("the ring file still names the destroyed epoch")
	}
	// A second AfterErase has nothing to do; the epoch is recorded destroyed.
	if err := rot.AfterErase(ctx); err != nil {
		t.Fatal(err)
	}
	if e := m.epochs[string(epoch.Prefix())]; !e.destroyed || !e.closed {
		t.Fatalf("epoch row after retirement: %+v", e)
	}
	// Storing a key under the destroyed epoch is refused.
	if err := m.put("late", backup["Ana"].WrappedKey); err == nil {
		t.Fatal("a key under a closed epoch was stored")
	}
}

// Two processes share one ring: keys made by one open in the other (it
// reloads on an unknown epoch), both wrap new persons under the same intake,
// and an epoch destroyed by one is dropped by the other at its next Refresh.
func TestEpochsAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.key")
	a, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := vault.Open(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := newMemStore()
	pa := register(t, a, m, "Ana")
	pb := register(t, b, m, "Bora")
	ea, _ := vault.WrappedEpoch(pa.WrappedKey)
	eb, _ := vault.WrappedEpoch(pb.WrappedKey)
	if ea != eb {
		t.Fatalf("two processes wrap under different intakes %s and %s", ea, eb)
	}
	// A moves the intake on; B follows at its next key.
	if _, err := a.NewIntake(ea); err != nil {
		t.Fatal(err)
	}
	pc := register(t, b, m, "Chen")
	if ec, _ := vault.WrappedEpoch(pc.WrappedKey); ec != a.Intake() {
		t.Fatalf("B wrapped under %s, not the shared intake %s", ec, a.Intake())
	}
	if p, err := registry.OpenPerson(a, pc); err != nil || p.Demographics.GivenName != "Chen" {
		t.Fatalf("A opens B's person: %v", err)
	}
	// A erases Ana and retires her epoch; B still holds the old key in
	// memory until it refreshes.
	m.erase("Ana")
	if err := vault.AfterErase(ctx, a, m); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(); err != nil {
		t.Fatal(err)
	}
	if b.HasEpoch(ea) {
		t.Fatal("B kept a destroyed epoch key after Refresh")
	}
	if _, err := registry.OpenPerson(b, pa); !errors.Is(err, vault.ErrKeyDestroyed) {
		t.Fatalf("B opens the erased person: %v", err)
	}
	if p, err := registry.OpenPerson(b, current(m, "Bora", pb)); err != nil || p.Demographics.GivenName != "Bora" {
		t.Fatalf("B after A's retirement: %v", err)
	}
}

// Concurrent registrations in two processes while one of them retires the
// intake: nobody is lost (every stored key opens afterwards).
func TestEpochRetireUnderLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.key")
	a, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := vault.Open(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := newMemStore()
	first := register(t, a, m, "first")
	var wg sync.WaitGroup
	stored := map[string]registry.SealedPerson{}
	var smu sync.Mutex
	for w, v := range []*vault.Vault{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				name := fmt.Sprintf("p%d-%d", w, i)
				p := registry.Person{ID: registry.NewID(), Demographics: registry.Demographics{GivenName: name}}
				sp, err := registry.SealPerson(v, p)
				if err != nil {
					t.Error(err)
					return
				}
				if err := m.put(name, sp.WrappedKey); err != nil {
					continue // refused under a closed epoch: the caller sees an error, nobody is lost silently
				}
				smu.Lock()
				stored[name] = sp
				smu.Unlock()
			}
		}()
	}
	m.erase("first")
	rot := vault.NewRotator(a, m, vault.RotatorOptions{Batch: 16, Pause: time.Microsecond})
	for range 5 {
		if err := rot.AfterErase(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if _, err := rot.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if len(stored) < 300 {
		t.Fatalf("only %d of 400 registrations were stored", len(stored))
	}
	for name, sp := range stored {
		for _, v := range []*vault.Vault{a, b} {
			p, err := registry.OpenPerson(v, current(m, name, sp))
			if err != nil || p.Demographics.GivenName != name {
				t.Fatalf("%s lost: %v", name, err)
			}
		}
	}
	if _, err := registry.OpenPerson(a, first); !errors.Is(err, vault.ErrKeyDestroyed) {
		t.Fatalf("the erased person opens: %v", err)
	}
}

// The intake moves on when it is full, and epochs older than MaxAge are
// rotated: the old key is destroyed, its persons open under a new one.
func TestEpochSizeAndAge(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), "master.key")
	v, err := vault.Create(path, vault.Options{EpochSize: 3, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	m := newMemStore()
	var people []registry.SealedPerson
	epochs := map[vault.EpochID]int{}
	for i := range 7 {
		sp := register(t, v, m, fmt.Sprint("p", i))
		people = append(people, sp)
		id, _ := vault.WrappedEpoch(sp.WrappedKey)
		epochs[id]++
	}
	if len(epochs) != 3 {
		t.Fatalf("7 persons in epochs of 3 went to %d epochs: %v", len(epochs), epochs)
	}
	rot := vault.NewRotator(v, m, vault.RotatorOptions{MaxAge: 24 * time.Hour, Now: clock})
	if rep, err := rot.Pass(ctx); err != nil || len(rep.Retired) != 0 {
		t.Fatalf("a pass before anything is due = %+v, %v", rep, err)
	}
	now = now.Add(25 * time.Hour)
	rep, err := rot.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Retired) != 3 || rep.Rewrapped != 7 {
		t.Fatalf("rotation by age = %+v, want 3 epochs and 7 keys", rep)
	}
	for id := range epochs {
		if v.HasEpoch(id) {
			t.Fatalf("epoch %s older than MaxAge survived", id)
		}
	}
	for i, sp := range people {
		if _, err := registry.OpenPerson(v, sp); !errors.Is(err, vault.ErrKeyDestroyed) {
			t.Fatalf("person %d's copy from before the rotation opens: %v", i, err)
		}
		if _, err := registry.OpenPerson(v, current(m, fmt.Sprint("p", i), sp)); err != nil {
			t.Fatalf("person %d after rotation: %v", i, err)
		}
	}
	// An unused epoch (a rotation target that got nothing) is destroyed
	// once it is older than the lease.
	spare, err := v.NewEpoch()
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(3 * time.Minute)
	if _, err := rot.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if v.HasEpoch(spare) {
		t.Fatal("an unused epoch key was kept")
	}
}

// Keys wrapped under a KEK before epochs still open; Rewrap moves them to
// an epoch, and OpenPerson tells a destroyed key from a bad one.
func TestOpenPersonAfterShred(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	v, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := newMemStore()
	sp := register(t, v, m, "Mirela")
	got, err := vault.OpenPerson(v, sp)
	if err != nil || got.DemographicsDestroyed || got.Demographics.GivenName != "Mirela" {
		t.Fatalf("OpenPerson = %+v, %v", got, err)
	}
	tampered := sp
	tampered.Sealed = bytes.Clone(sp.Sealed)
	tampered.Sealed[len(tampered.Sealed)-1] ^= 1
	if _, err := vault.OpenPerson(v, tampered); err == nil || errors.Is(err, vault.ErrKeyDestroyed) {
		t.Fatalf("tampered fields: %v, want an authentication error", err)
	}
	if err := v.Shred(); err != nil {
		t.Fatal(err)
	}
	_, err = vault.OpenPerson(v, sp)
	wantCode(t, err, registry.ESEALED)
	n, err := vault.Create(path, vault.Options{AfterShred: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err = vault.OpenPerson(n, sp)
	if err != nil || !got.DemographicsDestroyed || got.Demographics != (registry.Demographics{}) || got.HolderSecret != "" {
		t.Fatalf("after a shred OpenPerson = %+v, %v; want empty demographics, flagged", got, err)
	}
	if got.CardCode != sp.CardCode || got.ID != sp.ID {
		t.Fatalf("after a shred the card code is lost: %+v", got)
	}
	// A backup restored without keys reads the same way.
	sp.WrappedKey, sp.Sealed = nil, nil
	if got, err := vault.OpenPerson(n, sp); err != nil || !got.DemographicsDestroyed {
		t.Fatalf("keyless row: %+v, %v", got, err)
	}
}

// AfterErase waits for another process that is retiring the epoch, so that
// when it returns the key is gone.
func TestAfterEraseWaitsForLeaseHolder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.key")
	a, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := vault.Open(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := newMemStore()
	p := register(t, a, m, "Mirela")
	register(t, a, m, "Ana")
	id, _ := vault.WrappedEpoch(p.WrappedKey)
	m.erase("Mirela")
	// Another process holds the lease, and finishes 300 ms later.
	if ok, _ := m.ClaimKeyEpoch(ctx, id.Prefix(), "other", time.Now(), time.Now().Add(time.Minute)); !ok {
		t.Fatal("claim")
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		m.mu.Lock()
		m.epochs[string(id.Prefix())].owner = ""
		m.mu.Unlock()
		if err := vault.AfterErase(ctx, b, m); err != nil {
			t.Error(err)
		}
	}()
	start := time.Now()
	if err := vault.NewRotator(a, m, vault.RotatorOptions{Lease: 5 * time.Second}).AfterErase(ctx); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Fatal("AfterErase returned while another process was retiring the epoch")
	}
	if err := a.Refresh(); err != nil {
		t.Fatal(err)
	}
	if a.HasEpoch(id) {
		t.Fatal("the epoch key survived")
	}
}
