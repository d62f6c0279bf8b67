package clinic

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/stats"
)

// Products lists the vaccine catalogue.
func (s *Service) Products(ctx context.Context, a Actor) ([]catalog.Product, error) {
	if err := s.begin(a, ActProductList); err != nil {
		return nil, err
	}
	return s.catalog.Products(), nil
}

// SiteInput is a new site.
type SiteInput struct {
	Code         string   `json:"code"`
	Name         string   `json:"name"`
	Jurisdiction string   `json:"jurisdiction"`
	Services     []string `json:"services"`
}

var (
	siteCodePattern = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,31}$`)
	// jurisdictionPattern accepts ISO 3166-1 alpha-2 (KR), ISO 3166-2 (CN-JL)
	// and sub-areas below them (CN-JL-YB).
	jurisdictionPattern = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3}){0,3}$`)
)

func (in SiteInput) site() (registry.Site, error) {
	site := registry.Site{Code: in.Code, Jurisdiction: in.Jurisdiction}
	if !siteCodePattern.MatchString(in.Code) {
		return site, fieldErr("code", "A site code is 1–32 upper-case letters, digits and hyphens.")
	}
	var err error
	if site.Name, err = cleanText("name", in.Name, 200); err != nil {
		return site, err
	}
	if site.Name == "" {
		return site, fieldErr("name", "The name is required.")
	}
	if !jurisdictionPattern.MatchString(in.Jurisdiction) {
		return site, fieldErr("jurisdiction", "Use an ISO 3166 code such as KR, CN-JL or a sub-area such as CN-JL-YB.")
	}
	if len(in.Services) == 0 {
		return site, fieldErr("services", "Name at least one service: vaccination, testing.")
	}
	for i, svc := range in.Services {
		if svc != registry.ServiceVaccination && svc != registry.ServiceTesting {
			return site, fieldErr("services", "Service %d must be vaccination or testing.", i)
		}
		if !slices.Contains(site.Services, svc) {
			site.Services = append(site.Services, svc)
		}
	}
	return site, nil
}

// CreatedSite is a site as created, or as a retried request first created it.
type CreatedSite struct {
	Site     registry.Site
	Replayed bool
}

// CreateSite stores a new site. Returns ECONFLICT if the code is taken.
func (s *Service) CreateSite(ctx context.Context, a Actor, in SiteInput, idemKey string) (*CreatedSite, error) {
	if err := s.begin(a, ActSiteCreate); err != nil {
		return nil, err
	}
	site, err := in.site()
	if err != nil {
		return nil, err
	}
	idem, err := s.idempotency(a, idemKey, ActSiteCreate, "", in)
	if err != nil {
		return nil, err
	}
	if idem != nil {
		idem.ResourceID = site.Code
	}
	site.CreatedAt = s.stamp()
	prev, err := s.store.CreateSite(ctx, site, registry.Write{Idem: idem, Audit: s.entry(a, ActSiteCreate, "", "site:"+site.Code)})
	if err != nil {
		return nil, err
	}
	if prev == nil {
		return &CreatedSite{Site: site}, nil
	}
	stored, err := s.store.FindSite(ctx, prev.ResourceID)
	if err != nil {
		return nil, err
	}
	return &CreatedSite{Site: *stored, Replayed: true}, nil
}

// ListSites returns every site ordered by code.
func (s *Service) ListSites(ctx context.Context, a Actor) ([]registry.Site, error) {
	if err := s.begin(a, ActSiteList); err != nil {
		return nil, err
	}
	return s.store.ListSites(ctx)
}

// tokenPrefix starts every Haven token, so that a leaked token is easy to
// recognise in a scan.
const tokenPrefix = "hvn_"

