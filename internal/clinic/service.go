// Package clinic is Haven's layer of actions: register a person, read a
// record with a purpose, record a dose or a test, correct, erase, issue a
// certificate, decide eligibility, forecast, manage sites and tokens, seal,
// and release statistics. Every transport (the JSON API, the web pages, the
// CLI, and later HL7 v2, FHIR and node sync) decodes its input, calls one
// method of Service with an explicit Actor, and encodes the result.
//
// The guarantees are enforced here and nowhere else: who may call an action
// (permissions), the vault being unsealed, site scope, the purpose of a
// lookup, rate limits (per token, per client address and per card), input
// validation, idempotency, and the audit entry, which is written in the same
// transaction as a write and before a read returns anything. A transport
// cannot skip any of them because it cannot reach the store except through
// an action.
package clinic

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
)

// Actor is who is calling an action. Transports build it from a bearer token,
// a web session, the operator's shell, or (for a holder or a verifier)
// nothing at all. Addr is the client's address as the transport trusts it;
// it is used only in memory, for rate limits, and never logged or stored.
type Actor struct {
	TokenID string        // the token's public ID; "cli" for the operator's shell; "" for holders and verifiers
	Role    registry.Role // a token role, RoleHolder or RolePublic
	Sites   []string      // for vaccinators and nodes: the sites they may act at
	Addr    string
}

// TokenActor is the actor of a request authenticated with tok.
func TokenActor(tok *registry.Token, addr string) Actor {
	return Actor{TokenID: tok.ID, Role: tok.Role, Sites: slices.Clone(tok.Sites), Addr: addr}
}

// Operator is the actor of a command run on the server's own machine by
// someone who can read its data folder and keys.
func Operator() Actor { return Actor{TokenID: "cli", Role: RoleOperator} }

// Anonymous is the actor of a public action (a holder or a verifier).
func Anonymous(addr string) Actor { return Actor{Role: RolePublic, Addr: addr} }

// MaySite reports whether the actor may act at site. Only vaccinators and
// offline clinic nodes are scoped to sites.
func (a Actor) MaySite(site string) bool {
	return (a.Role != registry.RoleVaccinator && a.Role != registry.RoleNode) || slices.Contains(a.Sites, site)
}

// KeyControl seals and unlocks the key-encryption key at run time.
// *vault.Vault implements it.
type KeyControl interface {
	Sealed() bool
	// Seal drops the key-encryption key from memory.
	Seal()
	// Shred seals and destroys the key file: nothing stored can be read
	// again, by anyone.
	Shred() error
	// Unlock loads the key again (from its file, or derived from a
	// passphrase).
	Unlock(passphrase []byte) error
}

// AuditLog is the access log as the auditor actions read it. The stores
// implement it.
type AuditLog interface {
	audit.Store
	audit.CheckpointStore
}

// Certs issues and verifies certificates. Both parts are optional: without
// an Issuer (no keys made with "haven keys init") issuing answers
// EUNAVAILABLE. Issuer may be replaced while the service runs (see
// Service.SetIssuer).
type Certs struct {
	Issuer   *cert.Issuer
	Verifier *cert.Verifier
	// Country is the issuing country (ISO 3166-1 alpha-2), used for a dose
	// whose site is unknown (a historical or self-reported dose).
	Country string
}

// StatsNoise configures the optional noise of the coverage tables. The
// privacy parameter is the operator's choice, not a request's: an analyst
// must not be able to ask for less noise.
type StatsNoise struct {
	Epsilon float64 // 0: no noise
	Key     []byte  // ≥ 32 bytes: the same table asked twice gets the same noise, so answers cannot be averaged
}

