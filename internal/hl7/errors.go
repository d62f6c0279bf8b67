package hl7

import (
	"errors"
	"strconv"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
)

// Code is an HL7 error code from table 0357 (message error condition codes),
// written in ERR-3.
type Code int

// The table 0357 codes of HL7 v2.5.1.
const (
	CodeAccepted                Code = 0   // message accepted
	CodeSegmentSequence         Code = 100 // segment sequence error
	CodeRequiredField           Code = 101 // required field missing
	CodeDataType                Code = 102 // data type error
	CodeTableValue              Code = 103 // table value not found
	CodeUnsupportedMessageType  Code = 200 // unsupported message type
	CodeUnsupportedEvent        Code = 201 // unsupported event code
	CodeUnsupportedProcessingID Code = 202 // unsupported processing id
	CodeUnsupportedVersion      Code = 203 // unsupported version id
	CodeUnknownKey              Code = 204 // unknown key identifier
	CodeDuplicateKey            Code = 205 // duplicate key identifier
	CodeRecordLocked            Code = 206 // application record locked
	CodeInternal                Code = 207 // application internal error
)

// Text returns the table 0357 description of c, as written in ERR-3.2.
func (c Code) Text() string {
	switch c {
	case CodeAccepted:
		return "Message accepted"
	case CodeSegmentSequence:
		return "Segment sequence error"
	case CodeRequiredField:
		return "Required field missing"
	case CodeDataType:
		return "Data type error"
	case CodeTableValue:
		return "Table value not found"
	case CodeUnsupportedMessageType:
		return "Unsupported message type"
	case CodeUnsupportedEvent:
		return "Unsupported event code"
	case CodeUnsupportedProcessingID:
		return "Unsupported processing id"
	case CodeUnsupportedVersion:
		return "Unsupported version id"
	case CodeUnknownKey:
		return "Unknown key identifier"
	case CodeDuplicateKey:
		return "Duplicate key identifier"
	case CodeRecordLocked:
		return "Application record locked"
	case CodeInternal:
		return "Application internal error"
	}
	return "Application error"
}

// Severity is ERR-4 (HL7 table 0516).
type Severity byte

// The severities of table 0516.
const (
	SeverityError   Severity = 'E' // the message, or the part named, was not accepted
	SeverityWarning Severity = 'W' // accepted; some data may have been ignored
	SeverityInfo    Severity = 'I' // information only, such as an assigned card code
)

func (s Severity) String() string {
	if s == 0 {
		return ""
	}
	return string(rune(s))
}

// AppCode is an application error code written in ERR-5. Codes "1" to "8"
// come from the CDC guide's table 0533; AppCardCode is Haven's own.
type AppCode string

// The application error codes of the CDC guide's table 0533, and Haven's code
// for an assigned card code.
const (
	AppIllogicalDate           AppCode = "1" // illogical date error
	AppInvalidDate             AppCode = "2" // invalid date
	AppIllogicalValue          AppCode = "3" // illogical value error
	AppInvalidValue            AppCode = "4" // invalid value
	AppTableValue              AppCode = "5" // table value not found
	AppRequiredObs             AppCode = "6" // required observation missing
	AppRequiredData            AppCode = "7" // required data missing
	AppDataIgnored             AppCode = "8" // data was ignored
	AppCardCode                AppCode = "CARD"
	appCardCodeSystem                  = "HAVEN"
	appCardCodeText                    = "Card code assigned"
	appTable                           = "HL70533"
	errorCodeTable                     = "HL70357"
	assignedCardPrefix                 = "Card code assigned: "
	maxErrorsPerMessage                = 50
	maxErrorMessageValueLength         = 40
)

// Text returns the description of a table 0533 code, or "" for an unknown one.
func (a AppCode) Text() string {
	switch a {
	case AppIllogicalDate:
		return "Illogical Date error"
	case AppInvalidDate:
		return "Invalid Date"
	case AppIllogicalValue:
		return "Illogical Value error"
	case AppInvalidValue:
		return "Invalid value"
	case AppTableValue:
		return "Table value not found"
	case AppRequiredObs:
		return "Required observation missing"
	case AppRequiredData:
		return "Required data missing"
	case AppDataIgnored:
		return "Data was ignored"
	case AppCardCode:
		return appCardCodeText
	}
	return ""
}

func (a AppCode) system() string {
	if a == AppCardCode {
		return appCardCodeSystem
	}
	return appTable
}

