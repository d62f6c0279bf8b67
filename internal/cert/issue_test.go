package cert_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// mustKeys creates fresh key material in a temp dir.
func mustKeys(tb testing.TB) (*cert.Keys, string) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "keys")
	k, err := cert.InitKeys(dir, cert.DirStore(dir), cert.KeyOptions{Country: "KR", Organization: "Haven Test", Now: t0})
	if err != nil {
		tb.Fatal(err)
	}
	return k, dir
}

func mustIssuer(tb testing.TB, k *cert.Keys) *cert.Issuer {
	tb.Helper()
	is, err := cert.NewIssuer(k.Signer, k.DSC, cert.IssuerOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return is
}

func vaccination() *cert.VaccinationEvent {
	return &cert.VaccinationEvent{Product: "EU/1/20/1528", Dose: 2, Series: 2, Date: "2026-02-20", Country: "KR"}
}

func TestKeysInitAndLoad(t *testing.T) {
	k, dir := mustKeys(t)
	for _, f := range []string{cert.FileCSCAKey, cert.FileDSCKey, cert.FileCSCACert, cert.FileDSCCert} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if err := k.DSC.CheckSignatureFrom(k.CSCA); err != nil {
		t.Errorf("DSC not signed by CSCA: %v", err)
	}
	if len(k.DSC.UnknownExtKeyUsage) != 3 {
		t.Errorf("DSC EKUs = %v, want test, vaccination and recovery", k.DSC.UnknownExtKeyUsage)
	}
	if !k.CSCA.IsCA || k.DSC.IsCA {
		t.Errorf("CA flags: CSCA %v DSC %v", k.CSCA.IsCA, k.DSC.IsCA)
	}
	if string(k.DSC.AuthorityKeyId) != string(k.CSCA.SubjectKeyId) {
		t.Error("DSC AKI does not match CSCA SKI")
	}
	loaded, err := cert.LoadKeys(dir, cert.DirStore(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.DSC.Equal(k.DSC) {
		t.Error("loaded DSC differs")
	}
	_, err = cert.InitKeys(dir, cert.DirStore(dir), cert.KeyOptions{Country: "KR", Now: t0})
	if registry.ErrorCode(err) != registry.ECONFLICT {
		t.Errorf("second init: %v, want conflict", err)
	}
	if _, err := cert.InitKeys(t.TempDir(), cert.DirStore(t.TempDir()), cert.KeyOptions{Country: "Korea", Now: t0}); registry.ErrorField(err) != "country" {
		t.Errorf("bad country: %v", err)
	}
}

// TestIssueRoundTrip issues certificates of every kind and checks that each
// verifies with every step passing, including the schema of its ver.
func TestIssueRoundTrip(t *testing.T) {
	k, _ := mustKeys(t)
	is := mustIssuer(t, k)
	v := cert.NewVerifier(k.TrustList())
	tests := []struct {
		name string
		req  cert.IssueRequest
		want func(*testing.T, *cert.DCC)
	}{
		{"ok/named-vaccination", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "Müller-Lüdenscheidt", GivenName: "Jürgen Ólafur", BirthDate: "1961-07-04"}, Vaccination: vaccination()},
			func(t *testing.T, d *cert.DCC) {
				if d.Nam.Fnt != "MUELLER<LUEDENSCHEIDT" || d.Nam.Gnt != "JUERGEN<OLAFUR" {
					t.Errorf("transliteration %q %q", d.Nam.Fnt, d.Nam.Gnt)
				}
				if d.V[0].Ma != "ORG-100030215" || d.V[0].Vp != "1119349007" {
					t.Errorf("defaults from encoding instructions: ma %q vp %q", d.V[0].Ma, d.V[0].Vp)
				}
			}},
		{"ok/temporary-identity", cert.IssueRequest{Person: cert.Person{CardCode: "7kqm-x4td-9hca", BirthDate: "1980"}, Vaccination: vaccination()},
			func(t *testing.T, d *cert.DCC) {
				if d.Nam.Fn != "7KQM-X4TD-9HCA" || d.Nam.Fnt != "SEVENKQM<XFOURTD<NINEHCA" || d.Nam.Gn != "" {
					t.Errorf("temporary names %+v", d.Nam)
				}
				if d.Dob != "1980" {
					t.Errorf("dob %q", d.Dob)
				}
			}},
		{"ok/given-name-only-gets-the-card-code-as-surname", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA", GivenName: "Mi-young"}, Vaccination: vaccination()},
			func(t *testing.T, d *cert.DCC) {
				if d.Nam.Fn != "7KQM-X4TD-9HCA" || d.Nam.Fnt != "SEVENKQM<XFOURTD<NINEHCA" || d.Nam.Gn != "Mi-young" || d.Nam.Gnt != "MI<YOUNG" {
					t.Errorf("names %+v", d.Nam)
				}
			}},
		{"ok/unknown-birth-date", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA"}, Vaccination: vaccination()},
			func(t *testing.T, d *cert.DCC) {
				if d.Dob != "" {
					t.Errorf("dob %q", d.Dob)
				}
			}},
		{"ok/cyrillic-name", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "Щербакова", BirthDate: "1990-03"}, Vaccination: vaccination()},
			func(t *testing.T, d *cert.DCC) {
				if d.Nam.Fnt != "SHCHERBAKOVA" {
					t.Errorf("fnt %q", d.Nam.Fnt)
				}
			}},
		{"ok/hangul-name-with-transliteration", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "김", GivenName: "민준", FamilyNameICAO: "KIM", GivenNameICAO: "MINJUN"}, Vaccination: vaccination()},
			func(t *testing.T, d *cert.DCC) {
				if d.Nam.Fn != "김" || d.Nam.Fnt != "KIM" {
					t.Errorf("names %+v", d.Nam)
				}
			}},
		{"ok/long-hangul-name", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: strings.Repeat("김", 60), FamilyNameICAO: "KIM"}, Vaccination: vaccination()}, nil},
		{"ok/naat-test", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA"}, Test: &cert.TestEvent{Type: "LP6464-4", Name: "PCR", SampledAt: t0.Add(-5 * time.Hour), Result: "260415000", Centre: "Yanji clinic", Country: "CN"}},
			func(t *testing.T, d *cert.DCC) {
				if d.T[0].Sc != "2026-03-01T04:00:00Z" {
					t.Errorf("sc %q", d.T[0].Sc)
				}
			}},
		{"ok/rat-test", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA"}, Test: &cert.TestEvent{Type: "LP217198-3", Device: "1232", SampledAt: t0.Add(-time.Hour), Result: "260373001", Country: "KR"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := is.IssueCertificate(&tt.req, t0)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(c.HC1, "HC1:") {
				t.Fatalf("HC1 = %q", c.HC1)
			}
			res := v.Verify(c.HC1, cert.VerifyOptions{At: t0.Add(time.Hour)})
			if !res.Valid {
				t.Fatalf("issued certificate does not verify: %s: %s", res.Failed, res.Reason)
			}
			for _, step := range cert.HCERTSteps {
				if ok, ran := res.Steps.Get(step); !ran || !ok {
					t.Errorf("step %s ran=%v ok=%v", step, ran, ok)
				}
			}
			d, ok := res.Payload.(*cert.DCC)
			if !ok {
				t.Fatalf("payload %T", res.Payload)
			}
			if d.Ver != cert.IssueVersion {
				t.Errorf("ver %q", d.Ver)
			}
			ci := append(d.V, cert.Vaccination{})[0].Ci + append(d.T, cert.TestEntry{})[0].Ci
			if !cert.ValidUVCIChecksum(ci) || !strings.HasPrefix(ci, "URN:UVCI:01:KR:") {
				t.Errorf("UVCI %q", ci)
			}
			if res.Issuer != "KR" || c.ExpiresAt.Sub(c.IssuedAt) != 365*24*time.Hour {
				t.Errorf("iss %q validity %v", res.Issuer, c.ExpiresAt.Sub(c.IssuedAt))
			}
			if tt.want != nil {
				tt.want(t, d)
			}
			// Expired a year later.
			late := v.Verify(c.HC1, cert.VerifyOptions{At: t0.Add(366 * 24 * time.Hour)})
			if late.Valid || late.Failed != cert.StepTime {
				t.Errorf("a year later: valid %v failed %q", late.Valid, late.Failed)
			}
		})
	}
}

