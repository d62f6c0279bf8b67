package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/haven-registry/haven/internal/registry"
)

// webLanguages are the languages of the pages, in the order the language
// switcher shows them. English comes first: it is the fallback.
var webLanguages = []language.Tag{language.English, language.Korean, language.SimplifiedChinese}

// locale is one message catalogue with its formatting rules.
type locale struct {
	Tag      string // "en", "ko", "zh-Hans"
	Name     string // the language's own name
	msgs     map[string]string
	printer  *message.Printer
	tag      language.Tag
	catalog  string // the language code of catalogue product names: en, ko, zh
	dateFmt  func(registry.Date) string
	partial  func(registry.PartialDate) string
	timeFmt  string
	matchTag language.Tag
}

type locales struct {
	list    []*locale
	byTag   map[string]*locale
	matcher language.Matcher
}

// loadLocales reads dir/<tag>.json for every web language. Each file is a
// flat JSON object from message key to text; "{1}", "{2}"… mark arguments.
func loadLocales(fsys fs.FS, dir string) (*locales, error) {
	ls := &locales{byTag: map[string]*locale{}, matcher: language.NewMatcher(webLanguages)}
	for _, tag := range webLanguages {
		name := tag.String()
		data, err := fs.ReadFile(fsys, path.Join(dir, name+".json"))
		if err != nil {
			return nil, registry.FieldErrorf(registry.EINTERNAL, name+".json", "Missing message catalogue: %v", err)
		}
		msgs := map[string]string{}
		if err := json.Unmarshal(data, &msgs); err != nil {
			return nil, registry.FieldErrorf(registry.EMALFORMED, name+".json", "Bad message catalogue: %v", err)
		}
		l := &locale{Tag: name, Name: msgs["lang.self"], msgs: msgs, printer: message.NewPrinter(tag), tag: tag}
		switch name {
		case "ko":
			l.catalog = "ko"
			l.dateFmt = func(d registry.Date) string { return fmt.Sprintf("%d년 %d월 %d일", d.Year, d.Month, d.Day) }
			l.partial = func(p registry.PartialDate) string {
				switch {
				case p.Month == 0:
					return fmt.Sprintf("%d년", p.Year)
				case p.Day == 0:
					return fmt.Sprintf("%d년 %d월", p.Year, p.Month)
				}
				return fmt.Sprintf("%d년 %d월 %d일", p.Year, p.Month, p.Day)
			}
			l.timeFmt = "2006-01-02 15:04"
		case "zh-Hans":
			l.catalog = "zh"
			l.dateFmt = func(d registry.Date) string { return fmt.Sprintf("%d年%d月%d日", d.Year, d.Month, d.Day) }
			l.partial = func(p registry.PartialDate) string {
				switch {
				case p.Month == 0:
					return fmt.Sprintf("%d年", p.Year)
				case p.Day == 0:
					return fmt.Sprintf("%d年%d月", p.Year, p.Month)
				}
				return fmt.Sprintf("%d年%d月%d日", p.Year, p.Month, p.Day)
			}
			l.timeFmt = "2006-01-02 15:04"
		default:
			l.catalog = "en"
			l.dateFmt = func(d registry.Date) string { return d.Time().Format("2 Jan 2006") }
			l.partial = func(p registry.PartialDate) string {
				switch {
				case p.Month == 0:
					return strconv.Itoa(p.Year)
				case p.Day == 0:
					return time.Date(p.Year, time.Month(p.Month), 1, 0, 0, 0, 0, time.UTC).Format("Jan 2006")
				}
				return time.Date(p.Year, time.Month(p.Month), p.Day, 0, 0, 0, 0, time.UTC).Format("2 Jan 2006")
			}
			l.timeFmt = "2 Jan 2006 15:04"
		}
		ls.list = append(ls.list, l)
		ls.byTag[name] = l
	}
	return ls, nil
}

// pick chooses the language of a request: the visitor's choice (a lang
// parameter, then the cookie it set), then Accept-Language, then English.
func (ls *locales) pick(r *http.Request) *locale {
	if l, ok := ls.byTag[r.URL.Query().Get("lang")]; ok {
		return l
	}
	if ck, err := r.Cookie(langCookie); err == nil {
		if l, ok := ls.byTag[ck.Value]; ok {
			return l
		}
	}
	if al := r.Header.Get("Accept-Language"); al != "" {
		tags, _, err := language.ParseAcceptLanguage(al)
		if err == nil && len(tags) > 0 {
			_, i, conf := ls.matcher.Match(tags...)
			if conf != language.No && i >= 0 && i < len(ls.list) {
				return ls.list[i]
			}
		}
	}
	return ls.list[0]
}

