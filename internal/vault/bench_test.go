package vault_test

import (
	"testing"

	"github.com/haven-registry/haven/internal/vault"
)

var benchFields = []struct{ name, value string }{
	{"given_name", "Mirela"},
	{"family_name", "Okonkwo-Vásquez"},
	{"birth_date", "1987-03-14"},
	{"phone", "+82 10 5555 0199"},
	{"holder_verifier", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"},
}

// BenchmarkSealPerson is the cost of registering one person: a new data
// key, wrapped under the KEK, and five identifying fields encrypted.
func BenchmarkSealPerson(b *testing.B) {
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		dk, _, err := v.GenerateDataKey()
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range benchFields {
			if _, err := dk.Encrypt("0123456789abcdef0123456789abcdef", f.name, []byte(f.value)); err != nil {
				b.Fatal(err)
			}
		}
		dk.Destroy()
	}
}

// BenchmarkOpenPerson is the cost of reading one person: unwrap their data
// key and decrypt five fields.
func BenchmarkOpenPerson(b *testing.B) {
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const id = "0123456789abcdef0123456789abcdef"
	dk, w, err := v.GenerateDataKey()
	if err != nil {
		b.Fatal(err)
	}
	cts := make([][]byte, len(benchFields))
	for i, f := range benchFields {
		if cts[i], err = dk.Encrypt(id, f.name, []byte(f.value)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		k, err := v.Unwrap(w)
		if err != nil {
			b.Fatal(err)
		}
		for i, f := range benchFields {
			if _, err := k.Decrypt(id, f.name, cts[i]); err != nil {
				b.Fatal(err)
			}
		}
		k.Destroy()
	}
}

// BenchmarkRewrap is the per-person cost of a KEK rotation.
func BenchmarkRewrap(b *testing.B) {
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		b.Fatal(err)
	}
	_, w, err := v.GenerateDataKey()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Rewrap(w); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPseudonym is the cost of one audit subject pseudonym.
func BenchmarkPseudonym(b *testing.B) {
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Pseudonym("0123456789abcdef0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegistrySealOpen is the registry.Vault path the stores use: a
// new wrapped key, one Encrypt of the person's fields and one Decrypt.
func BenchmarkRegistrySealOpen(b *testing.B) {
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		b.Fatal(err)
	}
	plain := []byte(`{"g":"Mirela","f":"Okonkwo-Vásquez","b":"1987-03-14","p":"+82 10 5555 0199","h":"0123456789abcdef"}`)
	aad := []byte("haven/person/v1/0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		w, err := v.NewDataKey()
		if err != nil {
			b.Fatal(err)
		}
		ct, err := v.Encrypt(w, aad, plain)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Decrypt(w, aad, ct); err != nil {
			b.Fatal(err)
		}
	}
}