func TestIssueRejects(t *testing.T) {
	k, _ := mustKeys(t)
	is := mustIssuer(t, k)
	person := cert.Person{CardCode: "7KQM-X4TD-9HCA"}
	bad := func(mod func(*cert.VaccinationEvent)) *cert.VaccinationEvent {
		v := vaccination()
		mod(v)
		return v
	}
	tests := []struct {
		name  string
		req   cert.IssueRequest
		field string
	}{
		{"fail/no-event", cert.IssueRequest{Person: person}, "vaccination"},
		{"fail/both-events", cert.IssueRequest{Person: person, Vaccination: vaccination(), Test: &cert.TestEvent{}}, "vaccination"},
		{"fail/no-name-no-card", cert.IssueRequest{Vaccination: vaccination()}, "person.card_code"},
		{"fail/deprecated-product", cert.IssueRequest{Person: person, Vaccination: bad(func(v *cert.VaccinationEvent) {
			v.Product = "NVX-CoV2373"
			v.Holder = "ORG-100032020"
			v.Prophylaxis = "1162643001"
		})}, "vaccination.product"},
		{"fail/unknown-country", cert.IssueRequest{Person: person, Vaccination: bad(func(v *cert.VaccinationEvent) { v.Country = "XY" })}, "vaccination.country"},
		{"fail/dose-zero", cert.IssueRequest{Person: person, Vaccination: bad(func(v *cert.VaccinationEvent) { v.Dose = 0 })}, "vaccination.dose"},
		{"fail/bad-date", cert.IssueRequest{Person: person, Vaccination: bad(func(v *cert.VaccinationEvent) { v.Date = "2026-02-30" })}, "vaccination.date"},
		{"fail/bad-birth-date", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA", BirthDate: "1880"}, Vaccination: vaccination()}, "person.birth_date"},
		{"fail/untransliterable-name", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "สมชาย"}, Vaccination: vaccination()}, "person.family_name"},
		{"fail/bad-icao-override", cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA", FamilyName: "김", FamilyNameICAO: "Kim"}, Vaccination: vaccination()}, "person.family_name_icao"},
		{"fail/rat-without-device", cert.IssueRequest{Person: person, Test: &cert.TestEvent{Type: "LP217198-3", SampledAt: t0, Result: "260415000", Country: "KR"}}, "test.device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := is.Issue(&tt.req, t0)
			if registry.ErrorCode(err) != registry.EINVALID || registry.ErrorField(err) != tt.field {
				t.Errorf("err = %v, want invalid %s", err, tt.field)
			}
		})
	}
	if _, err := is.Issue(&cert.IssueRequest{Person: person, Vaccination: vaccination()}, t0.Add(-time.Hour)); err == nil {
		t.Error("issuing before the DSC is valid should fail")
	}
}

