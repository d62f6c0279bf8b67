package fhir

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

// immunizationID is the logical id of a dose: the card code, a dot and the
// record ID, so that a read names the person it reads.
func immunizationID(card registry.CardCode, id registry.ID) string {
	return string(card) + "." + id.String()
}

// parseImmunizationID reads an id written by immunizationID.
func parseImmunizationID(s string) (registry.CardCode, registry.ID, error) {
	c, i, ok := strings.Cut(s, ".")
	if !ok {
		return "", registry.ID{}, registry.FieldErrorf(registry.EINVALID, "Immunization.id",
			"An Immunization id is CARD.RECORD: the card code, a dot and the record ID.")
	}
	card, err := registry.ParseCardCode(c)
	if err != nil {
		return "", registry.ID{}, registry.FieldErrorf(registry.EINVALID, "Immunization.id", "%s", registry.ErrorMessage(err))
	}
	id, err := registry.ParseID(i)
	if err != nil {
		return "", registry.ID{}, registry.FieldErrorf(registry.EINVALID, "Immunization.id", "Malformed record ID.")
	}
	return card, id, nil
}

// vaccineCode is the vaccineCode of a catalogue product: CVX first, then
// SNOMED CT, ICD-11 and the catalogue ID; the English name is the text.
// Codings have no display: the name of a product is not the display of a
// generic code it is reported as.
func vaccineCode(cat *catalog.Catalog, product string) CodeableConcept {
	p, ok := cat.ByID(product)
	if !ok {
		return CodeableConcept{Coding: []Coding{{System: ProductSystem, Code: product}}, Text: product}
	}
	var cc CodeableConcept
	if cvx := p.CVXCode(); cvx != "" {
		cc.Coding = append(cc.Coding, Coding{System: sysCVX, Code: cvx})
	}
	if p.SNOMED != "" {
		cc.Coding = append(cc.Coding, Coding{System: sysSNOMED, Code: p.SNOMED})
	}
	if p.ICD11 != "" {
		cc.Coding = append(cc.Coding, Coding{System: sysICD11, Code: p.ICD11})
	}
	cc.Coding = append(cc.Coding, Coding{System: ProductSystem, Code: p.ID})
	cc.Text = p.Name("en")
	return cc
}

// sysActReason is the code system of Immunization.statusReason.
const sysActReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

// actReasonDisplay names the reasons a dose was not given.
var actReasonDisplay = map[string]string{
	registry.ReasonPatientObjection:  "patient objection",
	registry.ReasonImmune:            "immunity",
	registry.ReasonMedicalPrecaution: "medical precaution",
	registry.ReasonOutOfStock:        "product out of stock",
}

// immunizationOf is the Immunization of one recorded dose.
func (h *Handler) immunizationOf(card registry.CardCode, v registry.Vaccination) Immunization {
	out := Immunization{ResourceType: "Immunization", ID: immunizationID(card, v.ID), Status: v.Status,
		VaccineCode:        vaccineCode(h.svc.Catalog(), v.Product),
		Patient:            Reference{Reference: "Patient/" + string(card), Identifier: &Identifier{System: CardSystem, Value: string(card)}},
		OccurrenceDateTime: v.Date.String(), LotNumber: v.Lot,
		PrimarySource: ptr(v.Source == registry.SourceAdministered)}
	if !v.RecordedAt.IsZero() {
		out.Recorded = v.RecordedAt.UTC().Format(time.RFC3339Nano)
	}
	if v.Status == registry.StatusNotDone {
		// A dose not given: why, in the value set R4 binds
		// (immunization-status-reason: v3-ActReason), and CVX 998 when no
		// vaccine is named.
		if v.StatusReason != "" {
			out.StatusReason = &CodeableConcept{Coding: []Coding{{System: sysActReason, Code: v.StatusReason, Display: actReasonDisplay[v.StatusReason]}}}
		}
		if v.Product == "" {
			out.VaccineCode = CodeableConcept{Coding: []Coding{{System: sysCVX, Code: "998", Display: "no vaccine administered"}}, Text: "No vaccine administered"}
		}
	}
	switch v.Source {
	case registry.SourceHistoricalRecord:
		out.ReportOrigin = &CodeableConcept{Coding: []Coding{{System: sysOrigin, Code: "provider", Display: "Other Provider"}}}
	case registry.SourceHistoricalCard:
		out.ReportOrigin = &CodeableConcept{Coding: []Coding{{System: sysOrigin, Code: "record", Display: "Written Record"}}}
	case registry.SourceSelfReport:
		out.ReportOrigin = &CodeableConcept{Coding: []Coding{{System: sysOrigin, Code: "recall", Display: "Parent/Guardian/Patient Recall"}}}
	}
	if v.Site != "" {
		out.Location = &Reference{Identifier: &Identifier{System: SiteSystem, Value: v.Site}}
	}
	if p, ok := h.svc.Catalog().ByID(v.Product); ok && p.MVX != "" {
		out.Manufacturer = &Reference{Identifier: &Identifier{System: sysMVX, Value: p.MVX}, Display: p.Manufacturer}
	}
	if v.Payment.Kind == "paid" {
		out.FundingSource = &CodeableConcept{Coding: []Coding{{System: sysFunding, Code: "private", Display: "Private"}}}
		if v.Payment.Amount != "" { // an HL7 message may say who paid, not how much
			out.Extension = []Extension{{URL: PaymentExtension, ValueMoney: &Money{Value: json.Number(v.Payment.Amount), Currency: v.Payment.Currency}}}
		}
	}
	return out
}

