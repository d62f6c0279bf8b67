package clinic

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// HolderRecord is a person's own record, and the grant that lets them ask
// for certificates of it for a few minutes.
type HolderRecord struct {
	Record   *registry.Record
	Forecast *Forecast // with the server's schedule, as of now
	Grant    string
}

// errHolderDenied is the one answer to every failed holder attempt, so that
// an attempt does not tell whether the card exists.
var errHolderDenied = registry.Errorf(registry.ENOTFOUND, "The card code and secret do not match a record.")

// errHolderLimited is the answer to holder attempts over a limit.
var errHolderLimited = registry.Errorf(registry.ERATELIMITED, "Too many attempts; wait a minute.")

// HolderRead returns a person's own record to whoever presents its card code
// and holder secret. Attempts are limited per client address and per card,
// and a card whose attempts keep failing is locked for longer each time.
// Failed attempts are audited (against the person when the card exists), so
// a holder's auditor can see guessing.
//
// The answer holds a grant: with it, for holderGrantTTL, the holder may ask
// for certificates of their own records without sending the secret again.
func (s *Service) HolderRead(ctx context.Context, addr, cardText, secret string) (*HolderRecord, error) {
	a := Actor{Role: RoleHolder, Addr: addr}
	if err := s.begin(Anonymous(addr), ActHolderRead); err != nil {
		return nil, err
	}
	now := s.now()
	if addr != "" && !s.holderByAddr.allow(addr, now) {
		return nil, errHolderLimited
	}
	card, err := registry.ParseCardCode(cardText)
	if err != nil {
		return nil, err
	}
	if s.holderFailures.locked(string(card), now) || !s.holderByCard.allow(string(card), now) {
		return nil, errHolderLimited
	}
	sealed, err := s.store.FindRecord(ctx, card)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		s.holderFailures.fail(string(card), now)
		if err := s.trace(ctx, a, ActHolderDenied, "self", ""); err != nil {
			return nil, err
		}
		return nil, errHolderDenied
	}
	if err != nil {
		return nil, err
	}
	rec, err := s.open(sealed)
	if err != nil {
		return nil, err
	}
	subject, err := s.subjectOf(sealed.Person.ID)
	if err != nil {
		return nil, err
	}
	if !registry.HolderSecretMatches(rec.Person.HolderSecret, secret) {
		s.holderFailures.fail(string(card), now)
		if err := s.trace(ctx, a, ActHolderDenied, "self", subject); err != nil {
			return nil, err
		}
		return nil, errHolderDenied
	}
	s.holderFailures.succeed(string(card))
	if err := s.trace(ctx, a, ActHolderRead, "self", subject); err != nil {
		return nil, err
	}
	rec.Person.HolderSecret = ""
	return &HolderRecord{Record: rec, Forecast: s.forecast(rec, "", now, nil), Grant: s.grants.add(card, now)}, nil
}

// HolderCertificate issues a certificate of one of the holder's own records.
// The holder is identified by the grant of a HolderRead made within
// holderGrantTTL; attempts are limited per client address, and the read is
// audited with the actor "holder".
func (s *Service) HolderCertificate(ctx context.Context, addr, grant string, in CertificateInput) (*Certificate, error) {
	if err := s.begin(Anonymous(addr), ActHolderCertificate); err != nil {
		return nil, err
	}
	now := s.now()
	if addr != "" && !s.holderByAddr.allow(addr, now) {
		return nil, errHolderLimited
	}
	card, ok := s.grants.get(grant, now)
	if !ok {
		return nil, registry.FieldErrorf(registry.EUNAUTHORIZED, "holder_secret", "Open your record again with your card code and secret.")
	}
	return s.issueCertificate(ctx, Actor{Role: RoleHolder, Addr: addr}, card, in)
}

// holderGrantTTL is how long a holder may ask for certificates after
// opening their record.
const holderGrantTTL = 10 * time.Minute

// holderGrants remembers, in memory only, which card a holder opened, so
// that the holder secret is not sent again. Grants are stored by hash.
type holderGrants struct {
	mu sync.Mutex
	m  map[[32]byte]holderGrant
}

type holderGrant struct {
	code    registry.CardCode
	expires time.Time
}

func (g *holderGrants) add(code registry.CardCode, now time.Time) string {
	var raw [24]byte
	_, _ = rand.Read(raw[:]) // crypto/rand never fails on supported platforms
	id := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:])
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[[32]byte]holderGrant{}
	}
	if len(g.m) > 10000 {
		for k, v := range g.m {
			if now.After(v.expires) {
				delete(g.m, k)
			}
		}
	}
	g.m[sha256.Sum256([]byte(id))] = holderGrant{code: code, expires: now.Add(holderGrantTTL)}
	return id
}

func (g *holderGrants) get(id string, now time.Time) (registry.CardCode, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.m[sha256.Sum256([]byte(id))]
	if !ok || now.After(v.expires) {
		return "", false
	}
	return v.code, true
}
