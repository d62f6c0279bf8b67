package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// The holder page: a person reads their own record with the card code and
// the holder secret printed on their card. The secret travels only in a
// POST body, attempts are rate-limited per address, and every successful
// read leaves an audit entry, as through the API.

type holderPageData struct {
	Err    *formErr
	Card   string
	Person *personView
	Next   string // earliest date of the next dose due, if any
	// Grant lets the page ask for a certificate without sending the
	// holder secret again; it is valid for a few minutes, in memory only.
	Grant string
	Cert  *certPageData
}

// holderGrantTTL is how long a holder may ask for certificates after
// opening their record.
const holderGrantTTL = 10 * time.Minute

// holderGrants remembers, in memory only, which card a holder opened, so
// that the holder secret is not echoed back into the page.
type holderGrants struct {
	mu sync.Mutex
	m  map[string]holderGrant
}

type holderGrant struct {
	code    registry.CardCode
	expires time.Time
}

func (g *holderGrants) add(code registry.CardCode, now time.Time) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]holderGrant{}
	}
	if len(g.m) > 10000 {
		for k, v := range g.m {
			if now.After(v.expires) {
				delete(g.m, k)
			}
		}
	}
	id := randomToken(24)
	g.m[sessionKey(id)] = holderGrant{code: code, expires: now.Add(holderGrantTTL)}
	return id
}

func (g *holderGrants) get(id string, now time.Time) (registry.CardCode, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.m[sessionKey(id)]
	if !ok || now.After(v.expires) {
		return "", false
	}
	return v.code, true
}

func (a *webApp) holderForm(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	return a.render(w, r, c, http.StatusOK, "holder", "holder.title", holderPageData{})
}

func (a *webApp) holderRecord(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	if !a.s.holderLimit.allow(clientAddr(r), a.s.now()) {
		return registry.Errorf(registry.ERATELIMITED, "Too many attempts; wait a minute.")
	}
	cardIn := strings.TrimSpace(r.PostFormValue("card"))
	denied := func() error {
		err := registry.Errorf(registry.ENOTFOUND, "The card code and secret do not match a record.")
		return a.render(w, r, c, http.StatusNotFound, "holder", "holder.title", holderPageData{Err: toFormErr(err), Card: cardIn})
	}
	code, err := registry.ParseCardCode(cardIn)
	if err != nil {
		return a.render(w, r, c, statusOf(registry.ErrorCode(err)), "holder", "holder.title", holderPageData{Err: toFormErr(err), Card: cardIn})
	}
	rec, err := a.s.store.FindRecord(r.Context(), code)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return denied()
	}
	if err != nil {
		return err
	}
	opened, err := a.s.open(rec)
	if err != nil {
		return err
	}
	secret := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(r.PostFormValue("secret")), " ", ""))
	if !registry.HolderSecretMatches(opened.Person.HolderSecret, secret) {
		return denied()
	}
	subject, err := a.s.subjectOf(rec.Person.ID)
	if err != nil {
		return err
	}
	if err := a.s.store.AppendAudit(r.Context(), registry.AuditRecord{Time: a.s.now(), Actor: "holder", Role: "holder",
		Action: "holder.read", Purpose: "self", Subject: subject}); err != nil {
		return err
	}
	view := a.viewOf(opened, c)
	d := holderPageData{Person: &view, Card: string(code), Grant: a.grants.add(code, a.s.now())}
	for _, f := range view.Forecasts {
		if f.Earliest != "" && (d.Next == "" || f.Earliest < d.Next) {
			d.Next = f.Earliest
		}
	}
	return a.render(w, r, c, http.StatusOK, "holder", "holder.title", d)
}

// holderCertificate issues a certificate for one of the holder's own
// records. The holder is identified by the grant of the record page they
// opened; the read is audited with the actor "holder".
func (a *webApp) holderCertificate(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	if !a.s.holderLimit.allow(clientAddr(r), a.s.now()) {
		return registry.Errorf(registry.ERATELIMITED, "Too many attempts; wait a minute.")
	}
	code, ok := a.grants.get(r.PostFormValue("grant"), a.s.now())
	if !ok {
		return registry.FieldErrorf(registry.EUNAUTHORIZED, "holder_secret", "Open your record again with your card code and secret.")
	}
	id, err := registry.ParseID(r.PostFormValue("record"))
	if err != nil {
		return registry.FieldErrorf(registry.EINVALID, "record", "Choose a dose or a test to certify.")
	}
	holder := &registry.Token{ID: "holder", Role: registry.Role("holder")}
	r = r.WithContext(context.WithValue(r.Context(), ctxToken, holder))
	out, err := a.s.IssueCertificate(r, code, id, "")
	if err != nil {
		return err
	}
	return a.render(w, r, c, http.StatusOK, "holder", "holder.title", holderPageData{Card: string(code),
		Cert: &certPageData{Card: string(code), HC1: out.HC1, QR: svgDataURI([]byte(out.QRSVG)), Expires: out.ExpiresAt, IssuedAt: out.IssuedAt}})
}

func (d holderPageData) printSize() string {
	if d.Cert != nil {
		return "a6"
	}
	return ""
}
