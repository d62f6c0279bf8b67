package server

import (
	"context"
	"crypto/ed25519"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/stats"
)

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

// AuditLog is what the auditor routes read. The stores implement it.
type AuditLog interface {
	audit.Store
	audit.CheckpointStore
}

// sealedGate refuses every request while the vault is sealed, except the
// health endpoints and unlock.
func (s *Server) sealedGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.keys != nil && s.keys.Sealed() {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/api/v1/unlock":
			default:
				s.writeError(w, r, registry.Errorf(registry.ESEALED, "Haven is sealed; an administrator must unlock it."))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

type sealRequest struct {
	Shred bool `json:"shred"` // also destroy the key file, for good
}

// handleSeal drops the key-encryption key, and with shred destroys the key
// file. It is for a clinic that expects to be raided.
func (s *Server) handleSeal() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _, err := decodeBody[sealRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.keys == nil {
			s.writeError(w, r, registry.Errorf(registry.EUNSUPPORTED, "This server has no sealable vault."))
			return
		}
		action := "vault.seal"
		if req.Shred {
			action = "vault.shred"
		}
		// The trace is written first: once sealed, nothing more is written.
		if err := s.store.AppendAudit(r.Context(), *s.auditFor(r, action, "", "")); err != nil {
			s.logger.Error("seal: audit append failed; sealing anyway", "error", err.Error())
		}
		if req.Shred {
			if err := s.keys.Shred(); err != nil {
				s.keys.Seal()
				s.writeError(w, r, err)
				return
			}
		} else {
			s.keys.Seal()
		}
		encode(w, http.StatusOK, map[string]any{"sealed": true, "shredded": req.Shred})
	})
}

type unlockRequest struct {
	Passphrase string `json:"passphrase"`
}

func (s *Server) handleUnlock() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _, err := decodeBody[unlockRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.keys == nil {
			s.writeError(w, r, registry.Errorf(registry.EUNSUPPORTED, "This server has no sealable vault."))
			return
		}
		var pass []byte
		if req.Passphrase != "" {
			pass = []byte(req.Passphrase)
		}
		err = s.keys.Unlock(pass)
		clear(pass)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.store.AppendAudit(r.Context(), *s.auditFor(r, "vault.unlock", "", "")); err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"sealed": false})
	})
}

// handlePersonErase destroys a person: their data key, the card-code link,
// and their records, which remain only as anonymous counts.
func (s *Server) handlePersonErase() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := cardFrom(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		p, err := s.store.FindPerson(r.Context(), code)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		subject, err := s.subjectOf(p.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.store.ErasePerson(r.Context(), code, registry.Write{Audit: s.auditFor(r, "person.erase", "", subject)}); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// holderRequest is the body of POST /api/v1/holder/record: a person reads
// their own record with the card code and the holder secret printed on
// their card. The secret travels in the body, never in a URL.
type holderRequest struct {
	CardCode     string `json:"card_code"`
	HolderSecret string `json:"holder_secret"`
}

func (s *Server) handleHolderRecord() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.holderLimit.allow(clientAddr(r), s.now()) {
			s.writeError(w, r, registry.Errorf(registry.ERATELIMITED, "Too many attempts; wait a minute."))
			return
		}
		req, _, err := decodeBody[holderRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		denied := registry.Errorf(registry.ENOTFOUND, "The card code and secret do not match a record.")
		code, err := registry.ParseCardCode(req.CardCode)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		rec, err := s.store.FindRecord(r.Context(), code)
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			s.writeError(w, r, denied)
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		opened, err := s.open(rec)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !registry.HolderSecretMatches(opened.Person.HolderSecret, req.HolderSecret) {
			s.writeError(w, r, denied)
			return
		}
		subject, err := s.subjectOf(rec.Person.ID)
		if err == nil {
			err = s.store.AppendAudit(r.Context(), registry.AuditRecord{Time: s.now(), Actor: "holder", Role: "holder",
				Action: "holder.read", Purpose: "self", Subject: subject})
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, s.personOut(opened, false))
	})
}

// clientAddr is the request's peer address, used only in memory for rate
// limits; it is never logged or stored.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// dateParam reads an optional YYYY-MM-DD query parameter.
func dateParam(r *http.Request, name string, def registry.Date) (registry.Date, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	d, err := registry.ParseDate(v)
	if err != nil {
		return d, fieldErr(name, "%v.", err)
	}
	return d, nil
}