// immunizationFields maps the fields of clinic RecordVaccination's errors.
var immunizationFields = fields{
	"product":         "Immunization.vaccineCode",
	"date":            "Immunization.occurrenceDateTime",
	"site":            "Immunization.location",
	"lot":             "Immunization.lotNumber",
	"source":          "Immunization.primarySource",
	"payment.*":       "Immunization.extension",
	"card_code":       "Immunization.patient.identifier",
	"Idempotency-Key": "http.Idempotency-Key",
}

// ImmunizationRead reads one dose by its id, CARD.RECORD (clinic
// ReadRecord, purpose care): a dose is read with its person.
func (h *Handler) ImmunizationRead() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		card, id, err := parseImmunizationID(r.PathValue("id"))
		if err != nil {
			return err
		}
		rec, err := h.svc.ReadRecord(r.Context(), a, card, "care")
		if err != nil {
			return fields{"card_code": "Immunization.id"}.fhirError(err)
		}
		for _, v := range rec.Vaccinations {
			if v.ID == id {
				write(w, r, http.StatusOK, h.immunizationOf(card, v))
				return nil
			}
		}
		return registry.FieldErrorf(registry.ENOTFOUND, "Immunization.id", "This person has no dose with this id.")
	})
}

// ImmunizationSearch answers a search by the person's card code
// (patient.identifier or patient) with a searchset of all their doses,
// entered-in-error ones included with their status (clinic ReadRecord,
// purpose care). An unknown card gives an empty searchset.
func (h *Handler) ImmunizationSearch() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		q, err := searchQuery(r, "patient.identifier", "patient")
		if err != nil {
			return err
		}
		card, err := patientCard(q)
		if err != nil {
			return err
		}
		rec, err := h.svc.ReadRecord(r.Context(), a, card, "care")
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			write(w, r, http.StatusOK, h.searchset(r, nil))
			return nil
		}
		if err != nil {
			return fields{"card_code": "http.patient.identifier"}.fhirError(err)
		}
		base := h.baseURL(r)
		entries := make([]BundleEntry, 0, len(rec.Vaccinations))
		for _, v := range rec.Vaccinations {
			im := h.immunizationOf(card, v)
			entries = append(entries, match(base+"/Immunization/"+im.ID, im))
		}
		write(w, r, http.StatusOK, h.searchset(r, entries))
		return nil
	})
}