// text returns the message for key with {1}, {2}… replaced by args. A
// missing key shows as ⟦key⟧, which the catalogue tests forbid.
func (l *locale) text(key string, args ...any) string {
	m, ok := l.msgs[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	for i, a := range args {
		m = strings.ReplaceAll(m, "{"+strconv.Itoa(i+1)+"}", fmt.Sprint(a))
	}
	return m
}

func (l *locale) has(key string) bool { _, ok := l.msgs[key]; return ok }

// T translates key for the page's language. Templates call {{$.T "key"}}.
func (c *PageCtx) T(key string, args ...any) string { return c.loc.text(key, args...) }

// TOr translates prefix+value when the catalogue has it, else shows value
// as it is (a code the catalogue does not know, such as a new rule ID).
func (c *PageCtx) TOr(prefix, value string) string {
	if c.loc.has(prefix + value) {
		return c.loc.text(prefix + value)
	}
	return value
}

// Lang is the page's language tag, for <html lang>.
func (c *PageCtx) Lang() string { return c.loc.Tag }

// Languages lists the language switcher's entries.
func (c *PageCtx) Languages() []*locale { return c.app.locales.list }

// Date formats a civil date for the page's language.
func (c *PageCtx) Date(d any) string {
	switch v := d.(type) {
	case registry.Date:
		if v.IsZero() {
			return ""
		}
		return c.loc.dateFmt(v)
	case registry.PartialDate:
		if v.IsZero() {
			return ""
		}
		return c.loc.partial(v)
	case string:
		if v == "" {
			return ""
		}
		if dt, err := registry.ParseDate(v); err == nil {
			return c.loc.dateFmt(dt)
		}
		return v
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format(c.loc.timeFmt) + " UTC"
	}
	return fmt.Sprint(d)
}

// Num formats a number with the page language's digit grouping.
func (c *PageCtx) Num(n any) string {
	switch v := n.(type) {
	case *int64:
		if v == nil {
			return "*"
		}
		return c.loc.printer.Sprintf("%d", *v)
	case float64:
		if v == float64(int64(v)) {
			return c.loc.printer.Sprintf("%d", int64(v))
		}
		return c.loc.printer.Sprintf("%.1f", v)
	}
	return c.loc.printer.Sprintf("%v", n)
}

// Percent formats a share (0–1) as a percentage.
func (c *PageCtx) Percent(share float64) string {
	return c.loc.printer.Sprintf("%.1f%%", share*100)
}

// Money formats an amount and currency, e.g. "CNY 50.00".
func (c *PageCtx) Money(amount, currency string) string {
	if amount == "" {
		return ""
	}
	return currency + " " + amount
}

// Product names a catalogue product in the page's language.
func (c *PageCtx) Product(id string) string {
	if p, ok := c.app.svc.Catalog().ByID(id); ok {
		return p.Name(c.loc.catalog)
	}
	return id
}

// templateFuncs are the few helpers templates use besides the page's
// methods.
var templateFuncs = template.FuncMap{
	"criteria": criteriaMet,
	"list":     func(xs ...string) []string { return xs },
}

// withCtx hands a partial template its data together with the page's
// translation methods: {{template "doseform" $.With .Data.Forms}}.
type withCtx struct {
	*PageCtx
	V any
}

// With pairs v with the page context for a partial template.
func (c *PageCtx) With(v any) withCtx { return withCtx{c, v} }

// scheduleReasonKeys maps the CDC wording of dose evaluation reasons (see
// package schedule) to catalogue keys.
var scheduleReasonKeys = map[string]string{
	"Age: Too Young":                        "schedreason.age_too_young",
	"Age: Grace Period":                     "schedreason.age_grace",
	"Age: Too Old":                          "schedreason.age_too_old",
	"Interval: Too Soon":                    "schedreason.interval_too_soon",
	"Interval: Grace Period":                "schedreason.interval_grace",
	"Live Virus Conflict":                   "schedreason.live_virus_conflict",
	"Not a preferable or allowable vaccine": "schedreason.not_allowable",
	"Inadvertent Vaccine":                   "schedreason.inadvertent",
	"Series Already Complete":               "schedreason.series_complete",
}

// Reasons translates a schedule reason string ("; "-separated CDC
// wording). A reason the catalogue does not know is shown as it is.
func (c *PageCtx) Reasons(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, part := range strings.Split(s, "; ") {
		if k, ok := scheduleReasonKeys[part]; ok {
			out = append(out, c.loc.text(k))
		} else {
			out = append(out, part)
		}
	}
	return out
}