// statsInput reads the dose and test counts of the period.
func statsInput(ctx context.Context, store registry.Store, from, to registry.Date) ([]stats.DoseRow, []stats.TestRow, error) {
	doses, err := store.DoseCounts(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	tests, err := store.TestCounts(ctx, from, to)
	if err != nil {
		return nil, nil, err
	}
	return DoseRows(doses), TestRows(tests), nil
}

// DoseRows converts store counts to the aggregate package's input.
func DoseRows(cs []registry.DoseCount) []stats.DoseRow {
	out := make([]stats.DoseRow, len(cs))
	for i, c := range cs {
		out[i] = stats.DoseRow{Jurisdiction: c.Jurisdiction, Site: c.Site, Product: c.Product, DoseNumber: c.DoseNumber, Date: c.Date, Count: c.Count}
	}
	return out
}

// TestRows converts store counts to the aggregate package's input.
func TestRows(cs []registry.TestCount) []stats.TestRow {
	out := make([]stats.TestRow, len(cs))
	for i, c := range cs {
		out[i] = stats.TestRow{Jurisdiction: c.Jurisdiction, Site: c.Site, Date: c.Date, Count: c.Count}
	}
	return out
}

// StatsNoise configures the optional noise of the coverage tables. The
// privacy parameter is the operator's choice, not a request's: an analyst
// must not be able to ask for less noise.
type StatsNoise struct {
	Epsilon float64 // 0: no noise
	Key     []byte  // ≥ 32 bytes: the same table asked twice gets the same noise, so answers cannot be averaged
}

// CoverageOptions fixes the shape of the coverage tables: every jurisdiction
// that has a site, every catalogue product, the period, k, and the noise.
// Fixed rows and columns mean an empty cell is published as 0 rather than
// left out, which would say something by itself.
func CoverageOptions(ctx context.Context, store registry.Store, cat *catalog.Catalog, from, to registry.Date, k int, noise StatsNoise, now time.Time) (stats.Options, error) {
	sites, err := store.ListSites(ctx)
	if err != nil {
		return stats.Options{}, err
	}
	opts := stats.Options{From: from.Time(), To: to.Time(), K: k, GeneratedAt: now.UTC()}
	seen := map[string]bool{}
	for _, site := range sites {
		if !seen[site.Jurisdiction] {
			seen[site.Jurisdiction] = true
			opts.Jurisdictions = append(opts.Jurisdictions, site.Jurisdiction)
		}
	}
	for _, p := range cat.Products() {
		opts.Products = append(opts.Products, p.ID)
	}
	if noise.Epsilon != 0 {
		opts.Noise = &stats.Noise{Epsilon: noise.Epsilon}
		opts.NoiseKey = noise.Key
	}
	return opts, nil
}

// CoverageRelease builds the published coverage tables for the period. The
// API, the coverage page and "haven stats" all call it and nothing else, so
// what is released can never differ between them (two different releases of
// one period could be compared to undo suppression).
func CoverageRelease(ctx context.Context, store registry.Store, cat *catalog.Catalog, from, to registry.Date, k int, noise StatsNoise, now time.Time) (stats.Coverage, error) {
	opts, err := CoverageOptions(ctx, store, cat, from, to, k, noise, now)
	if err != nil {
		return stats.Coverage{}, err
	}
	doses, tests, err := statsInput(ctx, store, from, to)
	if err != nil {
		return stats.Coverage{}, err
	}
	return stats.Build(doses, tests, opts)
}

// gapBaselineWeeks is how many weeks before the assessed one the gap report
// compares against (stats.GapOptions.Baseline's default).
const gapBaselineWeeks = 4

// GapRelease builds the gap report for the ISO week holding week; like
// CoverageRelease, it is the one place the report is made.
func GapRelease(ctx context.Context, store registry.Store, week registry.Date, now time.Time) (stats.GapReport, error) {
	from := registry.DateOf(week.Time().AddDate(0, 0, -7*(gapBaselineWeeks+2)))
	doses, _, err := statsInput(ctx, store, from, week)
	if err != nil {
		return stats.GapReport{}, err
	}
	return stats.Gaps(doses, stats.GapOptions{Week: week.Time(), Baseline: gapBaselineWeeks, GeneratedAt: now.UTC()})
}

func (s *Server) coverageRelease(ctx context.Context, from, to registry.Date, k int) (stats.Coverage, error) {
	return CoverageRelease(ctx, s.store, s.catalog, from, to, k, s.statsNoise, s.now())
}

func (s *Server) gapRelease(ctx context.Context, week registry.Date) (stats.GapReport, error) {
	return GapRelease(ctx, s.store, week, s.now())
}

// handleCoverage returns the suppressed coverage tables: doses by
// jurisdiction × product × dose number × ISO week and tests by jurisdiction
// × week. There is no status breakdown, and there never will be.
func (s *Server) handleCoverage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		today := registry.DateOf(s.now())
		to, err := dateParam(r, "to", today)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		from, err := dateParam(r, "from", registry.DateOf(to.Time().AddDate(0, 0, -7*12)))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		k := 0
		if v := r.URL.Query().Get("k"); v != "" {
			if k, err = strconv.Atoi(v); err != nil {
				s.writeError(w, r, fieldErr("k", "k must be a whole number."))
				return
			}
		}
		cov, err := s.coverageRelease(r.Context(), from, to, k)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.store.AppendAudit(r.Context(), *s.auditFor(r, "stats.coverage", "", "")); err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, cov)
	})
}

// handleGaps returns the sites and jurisdictions whose doses lag in a week.
func (s *Server) handleGaps() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		week, err := dateParam(r, "week", registry.DateOf(s.now()))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		rep, err := s.gapRelease(r.Context(), week)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, rep)
	})
}

// handleAuditList pages through the access log.
func (s *Server) handleAuditList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, limit := uint64(1), 100
		q := r.URL.Query()
		if v := q.Get("from_seq"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 {
				s.writeError(w, r, fieldErr("from_seq", "from_seq must be a positive whole number."))
				return
			}
			from = n
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				s.writeError(w, r, fieldErr("limit", "limit must be 1 to 1000."))
				return
			}
			limit = n
		}
		entries := []audit.Entry{}
		errStop := registry.Errorf(registry.ECONFLICT, "stop")
		err := s.auditLog.Scan(r.Context(), from, func(e audit.Entry) error {
			entries = append(entries, e)
			if len(entries) == limit {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"entries": entries})
	})
}

// handleAuditVerify checks the whole chain against the stored checkpoints.
func (s *Server) handleAuditVerify() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
		defer cancel()
		cps, err := s.auditLog.Checkpoints(ctx)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var keys []ed25519.PublicKey
		if s.auditKey != nil {
			keys = append(keys, s.auditKey)
		}
		rep, err := audit.Verify(ctx, s.auditLog, cps, keys...)
		if err != nil && rep.Problem == nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, rep)
	})
}
