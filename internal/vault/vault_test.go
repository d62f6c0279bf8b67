package vault_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// cheap keeps argon2id fast in tests; production uses vault.DefaultKDF.
var cheap = vault.Options{KDF: vault.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := registry.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func mustEphemeral(t testing.TB) *vault.Vault {
	t.Helper()
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// person is what a store would keep for one person: the wrapped key and the
// field ciphertexts.
type person struct {
	id      string
	wrapped []byte
	fields  map[string][]byte
}

var sample = map[string]string{
	"given_name":  "Mirela",
	"family_name": "Okonkwo-Vásquez",
	"birth_date":  "1987-03",
	"phone":       "+82 10 5555 0199",
}

func store(t testing.TB, v *vault.Vault, id string, plain map[string]string) person {
	t.Helper()
	dk, w, err := v.GenerateDataKey()
	if err != nil {
		t.Fatal(err)
	}
	defer dk.Destroy()
	p := person{id: id, wrapped: w, fields: map[string][]byte{}}
	for f, val := range plain {
		ct, err := dk.Encrypt(id, f, []byte(val))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(ct, []byte(val)) {
			t.Fatalf("ciphertext of %s contains the plaintext", f)
		}
		p.fields[f] = ct
	}
	return p
}

func read(t testing.TB, v *vault.Vault, p person) map[string]string {
	t.Helper()
	dk, err := v.Unwrap(p.wrapped)
	if err != nil {
		t.Fatal(err)
	}
	defer dk.Destroy()
	out := map[string]string{}
	for f, ct := range p.fields {
		pt, err := dk.Decrypt(p.id, f, ct)
		if err != nil {
			t.Fatalf("decrypt %s: %v", f, err)
		}
		out[f] = string(pt)
	}
	return out
}

func TestFieldRoundTrip(t *testing.T) {
	v := mustEphemeral(t)
	p := store(t, v, "id-a", sample)
	got := read(t, v, p)
	for f, want := range sample {
		if got[f] != want {
			t.Errorf("%s = %q, want %q", f, got[f], want)
		}
	}
	if len(p.wrapped) != vault.WrappedKeySize {
		t.Errorf("wrapped key is %d bytes, want %d", len(p.wrapped), vault.WrappedKeySize)
	}
	if id, ok := vault.WrappedEpoch(p.wrapped); !ok || id != v.Intake() {
		t.Errorf("WrappedEpoch = %s, %v; want the intake %s", id, ok, v.Intake())
	}
	if ver, err := vault.WrappedVersion(p.wrapped); err != nil || ver != 0 {
		t.Errorf("WrappedVersion = %d, %v; want 0 (under an epoch, not a KEK)", ver, err)
	}
}

func TestCiphertextsAreBound(t *testing.T) {
	v := mustEphemeral(t)
	a := store(t, v, "id-a", sample)
	b := store(t, v, "id-b", sample)
	dkA, err := v.Unwrap(a.wrapped)
	if err != nil {
		t.Fatal(err)
	}
	dkB, err := v.Unwrap(b.wrapped)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(a.fields["phone"])
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name  string
		dk    *vault.DataKey
		id    string
		field string
		ct    []byte
		code  string
	}{
		{"fail/other-field", dkA, "id-a", "given_name", a.fields["phone"], registry.EINTERNAL},
		{"fail/other-person-id", dkA, "id-b", "phone", a.fields["phone"], registry.EINTERNAL},
		{"fail/other-person-key", dkB, "id-b", "phone", a.fields["phone"], registry.EINTERNAL},
		{"fail/other-person-key-own-id", dkB, "id-a", "phone", a.fields["phone"], registry.EINTERNAL},
		{"fail/tampered", dkA, "id-a", "phone", tampered, registry.EINTERNAL},
		{"fail/truncated", dkA, "id-a", "phone", a.fields["phone"][:20], registry.EMALFORMED},
		{"fail/empty", dkA, "id-a", "phone", nil, registry.EMALFORMED},
		{"ok/own", dkA, "id-a", "phone", a.fields["phone"], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt, err := tt.dk.Decrypt(tt.id, tt.field, tt.ct)
			wantCode(t, err, tt.code)
			if tt.code == registry.EINTERNAL && !errors.Is(err, vault.ErrAuth) {
				t.Errorf("error %v does not wrap ErrAuth", err)
			}
			if tt.code == "" && string(pt) != sample["phone"] {
				t.Errorf("got %q", pt)
			}
		})
	}
	// A wrapped key altered in its version byte or body does not open.
	w := bytes.Clone(a.wrapped)
	w[10] ^= 0x80
	_, err = v.Unwrap(w)
	wantCode(t, err, registry.EINTERNAL)
	_, err = v.Unwrap(a.wrapped[:40])
	wantCode(t, err, registry.EMALFORMED)
}

