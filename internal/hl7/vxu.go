package hl7

import (
	"slices"
	"strconv"
	"strings"
)

// Completion is RXA-20, the completion status (HL7 table 0322).
type Completion string

// The completion statuses.
const (
	Complete              Completion = "CP"
	Refused               Completion = "RE"
	NotAdministered       Completion = "NA"
	PartiallyAdministered Completion = "PA"
)

// Action is RXA-21, the action code (HL7 table 0323).
type Action string

// The action codes. ActionDelete marks a dose entered in error.
const (
	ActionAdd    Action = "A"
	ActionDelete Action = "D"
	ActionUpdate Action = "U"
)

// LOINC codes of the observations Haven reads and writes.
const (
	LOINCFundingEligibility = "64994-7" // vaccine funding program eligibility category (VFC: HL7 table 0064)
	LOINCFundingSource      = "30963-3" // vaccine funding source (CDCPHINVS: VXC1, VXC2, PHC70...)
	LOINCVaccineType        = "30956-7" // vaccine type (vaccine group), as CVX
	LOINCSchedule           = "59779-9" // immunization schedule used
	LOINCDoseNumber         = "30973-2" // dose number in series
	LOINCSeriesDoses        = "59782-3" // number of doses in primary series
	LOINCDoseValidity       = "59781-5" // dose validity (Y/N)
	LOINCSeriesStatus       = "59783-1" // status in immunization series
	LOINCEarliestDate       = "30981-5" // earliest date to give
	LOINCRecommendedDate    = "30980-7" // date vaccine due
	LOINCPastDueDate        = "59778-1" // date dose is overdue
	LOINCLatestDate         = "59777-3" // latest date next dose should be given
	LOINCReason             = "30982-3" // reason applied by forecast logic
)

// CVXNotAdministered is CVX 998, "no vaccine administered".
const CVXNotAdministered = "998"

// VXU is what Haven reads from a VXU^V04: the header, the little it keeps
// about the person, and one Administration per order (ORC/RXA group).
// Everything else in the message (addresses, race, ethnicity, mother's maiden
// name, next of kin, insurance, providers, free text) is checked for its
// place in the message and never copied.
type VXU struct {
	Header          Header
	Patient         Patient
	Administrations []Administration
}

// Patient is the part of PID that Haven's person model can keep.
type Patient struct {
	Identifiers []Identifier // PID-3 repetitions with an ID
	Names       []Name       // PID-5 repetitions with a family or given name
	BirthDate   Date         // PID-7, perhaps partial
	Sex         string       // PID-8: F, M, U, O, A or N
	Phones      []Phone      // PID-13 repetitions that are telephone numbers
}

// Identifier returns the first identifier whose assigning authority is the
// given one (compared without regard to case), such as HavenAuthority.
func (p *Patient) Identifier(authority string) (Identifier, bool) {
	return identifierIn(p.Identifiers, authority)
}

func identifierIn(ids []Identifier, authority string) (Identifier, bool) {
	for _, id := range ids {
		if strings.EqualFold(id.Authority, authority) {
			return id, true
		}
	}
	return Identifier{}, false
}

// Administration is one ORC/RXA group: a dose given, a historical dose, a
// refusal or a dose not given, or the deletion of an earlier record. It is
// neutral: the actions layer maps CVX and MVX through the catalogue, Date to
// the dose date, Historical and InfoSource to the record's source,
// Completion and Action to its status, and the funding codes to payment.
type Administration struct {
	Location           Location   // the RXA segment (FieldLocation names one of its fields)
	PlacerOrder        OrderID    // ORC-2
	FillerOrder        OrderID    // ORC-3: the sender's ID for this record, repeated to delete or update it
	Date               Date       // RXA-3, always to the day
	Vaccine            Coded      // RXA-5
	CVX                string     // the CVX code of RXA-5
	Amount             string     // RXA-6, a decimal; "" when unknown (999)
	Units              string     // RXA-7.1 (UCUM)
	InfoSource         string     // RXA-9 (NIP001): 00 new record; 01-08 historical, by source
	Historical         bool       // RXA-9 is a historical code (not 00)
	Facility           string     // RXA-11.4.1, the administered-at facility
	Lot                string     // RXA-15, first repetition
	Expiration         Date       // RXA-16
	Manufacturer       Coded      // RXA-17
	MVX                string     // the MVX code of RXA-17
	RefusalReason      Coded      // RXA-18 (NIP002)
	Completion         Completion // RXA-20; CP when empty
	Action             Action     // RXA-21; A when empty
	Route              Coded      // RXR-1
	BodySite           Coded      // RXR-2
	FundingEligibility Coded      // OBX 64994-7 value (V01-V07, or a local code)
	FundingSource      Coded      // OBX 30963-3 value (VXC1, VXC2, PHC70...)
	// Observations holds the other OBX of the order that have a coded, date
	// or numeric value (VIS document and dates, contraindications, immunity).
	// Free text (ST, TX, FT) is never kept.
	Observations []Observation
}

