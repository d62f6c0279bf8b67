package clinic_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/vault"
)

// countingStore counts the reads a write makes.
type countingStore struct {
	registry.Store
	findRecord, findPerson, findDose, findDoses atomic.Int64
}

func (s *countingStore) FindVaccinations(ctx context.Context, id registry.ID) ([]registry.Vaccination, error) {
	s.findDoses.Add(1)
	return s.Store.FindVaccinations(ctx, id)
}

func (s *countingStore) FindRecord(ctx context.Context, c registry.CardCode) (*registry.SealedRecord, error) {
	s.findRecord.Add(1)
	return s.Store.FindRecord(ctx, c)
}

func (s *countingStore) FindPerson(ctx context.Context, c registry.CardCode) (*registry.SealedPerson, error) {
	s.findPerson.Add(1)
	return s.Store.FindPerson(ctx, c)
}

func (s *countingStore) FindVaccination(ctx context.Context, id registry.ID) (*registry.Vaccination, error) {
	s.findDose.Add(1)
	return s.Store.FindVaccination(ctx, id)
}

// countingVault counts decryptions.
type countingVault struct {
	registry.Vault
	decrypts atomic.Int64
}

func (v *countingVault) Decrypt(wrapped, aad, ct []byte) ([]byte, error) {
	v.decrypts.Add(1)
	return v.Vault.Decrypt(wrapped, aad, ct)
}

func newService(t *testing.T) (*clinic.Service, *countingStore, *countingVault) {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB",
		Services: []string{registry.ServiceVaccination, registry.ServiceTesting}}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, cv := &countingStore{Store: db}, &countingVault{Vault: v}
	now := time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)
	svc := clinic.New(clinic.Deps{Store: cs, Vault: cv, Catalog: catalog.Default(), Schedule: "cn", Now: func() time.Time { return now }})
	return svc, cs, cv
}

var vaccinator = clinic.Actor{TokenID: "tk_test", Role: registry.RoleVaccinator, Sites: []string{"YB-1"}}

// TestRecordVaccinationReadsOnce: recording a dose reads the history once,
// decrypts the person once, and evaluates the dose in memory.
func TestRecordVaccinationReadsOnce(t *testing.T) {
	svc, cs, cv := newService(t)
	ctx := context.Background()
	reg, err := svc.RegisterPerson(ctx, vaccinator, clinic.PersonInput{GivenName: "민준", BirthDate: "1985-03-02"}, "")
	if err != nil {
		t.Fatal(err)
	}
	card := reg.Record.Person.CardCode
	if _, err := svc.RecordVaccination(ctx, vaccinator, card, clinic.VaccinationInput{Product: "coronavac", Date: "2021-08-01", Site: "YB-1"}, ""); err != nil {
		t.Fatal(err)
	}
	cs.findRecord.Store(0)
	cs.findPerson.Store(0)
	cs.findDose.Store(0)
	cs.findDoses.Store(0)
	cv.decrypts.Store(0)
	d, err := svc.RecordVaccination(ctx, vaccinator, card, clinic.VaccinationInput{Product: "coronavac", Date: "2021-08-04", Site: "YB-1"}, "k")
	if err != nil {
		t.Fatal(err)
	}
	got := [5]int64{cs.findRecord.Load(), cs.findPerson.Load(), cs.findDoses.Load(), cs.findDose.Load(), cv.decrypts.Load()}
	if got != [5]int64{0, 1, 1, 0, 1} {
		t.Errorf("FindRecord, FindPerson, FindVaccinations, FindVaccination, Decrypt = %v; want the person and their doses read once each, and one decryption", got)
	}
	// The evaluation sees the first dose: the second, three days later, is
	// too soon.
	if len(d.Evaluation) == 0 || d.Evaluation[0].Status != "not_valid" || len(d.Warnings) == 0 {
		t.Errorf("evaluation %+v, warnings %+v; want the too-soon second dose flagged", d.Evaluation, d.Warnings)
	}
}

// TestEveryActionHasAPermission: the permission table and the action
// constants agree, and every permission admits at least one role.
func TestEveryActionHasAPermission(t *testing.T) {
	for _, a := range clinic.Actions() {
		p, ok := clinic.PermissionOf(a)
		if !ok {
			t.Errorf("%s has no permission", a)
		}
		if p.Roles != nil && len(p.Roles) == 0 {
			t.Errorf("%s admits nobody", a)
		}
	}
}

