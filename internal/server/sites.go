package server

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// siteRequest is the body of POST /api/v1/sites.
type siteRequest struct {
	Code         string   `json:"code"`
	Name         string   `json:"name"`
	Jurisdiction string   `json:"jurisdiction"`
	Services     []string `json:"services"`
}

type siteResponse struct {
	Code         string    `json:"code"`
	Name         string    `json:"name"`
	Jurisdiction string    `json:"jurisdiction"`
	Services     []string  `json:"services"`
	CreatedAt    time.Time `json:"created_at"`
}

func siteOut(s registry.Site) siteResponse {
	services := s.Services
	if services == nil {
		services = []string{}
	}
	return siteResponse{Code: s.Code, Name: s.Name, Jurisdiction: s.Jurisdiction, Services: services, CreatedAt: s.CreatedAt}
}

var (
	siteCodePattern = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,31}$`)
	// jurisdictionPattern accepts ISO 3166-1 alpha-2 (KR), ISO 3166-2 (CN-JL)
	// and sub-areas below them (CN-JL-YB).
	jurisdictionPattern = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3}){0,3}$`)
)

func (req siteRequest) validate() (registry.Site, error) {
	site := registry.Site{Code: req.Code, Jurisdiction: req.Jurisdiction}
	if !siteCodePattern.MatchString(req.Code) {
		return site, fieldErr("code", "A site code is 1–32 upper-case letters, digits and hyphens.")
	}
	var err error
	if site.Name, err = cleanText("name", req.Name, 200); err != nil {
		return site, err
	}
	if site.Name == "" {
		return site, fieldErr("name", "The name is required.")
	}
	if !jurisdictionPattern.MatchString(req.Jurisdiction) {
		return site, fieldErr("jurisdiction", "Use an ISO 3166 code such as KR, CN-JL or a sub-area such as CN-JL-YB.")
	}
	if len(req.Services) == 0 {
		return site, fieldErr("services", "Name at least one service: vaccination, testing.")
	}
	for i, svc := range req.Services {
		if svc != registry.ServiceVaccination && svc != registry.ServiceTesting {
			return site, fieldErr("services", "Service %d must be vaccination or testing.", i)
		}
		if !slices.Contains(site.Services, svc) {
			site.Services = append(site.Services, svc)
		}
	}
	return site, nil
}

func (s *Server) handleSiteCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, raw, err := decodeBody[siteRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		site, err := req.validate()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		idem, err := s.idempotencyFor(r, "site", raw)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if idem != nil {
			idem.ResourceID = site.Code
		}
		site.CreatedAt = s.stamp()
		prev, err := s.store.CreateSite(r.Context(), site, registry.Write{Idem: idem, Audit: s.auditFor(r, "site.create", "", "site:"+site.Code)})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if prev != nil {
			s.replay(w, r, prev)
			return
		}
		encode(w, http.StatusCreated, siteOut(site))
	})
}

// findSite returns a site, from the cache when it was read recently.
func (s *Server) findSite(ctx context.Context, code string) (*registry.Site, error) {
	if site, ok := s.sites.get(code, s.now()); ok {
		return site, nil
	}
	site, err := s.store.FindSite(ctx, code)
	if err != nil {
		return nil, err
	}
	s.sites.put(code, site, s.now())
	return site, nil
}

func (s *Server) handleSiteList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sites, err := s.store.ListSites(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := make([]siteResponse, 0, len(sites))
		for _, site := range sites {
			out = append(out, siteOut(site))
		}
		encode(w, http.StatusOK, map[string]any{"sites": out})
	})
}

// tokenRequest is the body of POST /api/v1/tokens.
type tokenRequest struct {
	Role  string   `json:"role"`
	Sites []string `json:"sites"`
}

type tokenResponse struct {
	ID    string        `json:"id"`
	Token string        `json:"token"` // shown once; only its hash is stored
	Role  registry.Role `json:"role"`
	Sites []string      `json:"sites,omitempty"`
}

// handleTokenCreate makes a token. It does not honour Idempotency-Key: a
// replay could not show the secret again, since only its hash is stored.
func (s *Server) handleTokenCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _, err := decodeBody[tokenRequest](w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, code := range req.Sites {
			if _, err := s.findSite(r.Context(), code); err != nil {
				if registry.ErrorCode(err) == registry.ENOTFOUND {
					err = fieldErr("sites", "Unknown site %q.", code)
				}
				s.writeError(w, r, err)
				return
			}
		}
		secret, tok, err := NewToken(registry.Role(req.Role), req.Sites, s.now())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.store.CreateToken(r.Context(), tok, registry.Write{Audit: s.auditFor(r, "token.create", "", "token:"+tok.ID)}); err != nil {
			s.writeError(w, r, err)
			return
		}
		encode(w, http.StatusCreated, tokenResponse{ID: tok.ID, Token: secret, Role: tok.Role, Sites: tok.Sites})
	})
}

// tokenInfo describes a token without its secret or hash.
type tokenInfo struct {
	ID        string        `json:"id"`
	Role      registry.Role `json:"role"`
	Sites     []string      `json:"sites,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
}

func (s *Server) handleTokenList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		toks, err := s.store.ListTokens(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := make([]tokenInfo, 0, len(toks))
		for _, t := range toks {
			out = append(out, tokenInfo{ID: t.ID, Role: t.Role, Sites: t.Sites, CreatedAt: t.CreatedAt})
		}
		encode(w, http.StatusOK, map[string]any{"tokens": out})
	})
}

// handleTokenRevoke deletes a token. This process stops accepting it at
// once; other processes sharing the database within cacheTTL.
func (s *Server) handleTokenRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := s.store.RevokeToken(r.Context(), id, registry.Write{Audit: s.auditFor(r, "token.revoke", "", "token:"+id)}); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.tokens.clear()
		w.WriteHeader(http.StatusNoContent)
	})
}

type productResponse struct {
	ID     string            `json:"id"`
	Names  map[string]string `json:"names"`
	CVX    string            `json:"cvx,omitempty"`
	MVX    string            `json:"mvx,omitempty"`
	DCCMP  string            `json:"dcc_mp,omitempty"`
	SNOMED string            `json:"snomed,omitempty"`
	ICD11  string            `json:"icd11,omitempty"`
}

func (s *Server) handleProductList() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out []productResponse
		for _, p := range s.catalog.Products() {
			out = append(out, productResponse{ID: p.ID, Names: p.Names, CVX: p.CVXCode(), MVX: p.MVX,
				DCCMP: p.DCCProduct, SNOMED: p.SNOMED, ICD11: p.ICD11})
		}
		encode(w, http.StatusOK, map[string]any{"products": out})
	})
}