// NewToken makes a token for role, returning the secret to show once and the
// record to store (which holds only the secret's SHA-256 hash).
func NewToken(role registry.Role, sites []string, now time.Time) (secret string, tok registry.Token, err error) {
	if !role.Valid() {
		return "", tok, registry.FieldErrorf(registry.EINVALID, "role", "Role must be admin, vaccinator, analyst, auditor or node.")
	}
	scoped := role == registry.RoleVaccinator || role == registry.RoleNode
	if scoped && len(sites) == 0 {
		return "", tok, registry.FieldErrorf(registry.EINVALID, "sites", "A %s token must name the sites it may record at.", role)
	}
	if !scoped && len(sites) > 0 {
		return "", tok, registry.FieldErrorf(registry.EINVALID, "sites", "Only vaccinator and node tokens are scoped to sites.")
	}
	var raw [20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", tok, registry.Errorf(registry.EINTERNAL, "token: no randomness: %v", err)
	}
	secret = tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", tok, registry.Errorf(registry.EINTERNAL, "token: no randomness: %v", err)
	}
	h := sha256.Sum256([]byte(secret))
	return secret, registry.Token{ID: "tk_" + hex.EncodeToString(id[:]), Hash: h[:], Role: role,
		Sites: slices.Clone(sites), CreatedAt: now.UTC()}, nil
}

// TokenInput asks for a new token.
type TokenInput struct {
	Role  string   `json:"role"`
	Sites []string `json:"sites"`
	// Label names the staff member or device the token is for (optional,
	// at most 100 characters).
	Label string `json:"label"`
}

// CreatedToken is a new token: Secret is shown this once and never again
// (only its hash is stored).
type CreatedToken struct {
	Token  registry.Token
	Secret string
}

// CreateToken makes a token. It takes no idempotency key: a replay could not
// show the secret again.
func (s *Service) CreateToken(ctx context.Context, a Actor, in TokenInput) (*CreatedToken, error) {
	if err := s.begin(a, ActTokenCreate); err != nil {
		return nil, err
	}
	for _, code := range in.Sites {
		if _, err := s.FindSite(ctx, code); err != nil {
			if registry.ErrorCode(err) == registry.ENOTFOUND {
				err = fieldErr("sites", "Unknown site %q; create it first.", code)
			}
			return nil, err
		}
	}
	label, err := cleanText("label", in.Label, 100)
	if err != nil {
		return nil, err
	}
	secret, tok, err := NewToken(registry.Role(in.Role), in.Sites, s.now())
	if err != nil {
		return nil, err
	}
	tok.Label = label
	if err := s.store.CreateToken(ctx, tok, registry.Write{Audit: s.entry(a, ActTokenCreate, "", "token:"+tok.ID)}); err != nil {
		return nil, err
	}
	return &CreatedToken{Token: tok, Secret: secret}, nil
}

// ListTokens returns every token, without hashes. The listing is audited.
func (s *Service) ListTokens(ctx context.Context, a Actor) ([]registry.Token, error) {
	if err := s.begin(a, ActTokenList); err != nil {
		return nil, err
	}
	toks, err := s.store.ListTokens(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.trace(ctx, a, ActTokenList, "", ""); err != nil {
		return nil, err
	}
	for i := range toks {
		toks[i].Hash = nil
	}
	return toks, nil
}

// RevokeToken deletes a token. This process stops accepting it at once;
// other processes sharing the database within cacheTTL. An administrator
// cannot revoke the token they act with, so that a slip cannot lock them
// out.
func (s *Service) RevokeToken(ctx context.Context, a Actor, id string) error {
	if err := s.begin(a, ActTokenRevoke); err != nil {
		return err
	}
	if id != "" && id == a.TokenID {
		return fieldErr("id", "You cannot revoke the token you are signed in with.")
	}
	if err := s.store.RevokeToken(ctx, id, registry.Write{Audit: s.entry(a, ActTokenRevoke, "", "token:"+id)}); err != nil {
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			return registry.FieldErrorf(registry.ENOTFOUND, "id", "No token has this ID.")
		}
		return err
	}
	s.tokens.clear()
	return nil
}