// TestActorsAreChecked: a role outside an action's permission is refused
// before anything is read or written, and an operator may do anything.
func TestActorsAreChecked(t *testing.T) {
	svc, cs, _ := newService(t)
	ctx := context.Background()
	for _, a := range []clinic.Actor{
		{TokenID: "tk_a", Role: registry.RoleAnalyst},
		{TokenID: "tk_u", Role: registry.RoleAuditor},
		clinic.Anonymous("192.0.2.1"),
	} {
		_, err := svc.RegisterPerson(ctx, a, clinic.PersonInput{}, "")
		if code := registry.ErrorCode(err); code != registry.EFORBIDDEN && code != registry.EUNAUTHORIZED {
			t.Errorf("%s registers a person: %v", a.Role, err)
		}
	}
	if _, err := svc.ListTokens(ctx, clinic.Operator()); err != nil {
		t.Errorf("the operator lists tokens: %v", err)
	}
	if n := cs.findRecord.Load(); n != 0 {
		t.Errorf("%d records read by refused calls", n)
	}
}

// TestCertificateTellsTheTruth: a dose the schedule does not count gets no
// certificate unless a clinician overrides with a reason (audited), and the
// numbers come from the evaluation, not the count of doses recorded.
func TestCertificateTellsTheTruth(t *testing.T) {
	svc, cs, _ := newService(t)
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := cert.InitKeys(dir, cert.DirStore(dir), cert.KeyOptions{Country: "CN", Organization: "Haven test", Now: time.Date(2021, 8, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := cert.NewIssuer(keys.Signer, keys.DSC, cert.IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetIssuer(clinic.Certs{Issuer: issuer, Verifier: cert.NewVerifier(keys.TrustList()), Country: "CN"})
	reg, err := svc.RegisterPerson(ctx, vaccinator, clinic.PersonInput{GivenName: "Mina", FamilyName: "Kim", BirthDate: "1985-03-02"}, "")
	if err != nil {
		t.Fatal(err)
	}
	card := reg.Record.Person.CardCode
	record := func(date string) string {
		d, err := svc.RecordVaccination(ctx, vaccinator, card, clinic.VaccinationInput{Product: "coronavac", Date: date, Site: "YB-1"}, "")
		if err != nil {
			t.Fatal(err)
		}
		return d.Vaccination.ID.String()
	}
	first := record("2021-08-01")
	tooSoon := record("2021-08-04") // three days later: Interval: Too Soon
	valid := record("2021-09-01")
	dcc := func(id, override string) (*cert.DCC, error) {
		c, err := svc.IssueCertificate(ctx, vaccinator, card, clinic.CertificateInput{Record: id, Override: override})
		if err != nil {
			return nil, err
		}
		res := cert.NewVerifier(keys.TrustList()).VerifyAny(c.HC1, cert.VerifyOptions{At: time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)})
		d, ok := res.Payload.(*cert.DCC)
		if !ok || d == nil || len(d.V) != 1 {
			t.Fatalf("certificate does not verify: %+v", res)
		}
		return d, nil
	}
	if d, err := dcc(first, ""); err != nil || d.V[0].Dn != 1 || d.V[0].Sd != 2 {
		t.Fatalf("first dose: %+v, %v; want 1 of 2", d, err)
	}
	if _, err := dcc(tooSoon, ""); registry.ErrorCode(err) != registry.ECONFLICT || registry.ErrorField(err) != "record" {
		t.Fatalf("too-soon dose certified without an override: %v", err)
	}
	if _, err := dcc(tooSoon, "because"); registry.ErrorField(err) != "override" {
		t.Fatalf("override with a free-text reason: %v", err)
	}
	before := cs.findRecord.Load()
	if d, err := dcc(tooSoon, "clinical_judgement"); err != nil || d.V[0].Dn != 2 {
		t.Fatalf("overridden too-soon dose: %+v, %v; want it numbered after the one valid dose", d, err)
	}
	if cs.findRecord.Load() != before+1 {
		t.Errorf("issuing read the record %d times", cs.findRecord.Load()-before)
	}
	overrides := 0
	cs.Store.(audit.Store).Scan(ctx, 1, func(e audit.Entry) error {
		if e.Action == string(clinic.ActCertificateOverride) && e.Purpose == "clinical_judgement" {
			overrides++
		}
		return nil
	})
	if overrides != 1 {
		t.Errorf("%d override entries in the access log, want 1", overrides)
	}
	// The valid third dose is the second valid one: 2 of 2.
	if d, err := dcc(valid, ""); err != nil || d.V[0].Dn != 2 || d.V[0].Sd != 2 {
		t.Fatalf("valid dose after a too-soon one: %+v, %v; want 2 of 2", d, err)
	}
}

// TestMachineReadableNames: names are kept as written, with machine-readable
// forms suggested from them, which the clinic may correct; an edit of a name
// suggests its form again unless the clinic gives one.
func TestMachineReadableNames(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	kim := "KIM"
	reg, err := svc.RegisterPerson(ctx, vaccinator, clinic.PersonInput{FamilyName: "김", GivenName: "민준"}, "")
	if err != nil {
		t.Fatal(err)
	}
	d := reg.Record.Person.Demographics
	if d.FamilyName != "김" || d.FamilyNameICAO != "GIM" || d.GivenNameICAO != "MINJUN" {
		t.Fatalf("registered %+v; want the Hangul kept and GIM MINJUN suggested", d)
	}
	card := reg.Record.Person.CardCode
	rec, err := svc.EditPerson(ctx, vaccinator, card, clinic.PersonEdit{FamilyNameICAO: &kim}, "")
	if err != nil || rec.Person.Demographics.FamilyNameICAO != "KIM" || rec.Person.Demographics.GivenNameICAO != "MINJUN" {
		t.Fatalf("correct the surname's form: %+v, %v", rec, err)
	}
	wang, xiaoming := "王", "小明"
	rec, err = svc.EditPerson(ctx, vaccinator, card, clinic.PersonEdit{FamilyName: &wang, GivenName: &xiaoming}, "")
	if err != nil || rec.Person.Demographics.FamilyNameICAO != "WANG" || rec.Person.Demographics.GivenNameICAO != "XIAOMING" {
		t.Fatalf("rename in Hanzi: %+v, %v", rec, err)
	}
	bad := "Kim-1"
	if _, err := svc.EditPerson(ctx, vaccinator, card, clinic.PersonEdit{FamilyNameICAO: &bad}, ""); registry.ErrorField(err) != "family_name_icao" {
		t.Fatalf("a form with a digit: %v", err)
	}
	// A script Haven cannot transliterate still registers; the form is
	// empty until the clinic types one.
	reg, err = svc.RegisterPerson(ctx, vaccinator, clinic.PersonInput{FamilyName: "สมชาย"}, "")
	if err != nil || reg.Record.Person.Demographics.FamilyNameICAO != "" {
		t.Fatalf("Thai name: %+v, %v", reg, err)
	}
	if f := clinic.SuggestNames("สมชาย", "이"); f.Family.Problem == "" || f.Given.ICAO != "I" {
		t.Fatalf("suggestions %+v", f)
	}
}

// TestKeysMadeWhileRunning: keys made by "haven keys init" after the server
// started are used at the next certificate, without a restart.
func TestKeysMadeWhileRunning(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	db.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB", Services: []string{registry.ServiceVaccination}}, registry.Write{})
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	load := func() (clinic.Certs, error) {
		keys, err := cert.LoadKeys(dir, cert.DirStore(dir))
		if err != nil {
			return clinic.Certs{}, nil // none yet
		}
		issuer, err := cert.NewIssuer(keys.Signer, keys.DSC, cert.IssuerOptions{})
		return clinic.Certs{Issuer: issuer, Verifier: cert.NewVerifier(keys.TrustList()), Country: "CN"}, err
	}
	now := time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)
	svc := clinic.New(clinic.Deps{Store: db, Vault: v, Catalog: catalog.Default(), Schedule: "cn", Now: func() time.Time { return now }, LoadCerts: load})
	reg, err := svc.RegisterPerson(ctx, vaccinator, clinic.PersonInput{GivenName: "Mina", BirthDate: "1985"}, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.RecordVaccination(ctx, vaccinator, reg.Record.Person.CardCode, clinic.VaccinationInput{Product: "coronavac", Date: "2021-08-01", Site: "YB-1"}, "")
	if err != nil {
		t.Fatal(err)
	}
	in := clinic.CertificateInput{Record: d.Vaccination.ID.String()}
	if _, err := svc.IssueCertificate(ctx, vaccinator, reg.Record.Person.CardCode, in); registry.ErrorCode(err) != registry.EUNAVAILABLE {
		t.Fatalf("before keys: %v", err)
	}
	if _, err := cert.InitKeys(dir, cert.DirStore(dir), cert.KeyOptions{Country: "CN", Organization: "Haven test", Now: now.AddDate(0, -1, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.IssueCertificate(ctx, vaccinator, reg.Record.Person.CardCode, in); err != nil {
		t.Fatalf("after keys init: %v", err)
	}
}
