package registry

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
)

// Vault encrypts identifying fields under a data key that belongs to one
// person. The data key exists outside the vault only in wrapped form, so
// destroying the wrapped key (erasure) makes the person's fields unreadable
// even to someone who holds the key-encryption key. internal/vault implements
// it.
type Vault interface {
	// NewDataKey returns a fresh random data key, wrapped under the current
	// key-encryption key. Returns ESEALED if the vault is sealed.
	NewDataKey() (wrapped []byte, err error)
	// Encrypt seals plaintext with the data key in wrapped, binding it to aad.
	Encrypt(wrapped, aad, plaintext []byte) ([]byte, error)
	// Decrypt opens ciphertext sealed by Encrypt with the same wrapped key and
	// aad. Returns an error if either differs or the ciphertext was altered.
	Decrypt(wrapped, aad, ciphertext []byte) ([]byte, error)
	// Pseudonym returns the stable audit pseudonym of a person's internal
	// ID (a keyed hash). It cannot be computed from a card code, so once the
	// person is erased their audit entries cannot be linked back to them.
	Pseudonym(personID string) (string, error)
}

// sealedFields is the plaintext layout inside SealedPerson.Sealed.
type sealedFields struct {
	GivenName          string `json:"g,omitempty"`
	FamilyName         string `json:"f,omitempty"`
	GivenNameICAO      string `json:"gi,omitempty"`
	FamilyNameICAO     string `json:"fi,omitempty"`
	BirthDate          string `json:"b,omitempty"`
	BirthDateEstimated bool   `json:"e,omitempty"`
	Sex                Sex    `json:"s,omitempty"`
	Phone              string `json:"p,omitempty"`
	HolderSecret       string `json:"h,omitempty"`
}

// personAAD binds a person's ciphertext to their ID, so that sealed fields
// cannot be moved from one person to another.
func personAAD(id ID) []byte { return append([]byte("haven/person/v1/"), id[:]...) }

// SealPerson encrypts p's demographics and holder secret under a new data key
// from v. The result holds nothing identifying in clear.
func SealPerson(v Vault, p Person) (SealedPerson, error) {
	wrapped, err := v.NewDataKey()
	if err != nil {
		return SealedPerson{}, fmt.Errorf("seal person: %w", err)
	}
	plain, err := json.Marshal(fieldsOf(p))
	if err != nil {
		return SealedPerson{}, fmt.Errorf("seal person: %w", err)
	}
	ct, err := v.Encrypt(wrapped, personAAD(p.ID), plain)
	clear(plain)
	if err != nil {
		return SealedPerson{}, fmt.Errorf("seal person: %w", err)
	}
	return SealedPerson{ID: p.ID, CardCode: p.CardCode, CreatedAt: p.CreatedAt, WrappedKey: wrapped, Sealed: ct}, nil
}

// ResealPerson encrypts p's demographics and holder secret again under the
// data key of sp, the person as stored, for an edit. The card code, ID and
// wrapped key stay as they are.
func ResealPerson(v Vault, sp SealedPerson, p Person) (SealedPerson, error) {
	plain, err := json.Marshal(fieldsOf(p))
	if err != nil {
		return SealedPerson{}, fmt.Errorf("reseal person: %w", err)
	}
	ct, err := v.Encrypt(sp.WrappedKey, personAAD(sp.ID), plain)
	clear(plain)
	if err != nil {
		return SealedPerson{}, fmt.Errorf("reseal person: %w", err)
	}
	sp.Sealed = ct
	return sp, nil
}

func fieldsOf(p Person) sealedFields {
	d := p.Demographics
	return sealedFields{
		GivenName: d.GivenName, FamilyName: d.FamilyName, GivenNameICAO: d.GivenNameICAO, FamilyNameICAO: d.FamilyNameICAO,
		BirthDate:          d.BirthDate.String(),
		BirthDateEstimated: d.BirthDateEstimated, Sex: d.Sex, Phone: d.Phone, HolderSecret: p.HolderSecret,
	}
}

// OpenPerson decrypts a sealed person. Returns ENOTFOUND if the person's data
// key has been destroyed.
func OpenPerson(v Vault, sp SealedPerson) (Person, error) {
	p := Person{ID: sp.ID, CardCode: sp.CardCode, CreatedAt: sp.CreatedAt}
	if len(sp.WrappedKey) == 0 {
		return Person{}, Errorf(ENOTFOUND, "Person not found.")
	}
	plain, err := v.Decrypt(sp.WrappedKey, personAAD(sp.ID), sp.Sealed)
	if err != nil {
		return Person{}, fmt.Errorf("open person: %w", err)
	}
	var f sealedFields
	err = json.Unmarshal(plain, &f)
	clear(plain)
	if err != nil {
		return Person{}, fmt.Errorf("open person: %w", err)
	}
	p.Demographics = Demographics{GivenName: f.GivenName, FamilyName: f.FamilyName,
		GivenNameICAO: f.GivenNameICAO, FamilyNameICAO: f.FamilyNameICAO,
		BirthDateEstimated: f.BirthDateEstimated, Sex: f.Sex, Phone: f.Phone}
	if f.BirthDate != "" {
		if p.Demographics.BirthDate, err = ParsePartialDate(f.BirthDate); err != nil {
			return Person{}, fmt.Errorf("open person: birth date: %w", err)
		}
	}
	p.HolderSecret = f.HolderSecret
	return p, nil
}

// HolderSecretMatches compares a presented holder secret with the stored one
// in constant time. An empty stored secret never matches.
func HolderSecretMatches(stored, presented string) bool {
	if stored == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(stored), []byte(presented)) == 1
}
