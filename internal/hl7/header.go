package hl7

import (
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Version is the HL7 version Haven reads and writes (MSH-12).
const Version = "2.5.1"

// Message profiles of the CDC guide (MSH-21, with coding system CDCPHINVS).
const (
	ProfileVXU         = "Z22" // send immunization history (VXU^V04)
	ProfileACK         = "Z23" // acknowledgment
	ProfileQueryHist   = "Z34" // request immunization history (QBP^Q11)
	ProfileQueryEval   = "Z44" // request evaluated history and forecast (QBP^Q11)
	ProfileReplyHist   = "Z32" // return complete immunization history (RSP^K11)
	ProfileReplyEval   = "Z42" // return evaluated history and forecast (RSP^K11)
	ProfileReplyNoData = "Z33" // return an acknowledgement with no person records (RSP^K11)
	profileSystem      = "CDCPHINVS"
)

// HavenAuthority is the assigning authority (CX.4) that marks a PID-3 or
// QPD-3 identifier as a Haven card code.
const HavenAuthority = "HAVEN"

// Header is what MSH says about a message.
type Header struct {
	Delimiters                              Delimiters
	SendingApplication, SendingFacility     HD           // MSH-3, MSH-4
	ReceivingApplication, ReceivingFacility HD           // MSH-5, MSH-6
	Time                                    string       // MSH-7 as sent
	Type                                    MessageType  // MSH-9
	ControlID                               string       // MSH-10
	ProcessingID                            string       // MSH-11.1: P production, T training, D debugging
	Version                                 string       // MSH-12.1
	AcceptAck, AppAck                       string       // MSH-15, MSH-16
	Charset                                 string       // MSH-18, first repetition
	Profiles                                []string     // MSH-21: EI.1 of each repetition
	SendingOrg, ReceivingOrg                Organization // MSH-22, MSH-23
}

// Header reads MSH. It returns a header with only the delimiters when the
// message has no readable MSH. It checks nothing; the readers do.
func (m *Message) Header() *Header {
	h := new(Header)
	m.readHeader(h)
	return h
}

// readHeader fills h, which must be the zero Header, from MSH.
func (m *Message) readHeader(h *Header) {
	h.Delimiters, h.Charset = m.Delimiters, m.Charset
	if len(m.segs) == 0 || m.segs[0].id != "MSH" {
		return
	}
	s := &m.segs[0]
	h.SendingApplication = hdOf(s.Field(3))
	h.SendingFacility = hdOf(s.Field(4))
	h.ReceivingApplication = hdOf(s.Field(5))
	h.ReceivingFacility = hdOf(s.Field(6))
	h.Time = s.Field(7).Text()
	var t [3]string
	s.Field(9).texts(t[:])
	h.Type = MessageType{Code: t[0], Event: t[1], Structure: t[2]}
	h.ControlID = s.Field(10).Text()
	h.ProcessingID = s.Field(11).Text()
	h.Version = s.Field(12).Text()
	h.AcceptAck = s.Field(15).Text()
	h.AppAck = s.Field(16).Text()
	for it, i := s.Field(21).reps(), 0; i < m.maxReps; i++ {
		r, ok := it.next()
		if !ok {
			break
		}
		if p := r.Text(); p != "" {
			h.Profiles = append(h.Profiles, p)
		}
	}
	h.SendingOrg = orgOf(s.Field(22))
	h.ReceivingOrg = orgOf(s.Field(23))
}

// LogValue makes a Header safe to log: it holds no personal data, only who
// sent the message, its type, control ID, version and processing ID.
func (h *Header) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("sender", h.SendingApplication.Namespace+"/"+h.SendingFacility.Namespace),
		slog.String("type", h.Type.String()),
		slog.String("control_id", h.ControlID),
		slog.String("version", h.Version),
		slog.String("processing_id", h.ProcessingID),
	)
}

// HasProfile reports whether MSH-21 names the profile (for example "Z22").
func (h *Header) HasProfile(p string) bool { return slices.Contains(h.Profiles, p) }

// Rules are what a reader accepts in MSH. The zero Rules accept version
// 2.5.1 and processing IDs P, T and D.
type Rules struct {
	Versions      []string // MSH-12 values accepted; default {"2.5.1"}
	ProcessingIDs []string // MSH-11 values accepted; default {"P", "T", "D"}
}

var defaultProcessingIDs = []string{"P", "T", "D"}

