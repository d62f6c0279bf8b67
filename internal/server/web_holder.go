package server

import (
	"net/http"
	"strings"

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
	d := holderPageData{Person: &view, Card: string(code)}
	for _, f := range view.Forecasts {
		if f.Earliest != "" && (d.Next == "" || f.Earliest < d.Next) {
			d.Next = f.Earliest
		}
	}
	return a.render(w, r, c, http.StatusOK, "holder", "holder.title", d)
}