// The Immunization a client creates, decoded strictly: every R4 element is
// declared, the ones Haven maps with types and the others as raw values that
// are accepted and dropped (performer, note, reaction…: Haven keeps none of
// them). An element R4 does not define is refused.
type (
	immunizationIn struct {
		ResourceType       string             `json:"resourceType"`
		ID                 jsontext.Value     `json:"id"`
		Meta               jsontext.Value     `json:"meta"`
		ImplicitRules      jsontext.Value     `json:"implicitRules"`
		Language           jsontext.Value     `json:"language"`
		Text               jsontext.Value     `json:"text"`
		Contained          jsontext.Value     `json:"contained"`
		Extension          []extensionIn      `json:"extension"`
		ModifierExtension  []jsontext.Value   `json:"modifierExtension"`
		Identifier         jsontext.Value     `json:"identifier"`
		Status             string             `json:"status"`
		StatusReason       jsontext.Value     `json:"statusReason"`
		VaccineCode        *codeableConceptIn `json:"vaccineCode"`
		Patient            *referenceIn       `json:"patient"`
		Encounter          jsontext.Value     `json:"encounter"`
		OccurrenceDateTime *string            `json:"occurrenceDateTime"`
		OccurrenceString   *string            `json:"occurrenceString"`
		Recorded           jsontext.Value     `json:"recorded"`
		PrimarySource      *bool              `json:"primarySource"`
		ReportOrigin       *codeableConceptIn `json:"reportOrigin"`
		Location           *referenceIn       `json:"location"`
		Manufacturer       jsontext.Value     `json:"manufacturer"`
		LotNumber          string             `json:"lotNumber"`
		ExpirationDate     jsontext.Value     `json:"expirationDate"`
		Site               jsontext.Value     `json:"site"`
		Route              jsontext.Value     `json:"route"`
		DoseQuantity       jsontext.Value     `json:"doseQuantity"`
		Performer          jsontext.Value     `json:"performer"`
		Note               jsontext.Value     `json:"note"`
		ReasonCode         jsontext.Value     `json:"reasonCode"`
		ReasonReference    jsontext.Value     `json:"reasonReference"`
		IsSubpotent        *bool              `json:"isSubpotent"`
		SubpotentReason    jsontext.Value     `json:"subpotentReason"`
		Education          jsontext.Value     `json:"education"`
		ProgramEligibility jsontext.Value     `json:"programEligibility"`
		FundingSource      *codeableConceptIn `json:"fundingSource"`
		Reaction           jsontext.Value     `json:"reaction"`
		ProtocolApplied    jsontext.Value     `json:"protocolApplied"`
	}
	codingIn struct {
		ID           jsontext.Value `json:"id"`
		Extension    jsontext.Value `json:"extension"`
		System       string         `json:"system"`
		Version      string         `json:"version"`
		Code         string         `json:"code"`
		Display      string         `json:"display"`
		UserSelected *bool          `json:"userSelected"`
	}
	codeableConceptIn struct {
		ID        jsontext.Value `json:"id"`
		Extension jsontext.Value `json:"extension"`
		Coding    []codingIn     `json:"coding"`
		Text      string         `json:"text"`
	}
	identifierIn struct {
		ID        jsontext.Value `json:"id"`
		Extension jsontext.Value `json:"extension"`
		Use       jsontext.Value `json:"use"`
		Type      jsontext.Value `json:"type"`
		System    string         `json:"system"`
		Value     string         `json:"value"`
		Period    jsontext.Value `json:"period"`
		Assigner  jsontext.Value `json:"assigner"`
	}
	referenceIn struct {
		ID         jsontext.Value `json:"id"`
		Extension  jsontext.Value `json:"extension"`
		Reference  string         `json:"reference"`
		Type       string         `json:"type"`
		Identifier *identifierIn  `json:"identifier"`
		Display    string         `json:"display"`
	}
	// extensionIn is any extension; only PaymentExtension is read.
	extensionIn map[string]jsontext.Value
	moneyIn     struct {
		ID        jsontext.Value `json:"id"`
		Extension jsontext.Value `json:"extension"`
		Value     jsontext.Value `json:"value"`
		Currency  string         `json:"currency"`
	}
)

// first returns the first coding of cc in system.
func (cc *codeableConceptIn) first(system string) (codingIn, bool) {
	if cc == nil {
		return codingIn{}, false
	}
	i := slices.IndexFunc(cc.Coding, func(c codingIn) bool { return c.System == system })
	if i < 0 {
		return codingIn{}, false
	}
	return cc.Coding[i], true
}

