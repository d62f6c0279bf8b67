package hl7

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Date is a calendar day that may be known only to the year or the month
// (Month and Day are 0 when unknown). It is read from the HL7 date types DT,
// DTM and TS, whose time of day and time zone are checked and dropped.
type Date struct {
	Year, Month, Day int
}

var errDate = errors.New("not a date in the form YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]")

// ParseDate reads an HL7 DT, DTM or TS value:
// YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]. Every part present is
// checked (February 30 and hour 24 are refused); the result keeps the date.
func ParseDate(s string) (Date, error) {
	main := s
	if i := indexSign(s); i >= 0 {
		tz := s[i+1:]
		if i < 4 || len(tz) != 4 || !digits(tz) || atoi(tz[:2]) > 14 || atoi(tz[2:]) > 59 {
			return Date{}, errDate
		}
		main = s[:i]
	}
	if i := strings.IndexByte(main, '.'); i >= 0 {
		frac := main[i+1:]
		if i != 14 || len(frac) < 1 || len(frac) > 4 || !digits(frac) {
			return Date{}, errDate
		}
		main = main[:i]
	}
	switch len(main) {
	case 4, 6, 8, 10, 12, 14:
	default:
		return Date{}, errDate
	}
	if !digits(main) {
		return Date{}, errDate
	}
	d := Date{Year: atoi(main[:4])}
	if d.Year == 0 {
		return Date{}, errDate
	}
	if len(main) >= 6 {
		d.Month = atoi(main[4:6])
		if d.Month < 1 || d.Month > 12 {
			return Date{}, errDate
		}
	}
	if len(main) >= 8 {
		d.Day = atoi(main[6:8])
		if d.Day < 1 || d.Day > daysIn(d.Year, d.Month) {
			return Date{}, errDate
		}
	}
	if len(main) >= 10 && atoi(main[8:10]) > 23 {
		return Date{}, errDate
	}
	if len(main) >= 12 && atoi(main[10:12]) > 59 {
		return Date{}, errDate
	}
	if len(main) >= 14 && atoi(main[12:14]) > 59 {
		return Date{}, errDate
	}
	return d, nil
}

// indexSign returns the index of the first '+' or '-' in s, or -1.
func indexSign(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '+' || s[i] == '-' {
			return i
		}
	}
	return -1
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// atoi reads a string of digits checked by digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, int(m), d}
}

// IsZero reports whether d is the zero Date (no date).
func (d Date) IsZero() bool { return d == Date{} }

// Complete reports whether d names a day.
func (d Date) Complete() bool { return d.Year > 0 && d.Month > 0 && d.Day > 0 }

// String writes d as "YYYY", "YYYY-MM" or "YYYY-MM-DD" (the forms Haven's API
// uses), or "" for the zero Date.
func (d Date) String() string {
	switch {
	case d.Year == 0:
		return ""
	case d.Month == 0:
		return pad(d.Year, 4)
	case d.Day == 0:
		return pad(d.Year, 4) + "-" + pad(d.Month, 2)
	}
	return pad(d.Year, 4) + "-" + pad(d.Month, 2) + "-" + pad(d.Day, 2)
}

// HL7 writes d as an HL7 DT: "YYYY", "YYYYMM" or "YYYYMMDD".
func (d Date) HL7() string {
	switch {
	case d.Year == 0:
		return ""
	case d.Month == 0:
		return pad(d.Year, 4)
	case d.Day == 0:
		return pad(d.Year, 4) + pad(d.Month, 2)
	}
	return pad(d.Year, 4) + pad(d.Month, 2) + pad(d.Day, 2)
}

