package hl7

import (
	"slices"
	"strconv"
	"strings"
)

// Query is what Haven reads from a QBP^Q11: the profile asked for, the
// query's name and tag (echoed in the response), and the patient
// identifiers of QPD-3. The demographic parameters (QPD-4 onwards: name,
// mother's maiden name, birth date, sex, address, phone) are never read:
// Haven finds people by card code only.
type Query struct {
	Header      Header
	Profile     string       // ProfileQueryHist (Z34) or ProfileQueryEval (Z44)
	Name        Coded        // QPD-1, the message query name
	Tag         string       // QPD-2, the query tag
	Identifiers []Identifier // QPD-3
	Limit       int          // RCP-2.1, the most records wanted; 0 when not given
}

// Identifier returns the first QPD-3 identifier with the given assigning
// authority, such as HavenAuthority.
func (q *Query) Identifier(authority string) (Identifier, bool) {
	return identifierIn(q.Identifiers, authority)
}

// ReadQBP reads a QBP^Q11 with the default Rules.
func ReadQBP(m *Message) (*Query, Errors) { return Rules{}.ReadQBP(m) }

// ReadQBP reads a QBP^Q11^QBP_Q11 for profile Z34 (request immunization
// history) or Z44 (request evaluated history and forecast), with the
// structure
//
//	MSH [{SFT}] QPD RCP [DSC]
//
// The profile is QPD-1.1; MSH-21 should name the same one. The result is
// never nil. A query without a Haven card code in QPD-3 is valid: it simply
// finds no one (answer it with NewRSPNotFound).
func (r Rules) ReadQBP(m *Message) (*Query, Errors) {
	q := new(Query)
	m.readHeader(&q.Header)
	if m.Err != nil {
		return q, Errors{*m.Err}
	}
	errs := slices.Clone(m.Warnings)
	herrs := r.checkHeader(m, &q.Header, "QBP", "Q11", "QBP_Q11")
	errs = append(errs, herrs...)
	if herrs.Fatal() {
		return q, errs
	}
	add := func(sev Severity, c Code, l Location, app AppCode, msg string) {
		errs = append(errs, errorf(sev, c, l, app, msg))
	}
	var qpd, rcp *Segment
	for i := 1; i < len(m.segs); i++ {
		s := &m.segs[i]
		switch {
		case !validID(s.id):
			add(SeverityError, CodeSegmentSequence, Location{}, "", "segment "+strconv.Itoa(i+1)+" does not begin with a segment ID")
		case s.id[0] == 'Z':
		case s.id == "SFT":
			if qpd != nil {
				add(SeverityError, CodeSegmentSequence, s.Loc(0), "", "SFT must come right after MSH")
			}
		case s.id == "QPD":
			if qpd != nil {
				add(SeverityError, CodeSegmentSequence, s.Loc(0), "", "a QBP has one QPD")
				continue
			}
			qpd = s
		case s.id == "RCP":
			if qpd == nil || rcp != nil {
				add(SeverityError, CodeSegmentSequence, s.Loc(0), "", "RCP must follow QPD, once")
				continue
			}
			rcp = s
		case s.id == "DSC":
		default:
			add(SeverityWarning, CodeSegmentSequence, s.Loc(0), AppDataIgnored, "segment "+s.id+" has no place in QBP^Q11 and was ignored")
		}
	}
	if qpd == nil {
		add(SeverityError, CodeSegmentSequence, Location{Segment: "QPD", Seq: 1}, AppRequiredData, "QPD segment missing")
		return q, errs
	}
	if rcp == nil {
		add(SeverityWarning, CodeSegmentSequence, Location{Segment: "RCP", Seq: 1}, AppRequiredData, "RCP segment missing")
	}

	q.Name = codedOf(qpd.Field(1))
	switch p := strings.ToUpper(q.Name.Code); p {
	case "":
		add(SeverityError, CodeRequiredField, qpd.Loc(1), AppRequiredData, "QPD-1 (message query name) is required")
	case ProfileQueryHist, ProfileQueryEval:
		q.Profile = p
		if len(q.Header.Profiles) > 0 && !q.Header.HasProfile(p) {
			add(SeverityWarning, CodeTableValue, Location{Segment: "MSH", Seq: 1, Field: 21, Rep: 1, Comp: 1}, AppIllogicalValue,
				"MSH-21 does not name the profile of QPD-1 ("+p+"); QPD-1 was followed")
		}
	default:
		add(SeverityError, CodeTableValue, qpd.Loc(1).at(1, 1, 1, 0), AppTableValue,
			"query "+quote(q.Name.Code)+" is not supported; expected Z34 or Z44")
	}
	q.Tag = qpd.Field(2).Text()
	if q.Tag == "" {
		add(SeverityError, CodeRequiredField, qpd.Loc(2), AppRequiredData, "QPD-2 (query tag) is required")
	}
	eachRep(qpd.Field(3), m.maxReps, func(_ int, r Value) {
		if id := cxOf(r); id.ID != "" {
			q.Identifiers = append(q.Identifiers, id)
		}
	})
	if rcp != nil {
		if t := rcp.Field(2).Comp(1).Text(); t != "" {
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 {
				add(SeverityWarning, CodeDataType, rcp.Loc(2).at(2, 1, 1, 0), AppInvalidValue, "RCP-2 (quantity limited request) is not a number and was ignored")
			} else {
				q.Limit = n
			}
		}
	}
	return q, errs
}