// vaccinationInput maps a decoded Immunization to the clinic's input and the
// card of the person it is for.
func (h *Handler) vaccinationInput(in immunizationIn) (registry.CardCode, clinic.VaccinationInput, error) {
	var out clinic.VaccinationInput
	if in.ResourceType != "Immunization" {
		return "", out, registry.FieldErrorf(registry.EINVALID, "Immunization.resourceType", "The body must be an Immunization.")
	}
	if len(in.ModifierExtension) > 0 {
		return "", out, registry.FieldErrorf(registry.EUNSUPPORTED, "Immunization.modifierExtension", "Haven does not understand this modifier extension, so it cannot record the dose.")
	}
	switch in.Status {
	case "completed":
	case "":
		return "", out, registry.FieldErrorf(registry.EINVALID, "Immunization.status", "The status is required (completed).")
	case "entered-in-error":
		return "", out, registry.FieldErrorf(registry.EUNSUPPORTED, "Immunization.status", "A dose is marked entered in error through a correction of the recorded dose, not created so.")
	default:
		return "", out, registry.FieldErrorf(registry.EUNSUPPORTED, "Immunization.status", "Haven records administered doses only (status completed).")
	}
	if in.IsSubpotent != nil && *in.IsSubpotent {
		return "", out, registry.FieldErrorf(registry.EUNSUPPORTED, "Immunization.isSubpotent", "Haven does not record subpotent doses.")
	}
	card, err := patientOfInput(in.Patient)
	if err != nil {
		return "", out, err
	}
	// The product: Haven's catalogue ID names it exactly; a CVX code may be a
	// generic code several products are reported as.
	cat := h.svc.Catalog()
	if c, ok := in.VaccineCode.first(ProductSystem); ok {
		out.Product = c.Code
	} else if c, ok := in.VaccineCode.first(sysCVX); ok {
		out.Product = c.Code
		if p, ok := cat.ByCVX(c.Code); ok {
			out.Product = p.ID
		}
	} else {
		return "", out, registry.FieldErrorf(registry.EINVALID, "Immunization.vaccineCode", "Give the vaccine as a CVX coding (%s) or a Haven product (%s).", sysCVX, ProductSystem)
	}
	switch {
	case in.OccurrenceDateTime != nil:
		d := *in.OccurrenceDateTime
		if len(d) < 10 {
			return "", out, registry.FieldErrorf(registry.EINVALID, "Immunization.occurrenceDateTime", "Haven records the day a dose was given: YYYY-MM-DD.")
		}
		if len(d) > 10 {
			if _, err := time.Parse(time.RFC3339, d); err != nil || d[10] != 'T' {
				return "", out, registry.FieldErrorf(registry.EINVALID, "Immunization.occurrenceDateTime", "%q is not a FHIR dateTime.", d)
			}
		}
		out.Date = d[:10] // the day as written where it was given
	case in.OccurrenceString != nil:
		return "", out, registry.FieldErrorf(registry.EINVALID, "Immunization.occurrenceString", "Haven records the day a dose was given: send occurrenceDateTime.")
	default:
		return "", out, registry.FieldErrorf(registry.EINVALID, "Immunization.occurrenceDateTime", "The date the dose was given is required.")
	}
	out.Lot = in.LotNumber
	if in.Location != nil {
		switch {
		case in.Location.Identifier != nil && (in.Location.Identifier.System == "" || in.Location.Identifier.System == SiteSystem):
			out.Site = in.Location.Identifier.Value
		case strings.HasPrefix(in.Location.Reference, "Location/"):
			out.Site = strings.TrimPrefix(in.Location.Reference, "Location/")
		default:
			return "", out, registry.FieldErrorf(registry.EINVALID, "Immunization.location", "Name the site by its code: identifier with system %s.", SiteSystem)
		}
	}
	out.Source = string(registry.SourceAdministered)
	if in.PrimarySource != nil && !*in.PrimarySource {
		out.Source = string(registry.SourceHistoricalCard)
		if c, ok := in.ReportOrigin.first(sysOrigin); ok && c.Code == "recall" {
			out.Source = string(registry.SourceSelfReport)
		}
	}
	pay, err := paymentOf(in)
	if err != nil {
		return "", out, err
	}
	out.Payment = pay
	return card, out, nil
}

// patientOfInput reads the card code of Immunization.patient: its
// identifier (system CardSystem) or a reference to Patient/CARD.
func patientOfInput(p *referenceIn) (registry.CardCode, error) {
	const field = "Immunization.patient.identifier"
	if p == nil {
		return "", registry.FieldErrorf(registry.EINVALID, field, "Name the person by card code: patient.identifier with system %s.", CardSystem)
	}
	var fromIdent, fromRef registry.CardCode
	if p.Identifier != nil {
		if p.Identifier.System != CardSystem {
			return "", registry.FieldErrorf(registry.EINVALID, field+".system", "Haven identifies people by card code only: the system must be %s.", CardSystem)
		}
		c, err := registry.ParseCardCode(p.Identifier.Value)
		if err != nil {
			return "", registry.FieldErrorf(registry.EINVALID, field+".value", "%s", registry.ErrorMessage(err))
		}
		fromIdent = c
	}
	if p.Reference != "" {
		ref, ok := strings.CutPrefix(p.Reference, "Patient/")
		c, err := registry.ParseCardCode(ref)
		if !ok || err != nil {
			return "", registry.FieldErrorf(registry.EINVALID, "Immunization.patient.reference", "The reference must be Patient/CARD.")
		}
		fromRef = c
	}
	switch {
	case fromIdent != "" && fromRef != "" && fromIdent != fromRef:
		return "", registry.FieldErrorf(registry.EINVALID, "Immunization.patient", "The identifier and the reference name two different people.")
	case fromIdent != "":
		return fromIdent, nil
	case fromRef != "":
		return fromRef, nil
	}
	return "", registry.FieldErrorf(registry.EINVALID, field, "Name the person by card code: patient.identifier with system %s.", CardSystem)
}