// Deps are what the service is built from. Store and Catalog are required;
// without a Vault, actions that touch demographics answer EUNAVAILABLE, and
// without Policy, eligibility answers EUNAVAILABLE.
type Deps struct {
	Logger   *slog.Logger
	Store    registry.Store
	Vault    registry.Vault
	Catalog  *catalog.Catalog
	Policy   *policy.Engine
	Certs    Certs
	Keys     KeyControl
	AuditLog AuditLog          // defaults to the store if it implements AuditLog
	AuditKey ed25519.PublicKey // verifies the log's signed checkpoints (optional)
	Stats    StatsNoise
	// Schedule names the schedule that evaluates recorded doses and, by
	// default, forecasts: cdc, who or cn. Empty means who.
	Schedule string
	// Now is the clock; it defaults to time.Now.
	Now func() time.Time
	// Limits overrides the default rate limits (tests).
	Limits *Limits
	// LoadCerts, when set, builds the certificate issuer and verifier
	// afresh; it is called when a certificate is asked for and there are no
	// signing keys yet, so that keys made by "haven keys init" while the
	// server runs are used without a restart.
	LoadCerts func() (Certs, error)
	// AfterErase, when set, runs after a person is erased: it retires the
	// key epoch that wrapped their data key, so that old copies of their
	// row cannot be opened (vault.Rotator.AfterErase).
	AfterErase func(ctx context.Context) error
	// ReportUpstream queues every vaccination recorded in Haven (and each
	// one marked entered in error) for the upstream IIS feed, in the same
	// transaction as the write. Records received from another system (HL7,
	// import) are not reported back.
	ReportUpstream bool
	// Sync makes the service an offline clinic node or configures how it
	// serves nodes (nil: a central with the defaults).
	Sync *SyncConfig
}

// Limits are the rate limits, in requests a minute with a burst. They are
// kept in memory only, per process.
type Limits struct {
	// ReadsPerToken, ReadsPerAddr and ReadsPerCard bound every person-level
	// read: record lookups, forecasts, previews, certificates and replays.
	ReadsPerToken, ReadsPerAddr, ReadsPerCard Rate
	// HolderPerAddr and HolderPerCard bound holder attempts (successful or
	// not); a card whose attempts keep failing is locked for longer each
	// time (see holderBackoff).
	HolderPerAddr, HolderPerCard Rate
}

// Rate is a token bucket: PerMinute tokens a minute, up to Burst.
type Rate struct{ PerMinute, Burst int }

// DefaultLimits are the limits of a production server: 120 person-level
// reads a minute per token.
func DefaultLimits() Limits { return ReadLimits(120) }

// ReadLimits are the default limits with perToken person-level reads a
// minute per token (burst half of it); a client address may make twice as
// many (for a clinic whose staff share one), and one card a quarter. Holder
// attempts keep their own, fixed limits.
func ReadLimits(perToken int) Limits {
	perToken = max(perToken, 4)
	return Limits{
		ReadsPerToken: Rate{perToken, perToken / 2}, ReadsPerAddr: Rate{2 * perToken, perToken},
		ReadsPerCard:  Rate{perToken / 4, perToken / 6},
		HolderPerAddr: Rate{10, 5}, HolderPerCard: Rate{10, 5},
	}
}

// cacheTTL bounds how long a token or site read from the store is reused: a
// change made through another process sharing the database is seen within
// it.
const cacheTTL = 15 * time.Second

// Service holds everything the actions need. Create it with New; it is safe
// for concurrent use.
type Service struct {
	logger   *slog.Logger
	store    registry.Store
	vault    registry.Vault
	catalog  *catalog.Catalog
	policy   atomic.Pointer[policy.Engine] // swapped when a node copies the central's packs
	keys     KeyControl
	auditLog AuditLog
	auditKey ed25519.PublicKey
	noise    StatsNoise
	schedule string
	now      func() time.Time

	certMu sync.RWMutex
	certs  Certs

	tokens *ttlCache[*registry.Token] // by secret hash
	sites  *ttlCache[*registry.Site]  // by code

	readsByToken, readsByAddr, readsByCard *limiter
	holderByAddr, holderByCard             *limiter
	holderFailures                         *backoff
	signinFailures                         *backoff
	grants                                 holderGrants
	afterErase                             func(ctx context.Context) error
	loadCerts                              func() (Certs, error)
	reportUpstream                         bool
	sync                                   *syncState
}