// Observation is an OBX kept with its administration.
type Observation struct {
	Code      Coded  // OBX-3
	ValueType string // OBX-2
	Value     Coded  // OBX-5: the coded value for CE and CWE; for other types Value.Code holds the value
	SubID     string // OBX-4, which groups related observations
	Date      Date   // OBX-14
}

// Given reports whether a dose was (at least partly) administered and is not
// being deleted: RXA-20 CP or PA, RXA-21 not D, and a CVX other than 998.
func (a *Administration) Given() bool {
	return (a.Completion == Complete || a.Completion == PartiallyAdministered) &&
		a.Action != ActionDelete && a.CVX != CVXNotAdministered
}

// FieldLocation returns the location of the RXA field that holds one of
// Haven's vaccination fields ("product", "date", "lot", "site", "source",
// "manufacturer"), for an ERR built from an actions-layer error; any other
// name gives the RXA segment itself.
func (a *Administration) FieldLocation(field string) Location {
	l := a.Location
	switch field {
	case "product", "cvx":
		return l.at(5, 1, 1, 0)
	case "date":
		return l.at(3, 1, 1, 0)
	case "lot":
		return l.at(15, 1, 1, 0)
	case "site":
		return l.at(11, 1, 4, 0)
	case "source":
		return l.at(9, 1, 1, 0)
	case "mvx", "manufacturer":
		return l.at(17, 1, 1, 0)
	}
	return l
}

// PatientFieldLocation returns the location of the PID field that holds one
// of Haven's person fields ("card_code", "family_name", "given_name",
// "birth_date", "sex", "phone").
func PatientFieldLocation(field string) Location {
	l := Location{Segment: "PID", Seq: 1}
	switch field {
	case "card_code":
		return l.at(3, 0, 0, 0)
	case "family_name":
		return l.at(5, 1, 1, 0)
	case "given_name":
		return l.at(5, 1, 2, 0)
	case "birth_date":
		return l.at(7, 1, 1, 0)
	case "sex":
		return l.at(8, 1, 1, 0)
	case "phone":
		return l.at(13, 0, 0, 0)
	}
	return l
}

// ReadVXU reads a VXU^V04 with the default Rules.
func ReadVXU(m *Message) (*VXU, Errors) { return Rules{}.ReadVXU(m) }

// ReadVXU reads a VXU^V04 (MSH-9 VXU^V04, and VXU^V04^VXU_V04). The result
// is never nil: its Header is filled as far as MSH could be read, so that an
// ACK can always be written. When errs.Fatal(), nothing in the message may
// be written (a message is all or nothing); warnings name data that was
// ignored.
//
// Segment order is checked against the VXU_V04 structure of the CDC guide:
//
//	MSH [{SFT}] PID [PD1] [{NK1}] [PV1 [PV2]] [{GT1}] [{IN1 [IN2] [IN3]}]
//	{ ORC [{TQ1 [{TQ2}]}] RXA [RXR] [{OBX [{NTE}]}] }
//
// An RXA without its ORC (as v2.3.1 senders write) is read as an order of
// its own with a warning; Z segments are ignored anywhere; other segments
// that have no place in the structure are ignored with a warning; a known
// segment out of place is an error (100).
func (r Rules) ReadVXU(m *Message) (*VXU, Errors) {
	v := new(VXU)
	m.readHeader(&v.Header)
	if m.Err != nil {
		return v, Errors{*m.Err}
	}
	errs := slices.Clone(m.Warnings)
	herrs := r.checkHeader(m, &v.Header, "VXU", "V04", "VXU_V04")
	errs = append(errs, herrs...)
	if herrs.Fatal() {
		return v, errs
	}
	rd := vxuReader{v: v, errs: errs, maxReps: m.maxReps}
	rd.walk(m.segs)
	return v, rd.errs
}