// TestErasure proves crypto-shredding: once a person's wrapped data key is
// deleted, nothing left (the other rows, the KEK ring, the vault with its KEK
// loaded) decrypts any of their fields, and their plaintext appears nowhere.
func TestErasure(t *testing.T) {
	dir := t.TempDir()
	ringPath := filepath.Join(dir, "master.key")
	v, err := vault.Create(ringPath, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	erased := store(t, v, "id-erased", sample)
	db := []person{
		store(t, v, "id-b", map[string]string{"given_name": "Ana", "phone": "+1 555 0100"}),
		store(t, v, "id-c", map[string]string{"given_name": "Li", "phone": "+86 138 0000 0000"}),
	}
	// Before erasure the record reads back.
	if got := read(t, v, erased); got["phone"] != sample["phone"] {
		t.Fatalf("before erasure: phone = %q", got["phone"])
	}

	// Erase: the row holding the wrapped key is deleted.
	erased.wrapped = nil

	// Every key material that still exists: the remaining wrapped keys
	// unwrapped with the KEK, the KEK ring file itself (raw bytes, tried as
	// keys at every offset), and fresh keys from the same vault.
	ring, err := os.ReadFile(ringPath)
	if err != nil {
		t.Fatal(err)
	}
	var candidates []*vault.DataKey
	for _, p := range db {
		dk, err := v.Unwrap(p.wrapped)
		if err != nil {
			t.Fatal(err)
		}
		candidates = append(candidates, dk)
	}
	for i := 0; i < 3; i++ {
		dk, _, err := v.GenerateDataKey()
		if err != nil {
			t.Fatal(err)
		}
		candidates = append(candidates, dk)
	}
	for f, ct := range erased.fields {
		for i, dk := range candidates {
			if pt, err := dk.Decrypt(erased.id, f, ct); err == nil {
				t.Fatalf("candidate key %d decrypted erased %s = %q", i, f, pt)
			}
		}
		// No wrapped key left in the "database" is the erased person's.
		for _, p := range db {
			dk, err := v.Unwrap(p.wrapped)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dk.Decrypt(erased.id, f, ct); err == nil {
				t.Fatalf("%s's key decrypts the erased person's %s", p.id, f)
			}
		}
		// Nothing stored or in the ring contains the plaintext in clear.
		for _, p := range db {
			for _, c := range p.fields {
				if bytes.Contains(c, []byte(sample[f])) {
					t.Fatalf("plaintext %q found in a remaining row", sample[f])
				}
			}
		}
		if bytes.Contains(ring, []byte(sample[f])) {
			t.Fatalf("plaintext %q found in the key ring", sample[f])
		}
	}
	// The wrapped key is gone, so Unwrap has nothing to work on.
	_, err = v.Unwrap(erased.wrapped)
	wantCode(t, err, registry.EMALFORMED)
	// And other people are unaffected.
	if got := read(t, v, db[0]); got["given_name"] != "Ana" {
		t.Fatalf("remaining person damaged: %q", got["given_name"])
	}
}

func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	v, created, err := vault.OpenOrCreate(path, vault.Options{})
	if err != nil || !created {
		t.Fatalf("OpenOrCreate = %v, %v", created, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %#o, want 0600", info.Mode().Perm())
	}
	p := store(t, v, "id-a", sample)

	_, err = vault.Create(path, vault.Options{})
	wantCode(t, err, registry.ECONFLICT)

	v2, created, err := vault.OpenOrCreate(path, vault.Options{})
	if err != nil || created {
		t.Fatalf("second OpenOrCreate = %v, %v", created, err)
	}
	if v2.Sealed() {
		t.Fatal("file-mode vault opened sealed")
	}
	if got := read(t, v2, p); got["given_name"] != sample["given_name"] {
		t.Fatalf("reopened vault read %q", got["given_name"])
	}

	_, err = vault.Open(filepath.Join(dir, "missing.key"), vault.Options{})
	wantCode(t, err, registry.ENOTFOUND)

	if runtime.GOOS != "windows" {
		for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660} {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := vault.Open(path, vault.Options{})
			wantCode(t, err, registry.EINVALID)
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		}
		os.Chmod(path, 0o600)
	}
}