// New returns a Service wired to deps.
func New(deps Deps) *Service {
	s := &Service{logger: deps.Logger, store: deps.Store, vault: deps.Vault, catalog: deps.Catalog,
		keys: deps.Keys, auditLog: deps.AuditLog, auditKey: deps.AuditKey, noise: deps.Stats, schedule: deps.Schedule,
		now: deps.Now, certs: deps.Certs, afterErase: deps.AfterErase, loadCerts: deps.LoadCerts, reportUpstream: deps.ReportUpstream,
		tokens: newTTLCache[*registry.Token](cacheTTL, 10000), sites: newTTLCache[*registry.Site](cacheTTL, 10000)}
	s.policy.Store(deps.Policy)
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.schedule == "" {
		s.schedule = "who"
	}
	if s.auditLog == nil {
		s.auditLog, _ = deps.Store.(AuditLog)
	}
	lim := DefaultLimits()
	if deps.Limits != nil {
		lim = *deps.Limits
	}
	s.readsByToken, s.readsByAddr, s.readsByCard = newLimiter(lim.ReadsPerToken), newLimiter(lim.ReadsPerAddr), newLimiter(lim.ReadsPerCard)
	s.holderByAddr, s.holderByCard = newLimiter(lim.HolderPerAddr), newLimiter(lim.HolderPerCard)
	s.holderFailures, s.signinFailures = newBackoff(), newBackoff()
	s.initSync(deps.Sync)
	return s
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Catalog is the vaccine catalogue the service records against.
func (s *Service) Catalog() *catalog.Catalog { return s.catalog }

// Policy is the policy engine, or nil when no packs are loaded.
func (s *Service) Policy() *policy.Engine { return s.policy.Load() }

// SetPolicy replaces the policy engine: decisions made from now on use e
// (a node that copied the central's packs).
func (s *Service) SetPolicy(e *policy.Engine) { s.policy.Store(e) }

// Sealed reports whether the vault is sealed (nothing but unlock and shred
// can be served until it is unlocked).
func (s *Service) Sealed() bool { return s.keys != nil && s.keys.Sealed() }

// begin checks that actor may call action now: the role, then the vault. It
// is the first thing every action does.
func (s *Service) begin(a Actor, action Action) error {
	p, ok := permissions[action]
	if !ok {
		return registry.Errorf(registry.EINTERNAL, "Action %q has no permission.", action)
	}
	if !p.Admits(a.Role) {
		if a.Role == "" || a.Role == RolePublic {
			return registry.FieldErrorf(registry.EUNAUTHORIZED, "Authorization", "A bearer token is required.")
		}
		return registry.Errorf(registry.EFORBIDDEN, "The %s role may not do this.", a.Role)
	}
	if !p.WhileSealed && s.Sealed() {
		return registry.Errorf(registry.ESEALED, "Haven is sealed; an administrator must unlock it.")
	}
	return nil
}

// entry builds the access-log record of an action. subject is a person's
// pseudonym or an object reference, never a card code.
func (s *Service) entry(a Actor, action Action, purpose, subject string) *registry.AuditRecord {
	actor, role := a.TokenID, string(a.Role)
	switch {
	case a.Role == RoleHolder:
		actor = "holder"
	case actor == "":
		actor, role = "anonymous", "none"
	}
	return &registry.AuditRecord{Time: s.now(), Actor: actor, Role: role, Action: string(action), Purpose: purpose, Subject: subject}
}

// trace appends an entry to the access log, durably, before the caller
// returns anything: a read that cannot be traced is refused.
func (s *Service) trace(ctx context.Context, a Actor, action Action, purpose, subject string) error {
	return s.store.AppendAudit(ctx, *s.entry(a, action, purpose, subject))
}

// subjectOf returns the audit pseudonym of a person.
func (s *Service) subjectOf(id registry.ID) (string, error) {
	if s.vault == nil {
		return "", errNoVault
	}
	return s.vault.Pseudonym(id.String())
}

var errNoVault = registry.Errorf(registry.EUNAVAILABLE, "This server has no vault.")

// stamp is the time a record is written, at the microsecond precision the
// stores keep, so a record reads back exactly as it was first returned.
func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Today is the latest calendar date anywhere on Earth (UTC+14), so that no
// clinic's "today" is refused as a future date.
func (s *Service) Today() registry.Date {
	return registry.DateOf(s.now().In(time.FixedZone("UTC+14", 14*3600)))
}

// Ready reports whether the service can serve requests: the vault is
// unsealed and the store answers. It returns ESEALED or EUNAVAILABLE.
func (s *Service) Ready(ctx context.Context) error {
	if s.Sealed() {
		return registry.Errorf(registry.ESEALED, "Haven is sealed; an administrator must unlock it.")
	}
	if err := s.store.Ping(ctx); err != nil {
		return &registry.Error{Code: registry.EUNAVAILABLE, Message: "The database is not ready.", Err: err}
	}
	return nil
}