type vxuReader struct {
	v       *VXU
	errs    Errors
	maxReps int
}

func (rd *vxuReader) add(sev Severity, code Code, loc Location, app AppCode, msg string) {
	rd.errs = append(rd.errs, errorf(sev, code, loc, app, msg))
}

func (rd *vxuReader) order(s *Segment, msg string) {
	rd.add(SeverityError, CodeSegmentSequence, s.Loc(0), "", msg)
}

// patientRank orders the segments of the PATIENT part of VXU_V04.
func patientRank(id string) int {
	switch id {
	case "PID":
		return 1
	case "PD1":
		return 2
	case "NK1":
		return 3
	case "PV1":
		return 4
	case "PV2":
		return 5
	case "GT1":
		return 6
	case "IN1", "IN2", "IN3":
		return 7
	}
	return 0
}

func (rd *vxuReader) walk(segs []Segment) {
	n := 0
	for i := range segs {
		if segs[i].id == "RXA" {
			n++
		}
	}
	rd.v.Administrations = make([]Administration, 0, n)
	const (
		beforePID = iota
		inPatient
		inOrders
	)
	part, rank := beforePID, 0
	var (
		orc            *Segment // ORC of the current order, nil when the RXA came without one
		cur            = -1     // index of the current order's administration, -1 before its RXA
		hasRXR, hasOBX bool
		afterOBX       bool // the previous segment was OBX, or NTE after OBX
	)
	for i := 1; i < len(segs); i++ {
		s := &segs[i]
		id := s.id
		if !validID(id) {
			rd.add(SeverityError, CodeSegmentSequence, Location{}, "",
				"segment "+strconv.Itoa(i+1)+" does not begin with a segment ID")
			afterOBX = false
			continue
		}
		if id[0] == 'Z' {
			continue
		}
		wasAfterOBX := afterOBX
		afterOBX = false
		switch id {
		case "SFT":
			if part != beforePID {
				rd.order(s, "SFT must come right after MSH")
			}
		case "PID":
			if part != beforePID {
				rd.order(s, "a VXU has one PID, before the orders")
				continue
			}
			part, rank = inPatient, 1
			rd.readPID(s)
		case "PD1", "NK1", "PV1", "PV2", "GT1", "IN1", "IN2", "IN3":
			// Read for their place only; their content is never kept.
			k := patientRank(id)
			switch {
			case part == beforePID:
				rd.order(s, id+" must follow PID")
			case part == inOrders:
				rd.order(s, id+" must come before the orders (ORC, RXA)")
			case k < rank || k == rank && (id == "PD1" || id == "PV1" || id == "PV2"):
				rd.order(s, id+" is out of order in the patient segments")
			default:
				rank = k
			}
		case "ORC":
			if part == beforePID {
				rd.order(s, "ORC must follow PID")
				continue
			}
			if part == inOrders && orc != nil && cur < 0 {
				rd.order(orc, "ORC has no RXA")
			}
			part, orc, cur, hasRXR, hasOBX = inOrders, s, -1, false, false
		case "TQ1", "TQ2":
			if orc == nil || cur >= 0 {
				rd.order(s, id+" must follow ORC, before RXA")
			}
		case "RXA":
			if part == beforePID {
				rd.order(s, "RXA must follow PID")
				continue
			}
			if part != inOrders || cur >= 0 || orc == nil {
				orc = nil
				rd.add(SeverityWarning, CodeSegmentSequence, s.Loc(0), "",
					"RXA is not preceded by its ORC; it was read as an order of its own")
			}
			part, hasRXR, hasOBX = inOrders, false, false
			// The slice was made with room for every RXA, already zeroed.
			cur = len(rd.v.Administrations)
			rd.v.Administrations = rd.v.Administrations[:cur+1]
			rd.readRXA(s, orc, &rd.v.Administrations[cur])
		case "RXR":
			if cur < 0 || hasRXR || hasOBX {
				rd.order(s, "RXR must follow RXA, once")
				continue
			}
			hasRXR = true
			a := &rd.v.Administrations[cur]
			a.Route = codedOf(s.Field(1))
			a.BodySite = codedOf(s.Field(2))
		case "OBX":
			if cur < 0 {
				rd.order(s, "OBX must follow RXA (or RXR)")
				continue
			}
			hasOBX, afterOBX = true, true
			rd.readOBX(s, &rd.v.Administrations[cur])
		case "NTE":
			if !wasAfterOBX {
				rd.order(s, "NTE must follow OBX")
				continue
			}
			afterOBX = true // free text: never kept
		default:
			rd.add(SeverityWarning, CodeSegmentSequence, s.Loc(0), AppDataIgnored,
				"segment "+id+" has no place in VXU^V04 and was ignored")
		}
	}
	if part == inOrders && orc != nil && cur < 0 {
		rd.order(orc, "ORC has no RXA")
	}
	if part == beforePID {
		rd.add(SeverityError, CodeSegmentSequence, Location{Segment: "PID", Seq: 1}, AppRequiredData, "PID segment missing")
	}
}

