package hl7

import (
	"strconv"
	"strings"
)

// AckCode is MSA-1 (HL7 table 0008).
type AckCode string

// The acknowledgment codes the CDC guide uses.
const (
	AA AckCode = "AA" // application accept: processed, perhaps with warnings
	AE AckCode = "AE" // application error: errors were found (see the ERR segments)
	AR AckCode = "AR" // application reject: not processed (unsupported type, version, processing ID; a broken header; a fault in Haven)
)

// NewACK writes the CDC guide's acknowledgment of req (ACK^V04^ACK for a
// VXU^V04; the trigger event follows the request's) as an ER7 message:
//
//	MSH|^~\&|<req MSH-5>|<req MSH-6>|<req MSH-3>|<req MSH-4>|<time>||ACK^V04^ACK|<control ID>|P|2.5.1|||NE|NE|||||Z23^CDCPHINVS|<req MSH-23>|<req MSH-22>
//	MSA|AA|<req MSH-10>
//	ERR||RXA^1^5^1^1|103^Table value not found^HL70357|E|5^Table value not found^HL70533|||<message>
//
// MSA-1 is errs.Ack(). env gives the ACK's control ID and time (both
// required) and Haven's own identity, used where the request left its
// receiver fields empty; req may be nil when the message had no readable MSH.
// At most 50 ERR segments are written. To return an assigned card code, add
// CardCodeAssigned(card) to errs.
func NewACK(req *Header, errs Errors, env Envelope) ([]byte, error) {
	if err := needControlID(env); err != nil {
		return nil, err
	}
	env = replyTo(req, env)
	event, ctl := "", ""
	if req != nil {
		event, ctl = req.Type.Event, req.ControlID
	}
	typ := "ACK"
	if event != "" {
		typ = "ACK^" + esc(event) + "^ACK"
	}
	var w writer
	w.msh(env, typ, ProfileACK+"^"+profileSystem, "NE", "NE")
	w.seg("MSA", string(errs.Ack()), esc(ctl))
	w.errs(errs)
	return w.bytes(), nil
}

// Ack is an acknowledgment read back, as Haven's outbound feed receives it
// from an IIS.
type Ack struct {
	Header    Header
	Code      AckCode // MSA-1
	ControlID string  // MSA-2: the control ID of the message acknowledged
	Errors    Errors  // the ERR segments (and MSA-3 when an old-style ACK has no ERR)
}

// CardCode returns the card code an ACK assigned (see CardCodeAssigned).
func (a *Ack) CardCode() (string, bool) {
	for _, e := range a.Errors {
		if e.App == AppCardCode && e.Param != "" {
			return e.Param, true
		}
	}
	return "", false
}

// ReadACK reads an acknowledgment (ACK, or any message with MSA and ERR).
// It accepts any HL7 version, since IISs answer in their own. ERR-1 (the
// v2.3 error location and code) is read when ERR-2 and ERR-3 are empty.
func ReadACK(m *Message) (*Ack, Errors) {
	if m.Err != nil {
		return nil, Errors{*m.Err}
	}
	a := new(Ack)
	m.readHeader(&a.Header)
	var errs Errors
	if a.Header.Type.Code != "ACK" {
		errs = append(errs, errorf(SeverityError, CodeUnsupportedMessageType, Location{Segment: "MSH", Seq: 1, Field: 9, Rep: 1, Comp: 1},
			AppTableValue, "expected an ACK, found "+quote(a.Header.Type.Code)))
		return a, errs
	}
	var msa *Segment
	for i := range m.segs {
		s := &m.segs[i]
		switch s.id {
		case "MSA":
			if msa == nil {
				msa = s
			}
		case "ERR":
			a.Errors = append(a.Errors, readERR(s))
		}
	}
	if msa == nil {
		errs = append(errs, errorf(SeverityError, CodeSegmentSequence, Location{Segment: "MSA", Seq: 1}, AppRequiredData, "MSA segment missing"))
		return a, errs
	}
	a.Code = AckCode(msa.Field(1).Text())
	a.ControlID = msa.Field(2).Text()
	switch a.Code {
	case AA, AE, AR, "CA", "CE", "CR":
	default:
		errs = append(errs, errorf(SeverityError, CodeTableValue, msa.Loc(1), AppTableValue, "MSA-1 "+quote(string(a.Code))+" is not an acknowledgment code"))
	}
	if len(a.Errors) == 0 && (a.Code == AE || a.Code == AR) {
		if t := msa.Field(3).Text(); t != "" {
			a.Errors = append(a.Errors, Error{Severity: SeverityError, Code: CodeInternal, Message: t})
		}
	}
	return a, errs
}

func readERR(s *Segment) Error {
	e := Error{
		Location: erlOf(s.Field(2)),
		Severity: Severity(firstByte(s.Field(4).Text())),
		App:      AppCode(s.Field(5).Comp(1).Text()),
		Param:    s.Field(6).Text(),
		Message:  s.Field(8).Text(),
	}
	code := s.Field(3).Comp(1).Text()
	if code == "" && e.Location.Segment == "" {
		// v2.3 ERR-1 (ELD): segment ^ sequence ^ field ^ code&text&table
		eld := s.Field(1)
		e.Location = Location{Segment: eld.Comp(1).Text(), Seq: num(eld.Comp(2).Text()), Field: num(eld.Comp(3).Text())}
		code = eld.Comp(4).Sub(1).Text()
		if e.Message == "" {
			e.Message = eld.Comp(4).Sub(2).Text()
		}
	}
	e.Code = Code(num(code))
	if e.Message == "" {
		e.Message = s.Field(7).Text()
	}
	switch e.Severity {
	case SeverityError, SeverityWarning, SeverityInfo:
	default:
		e.Severity = SeverityError
	}
	return e
}

func erlOf(v Value) Location {
	return Location{
		Segment: v.Comp(1).Text(), Seq: num(v.Comp(2).Text()), Field: num(v.Comp(3).Text()),
		Rep: num(v.Comp(4).Text()), Comp: num(v.Comp(5).Text()), Sub: num(v.Comp(6).Text()),
	}
}

func num(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}