func pad(n, w int) string {
	s := strconv.Itoa(n)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

// Coded is a coded element (HL7 CE or CWE): a code, its text and its coding
// system, and an alternate triplet.
type Coded struct {
	Code, Text, System          string
	AltCode, AltText, AltSystem string
}

// In returns the code given in the named coding system ("CVX", "MVX"),
// looking at both triplets, or "" when there is none.
func (c Coded) In(system string) string {
	switch {
	case c.Code != "" && (c.System == system || strings.EqualFold(c.System, system)):
		return c.Code
	case c.AltCode != "" && (c.AltSystem == system || strings.EqualFold(c.AltSystem, system)):
		return c.AltCode
	}
	return ""
}

// IsZero reports whether c holds nothing.
func (c Coded) IsZero() bool { return c == Coded{} }

func codedOf(v Value) Coded {
	if v.s == "" {
		return Coded{}
	}
	var t [6]string
	v.texts(t[:])
	return Coded{Code: t[0], Text: t[1], System: t[2], AltCode: t[3], AltText: t[4], AltSystem: t[5]}
}

// HD is a hierarchic designator: an application, facility or assigning
// authority.
type HD struct {
	Namespace, UniversalID, UniversalIDType string
}

// IsZero reports whether h holds nothing.
func (h HD) IsZero() bool { return h == HD{} }

func hdOf(v Value) HD {
	if v.s == "" {
		return HD{}
	}
	var t [3]string
	v.texts(t[:])
	return HD{Namespace: t[0], UniversalID: t[1], UniversalIDType: t[2]}
}

// Organization is the part of an XON (MSH-22, MSH-23) that identifies an
// organization: its name, the authority that assigned its ID, the ID type
// and the ID.
type Organization struct {
	Name, Authority, TypeCode, ID string
}

func orgOf(v Value) Organization {
	if v.s == "" {
		return Organization{}
	}
	var t [10]string
	v.texts(t[:])
	return Organization{Name: t[0], Authority: t[5], TypeCode: t[6], ID: t[9]}
}

// MessageType is MSH-9: message code, trigger event and message structure.
type MessageType struct {
	Code, Event, Structure string
}

func (t MessageType) String() string {
	s := t.Code
	if t.Event != "" || t.Structure != "" {
		s += "^" + t.Event
	}
	if t.Structure != "" {
		s += "^" + t.Structure
	}
	return s
}

// Identifier is a person identifier (HL7 CX): the ID (CX.1), the namespace of
// the assigning authority (CX.4.1, or CX.4.2 when there is no namespace) and
// the identifier type code (CX.5).
type Identifier struct {
	ID, Authority, Type string
}

func cxOf(v Value) Identifier {
	var t [5]string
	v.texts(t[:])
	if t[3] == "" {
		t[3] = v.Comp(4).Sub(2).Text()
	}
	return Identifier{ID: t[0], Authority: t[3], Type: t[4]}
}

// Name is the part of a person name (HL7 XPN) that Haven keeps: family name
// (XPN.1.1), given name (XPN.2), further given names (XPN.3) and the name
// type code (XPN.7: L legal, A alias, ...).
type Name struct {
	Family, Given, Middle, Type string
}

func xpnOf(v Value) Name {
	var t [7]string
	v.texts(t[:])
	return Name{Family: t[0], Given: t[1], Middle: t[2], Type: t[6]}
}

// Phone is a telephone number (HL7 XTN): use code (XTN.2: PRN, ORN, WPN...),
// equipment type (XTN.3: PH, CP, FX...), country, area and local number and
// extension (XTN.5-8), or the old unformatted number (XTN.1). E-mail
// addresses (XTN.4) are not phones and are never read.
type Phone struct {
	Use, Equipment                  string
	Country, Area, Local, Extension string
	Unformatted                     string
}

// String writes the number as "+1 406 5552020 x12", or the unformatted
// number when there is no local number.
func (p Phone) String() string {
	if p.Local == "" {
		return p.Unformatted
	}
	var b strings.Builder
	if p.Country != "" {
		b.WriteString("+" + strings.TrimPrefix(p.Country, "+") + " ")
	}
	if p.Area != "" {
		b.WriteString(p.Area + " ")
	}
	b.WriteString(p.Local)
	if p.Extension != "" {
		b.WriteString(" x" + p.Extension)
	}
	return b.String()
}

func xtnOf(v Value) Phone {
	var t [8]string
	v.texts(t[:])
	return Phone{Unformatted: t[0], Use: t[1], Equipment: t[2], Country: t[4], Area: t[5], Local: t[6], Extension: t[7]}
}

// OrderID is an entity identifier (HL7 EI) as used in ORC-2 and ORC-3: the
// ID and the namespace of the system that assigned it.
type OrderID struct {
	ID, Namespace string
}

func eiOf(v Value) OrderID { return OrderID{ID: v.Comp(1).Text(), Namespace: v.Comp(2).Text()} }