func (rd *vxuReader) readPID(s *Segment) {
	p := &rd.v.Patient
	f := s.Field(3)
	p.Identifiers = make([]Identifier, 0, min(f.Reps(), rd.maxReps))
	eachRep(f, rd.maxReps, func(_ int, r Value) {
		if id := cxOf(r); id.ID != "" {
			p.Identifiers = append(p.Identifiers, id)
		}
	})
	if len(p.Identifiers) == 0 {
		rd.add(SeverityError, CodeRequiredField, s.Loc(3), AppRequiredData, "PID-3 (patient identifier list) is required")
	}
	if f = s.Field(5); !f.IsEmpty() {
		p.Names = make([]Name, 0, min(f.Reps(), rd.maxReps))
		eachRep(f, rd.maxReps, func(_ int, r Value) {
			if n := xpnOf(r); n.Family != "" || n.Given != "" {
				p.Names = append(p.Names, n)
			}
		})
	}
	if t := s.Field(7).Text(); t != "" {
		if d, err := ParseDate(t); err != nil {
			rd.add(SeverityWarning, CodeDataType, s.Loc(7).at(7, 1, 1, 0), AppInvalidDate,
				"PID-7 (date of birth) is not a valid date and was ignored")
		} else {
			p.BirthDate = d
		}
	}
	switch sex := strings.ToUpper(s.Field(8).Text()); sex {
	case "":
	case "F", "M", "U", "O", "A", "N":
		p.Sex = sex
	default:
		rd.add(SeverityWarning, CodeTableValue, s.Loc(8).at(8, 1, 1, 0), AppTableValue,
			"PID-8 (administrative sex) is not in HL7 table 0001 and was ignored")
	}
	eachRep(s.Field(13), rd.maxReps, func(_ int, r Value) {
		ph := xtnOf(r)
		if ph.Use == "NET" || strings.EqualFold(ph.Equipment, "Internet") || strings.EqualFold(ph.Equipment, "X.400") {
			return
		}
		ph.Local = strings.TrimSpace(ph.Local)
		if ph.Local == "" && ph.Unformatted == "" {
			return
		}
		p.Phones = append(p.Phones, ph)
	})
}

// eachRep calls fn with each repetition of f, at most max of them, and its
// number from 1.
func eachRep(f Value, max int, fn func(i int, r Value)) {
	it := f.reps()
	for i := 1; i <= max; i++ {
		r, ok := it.next()
		if !ok {
			return
		}
		fn(i, r)
	}
}

// infoSources are the NIP001 codes of RXA-9.
var infoSources = []string{"00", "01", "02", "03", "04", "05", "06", "07", "08"}