// Authenticate returns the token whose secret is secret, reusing a lookup
// made within cacheTTL. Returns EUNAUTHORIZED naming Authorization if there
// is none (it was never made, or it was revoked).
func (s *Service) Authenticate(ctx context.Context, secret string) (*registry.Token, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return nil, registry.FieldErrorf(registry.EUNAUTHORIZED, "Authorization", "A bearer token is required.")
	}
	sum := sha256.Sum256([]byte(secret))
	return s.Revalidate(ctx, sum[:])
}

// SignIn authenticates a person signing in to the web pages with their
// token. Only failures count against a client address: after five, each
// further failure locks the address out for longer (ERATELIMITED), so that a
// clinic behind one address is never locked out by its own staff signing in
// at the start of a shift.
func (s *Service) SignIn(ctx context.Context, addr, secret string) (*registry.Token, error) {
	now := s.now()
	if s.signinFailures.locked(addr, now) {
		return nil, registry.Errorf(registry.ERATELIMITED, "Too many failed sign-ins; wait a minute.")
	}
	tok, err := s.Authenticate(ctx, secret)
	if err == nil && tok.Role == registry.RoleNode {
		// A node token syncs; it never signs in to the web pages.
		return nil, registry.FieldErrorf(registry.EFORBIDDEN, "token", "A clinic node's token cannot sign in; use a staff token.")
	}
	if registry.ErrorCode(err) == registry.EUNAUTHORIZED {
		s.signinFailures.fail(addr, now)
	} else if err == nil {
		s.signinFailures.succeed(addr)
	}
	return tok, err
}

// Revalidate returns the token whose secret hashes to hash, as Authenticate
// does; a web session calls it to end itself once its token is revoked.
func (s *Service) Revalidate(ctx context.Context, hash []byte) (*registry.Token, error) {
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
	// A node token is read afresh on every request, so that revoking it
	// stops a node's sync at once.
	if tok.Role != registry.RoleNode {
		s.tokens.put(string(hash), tok, s.now())
	}
	return tok, nil
}

// Seal drops the key-encryption key, and with shred also destroys the key
// file, for good. It is for a clinic that expects to be raided. The trace is
// written first: once sealed, nothing more can be read.
func (s *Service) Seal(ctx context.Context, a Actor, shred bool) error {
	action := ActVaultSeal
	if shred {
		action = ActVaultShred
	}
	if err := s.begin(a, action); err != nil {
		return err
	}
	if s.keys == nil {
		return registry.Errorf(registry.EUNSUPPORTED, "This server has no sealable vault.")
	}
	if err := s.trace(ctx, a, action, "", ""); err != nil {
		s.logger.Error("seal: audit append failed; sealing anyway", "error", err.Error())
	}
	if !shred {
		s.keys.Seal()
		return nil
	}
	if err := s.keys.Shred(); err != nil {
		s.keys.Seal()
		return err
	}
	return nil
}

// Unlock loads the key-encryption key again, from its file or derived from
// the passphrase. A failed attempt is audited too.
func (s *Service) Unlock(ctx context.Context, a Actor, passphrase []byte) error {
	if err := s.begin(a, ActVaultUnlock); err != nil {
		return err
	}
	if s.keys == nil {
		return registry.Errorf(registry.EUNSUPPORTED, "This server has no sealable vault.")
	}
	if err := s.keys.Unlock(passphrase); err != nil {
		if terr := s.trace(ctx, a, ActVaultUnlockFailed, "", ""); terr != nil {
			return errors.Join(err, terr)
		}
		return err
	}
	return s.trace(ctx, a, ActVaultUnlock, "", "")
}

// EligibilityInput is an eligibility question. Facts (residence status and
// the like) are used for this one decision and then forgotten: they are not
// logged, stored or audited.
type EligibilityInput = policy.EligibilityRequest

