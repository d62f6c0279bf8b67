package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// tokenPrefix starts every Haven token, so that a leaked token is easy to
// recognise in a scan.
const tokenPrefix = "hvn_"

// NewToken makes a token for role, returning the secret to show once and the
// record to store (which holds only the secret's SHA-256 hash).
func NewToken(role registry.Role, sites []string, now time.Time) (secret string, tok registry.Token, err error) {
	if !role.Valid() {
		return "", tok, registry.FieldErrorf(registry.EINVALID, "role", "Role must be admin, vaccinator, analyst or auditor.")
	}
	if role == registry.RoleVaccinator && len(sites) == 0 {
		return "", tok, registry.FieldErrorf(registry.EINVALID, "sites", "A vaccinator token must name the sites it may record at.")
	}
	if role != registry.RoleVaccinator && len(sites) > 0 {
		return "", tok, registry.FieldErrorf(registry.EINVALID, "sites", "Only vaccinator tokens are scoped to sites.")
	}
	var raw [20]byte
	rand.Read(raw[:])
	secret = tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	var id [6]byte
	rand.Read(id[:])
	h := sha256.Sum256([]byte(secret))
	return secret, registry.Token{ID: "tk_" + hex.EncodeToString(id[:]), Hash: h[:], Role: role,
		Sites: slices.Clone(sites), CreatedAt: now.UTC()}, nil
}

// authorize admits a request only if it carries a bearer token whose role is
// in roles. A nil roles list marks a public route. Missing or unknown tokens
// get 401; a known token of another role gets 403.
func (s *Server) authorize(roles []registry.Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		holder, _ := r.Context().Value(ctxActor).(*actorHolder)
		if holder != nil {
			holder.pattern = r.Pattern
		}
		if roles == nil {
			next.ServeHTTP(w, r)
			return
		}
		tok, err := s.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if holder != nil {
			holder.actor = tok.ID
		}
		if !slices.Contains(roles, tok.Role) {
			s.writeError(w, r, registry.Errorf(registry.EFORBIDDEN, "The %s role may not use this route.", tok.Role))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxToken, tok)))
	})
}

func (s *Server) authenticate(ctx context.Context, header string) (*registry.Token, error) {
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || secret == "" {
		return nil, registry.FieldErrorf(registry.EUNAUTHORIZED, "Authorization", "A bearer token is required.")
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	return s.lookupToken(ctx, h[:])
}

// lookupToken returns the token whose secret hashes to hash, reusing a
// lookup made within cacheTTL. Returns EUNAUTHORIZED naming Authorization
// if there is none (it was never made, or it was revoked).
func (s *Server) lookupToken(ctx context.Context, hash []byte) (*registry.Token, error) {
	if tok, ok := s.tokens.get(string(hash), s.now()); ok {
		return tok, nil
	}
	tok, err := s.store.FindTokenByHash(ctx, hash)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return nil, registry.FieldErrorf(registry.EUNAUTHORIZED, "Authorization", "The token is not valid.")
	}
	if err != nil {
		return nil, err
	}
	// The lookup was by hash; compare again in constant time so that the
	// decision never depends on how a database compares bytes.
	if subtle.ConstantTimeCompare(tok.Hash, hash) != 1 {
		return nil, registry.FieldErrorf(registry.EUNAUTHORIZED, "Authorization", "The token is not valid.")
	}
	s.tokens.put(string(hash), tok, s.now())
	return tok, nil
}