func (rd *vxuReader) readRXA(s *Segment, orc *Segment, a *Administration) {
	a.Location, a.Completion, a.Action = s.Loc(0), Complete, ActionAdd
	loc := func(f, c int) Location { return s.Loc(f).at(f, 1, c, 0) }
	if orc != nil {
		a.PlacerOrder = eiOf(orc.Field(2))
		a.FillerOrder = eiOf(orc.Field(3))
	}

	switch t := s.Field(3).Text(); {
	case t == "":
		rd.add(SeverityError, CodeRequiredField, s.Loc(3), AppRequiredData, "RXA-3 (date/time start of administration) is required")
	default:
		d, err := ParseDate(t)
		switch {
		case err != nil:
			rd.add(SeverityError, CodeDataType, loc(3, 1), AppInvalidDate, "RXA-3 (date/time start of administration) is not a valid date")
		case !d.Complete():
			rd.add(SeverityError, CodeDataType, loc(3, 1), AppInvalidDate, "RXA-3 must give the day of administration (YYYYMMDD)")
		default:
			a.Date = d
		}
	}

	a.Vaccine = codedOf(s.Field(5))
	if a.Vaccine.Code == "" && a.Vaccine.AltCode == "" {
		rd.add(SeverityError, CodeRequiredField, s.Loc(5), AppRequiredData, "RXA-5 (administered code) is required")
	} else {
		cvx := a.Vaccine.In("CVX")
		if cvx == "" && a.Vaccine.System == "" && isCVX(a.Vaccine.Code) {
			cvx, a.Vaccine.System = a.Vaccine.Code, "CVX"
			rd.add(SeverityWarning, CodeTableValue, loc(5, 3), AppTableValue, "RXA-5 names no coding system; its code was read as CVX")
		}
		switch {
		case cvx == "":
			rd.add(SeverityError, CodeTableValue, loc(5, 1), AppTableValue, "RXA-5 has no CVX code (coding system CVX)")
		case !isCVX(cvx):
			rd.add(SeverityError, CodeTableValue, loc(5, 1), AppTableValue, "RXA-5 CVX code "+quote(cvx)+" is not a CVX code")
		default:
			a.CVX = cvx
		}
	}

	switch amt := s.Field(6).Text(); {
	case amt == "":
		rd.add(SeverityWarning, CodeRequiredField, s.Loc(6), AppRequiredData, "RXA-6 (administered amount) is required; send 999 when it is unknown")
	case amt == "999":
	case !isDecimal(amt):
		rd.add(SeverityWarning, CodeDataType, loc(6, 1), AppInvalidValue, "RXA-6 (administered amount) is not a number and was ignored")
	default:
		a.Amount = amt
	}
	a.Units = s.Field(7).Comp(1).Text()

	switch c := strings.ToUpper(s.Field(20).Text()); Completion(c) {
	case "":
	case Complete, Refused, NotAdministered, PartiallyAdministered:
		a.Completion = Completion(c)
	default:
		rd.add(SeverityError, CodeTableValue, loc(20, 1), AppTableValue, "RXA-20 (completion status) "+quote(c)+" is not CP, RE, NA or PA")
	}
	switch c := strings.ToUpper(s.Field(21).Text()); Action(c) {
	case "":
	case ActionAdd, ActionDelete, ActionUpdate:
		a.Action = Action(c)
	default:
		rd.add(SeverityError, CodeTableValue, loc(21, 1), AppTableValue, "RXA-21 (action code) "+quote(c)+" is not A, D or U")
	}

	eachRep(s.Field(9), rd.maxReps, func(i int, r Value) {
		var t [3]string
		r.texts(t[:])
		code, sys := t[0], t[2]
		if code == "" || a.InfoSource != "" {
			return
		}
		if (sys == "" || strings.EqualFold(sys, "NIP001")) && slices.Contains(infoSources, code) {
			a.InfoSource, a.Historical = code, code != "00"
			return
		}
		rd.add(SeverityWarning, CodeTableValue, s.Loc(9).at(9, i, 1, 0), AppTableValue,
			"RXA-9 "+quote(code)+" is not an NIP001 information source and was ignored")
	})
	if a.InfoSource == "" && (a.Completion == Complete || a.Completion == PartiallyAdministered) {
		a.InfoSource = "00"
		if a.Action != ActionDelete {
			rd.add(SeverityWarning, CodeRequiredField, s.Loc(9), AppRequiredData,
				"RXA-9 (administration notes, NIP001) is missing; it was read as 00, a new immunization record")
		}
	}

	a.Facility = s.Field(11).Comp(4).Sub(1).Text()
	eachRep(s.Field(15), rd.maxReps, func(_ int, r Value) {
		if a.Lot == "" {
			a.Lot = strings.TrimSpace(r.Text())
		}
	})
	if t := s.Field(16).Text(); t != "" {
		if d, err := ParseDate(t); err != nil {
			rd.add(SeverityWarning, CodeDataType, loc(16, 1), AppInvalidDate, "RXA-16 (substance expiration date) is not a valid date and was ignored")
		} else {
			a.Expiration = d
		}
	}
	a.Manufacturer = codedOf(s.Field(17))
	if !a.Manufacturer.IsZero() {
		a.MVX = a.Manufacturer.In("MVX")
		if a.MVX == "" && a.Manufacturer.System == "" && a.Manufacturer.Code != "" {
			a.MVX, a.Manufacturer.System = a.Manufacturer.Code, "MVX"
			rd.add(SeverityWarning, CodeTableValue, loc(17, 3), AppTableValue, "RXA-17 names no coding system; its code was read as MVX")
		} else if a.MVX == "" {
			rd.add(SeverityWarning, CodeTableValue, loc(17, 1), AppTableValue, "RXA-17 (substance manufacturer) has no MVX code and was ignored")
		}
	}
	a.RefusalReason = codedOf(s.Field(18))
	if a.Completion == Refused && a.RefusalReason.IsZero() {
		rd.add(SeverityWarning, CodeRequiredField, s.Loc(18), AppRequiredData, "RXA-18 (refusal reason) is required when RXA-20 is RE")
	}
	if a.CVX == CVXNotAdministered && a.Completion == Complete {
		rd.add(SeverityWarning, CodeTableValue, loc(20, 1), AppIllogicalValue,
			"CVX 998 (no vaccine administered) with RXA-20 CP: no dose was recorded as given")
	}
}