func TestMalformedRing(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body, code string
	}{
		{"fail/not-json", "hello", registry.EMALFORMED},
		{"fail/format", `{"format":"other","current":1,"keks":[],"pseudonym_key":null}`, registry.EUNSUPPORTED},
		{"fail/no-keys", `{"format":"haven-kek/1","current":1,"keks":[],"pseudonym_key":null}`, registry.EINVALID},
		{"fail/short-key", `{"format":"haven-kek/1","current":1,"keks":[{"version":1,"key":"AAAA"}],"pseudonym_key":null}`, registry.EINVALID},
		{"fail/unknown-field", `{"format":"haven-kek/1","x":1}`, registry.EMALFORMED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, "/", "_"))
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := vault.Open(path, vault.Options{})
			wantCode(t, err, tt.code)
		})
	}
}

func TestPassphraseMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	pass := []byte("correct horse battery staple")
	v, err := vault.CreateWithPassphrase(path, pass, cheap)
	if err != nil {
		t.Fatal(err)
	}
	p := store(t, v, "id-a", sample)
	ps, err := v.Pseudonym("id-a")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`"key"`)) {
		t.Fatalf("passphrase ring holds a clear key:\n%s", raw)
	}

	s, err := vault.Open(path, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Sealed() {
		t.Fatal("passphrase vault did not start sealed")
	}
	_, _, err = s.GenerateDataKey()
	wantCode(t, err, registry.ESEALED)
	_, err = s.Unwrap(p.wrapped)
	wantCode(t, err, registry.ESEALED)
	_, err = s.Rewrap(p.wrapped)
	wantCode(t, err, registry.ESEALED)
	_, err = s.Pseudonym("id-a")
	wantCode(t, err, registry.ESEALED)
	_, err = s.EncryptBlob("x", []byte("y"))
	wantCode(t, err, registry.ESEALED)

	err = s.Unlock([]byte("wrong horse"))
	wantCode(t, err, registry.EUNAUTHORIZED)
	if !s.Sealed() {
		t.Fatal("wrong passphrase unsealed the vault")
	}
	err = s.Unlock(nil)
	wantCode(t, err, registry.ESEALED)
	if err := s.Unlock(pass); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, p); got["phone"] != sample["phone"] {
		t.Fatalf("after unlock phone = %q", got["phone"])
	}
	if ps2, _ := s.Pseudonym("id-a"); ps2 != ps {
		t.Fatalf("pseudonym changed across reopen: %s != %s", ps2, ps)
	}
}

func TestSealAndUnlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	v, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := store(t, v, "id-a", sample)
	held, err := v.Unwrap(p.wrapped) // a request in flight holds a key
	if err != nil {
		t.Fatal(err)
	}
	v.Seal()
	if !v.Sealed() {
		t.Fatal("Seal did not seal")
	}
	_, err = held.Decrypt("id-a", "phone", p.fields["phone"])
	wantCode(t, err, registry.ESEALED)
	_, err = held.Encrypt("id-a", "phone", []byte("x"))
	wantCode(t, err, registry.ESEALED)
	_, err = v.Unwrap(p.wrapped)
	wantCode(t, err, registry.ESEALED)
	_, _, err = v.GenerateDataKey()
	wantCode(t, err, registry.ESEALED)
	_, err = v.Rotate()
	wantCode(t, err, registry.ESEALED)

	if err := v.Unlock(nil); err != nil {
		t.Fatal(err)
	}
	if got := read(t, v, p); got["phone"] != sample["phone"] {
		t.Fatalf("after unlock phone = %q", got["phone"])
	}

	e := mustEphemeral(t)
	e.Seal()
	wantCode(t, e.Unlock(nil), registry.ESEALED)
}

