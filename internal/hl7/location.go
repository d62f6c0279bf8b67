package hl7

import (
	"strconv"
	"strings"
)

// Location addresses a part of a message the way ERR-2 (data type ERL) does:
// segment ID, the segment's occurrence among segments with that ID (from 1),
// field number, field repetition, component and subcomponent (all from 1). A
// zero number means "the whole of the level above", and a zero Location means
// "the whole message".
type Location struct {
	Segment string
	Seq     int
	Field   int
	Rep     int
	Comp    int
	Sub     int
}

// String writes the location in ER7 with the standard component separator,
// as it appears in ERR-2: "RXA^1^5^1^1". Trailing zero numbers are left out;
// the zero Location is "".
func (l Location) String() string { return l.format('^') }

func (l Location) format(sep byte) string {
	if l.Segment == "" {
		return ""
	}
	nums := [...]int{l.Seq, l.Field, l.Rep, l.Comp, l.Sub}
	n := len(nums)
	for n > 0 && nums[n-1] == 0 {
		n--
	}
	var b strings.Builder
	b.WriteString(l.Segment)
	for _, v := range nums[:n] {
		b.WriteByte(sep)
		if v > 0 {
			b.WriteString(strconv.Itoa(v))
		}
	}
	return b.String()
}

// Path writes the location in the dotted form used in logs and API error
// fields: "RXA[1]-5.1" (segment, occurrence, field, component, subcomponent;
// a repetition other than the first as "-5[2].1").
func (l Location) Path() string {
	if l.Segment == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(l.Segment)
	if l.Seq > 0 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(l.Seq))
		b.WriteByte(']')
	}
	if l.Field > 0 {
		b.WriteByte('-')
		b.WriteString(strconv.Itoa(l.Field))
		if l.Rep > 1 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(l.Rep))
			b.WriteByte(']')
		}
		if l.Comp > 0 {
			b.WriteByte('.')
			b.WriteString(strconv.Itoa(l.Comp))
			if l.Sub > 0 {
				b.WriteByte('.')
				b.WriteString(strconv.Itoa(l.Sub))
			}
		}
	}
	return b.String()
}

// ParseLocation reads an ERL written with '^' between its components, as
// String writes it. Numbers that are missing or not numbers read as 0.
func ParseLocation(s string) Location {
	parts := strings.SplitN(s, "^", 7)
	l := Location{Segment: parts[0]}
	for i, p := range parts[1:] {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			n = 0
		}
		switch i {
		case 0:
			l.Seq = n
		case 1:
			l.Field = n
		case 2:
			l.Rep = n
		case 3:
			l.Comp = n
		case 4:
			l.Sub = n
		}
	}
	return l
}

// at returns l narrowed to a field, repetition, component and subcomponent.
func (l Location) at(field, rep, comp, sub int) Location {
	l.Field, l.Rep, l.Comp, l.Sub = field, rep, comp, sub
	return l
}