func (rd *vxuReader) readOBX(s *Segment, a *Administration) {
	code := codedOf(s.Field(3))
	if code.Code == "" && code.AltCode == "" {
		rd.add(SeverityWarning, CodeRequiredField, s.Loc(3), AppRequiredData, "OBX-3 (observation identifier) is missing; the observation was ignored")
		return
	}
	loinc := code.In("LN")
	if loinc == "" && code.System == "" {
		loinc = code.Code
	}
	typ := strings.ToUpper(s.Field(2).Text())
	val := s.Field(5)
	switch loinc {
	case LOINCFundingEligibility, LOINCFundingSource:
		c := codedOf(val)
		if c.Code == "" && c.AltCode == "" {
			rd.add(SeverityWarning, CodeRequiredField, s.Loc(5), AppRequiredData, "OBX-5 (observation value) is missing; the observation was ignored")
			return
		}
		dst := &a.FundingEligibility
		if loinc == LOINCFundingSource {
			dst = &a.FundingSource
		}
		if dst.IsZero() {
			*dst = c
		} else if *dst != c {
			rd.add(SeverityWarning, CodeSegmentSequence, s.Loc(0), AppDataIgnored, "a second "+loinc+" observation for the same dose was ignored")
		}
		return
	}
	o := Observation{Code: code, ValueType: typ, SubID: s.Field(4).Text()}
	switch typ {
	case "ST", "TX", "FT":
		return // free text is never kept
	case "CE", "CWE":
		o.Value = codedOf(val)
	case "NM", "DT", "DTM", "TS", "ID", "IS":
		o.Value = Coded{Code: val.Text()}
	default:
		rd.add(SeverityWarning, CodeDataType, s.Loc(2).at(2, 1, 1, 0), AppDataIgnored,
			"OBX-2 value type "+quote(typ)+" is not read; the observation was ignored")
		return
	}
	if o.Value.IsZero() {
		return
	}
	if t := s.Field(14).Text(); t != "" {
		if d, err := ParseDate(t); err == nil {
			o.Date = d
		}
	}
	a.Observations = append(a.Observations, o)
}

// isCVX reports whether s has the form of a CVX code: one to three digits.
func isCVX(s string) bool { return len(s) >= 1 && len(s) <= 3 && digits(s) }

// isDecimal reports whether s is an unsigned decimal number ("0.5", ".5", "1").
func isDecimal(s string) bool {
	dot := strings.IndexByte(s, '.')
	if dot < 0 {
		return digits(s)
	}
	a, b := s[:dot], s[dot+1:]
	return (a == "" || digits(a)) && (b == "" || digits(b)) && (a != "" || b != "")
}