// Decide answers: may this person, here, on this date, get a vaccine or a
// test, and at what cost?
func (s *Service) Decide(ctx context.Context, a Actor, in EligibilityInput) (*policy.Decision, error) {
	if err := s.begin(a, ActEligibility); err != nil {
		return nil, err
	}
	engine := s.Policy()
	if engine == nil {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "No policy packs are loaded.")
	}
	q, err := engine.Validate(in)
	if err != nil {
		return nil, err
	}
	d, err := q.Decide()
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// gapBaselineWeeks is how many weeks before the assessed one the gap report
// compares against (stats.GapOptions.Baseline's default).
const gapBaselineWeeks = 4

// CoverageOptions fixes the shape of the coverage tables: every jurisdiction
// that has a site, every catalogue product, the period, k, and the noise.
// Fixed rows and columns mean an empty cell is published as 0 rather than
// left out, which would say something by itself.
func (s *Service) coverageOptions(ctx context.Context, from, to registry.Date, k int) (stats.Options, error) {
	sites, err := s.store.ListSites(ctx)
	if err != nil {
		return stats.Options{}, err
	}
	opts := stats.Options{From: from.Time(), To: to.Time(), K: k, GeneratedAt: s.now().UTC()}
	seen := map[string]bool{}
	for _, site := range sites {
		if !seen[site.Jurisdiction] {
			seen[site.Jurisdiction] = true
			opts.Jurisdictions = append(opts.Jurisdictions, site.Jurisdiction)
		}
	}
	// The COVID-19 products are fixed rows (present even at zero); other
	// vaccines in the catalogue are added by withProductsOf when the period
	// has doses of them, so that 200 empty rows do not bury the table.
	for _, p := range s.catalog.ProductsFor("COVID-19") {
		opts.Products = append(opts.Products, p.ID)
	}
	if s.noise.Epsilon != 0 {
		opts.Noise = &stats.Noise{Epsilon: s.noise.Epsilon}
		opts.NoiseKey = s.noise.Key
	}
	return opts, nil
}

// withProductsOf adds to the fixed products those of the doses that are not
// among them.
func withProductsOf(fixed []string, doses []stats.DoseRow) []string {
	for _, d := range doses {
		if !slices.Contains(fixed, d.Product) {
			fixed = append(fixed, d.Product)
		}
	}
	return fixed
}

