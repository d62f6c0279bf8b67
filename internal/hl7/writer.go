package hl7

import (
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// writer builds an ER7 message with the standard delimiters and \r after
// each segment. Field arguments are raw ER7: build them with esc and comps,
// which escape text, so that nothing is ever escaped twice.
type writer struct {
	b       strings.Builder
	csAt    int    // byte offset of MSH-18's content
	charset string // MSH-18 asked for
}

// seg writes one segment, leaving out trailing empty fields.
func (w *writer) seg(id string, fields ...string) {
	n := len(fields)
	for n > 0 && fields[n-1] == "" {
		n--
	}
	w.b.WriteString(id)
	for _, f := range fields[:n] {
		w.b.WriteByte('|')
		w.b.WriteString(f)
	}
	w.b.WriteByte('\r')
}

// msh writes MSH. typ and profile are raw ("ACK^V04^ACK", "Z23^CDCPHINVS").
func (w *writer) msh(env Envelope, typ, profile, acceptAck, appAck string) {
	pid := env.ProcessingID
	if pid == "" {
		pid = "P"
	}
	var t string
	if !env.Time.IsZero() {
		t = formatTime(env.Time)
	}
	w.charset = env.Charset
	w.b.WriteString("MSH|^~\\&")
	for _, f := range []string{
		hd(env.SendingApplication), hd(env.SendingFacility), hd(env.ReceivingApplication), hd(env.ReceivingFacility),
		t, "", typ, esc(env.ControlID), esc(pid), Version, "", "", acceptAck, appAck, "",
	} {
		w.b.WriteByte('|')
		w.b.WriteString(f)
	}
	w.b.WriteByte('|')
	w.csAt = w.b.Len()
	w.b.WriteString("|||")
	w.b.WriteString(profile)
	if s, r := xon(env.SendingOrg), xon(env.ReceivingOrg); s != "" || r != "" {
		w.b.WriteString("|" + s)
		if r != "" {
			w.b.WriteString("|" + r)
		}
	}
	w.b.WriteByte('\r')
}

// bytes returns the message in its character set. The set asked for is used
// when it can represent the text; otherwise, and when none was asked for,
// the message is UTF-8, declared in MSH-18 when it is not plain ASCII.
func (w *writer) bytes() []byte {
	s := w.b.String()
	ascii := isASCII([]byte(s))
	with := func(cs string) string { return s[:w.csAt] + esc(cs) + s[w.csAt:] }
	if w.charset != "" {
		if cs, ok := lookupCharset(w.charset); ok && cs.warn == "" {
			switch {
			case cs.enc != nil:
				if out, ok := encodeText(with(w.charset), w.charset); ok {
					return out
				}
			case cs.utf8 || ascii:
				return []byte(with(w.charset))
			}
		}
	}
	if ascii {
		return []byte(s)
	}
	return []byte(with("UNICODE UTF-8"))
}

// formatTime writes an HL7 DTM to the second, with the zone offset.
func formatTime(t time.Time) string { return t.Format("20060102150405-0700") }

var escaper = strings.NewReplacer(
	`\`, `\E\`, `|`, `\F\`, `^`, `\S\`, `&`, `\T\`, `~`, `\R\`,
	"\r\n", `\.br\`, "\n", `\.br\`, "\r", `\.br\`,
)

// esc escapes text for the standard delimiters. Line breaks become \.br\.
func esc(s string) string {
	if !strings.ContainsAny(s, "\\|^&~\r\n") {
		if s == `""` { // text, not HL7's explicit null
			return `\X2222\`
		}
		return s
	}
	return escaper.Replace(s)
}

// join joins raw parts with sep, leaving out trailing empty parts.
func join(sep byte, parts ...string) string {
	n := len(parts)
	for n > 0 && parts[n-1] == "" {
		n--
	}
	switch n {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	var b strings.Builder
	for i, p := range parts[:n] {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(p)
	}
	return b.String()
}

// comps escapes each text and joins them as components.
func comps(texts ...string) string {
	for i, t := range texts {
		texts[i] = esc(t)
	}
	return join('^', texts...)
}

func hd(h HD) string { return comps(h.Namespace, h.UniversalID, h.UniversalIDType) }

func xon(o Organization) string {
	return comps(o.Name, "", "", "", "", o.Authority, o.TypeCode, "", "", o.ID)
}

func ce(c Coded) string { return comps(c.Code, c.Text, c.System, c.AltCode, c.AltText, c.AltSystem) }

func ei(o OrderID) string { return comps(o.ID, o.Namespace) }

// cardCX writes a card code as a CX in Haven's namespace.
func cardCX(card string) string { return comps(card, "", "", HavenAuthority, "PI") }

func xpn(n Name) string { return comps(n.Family, n.Given, n.Middle, "", "", "", n.Type) }

func xtn(p Phone) string {
	return comps(p.Unformatted, p.Use, p.Equipment, "", p.Country, p.Area, p.Local, p.Extension)
}

// erl writes a Location as ERR-2.
func erl(l Location) string {
	if l.Segment == "" {
		return ""
	}
	return esc(l.Segment) + strings.TrimPrefix(l.format('^'), l.Segment)
}

// err writes one ERR segment.
func (w *writer) err(e *Error) {
	sev := e.Severity
	if sev == 0 {
		sev = SeverityError
	}
	var app string
	if e.App != "" {
		app = comps(string(e.App), e.App.Text(), e.App.system())
	}
	w.seg("ERR", "", erl(e.Location), comps(strconv.Itoa(int(e.Code)), e.Code.Text(), errorCodeTable),
		esc(sev.String()), app, esc(e.Param), "", esc(e.Message))
}

// errs writes the ERR segments of a reply, at most maxErrorsPerMessage of them.
func (w *writer) errs(es Errors) {
	for i := range es {
		if i == maxErrorsPerMessage {
			more := errorf(SeverityWarning, CodeAccepted, Location{}, "",
				strconv.Itoa(len(es)-i)+" more problems were found and are not listed")
			w.err(&more)
			return
		}
		w.err(&es[i])
	}
}

func needControlID(env Envelope) error {
	if env.ControlID == "" {
		return registry.FieldErrorf(registry.EINVALID, "control_id", "The message needs a control ID (MSH-10).")
	}
	return nil
}
