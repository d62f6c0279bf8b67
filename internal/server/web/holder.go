package web

import (
	"net/http"
	"strings"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// The holder page: a person reads their own record with the card code and
// the holder secret printed on their card. The secret travels only in a
// POST body, attempts are rate-limited per address, and every successful
// read leaves an audit entry, as through the API.

type holderPageData struct {
	Err    *formErr
	Card   string
	Person *personView
	Next   string // earliest date of the next dose not yet due, if any
	DueNow bool   // a dose is due now (or overdue)
	// Grant lets the page ask for a certificate without sending the
	// holder secret again; it is valid for a few minutes, in memory only.
	Grant string
	Cert  *certPageData
}

// HolderForm shows the form where a holder enters their card code and
// secret.
func (a *App) HolderForm(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	return a.render(w, r, c, http.StatusOK, "holder", "holder.title", holderPageData{})
}

// HolderRecord shows a holder their own record and next dose due.
func (a *App) HolderRecord(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	cardIn := strings.TrimSpace(r.PostFormValue("card"))
	secret := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(r.PostFormValue("secret")), " ", ""))
	h, err := a.svc.HolderRead(r.Context(), httpx.ClientAddr(r), cardIn, secret)
	if userError(err) || registry.ErrorCode(err) == registry.ERATELIMITED {
		fe := toFormErr(err)
		switch {
		case fe.Code == registry.ENOTFOUND:
			fe.withKey("holder.mismatch") // the same answer whether or not the card exists
		case fe.Code == registry.ERATELIMITED:
			fe.withKey("holder.rate_limited")
		}
		return a.render(w, r, c, failed(w, err), "holder", "holder.title", holderPageData{Err: fe, Card: cardIn})
	}
	if err != nil {
		return err
	}
	view := a.viewOf(h.Record, h.Forecast, c)
	d := holderPageData{Person: &view, Card: string(h.Record.Person.CardCode), Grant: h.Grant}
	due := c.Due(view.Forecasts)
	d.Next, d.DueNow = due.Next, due.DueNow
	return a.render(w, r, c, http.StatusOK, "holder", "holder.title", d)
}

// HolderCertificate issues a certificate for one of the holder's own
// records. The holder is identified by the grant of the record page they
// opened; the read is audited with the actor "holder".
func (a *App) HolderCertificate(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	out, err := a.svc.HolderCertificate(r.Context(), httpx.ClientAddr(r), r.PostFormValue("grant"),
		clinic.CertificateInput{Record: r.PostFormValue("record")})
	if registry.ErrorCode(err) == registry.EUNAUTHORIZED {
		// The grant has expired (or was never made): open the record again.
		fe := toFormErr(err).withKey("holder.grant_expired")
		return a.render(w, r, c, failed(w, err), "holder", "holder.title", holderPageData{Err: fe})
	}
	if err != nil {
		return err
	}
	code := out.Card
	return a.render(w, r, c, http.StatusOK, "holder", "holder.title", holderPageData{Card: string(code),
		Cert: &certPageData{Card: string(code), HC1: out.HC1, QR: svgDataURI(out.QRSVG), Expires: out.ExpiresAt, IssuedAt: out.IssuedAt}})
}

func (d holderPageData) printSize() string {
	if d.Cert != nil {
		return "a6"
	}
	return ""
}