// statsInput reads the dose and test counts of the period.
func (s *Service) statsInput(ctx context.Context, from, to registry.Date) ([]stats.DoseRow, []stats.TestRow, error) {
	doses, err := s.store.DoseCounts(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	tests, err := s.store.TestCounts(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	dr := make([]stats.DoseRow, len(doses))
	for i, c := range doses {
		dr[i] = stats.DoseRow{Jurisdiction: c.Jurisdiction, Site: c.Site, Product: c.Product, DoseNumber: c.DoseNumber, Date: c.Date, Count: c.Count}
	}
	tr := make([]stats.TestRow, len(tests))
	for i, c := range tests {
		tr[i] = stats.TestRow{Jurisdiction: c.Jurisdiction, Site: c.Site, Date: c.Date, Count: c.Count}
	}
	return dr, tr, nil
}

// Coverage builds the published coverage tables for the period: doses by
// jurisdiction × product × dose number × ISO week and tests by jurisdiction ×
// week, suppressed (k) and with the operator's noise. There is no status
// breakdown, and there never will be. The API, the coverage page and "haven
// stats" all call it and nothing else, so what is released can never differ
// between them (two different releases of one period could be compared to
// undo suppression). k = 0 means the default.
func (s *Service) Coverage(ctx context.Context, a Actor, from, to registry.Date, k int) (stats.Coverage, error) {
	if err := s.begin(a, ActStatsCoverage); err != nil {
		return stats.Coverage{}, err
	}
	opts, err := s.coverageOptions(ctx, from, to, k)
	if err != nil {
		return stats.Coverage{}, err
	}
	doses, tests, err := s.statsInput(ctx, from, to)
	if err != nil {
		return stats.Coverage{}, err
	}
	opts.Products = withProductsOf(opts.Products, doses)
	cov, err := stats.Build(doses, tests, opts)
	if err != nil {
		return stats.Coverage{}, err
	}
	if err := s.trace(ctx, a, ActStatsCoverage, "", ""); err != nil {
		return stats.Coverage{}, err
	}
	return cov, nil
}

// Gaps builds the gap report for the ISO week holding week; like Coverage,
// it is the one place the report is made.
func (s *Service) Gaps(ctx context.Context, a Actor, week registry.Date) (stats.GapReport, error) {
	if err := s.begin(a, ActStatsGaps); err != nil {
		return stats.GapReport{}, err
	}
	from := registry.DateOf(week.Time().AddDate(0, 0, -7*(gapBaselineWeeks+2)))
	doses, _, err := s.statsInput(ctx, from, week)
	if err != nil {
		return stats.GapReport{}, err
	}
	rep, err := stats.Gaps(doses, stats.GapOptions{Week: week.Time(), Baseline: gapBaselineWeeks, GeneratedAt: s.now().UTC()})
	if err != nil {
		return stats.GapReport{}, err
	}
	if err := s.trace(ctx, a, ActStatsGaps, "", ""); err != nil {
		return stats.GapReport{}, err
	}
	return rep, nil
}

// AuditPage is one page of one chain of the access log, and every chain
// the log has. A SQLite log has chain 0 only; on PostgreSQL each writer
// appends to a chain of its own (ADR 0005), so a reader pages each chain.
type AuditPage struct {
	Chain   uint64
	Entries []audit.Entry
	Chains  []uint64
}

// AuditEntries returns up to limit entries of chain from seq from on, with
// the list of chains. Returns EINVALID naming from_seq or limit, and
// ENOTFOUND naming chain for a chain the log does not have.
func (s *Service) AuditEntries(ctx context.Context, a Actor, chain, from uint64, limit int) (*AuditPage, error) {
	if err := s.begin(a, ActAuditList); err != nil {
		return nil, err
	}
	if from == 0 {
		return nil, fieldErr("from_seq", "from_seq must be a positive whole number.")
	}
	if limit < 1 || limit > 1000 {
		return nil, fieldErr("limit", "limit must be 1 to 1000.")
	}
	if s.auditLog == nil {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "This store keeps no access log.")
	}
	page := &AuditPage{Chain: chain, Entries: []audit.Entry{}, Chains: []uint64{0}}
	chains, multi := s.auditLog.(audit.ChainStore)
	if multi {
		var err error
		if page.Chains, err = chains.Chains(ctx); err != nil {
			return nil, err
		}
		if len(page.Chains) == 0 {
			page.Chains = []uint64{0}
		}
	}
	if !slices.Contains(page.Chains, chain) {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "chain", "The access log has no chain %d.", chain)
	}
	if err := s.trace(ctx, a, ActAuditList, "", ""); err != nil {
		return nil, err
	}
	errStop := errors.New("stop")
	collect := func(e audit.Entry) error {
		page.Entries = append(page.Entries, e)
		if len(page.Entries) == limit {
			return errStop
		}
		return nil
	}
	var err error
	if multi {
		err = chains.ScanChain(ctx, chain, from, collect)
	} else {
		err = s.auditLog.Scan(ctx, from, collect)
	}
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	return page, nil
}

// VerifyAudit checks the whole chain against the stored checkpoints. A
// problem found is in the report, not an error.
func (s *Service) VerifyAudit(ctx context.Context, a Actor) (audit.Report, error) {
	if err := s.begin(a, ActAuditVerify); err != nil {
		return audit.Report{}, err
	}
	if s.auditLog == nil {
		return audit.Report{}, registry.Errorf(registry.EUNAVAILABLE, "This store keeps no access log.")
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cps, err := s.auditLog.Checkpoints(ctx)
	if err != nil {
		return audit.Report{}, err
	}
	var keys []ed25519.PublicKey
	if s.auditKey != nil {
		keys = append(keys, s.auditKey)
	}
	rep, err := audit.Verify(ctx, s.auditLog, cps, keys...)
	if err != nil && rep.Problem == nil {
		return rep, err
	}
	return rep, nil
}