// paymentOf reads the payment: the PaymentExtension's amount makes a paid
// dose; fundingSource private without it is refused (Haven records the
// amount of a paid dose). Anything else is free.
func paymentOf(in immunizationIn) (*registry.Payment, error) {
	var money *moneyIn
	for i, ext := range in.Extension {
		var u string
		if raw, ok := ext["url"]; !ok || jsonUnmarshal(raw, &u) != nil {
			return nil, registry.FieldErrorf(registry.EINVALID, "Immunization.extension["+strconv.Itoa(i)+"].url", "An extension needs its url.")
		}
		if u != PaymentExtension {
			continue // an extension Haven does not keep; not a modifier, so it may be dropped
		}
		raw, ok := ext["valueMoney"]
		money = &moneyIn{}
		if !ok || decodeResource(raw, money, "Immunization.extension["+strconv.Itoa(i)+"].valueMoney", true) != nil {
			return nil, registry.FieldErrorf(registry.EINVALID, "Immunization.extension["+strconv.Itoa(i)+"].valueMoney", "The payment extension holds valueMoney {value, currency}.")
		}
		if k := jsontext.Value(money.Value).Kind(); k != '0' {
			return nil, registry.FieldErrorf(registry.EINVALID, "Immunization.extension["+strconv.Itoa(i)+"].valueMoney.value", "The amount must be a number such as 50.00.")
		}
	}
	private := false
	if c, ok := in.FundingSource.first(sysFunding); ok && c.Code == "private" {
		private = true
	}
	switch {
	case money != nil:
		return &registry.Payment{Kind: "paid", Amount: string(money.Value), Currency: money.Currency}, nil
	case private:
		return nil, registry.FieldErrorf(registry.EINVALID, "Immunization.extension", "A privately paid dose needs its amount: the extension %s with valueMoney.", PaymentExtension)
	}
	return nil, nil
}

// idempotencyKey is the key of a create: the Idempotency-Key header, or one
// derived from If-None-Exist. The derivation is deterministic: the search
// parameters, each name with its values sorted, are hashed, so the same
// condition sent again (in any order) is the same key, and a retry returns
// the dose the first request recorded instead of recording another.
func idempotencyKey(r *http.Request) (key string, conditional bool, err error) {
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		return k, false, nil
	}
	cond := strings.TrimSpace(r.Header.Get("If-None-Exist"))
	if cond == "" {
		return "", false, nil
	}
	if i := strings.IndexByte(cond, '?'); i >= 0 {
		cond = cond[i+1:]
	}
	q, err := url.ParseQuery(cond)
	if _, blank := q[""]; err != nil || len(q) == 0 || blank {
		return "", false, registry.FieldErrorf(registry.EINVALID, "http.If-None-Exist", "If-None-Exist holds search parameters, such as identifier=SYSTEM|VALUE.")
	}
	names := make([]string, 0, len(q))
	for n := range q {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		vs := slices.Clone(q[n])
		slices.Sort(vs)
		for _, v := range vs {
			h.Write([]byte(n + "=" + v + "\x00"))
		}
	}
	return "fhir-if-none-exist-" + hex.EncodeToString(h.Sum(nil)), true, nil
}

// ImmunizationCreate records the dose an Immunization describes for the
// person its patient.identifier names (clinic RecordVaccination: the same
// validation, site scope and idempotency as the JSON API). It answers 201
// with the Immunization and its Location; a retry with the same
// Idempotency-Key answers 201 with the first dose and Idempotent-Replayed,
// and one whose If-None-Exist matches an earlier create answers 200 with
// that dose, as FHIR's conditional create does.
func (h *Handler) ImmunizationCreate() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		key, conditional, err := idempotencyKey(r)
		if err != nil {
			return err
		}
		raw, err := readBody(w, r, maxResourceBytes)
		if err != nil {
			return err
		}
		var in immunizationIn
		if err := decodeResource(raw, &in, "Immunization", true); err != nil {
			return err
		}
		card, vin, err := h.vaccinationInput(in)
		if err != nil {
			return err
		}
		d, err := h.svc.RecordVaccination(r.Context(), a, card, vin, key)
		if err != nil {
			return immunizationFields.fhirError(err)
		}
		im := h.immunizationOf(card, d.Vaccination)
		w.Header().Set("Location", h.baseURL(r)+"/Immunization/"+im.ID)
		status := http.StatusCreated
		if d.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
			if conditional {
				status = http.StatusOK
			}
		}
		write(w, r, status, im)
		return nil
	})
}

func jsonUnmarshal(raw jsontext.Value, v any) error { return json.Unmarshal(raw, v) }
