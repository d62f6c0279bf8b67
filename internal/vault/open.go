package vault

import (
	"errors"

	"github.com/haven-registry/haven/internal/registry"
)

// OpenedPerson is a person as read for staff or the holder: their
// demographics when they can still be opened, and a flag when they cannot.
type OpenedPerson struct {
	registry.Person
	// DemographicsDestroyed reports that the person's demographics and
	// holder secret can never be read again: their data key was wrapped
	// under a key that was destroyed (haven shred, or a retired key), or the
	// row holds no data key at all (a database restored from a haven
	// backup). Person then holds only the ID, card code and creation time.
	// The person's card code, doses and tests are unaffected.
	DemographicsDestroyed bool
}

// OpenPerson opens a stored person like registry.OpenPerson, except that a
// person whose data key is gone for good (see OpenedPerson) is not an
// error: it yields the person with empty demographics and
// DemographicsDestroyed set, so that card codes, doses and tests stay
// readable after a shred. Every other failure is still an error: ESEALED
// while the vault is sealed, and EINTERNAL wrapping ErrAuth for a sealed
// field or wrapped key that does not authenticate (tampering, or another
// person's ciphertext), which must never pass for "destroyed".
func OpenPerson(v registry.Vault, sp registry.SealedPerson) (OpenedPerson, error) {
	bare := OpenedPerson{Person: registry.Person{ID: sp.ID, CardCode: sp.CardCode, CreatedAt: sp.CreatedAt}, DemographicsDestroyed: true}
	if len(sp.WrappedKey) == 0 {
		return bare, nil
	}
	p, err := registry.OpenPerson(v, sp)
	if errors.Is(err, ErrKeyDestroyed) {
		return bare, nil
	}
	if err != nil {
		return OpenedPerson{}, err
	}
	return OpenedPerson{Person: p}, nil
}
