package cert_test

import (
	"testing"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
)

func TestRecordsToCertificate(t *testing.T) {
	k, _ := mustKeys(t)
	is := mustIssuer(t, k)
	v := cert.NewVerifier(k.TrustList())
	code := registry.NewCardCode()
	bd, _ := registry.ParsePartialDate("1979-04-14")
	p := registry.Person{CardCode: code, Demographics: registry.Demographics{BirthDate: bd, BirthDateEstimated: true}}
	holder := cert.PersonFromRegistry(p)
	if holder.BirthDate != "1979" || holder.CardCode != string(code) || holder.FamilyName != "" {
		t.Errorf("holder %+v", holder)
	}
	cat := catalog.Default()
	var withDCC, withoutDCC *catalog.Product
	for _, pr := range cat.Products() {
		pr := pr
		if pr.DCCProduct != "" && withDCC == nil && cert.EncodableProduct(pr.DCCProduct) {
			withDCC = &pr
		}
		if pr.DCCProduct == "" && withoutDCC == nil {
			withoutDCC = &pr
		}
	}
	if withDCC == nil || withoutDCC == nil {
		t.Fatal("catalogue lacks the products this test needs")
	}
	day, _ := registry.ParseDate("2026-02-20")
	// Every catalogue product with an active EU DCC code issues and verifies.
	for _, pr := range cat.Products() {
		if pr.DCCProduct == "" {
			continue
		}
		if !cert.EncodableProduct(pr.DCCProduct) {
			t.Logf("%s: EU DCC code %q is not active in the value sets; not issued", pr.ID, pr.DCCProduct)
			continue
		}
		ev, err := cert.VaccinationFromRecord(registry.Vaccination{Date: day}, &pr, 1, 1, "KR")
		if err != nil {
			t.Fatal(err)
		}
		hc1, err := is.Issue(&cert.IssueRequest{Person: holder, Vaccination: ev}, t0)
		if err != nil {
			t.Errorf("%s: %v", pr.ID, err)
			continue
		}
		if res := v.Verify(hc1, cert.VerifyOptions{At: t0}); !res.Valid {
			t.Errorf("%s: %s: %s", pr.ID, res.Failed, res.Reason)
		}
	}
	rec := registry.Vaccination{Product: withDCC.ID, Date: day, Status: registry.StatusCompleted}
	ev, err := cert.VaccinationFromRecord(rec, withDCC, 1, 2, "KR")
	if err != nil {
		t.Fatal(err)
	}
	hc1, err := is.Issue(&cert.IssueRequest{Person: holder, Vaccination: ev}, t0)
	if err != nil {
		t.Fatalf("%s: %v", withDCC.ID, err)
	}
	if res := v.Verify(hc1, cert.VerifyOptions{At: t0}); !res.Valid {
		t.Errorf("%s: %s: %s", withDCC.ID, res.Failed, res.Reason)
	}
	if _, err := cert.VaccinationFromRecord(rec, withoutDCC, 1, 2, "KR"); registry.ErrorCode(err) != registry.EUNSUPPORTED {
		t.Errorf("%s without DCC code: %v", withoutDCC.ID, err)
	}
	rec.Status = registry.StatusEnteredInError
	if _, err := cert.VaccinationFromRecord(rec, withDCC, 1, 2, "KR"); registry.ErrorField(err) != "status" {
		t.Errorf("entered in error: %v", err)
	}

	for _, tt := range []struct {
		name   string
		test   registry.Test
		device string
		field  string
	}{
		{"ok/pcr-negative", registry.Test{Kind: registry.TestPCR, Result: registry.ResultNegative, Date: day}, "", ""},
		{"ok/antigen-positive", registry.Test{Kind: registry.TestAntigen, Result: registry.ResultPositive, Date: day}, "1232", ""},
		{"fail/antigen-no-device", registry.Test{Kind: registry.TestAntigen, Result: registry.ResultNegative, Date: day}, "", "device"},
		{"fail/invalid-result", registry.Test{Kind: registry.TestPCR, Result: registry.ResultInvalid, Date: day}, "", "result"},
		{"fail/unknown-kind", registry.Test{Kind: "serology", Result: registry.ResultNegative, Date: day}, "", "kind"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := cert.TestFromRecord(tt.test, tt.device, "Yanji clinic", "CN")
			if tt.field != "" {
				if registry.ErrorField(err) != tt.field {
					t.Errorf("err %v, want field %s", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hc1, err := is.Issue(&cert.IssueRequest{Person: holder, Test: ev}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if res := v.Verify(hc1, cert.VerifyOptions{At: t0}); !res.Valid {
				t.Errorf("%s: %s", res.Failed, res.Reason)
			}
		})
	}
}
