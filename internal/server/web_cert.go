package server

import (
	"net/http"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
)

// Certificate pages. Issuing and verifying go through the certificate
// helpers of certs.go once the server is given keys and a trust list;
// until then both answer that certificates are not set up.

type verifyPageData struct {
	Text string
	Err  *formErr
}

func (a *webApp) verifyForm(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	return a.render(w, r, c, http.StatusOK, "verify", "verify.title", verifyPageData{})
}

func (a *webApp) verify(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	text := strings.TrimSpace(r.PostFormValue("text"))
	return a.render(w, r, c, http.StatusServiceUnavailable, "verify", "verify.title", verifyPageData{Text: text,
		Err: toFormErr(registry.Errorf(registry.EUNAVAILABLE, "Certificates are not set up on this server."))})
}

func (a *webApp) issueCertificate(w http.ResponseWriter, r *http.Request, c *pageCtx) error {
	return registry.Errorf(registry.EUNAVAILABLE, "Certificates are not set up on this server.")
}