// checkHeader checks MSH for a message of the given code, event and
// structure. Errors of severity E in the result mean the message must be
// rejected (AR) without reading further.
func (r Rules) checkHeader(m *Message, h *Header, code, event, structure string) Errors {
	var errs Errors
	s := &m.segs[0]
	loc := s.Loc(0)
	add := func(sev Severity, c Code, l Location, app AppCode, msg string) {
		errs = append(errs, errorf(sev, c, l, app, msg))
	}
	switch {
	case s.Field(9).IsEmpty() || h.Type.Code == "":
		add(SeverityError, CodeRequiredField, loc.at(9, 0, 0, 0), AppRequiredData, "MSH-9 (message type) is required")
	case h.Type.Code != code:
		add(SeverityError, CodeUnsupportedMessageType, loc.at(9, 1, 1, 0), AppTableValue,
			"message type "+quote(h.Type.Code)+" is not supported here; expected "+code)
	case h.Type.Event != event:
		add(SeverityError, CodeUnsupportedEvent, loc.at(9, 1, 2, 0), AppTableValue,
			"trigger event "+quote(h.Type.Event)+" is not supported for "+code+"; expected "+event)
	case h.Type.Structure != "" && h.Type.Structure != structure:
		add(SeverityWarning, CodeTableValue, loc.at(9, 1, 3, 0), AppTableValue,
			"message structure "+quote(h.Type.Structure)+" should be "+structure)
	}
	if h.ControlID == "" {
		add(SeverityError, CodeRequiredField, loc.at(10, 0, 0, 0), AppRequiredData, "MSH-10 (message control ID) is required")
	}
	pids := r.ProcessingIDs
	if len(pids) == 0 {
		pids = defaultProcessingIDs
	}
	switch {
	case h.ProcessingID == "":
		add(SeverityError, CodeRequiredField, loc.at(11, 0, 0, 0), AppRequiredData, "MSH-11 (processing ID) is required")
	case !slices.Contains(pids, h.ProcessingID):
		add(SeverityError, CodeUnsupportedProcessingID, loc.at(11, 1, 1, 0), AppTableValue,
			"processing ID "+quote(h.ProcessingID)+" is not accepted; expected one of "+strings.Join(pids, ", "))
	}
	versions := r.Versions
	if len(versions) == 0 {
		versions = []string{Version}
	}
	switch {
	case h.Version == "":
		add(SeverityError, CodeRequiredField, loc.at(12, 0, 0, 0), AppRequiredData, "MSH-12 (version ID) is required")
	case !slices.Contains(versions, h.Version):
		add(SeverityError, CodeUnsupportedVersion, loc.at(12, 1, 1, 0), AppTableValue,
			"version "+quote(h.Version)+" is not supported; expected "+strings.Join(versions, ", "))
	}
	switch {
	case h.Time == "":
		add(SeverityWarning, CodeRequiredField, loc.at(7, 0, 0, 0), AppRequiredData, "MSH-7 (date/time of message) is required")
	default:
		if _, err := ParseDate(h.Time); err != nil {
			add(SeverityWarning, CodeDataType, loc.at(7, 1, 1, 0), AppInvalidDate, "MSH-7 is not a valid date/time")
		}
	}
	return errs
}

// Envelope is what Haven writes in the MSH of a message it sends: its own
// identity and the receiver's, the control ID, the time, the processing ID
// (default P) and the character set (MSH-18; when empty Haven writes UTF-8,
// and declares it only when the text is not plain ASCII).
//
// For a reply (ACK, RSP), the sender and receiver are taken from the request,
// swapped; the Envelope's own sender fields are used only where the request
// left its receiver fields empty, and ProcessingID and Charset default to the
// request's.
type Envelope struct {
	SendingApplication, SendingFacility     HD
	ReceivingApplication, ReceivingFacility HD
	SendingOrg, ReceivingOrg                Organization
	ControlID                               string
	Time                                    time.Time
	ProcessingID                            string
	Charset                                 string
}

// replyTo returns the envelope of a reply to req (which may be nil).
func replyTo(req *Header, env Envelope) Envelope {
	if req == nil {
		return env
	}
	r := env
	r.SendingApplication = orHD(req.ReceivingApplication, env.SendingApplication)
	r.SendingFacility = orHD(req.ReceivingFacility, env.SendingFacility)
	r.ReceivingApplication = req.SendingApplication
	r.ReceivingFacility = req.SendingFacility
	if req.ReceivingOrg != (Organization{}) {
		r.SendingOrg = req.ReceivingOrg
	}
	r.ReceivingOrg = req.SendingOrg
	if r.ProcessingID == "" {
		r.ProcessingID = req.ProcessingID
	}
	if r.Charset == "" {
		r.Charset = req.Charset
	}
	return r
}

func orHD(a, b HD) HD {
	if a.IsZero() {
		return b
	}
	return a
}
