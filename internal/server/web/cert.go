package web

import (
	"context"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// Certificate pages: a vaccinator issues an EU DCC for one of a person's
// records (IssueCertificate, audited as a read), and anyone checks a
// certificate offline against the trust list (VerifyCertificate). Nothing
// about a verified certificate is stored or logged.

// certPageData is an issued certificate, ready to show or print; or, when
// Conflict is set, the reasons a dose cannot be certified without a
// clinician's override, with the override form.
type certPageData struct {
	Card     string
	HC1      string
	QR       template.URL
	Expires  time.Time
	IssuedAt time.Time
	// Name is the machine-readable name the certificate carries.
	NameICAO string
	Override string
	Conflict *certConflict
}

// certConflict is a dose the schedule does not count: its evaluations (for
// the reasons, in the page's language) and the override reasons to choose
// from. EnteredInError says the record was marked entered in error, which
// no override can certify.
type certConflict struct {
	Record         string
	Dose           *doseRow
	Evals          []schedule.Evaluation
	Reasons        []string
	EnteredInError bool
	Err            *formErr
}

// IssueCertificate issues an EU DCC for one of a person's records and shows
// it, ready to print. A dose the schedule does not count is explained, in
// the page's language, with the reasons a clinician may give to certify it
// anyway (the override is audited).
func (a *App) IssueCertificate(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	code, err := httpx.CardFrom(r)
	if err != nil {
		return err
	}
	in := clinic.CertificateInput{Record: r.PostFormValue("record"), Device: strings.TrimSpace(r.PostFormValue("device")),
		Override: r.PostFormValue("override")}
	out, err := a.svc.IssueCertificate(r.Context(), c.actor(r), code, in)
	if registry.ErrorCode(err) == registry.ECONFLICT && registry.ErrorField(err) == "record" ||
		registry.ErrorCode(err) == registry.EINVALID && registry.ErrorField(err) == "override" {
		status := failed(w, err)
		conflict, cerr := a.certConflict(r, c, code, in.Record)
		if cerr != nil {
			return cerr
		}
		if registry.ErrorField(err) == "override" {
			conflict.Err = toFormErr(err).withKey("cert.err_override")
		}
		return a.render(w, r, c, status, "certificate", "cert.title", certPageData{Card: string(code), Conflict: conflict})
	}
	if err != nil {
		return err
	}
	d := certPageData{Card: string(code), HC1: out.HC1, QR: svgDataURI(out.QRSVG), Expires: out.ExpiresAt, IssuedAt: out.IssuedAt,
		Override: in.Override}
	if p := a.certName(out.HC1); p != nil {
		d.NameICAO = ICAOName(p.Nam.Fnt, p.Nam.Gnt)
	}
	return a.render(w, r, c, http.StatusOK, "certificate", "cert.title", d)
}

// certName reads the names of a certificate just issued, to show the
// machine-readable form it carries.
func (a *App) certName(hc1 string) *cert.DCC {
	res, err := a.svc.VerifyCertificate(context.Background(), clinic.Anonymous(""), clinic.VerifyInput{Text: hc1, SkipTime: true})
	if err != nil || res == nil {
		return nil
	}
	dcc, _ := res.Payload.(*cert.DCC)
	return dcc
}

// certConflict explains why a record cannot be certified as asked: the
// dose and how the schedule evaluates it, read again for the purpose
// "certificate".
func (a *App) certConflict(r *http.Request, c *PageCtx, code registry.CardCode, record string) (*certConflict, error) {
	o, err := a.svc.Overview(r.Context(), c.actor(r), code, "certificate", nil)
	if err != nil {
		return nil, err
	}
	cf := &certConflict{Record: record, Reasons: clinic.OverrideReasons}
	v := a.viewOf(o.Record, o.Forecast, c)
	for _, x := range v.Doses {
		if x.ID == record {
			cf.Dose = &x
			cf.EnteredInError = x.Status != registry.StatusCompleted
		}
	}
	if id, err := registry.ParseID(record); err == nil && o.Forecast != nil {
		cf.Evals = o.Forecast.ByRecord[id]
	}
	return cf, nil
}

// stepView is one verification step as the verifier page lists it.
type stepView struct {
	Step  string
	State string // "ok", "failed" or "skipped"
}

type verifyPageData struct {
	Text   string
	Err    *formErr
	Result *cert.VerifyResult
	Steps  []stepView
	// What the certificate says, once its signature is verified.
	Name, NameICAO, Birth string
	Dose                  *certDose
	Test                  *certTest
}

type certDose struct {
	Product       string
	Dose, Of      int64
	Date, Country string
}

type certTest struct {
	Result, Date, Country string
}

// VerifyForm shows the form to paste a certificate into.
func (a *App) VerifyForm(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	return a.render(w, r, c, http.StatusOK, "verify", "verify.title", verifyPageData{})
}

// Verify checks a pasted certificate and shows valid or invalid, every step
// that ran, and the step that failed.
func (a *App) Verify(w http.ResponseWriter, r *http.Request, c *PageCtx) error {
	text := strings.TrimSpace(r.PostFormValue("text"))
	d := verifyPageData{Text: text}
	res, err := a.svc.VerifyCertificate(r.Context(), c.actor(r), clinic.VerifyInput{Text: text})
	if userError(err) {
		d.Err = toFormErr(err)
		return a.render(w, r, c, failed(w, err), "verify", "verify.title", d)
	}
	if err != nil {
		return err
	}
	d.Result = res
	steps := cert.HCERTSteps
	if res.Format != "hcert" {
		steps = nil
		for _, s := range res.Steps {
			steps = append(steps, s.Step)
		}
	}
	for _, step := range steps {
		ok, ran := res.Steps.Get(step)
		sv := stepView{Step: step, State: "skipped"}
		if ran && ok {
			sv.State = "ok"
		} else if ran {
			sv.State = "failed"
		}
		d.Steps = append(d.Steps, sv)
	}
	if dcc, ok := res.Payload.(*cert.DCC); ok && dcc != nil {
		d.Name, d.Birth = strings.TrimSpace(dcc.Nam.Fn+" "+dcc.Nam.Gn), dcc.Dob
		d.NameICAO = ICAOName(dcc.Nam.Fnt, dcc.Nam.Gnt)
		if len(dcc.V) > 0 {
			v := dcc.V[0]
			d.Dose = &certDose{Product: v.Mp, Dose: int64(v.Dn), Of: int64(v.Sd), Date: v.Dt, Country: v.Co}
			if p, ok := a.svc.Catalog().ByDCCProduct(v.Mp); ok {
				d.Dose.Product = p.Name(c.loc.catalog)
			}
		}
		if len(dcc.T) > 0 {
			t := dcc.T[0]
			d.Test = &certTest{Result: testResultKey(t.Tr), Date: string(t.Sc), Country: t.Co}
		}
	}
	return a.render(w, r, c, http.StatusOK, "verify", "verify.title", d)
}

// testResultKey names a DCC test result (SNOMED CT) as a test result of the
// registry, for translation.
func testResultKey(snomed string) string {
	switch snomed {
	case "260415000":
		return string(registry.ResultNegative)
	case "260373001":
		return string(registry.ResultPositive)
	}
	return snomed
}

func (certPageData) printSize() string { return "a6" }