func TestIssueCapsExpiryAtDSC(t *testing.T) {
	k, _ := mustKeys(t)
	is, err := cert.NewIssuer(k.Signer, k.DSC, cert.IssuerOptions{Validity: 5 * 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, err := is.IssueCertificate(&cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA"}, Vaccination: vaccination()}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.Equal(k.DSC.NotAfter) {
		t.Errorf("exp %v, want the DSC's NotAfter %v", c.ExpiresAt, k.DSC.NotAfter)
	}
}

func TestParseIssueRequest(t *testing.T) {
	r, err := cert.ParseIssueRequest([]byte(`{"person":{"card_code":"7KQM-X4TD-9HCA","birth_date":"1980-05"},"vaccination":{"product":"EU/1/20/1507","dose":1,"series":2,"date":"2026-01-05","country":"KR"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Vaccination.Product != "EU/1/20/1507" || r.Person.BirthDate != "1980-05" {
		t.Errorf("parsed %+v", r)
	}
	if _, err := cert.ParseIssueRequest([]byte(`{"person":{},"residence_status":"x"}`)); registry.ErrorCode(err) != registry.EMALFORMED {
		t.Errorf("unknown field: %v", err)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), "test") {
		t.Errorf("marshal adds absent test: %s", b)
	}
}

// TestKeyRollover replaces the keys and checks that certificates signed with
// the old DSC still verify against the exported trust list.
func TestKeyRollover(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k1, err := cert.InitKeys(dir, cert.DirStore(dir), cert.KeyOptions{Country: "KR", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	req := &cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA"}, Vaccination: vaccination()}
	old, err := mustIssuer(t, k1).Issue(req, t0)
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(30 * 24 * time.Hour)
	k2, err := cert.InitKeys(dir, cert.DirStore(dir), cert.KeyOptions{Country: "KR", Now: later, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if k2.DSC.Equal(k1.DSC) || len(k2.Retired) != 1 || !k2.Retired[0].Equal(k1.DSC) {
		t.Fatalf("after rollover: retired %d", len(k2.Retired))
	}
	loaded, err := cert.LoadKeys(dir, cert.DirStore(dir))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := loaded.TrustList().MarshalJSON()
	tl, err := cert.ParseTrustList(js)
	if err != nil || tl.Len() != 2 {
		t.Fatalf("trust list: %d entries, %v", tl.Len(), err)
	}
	fresh, err := mustIssuer(t, loaded).Issue(req, later)
	if err != nil {
		t.Fatal(err)
	}
	v := cert.NewVerifier(tl)
	for name, hc1 := range map[string]string{"old": old, "new": fresh} {
		if res := v.Verify(hc1, cert.VerifyOptions{At: later.Add(time.Hour)}); !res.Valid {
			t.Errorf("%s certificate: %s: %s", name, res.Failed, res.Reason)
		}
	}
}
