package clinic

import (
	"crypto/sha256"
	"encoding/json"

	"github.com/haven-registry/haven/internal/registry"
)

// maxIdempotencyKey bounds an idempotency key.
const maxIdempotencyKey = 255

// idempotency returns the claim of a write made with key, or nil when the
// caller sent no key. The request hash covers the action, the card it acts
// on and the validated input, so the same request made through the API or a
// web form hashes alike, and reusing a key for another request is detected
// (EIDEMPOTENCY). Keys are scoped to the actor's token.
func (s *Service) idempotency(a Actor, key string, action Action, card registry.CardCode, input any) (*registry.Idempotency, error) {
	if key == "" {
		return nil, nil
	}
	if len(key) > maxIdempotencyKey {
		return nil, registry.FieldErrorf(registry.EINVALID, "Idempotency-Key", "The key is longer than %d bytes.", maxIdempotencyKey)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return nil, registry.FieldErrorf(registry.EINVALID, "Idempotency-Key", "The key must be printable ASCII without spaces.")
		}
	}
	canon, err := json.Marshal(input)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "idempotency hash: %v", err)
	}
	h := sha256.New()
	h.Write([]byte(string(action) + "\n" + string(card) + "\n"))
	h.Write(canon)
	return &registry.Idempotency{Scope: a.TokenID, Key: key, RequestHash: h.Sum(nil), Kind: kindOf(action),
		CreatedAt: s.stamp()}, nil
}

// kindOf is the stored kind of a write's idempotency entry. The kinds are
// those stores already hold, so entries written before this layer existed
// replay alike.
func kindOf(a Action) string {
	switch a {
	case ActPersonCreate:
		return "person"
	case ActVaccinationCreate:
		return "vaccination"
	case ActTestCreate:
		return "test"
	case ActCorrectionCreate:
		return "correction"
	case ActSiteCreate:
		return "site"
	case ActPersonEdit:
		return "edit"
	}
	return string(a)
}