// Error is one problem found in a message, in the shape of an ERR segment:
// where (ERR-2), what (ERR-3, table 0357), how bad (ERR-4), an optional
// application code and parameter (ERR-5, ERR-6), and a message safe to show
// to the sender (ERR-8). Messages never repeat personal data from the
// message: they name fields, not values.
type Error struct {
	Location Location
	Code     Code
	Severity Severity
	App      AppCode // ERR-5, optional
	Param    string  // ERR-6, optional: a value that goes with App (the card code for AppCardCode)
	Message  string  // ERR-8
	Err      error   // optional cause, never written to an ACK
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("hl7: ")
	if l := e.Location.String(); l != "" {
		b.WriteString(l)
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(int(e.Code)))
	b.WriteByte(' ')
	b.WriteString(e.Code.Text())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the cause, if any, so that errors.As finds a *registry.Error
// behind a body-level failure (for example registry.ETOOLARGE).
func (e *Error) Unwrap() error { return e.Err }

// Errors is the list of problems found in one message, in the order found.
// Warnings and information entries (severity W and I) do not stop a message.
type Errors []Error

// Fatal reports whether any entry has severity E: the message, or part of
// it, must not be written.
func (es Errors) Fatal() bool {
	for i := range es {
		if es[i].Severity == SeverityError {
			return true
		}
	}
	return false
}

// Ack returns the acknowledgment code the CDC guide gives for es: AR
// (application reject: the message was not processed) when an error has a
// table 0357 code of 200 or more, concerns the message header, or concerns
// the message as a whole (no location); AE when there is any other error; AA
// otherwise, warnings and information included.
func (es Errors) Ack() AckCode {
	code := AA
	for i := range es {
		e := &es[i]
		if e.Severity != SeverityError {
			continue
		}
		if e.Code >= 200 || e.Location.Segment == "MSH" || e.Location.Segment == "" {
			return AR
		}
		code = AE
	}
	return code
}

func (es Errors) Error() string {
	var b strings.Builder
	for i := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(es[i].Error())
	}
	return b.String()
}

// Err returns es as an error when it holds an entry of severity E, or nil.
func (es Errors) Err() error {
	if es.Fatal() {
		return es
	}
	return nil
}

// CardCodeAssigned returns the ERR entry by which Haven hands back the card
// code it assigned to a new person: severity I, code 0 (message accepted),
// location PID-3, ERR-5 "CARD^Card code assigned^HAVEN", the bare card code
// in ERR-6 (application error parameter) and "Card code assigned: CODE" in
// ERR-8. An ACK (MSH, MSA, ERR) has no other place for it; the CDC guide
// leaves informational ERR segments to the receiver.
func CardCodeAssigned(card string) Error {
	return Error{
		Location: Location{Segment: "PID", Seq: 1, Field: 3, Rep: 1, Comp: 1},
		Code:     CodeAccepted,
		Severity: SeverityInfo,
		App:      AppCardCode,
		Param:    card,
		Message:  assignedCardPrefix + card,
	}
}

// FromError turns an error from the actions layer into an ERR entry at loc.
// An *Error is returned as it is (with loc filled in if it had none).
// Application errors map by code: invalid or malformed input to 102 (103 when
// the field is a coded one such as the product), not found to 204 (unknown
// key), conflicts to 205 (duplicate key), and everything else, internal
// faults included, to 207. Internal details never reach the message.
func FromError(err error, loc Location) Error {
	var he *Error
	if errors.As(err, &he) {
		e := *he
		if e.Location.Segment == "" {
			e.Location = loc
		}
		return e
	}
	e := Error{Location: loc, Severity: SeverityError, Message: registry.ErrorMessage(err), Err: err}
	switch registry.ErrorCode(err) {
	case registry.EINVALID, registry.EMALFORMED:
		e.Code, e.App = CodeDataType, AppInvalidValue
		switch f := registry.ErrorField(err); {
		case f == "product" || strings.HasSuffix(f, ".product") || strings.HasSuffix(f, "cvx") || strings.HasSuffix(f, "mvx"):
			e.Code, e.App = CodeTableValue, AppTableValue
		case strings.HasSuffix(f, "date"):
			e.App = AppInvalidDate
		}
	case registry.ENOTFOUND:
		e.Code = CodeUnknownKey
	case registry.ECONFLICT, registry.EIDEMPOTENCY:
		e.Code = CodeDuplicateKey
	default:
		e.Code = CodeInternal
	}
	return e
}

// errorf builds an Error. Callers must not put message values that could be
// personal data into msg.
func errorf(sev Severity, code Code, loc Location, app AppCode, msg string) Error {
	return Error{Location: loc, Code: code, Severity: sev, App: app, Message: msg}
}

// quote returns a short quoted form of a non-personal value for a message.
func quote(s string) string {
	if r := []rune(s); len(r) > maxErrorMessageValueLength {
		s = string(r[:maxErrorMessageValueLength]) + "…"
	}
	return strconv.Quote(s)
}
