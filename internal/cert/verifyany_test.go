package cert_test

import (
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/cert/sdjwt"
)

func TestVerifyAny(t *testing.T) {
	k, _ := mustKeys(t)
	v := cert.NewVerifier(k.TrustList())
	creds, err := sdjwt.Issue(k.Signer, cert.SDJWTKID(cert.KID(k.DSC)), sdjwt.Claims{
		Vaccinated: true, Doses: 2, LastDose: "2026-02-20", Product: "EU/1/20/1528", ValidUntil: "2027-02-20", CardCode: "7KQM-X4TD-9HCA",
	}, sdjwt.IssueOptions{Now: t0, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.Present(creds[0], []string{sdjwt.ClaimVaccinated}, sdjwt.PresentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := v.VerifyAny(pres, cert.VerifyOptions{At: t0.Add(time.Hour)})
	if !res.Valid || res.Format != "sd-jwt" || len(res.Disclosed) != 1 || res.Disclosed[sdjwt.ClaimVaccinated] != true {
		t.Fatalf("sd-jwt: %+v", res)
	}
	if _, leaked := res.Disclosed[sdjwt.ClaimCardCode]; leaked {
		t.Error("undisclosed card code in the result")
	}
	// An SD-JWT signed by a key outside the trust list fails at its signature step.
	other, _ := mustKeys(t)
	res = cert.NewVerifier(other.TrustList()).VerifyAny(pres, cert.VerifyOptions{At: t0.Add(time.Hour)})
	if res.Valid || res.Failed != sdjwt.StepSignature || res.Err() == nil {
		t.Errorf("untrusted sd-jwt: valid %v failed %q", res.Valid, res.Failed)
	}
	// HC1 text and garbage go through the HCERT path.
	hc1, err := mustIssuer(t, k).Issue(&cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA"}, Vaccination: vaccination()}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if res := v.VerifyAny(hc1, cert.VerifyOptions{At: t0}); !res.Valid || res.Format != "hcert" {
		t.Errorf("hc1: %s %s", res.Failed, res.Reason)
	}
	if res := v.VerifyAny("hello", cert.VerifyOptions{At: t0}); res.Valid || res.Failed != cert.StepUnprefix {
		t.Errorf("garbage: %+v", res)
	}
}