func TestShred(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	v, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := store(t, v, "id-a", sample)
	if err := v.Shred(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("key file still exists after Shred: %v", err)
	}
	_, err = v.Unwrap(p.wrapped)
	wantCode(t, err, registry.ESEALED)
	wantCode(t, v.Unlock(nil), registry.ENOTFOUND)
	if _, ok := vault.Shredded(path); !ok {
		t.Fatal("no shred marker beside the shredded ring")
	}
	// No new master key is written in place of the shredded one unless
	// asked for.
	for _, create := range []func() (*vault.Vault, error){
		func() (*vault.Vault, error) { return vault.Create(path, vault.Options{}) },
		func() (*vault.Vault, error) { return vault.CreateWithPassphrase(path, []byte("pass"), cheap) },
		func() (*vault.Vault, error) { v, _, err := vault.OpenOrCreate(path, vault.Options{}); return v, err },
	} {
		_, err := create()
		wantCode(t, err, registry.ECONFLICT)
		if !errors.Is(err, vault.ErrShredded) {
			t.Fatalf("error %v does not wrap ErrShredded", err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatal("a refused Create wrote a ring")
		}
	}
	// A new ring at the same place, asked for, opens nothing of the old
	// data, and says so: the old keys are destroyed, not corrupt.
	n, err := vault.Create(path, vault.Options{AfterShred: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := vault.Shredded(path); ok {
		t.Fatal("the shred marker survived the new ring")
	}
	_, err = n.Unwrap(p.wrapped)
	wantCode(t, err, registry.ENOTFOUND)
	if !errors.Is(err, vault.ErrKeyDestroyed) {
		t.Fatalf("Unwrap of a shredded ring's key = %v, want ErrKeyDestroyed", err)
	}
}

// Shred needs no key: it works on a sealed vault, and ShredRing on a ring
// nobody opened (a stopped server, a passphrase nobody typed).
func TestShredWhileSealed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	v, err := vault.CreateWithPassphrase(path, []byte("pass"), cheap)
	if err != nil {
		t.Fatal(err)
	}
	p := store(t, v, "id-a", sample)
	s, err := vault.Open(path, cheap)
	if err != nil || !s.Sealed() {
		t.Fatalf("Open = sealed %v, %v", s.Sealed(), err)
	}
	if err := s.Shred(); err != nil {
		t.Fatalf("Shred of a sealed vault: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("ring survived")
	}
	// The other process that still holds the keys notices and seals.
	if err := v.Refresh(); registry.ErrorCode(err) != registry.ESEALED || !v.Sealed() {
		t.Fatalf("Refresh after another process shredded = %v, sealed %v", err, v.Sealed())
	}
	_, err = v.Unwrap(p.wrapped)
	wantCode(t, err, registry.ESEALED)

	other := filepath.Join(dir, "other.key")
	if _, err := vault.Create(other, vault.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := vault.ShredRing(other); err != nil {
		t.Fatal(err)
	}
	if err := vault.ShredRing(other); err != nil {
		t.Fatalf("second ShredRing: %v", err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatal("ShredRing left the ring")
	}
	_, err = vault.Open(other, vault.Options{})
	wantCode(t, err, registry.ENOTFOUND)
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	v, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ps, _ := v.Pseudonym("id-a")
	old := []person{store(t, v, "id-a", sample), store(t, v, "id-b", sample)}
	blob, err := v.EncryptBlob("signing-key", []byte("-----BEGIN PRIVATE KEY-----"))
	if err != nil {
		t.Fatal(err)
	}

	ver, err := v.Rotate()
	if err != nil || ver != 2 {
		t.Fatalf("Rotate = %d, %v", ver, err)
	}
	if _, err := v.Rotate(); err != nil {
		t.Fatalf("second Rotate before Retire: %v", err) // 3 is free
	}
	if v.KeyVersion() != 3 {
		t.Fatalf("KeyVersion = %d, want 3", v.KeyVersion())
	}
	before := map[vault.EpochID]bool{}
	for _, p := range old {
		id, _ := vault.WrappedEpoch(p.wrapped)
		before[id] = true
	}
	fresh := store(t, v, "id-c", sample)
	if id, _ := vault.WrappedEpoch(fresh.wrapped); before[id] {
		t.Fatalf("a key made after Rotate is under an epoch from before it")
	}

	// A crash now loses nothing: a reopened ring holds every version.
	crashed, err := vault.Open(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(old, fresh) {
		read(t, crashed, p)
	}

	// Rewrap everything, then retire.
	for i := range old {
		if old[i].wrapped, err = v.Rewrap(old[i].wrapped); err != nil {
			t.Fatal(err)
		}
		if id, ok := vault.WrappedEpoch(old[i].wrapped); !ok || before[id] {
			t.Fatalf("rewrapped under epoch %s, one from before the rotation", id)
		}
	}
	orig := store(t, v, "id-e", sample)        // under the new intake
	stale := store(t, crashed, "id-d", sample) // made by another process, under 3 too
	if blob, err = v.RewrapBlob(blob); err != nil {
		t.Fatal(err)
	}
	if ver, _ := vault.BlobVersion(blob); ver != 3 {
		t.Fatalf("blob rewrapped under %d", ver)
	}
	if err := v.Retire(); err != nil {
		t.Fatal(err)
	}
	reopened, err := vault.Open(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(old, fresh, stale, orig) {
		if got := read(t, reopened, p); got["phone"] != sample["phone"] {
			t.Fatalf("after retire, %s phone = %q", p.id, got["phone"])
		}
	}
	if len(reopened.Epochs()) != 2 {
		t.Fatalf("after retire the ring holds %d epochs, want the intake and the rewrap target", len(reopened.Epochs()))
	}
	pt, err := reopened.DecryptBlob("signing-key", blob)
	if err != nil || string(pt) != "-----BEGIN PRIVATE KEY-----" {
		t.Fatalf("blob after rotation = %q, %v", pt, err)
	}
	if ps2, _ := reopened.Pseudonym("id-a"); ps2 != ps {
		t.Fatalf("pseudonym changed across rotation: %s != %s", ps2, ps)
	}
}

func TestRetireDropsOldKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	v, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	left := store(t, v, "id-a", sample) // never rewrapped
	if _, err := v.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := v.Retire(); err != nil {
		t.Fatal(err)
	}
	_, err = v.Unwrap(left.wrapped)
	wantCode(t, err, registry.ENOTFOUND)
	if !errors.Is(err, vault.ErrKeyDestroyed) {
		t.Fatalf("Unwrap under a retired epoch = %v, want ErrKeyDestroyed", err)
	}
	r, err := vault.Open(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Unwrap(left.wrapped); err == nil {
		t.Fatal("a retired KEK still opens keys after reopening")
	}
}

func TestRotateToPassphrase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	v, err := vault.Create(path, cheap)
	if err != nil {
		t.Fatal(err)
	}
	p := store(t, v, "id-a", sample)
	pass := []byte("a long passphrase for the clinic")
	if _, err := v.RotatePassphrase(pass); err != nil {
		t.Fatal(err)
	}
	if p.wrapped, err = v.Rewrap(p.wrapped); err != nil {
		t.Fatal(err)
	}
	if err := v.Retire(); err != nil {
		t.Fatal(err)
	}
	s, err := vault.Open(path, cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Sealed() {
		t.Fatal("ring moved to passphrase mode did not open sealed")
	}
	if err := s.Unlock(pass); err != nil {
		t.Fatal(err)
	}
	read(t, s, p)
	_, err = v.RotatePassphrase(nil)
	wantCode(t, err, registry.EINVALID)
}

func TestPseudonym(t *testing.T) {
	v := mustEphemeral(t)
	a1, err := v.Pseudonym("id-a")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := v.Pseudonym("id-a")
	b, _ := v.Pseudonym("id-b")
	if a1 != a2 {
		t.Fatalf("pseudonym not stable: %s %s", a1, a2)
	}
	if a1 == b {
		t.Fatal("two people share a pseudonym")
	}
	if !strings.HasPrefix(a1, vault.PseudonymPrefix) || len(a1) != len(vault.PseudonymPrefix)+32 {
		t.Fatalf("pseudonym %q has the wrong shape", a1)
	}
	other := mustEphemeral(t)
	if o, _ := other.Pseudonym("id-a"); o == a1 {
		t.Fatal("pseudonym does not depend on the key")
	}
	_, err = v.Pseudonym("")
	wantCode(t, err, registry.EINVALID)
}

func TestBlob(t *testing.T) {
	v := mustEphemeral(t)
	pem := []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE...\n-----END EC PRIVATE KEY-----\n")
	blob, err := v.EncryptBlob("cert-signing-key", pem)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, []byte("PRIVATE KEY")) {
		t.Fatal("blob holds the plaintext")
	}
	got, err := v.DecryptBlob("cert-signing-key", blob)
	if err != nil || !bytes.Equal(got, pem) {
		t.Fatalf("DecryptBlob = %q, %v", got, err)
	}
	_, err = v.DecryptBlob("other-name", blob)
	wantCode(t, err, registry.EINTERNAL)
	_, err = v.DecryptBlob("cert-signing-key", blob[:30])
	wantCode(t, err, registry.EMALFORMED)
	_, err = mustEphemeral(t).DecryptBlob("cert-signing-key", blob)
	if err == nil {
		t.Fatal("another vault decrypted the blob")
	}
	if ver, err := vault.BlobVersion(blob); err != nil || ver != 1 {
		t.Fatalf("BlobVersion = %d, %v", ver, err)
	}
}

func TestReadPassphraseFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body string
		mode       os.FileMode
		want, code string
	}{
		{"ok/newline", "secret words\n", 0o600, "secret words", ""},
		{"ok/crlf", "secret words\r\n", 0o400, "secret words", ""},
		{"ok/inner-space", " a b ", 0o600, " a b ", ""},
		{"fail/empty", "\n", 0o600, "", registry.EINVALID},
		{"fail/world-readable", "secret\n", 0o644, "", registry.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && tt.mode != 0o600 {
				t.Skip("no permission bits on Windows")
			}
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, "/", "_"))
			if err := os.WriteFile(path, []byte(tt.body), tt.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tt.mode)
			got, err := vault.ReadPassphraseFile(path)
			wantCode(t, err, tt.code)
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzDecrypt(f *testing.F) {
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		f.Fatal(err)
	}
	dk, w, err := v.GenerateDataKey()
	if err != nil {
		f.Fatal(err)
	}
	ct, _ := dk.Encrypt("id", "phone", []byte("+1 555"))
	blob, _ := v.EncryptBlob("n", []byte("pem"))
	f.Add(ct)
	f.Add(w)
	f.Add(blob)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		dk.Decrypt("id", "phone", data)
		if k, err := v.Unwrap(data); err == nil {
			k.Destroy()
		}
		v.Rewrap(data)
		v.DecryptBlob("n", data)
		v.RewrapBlob(data)
		vault.WrappedVersion(data)
		vault.BlobVersion(data)
		v.Decrypt(w, []byte("aad"), data)
		v.Decrypt(data, []byte("aad"), ct)
	})
}

// TestRegistryVault drives the registry.Vault face of the vault through
// registry.SealPerson and OpenPerson, and shows erasure through it.
func TestRegistryVault(t *testing.T) {
	v := mustEphemeral(t)
	var rv registry.Vault = v
	p := registry.Person{ID: registry.NewID(), Demographics: registry.Demographics{GivenName: "Mirela", Phone: "+82 10 5555 0199"}, HolderSecret: "holder-secret"}
	sp, err := registry.SealPerson(rv, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Mirela", "+82 10 5555 0199", "holder-secret"} {
		if bytes.Contains(sp.Sealed, []byte(s)) || bytes.Contains(sp.WrappedKey, []byte(s)) {
			t.Fatalf("%q in clear in the sealed person", s)
		}
	}
	got, err := registry.OpenPerson(rv, sp)
	if err != nil {
		t.Fatal(err)
	}
	if got.Demographics.Phone != p.Demographics.Phone || got.HolderSecret != p.HolderSecret {
		t.Fatalf("OpenPerson = %+v", got)
	}
	// Moving the sealed fields to another person fails.
	other := sp
	other.ID = registry.NewID()
	if _, err := registry.OpenPerson(rv, other); err == nil {
		t.Fatal("sealed fields opened under another person's ID")
	}
	// Another person's wrapped key does not open them.
	w2, err := v.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	swapped := sp
	swapped.WrappedKey = w2
	if _, err := registry.OpenPerson(rv, swapped); err == nil {
		t.Fatal("sealed fields opened with another data key")
	}
	// Erased: the wrapped key is gone.
	sp.WrappedKey = nil
	if _, err := registry.OpenPerson(rv, sp); err == nil {
		t.Fatal("opened a person whose data key was destroyed")
	}
	v.Seal()
	_, err = v.Encrypt(w2, nil, []byte("x"))
	wantCode(t, err, registry.ESEALED)
	_, err = v.NewDataKey()
	wantCode(t, err, registry.ESEALED)
}

// TestBareKeyFile: HAVEN_MASTER_KEY_FILE may hold just a key made by the
// operator; pseudonyms stay the same across restarts and the first
// rotation, which turns the file into a ring.
func TestBareKeyFile(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{0x42}, vault.KeySize)
	for name, body := range map[string][]byte{
		"raw":    key,
		"base64": []byte(base64.StdEncoding.EncodeToString(key) + "\n"),
		"hex":    []byte(hex.EncodeToString(key) + "\n"),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, body, 0o600); err != nil {
				t.Fatal(err)
			}
			v, err := vault.Open(path, vault.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Sealed() || v.KeyVersion() != 1 {
				t.Fatalf("sealed=%v version=%d", v.Sealed(), v.KeyVersion())
			}
			p := store(t, v, "id-a", sample)
			ps, _ := v.Pseudonym("id-a")
			again, err := vault.Open(path, vault.Options{})
			if err != nil {
				t.Fatal(err)
			}
			read(t, again, p)
			if ps2, _ := again.Pseudonym("id-a"); ps2 != ps {
				t.Fatalf("pseudonym changed across reopen")
			}
			if _, err := again.Rotate(); err != nil {
				t.Fatal(err)
			}
			ring, err := vault.Open(path, vault.Options{})
			if err != nil {
				t.Fatal(err)
			}
			read(t, ring, p)
			if ps3, _ := ring.Pseudonym("id-a"); ps3 != ps {
				t.Fatalf("pseudonym changed when the bare key became a ring")
			}
			if name == "raw" {
				os.Chmod(path, 0o644)
				_, err := vault.Open(path, vault.Options{})
				wantCode(t, err, registry.EINVALID)
			}
		})
	}
	// The same key in two files gives the same pseudonyms (derived root).
	a := filepath.Join(dir, "a")
	b := filepath.Join(dir, "b")
	os.WriteFile(a, key, 0o600)
	os.WriteFile(b, []byte(hex.EncodeToString(key)), 0o600)
	va, _ := vault.Open(a, vault.Options{})
	vb, _ := vault.Open(b, vault.Options{})
	pa, _ := va.Pseudonym("x")
	pb, _ := vb.Pseudonym("x")
	if pa != pb {
		t.Fatal("one bare key, two pseudonym keys")
	}
}

func TestDeriveKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	v, err := vault.Create(path, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := v.DeriveKey("stats-noise")
	if err != nil || len(a) != vault.KeySize {
		t.Fatalf("DeriveKey = %x, %v", a, err)
	}
	b, _ := v.DeriveKey("other")
	if bytes.Equal(a, b) {
		t.Fatal("two purposes share a key")
	}
	if _, err := v.Rotate(); err != nil {
		t.Fatal(err)
	}
	again, _ := v.DeriveKey("stats-noise")
	if !bytes.Equal(a, again) {
		t.Fatal("derived key changed with KEK rotation")
	}
	if o, _ := mustEphemeral(t).DeriveKey("stats-noise"); bytes.Equal(o, a) {
		t.Fatal("derived key does not depend on the ring")
	}
	_, err = v.DeriveKey("")
	wantCode(t, err, registry.EINVALID)
	v.Seal()
	_, err = v.DeriveKey("stats-noise")
	wantCode(t, err, registry.ESEALED)
}
