package web

import (
	"strings"

	"github.com/haven-registry/haven/internal/registry"
)

// Errors as the pages show them. An action's error carries a stable code,
// the field it is about and an English message. A page shows a text from
// its catalogue chosen by code and field (errmsg.<code>.<field>, else the
// code's own text with the field's label), so that a Korean or Chinese
// page never shows the English message; an English page also shows the
// message itself, which may say more (a date, a limit).

// formErr is an error to show beside a form, or on the error page. Key,
// when set, is the catalogue text the page chose for it (with Args), in
// place of the one found by code and field.
type formErr struct {
	Code, Field, Detail string
	Key                 string
	Args                []any
}

func toFormErr(err error) *formErr {
	if err == nil {
		return nil
	}
	return &formErr{Code: registry.ErrorCode(err), Field: registry.ErrorField(err), Detail: registry.ErrorMessage(err)}
}

// withKey returns fe with the catalogue text key (and its arguments).
func (fe *formErr) withKey(key string, args ...any) *formErr {
	if fe != nil {
		fe.Key, fe.Args = key, args
	}
	return fe
}

// ErrText is the translated text of an error: its chosen key, the text for
// its code and field, or the code's text followed by the field's label.
func (c *PageCtx) ErrText(fe *formErr) string {
	if fe == nil {
		return ""
	}
	if fe.Key != "" {
		return c.loc.text(fe.Key, fe.Args...)
	}
	if fe.Field != "" {
		if k := "errmsg." + fe.Code + "." + fe.Field; c.loc.has(k) {
			return c.loc.text(k)
		}
		if name, ok := strings.CutPrefix(fe.Field, "facts."); ok {
			if k := "errmsg." + fe.Code + ".facts"; c.loc.has(k) {
				return c.loc.text(k, c.factLabel(name))
			}
		}
	}
	msg := c.loc.text("error." + fe.Code)
	if !c.loc.has("error." + fe.Code) {
		msg = c.loc.text("error.internal")
	}
	if label := c.FieldLabel(fe.Field); label != "" {
		msg += " · " + label
	}
	return msg
}

// FieldLabel names a form field in the page's language, or "" for a field
// the catalogue does not know (English pages show its name).
func (c *PageCtx) FieldLabel(field string) string {
	if field == "" {
		return ""
	}
	if c.loc.has("field." + field) {
		return c.loc.text("field." + field)
	}
	if c.loc.Tag == "en" {
		return field
	}
	return ""
}

// factLabel names a policy fact: the catalogue's label, or the fact's name.
func (c *PageCtx) factLabel(name string) string {
	if c.loc.has("fact." + name) {
		return c.loc.text("fact." + name)
	}
	if c.loc.Tag == "en" {
		return name
	}
	return c.loc.text("fact.other")
}

// ShowDetail reports whether the page shows an error's own message beside
// its translated text: only on English pages, where the message is in the
// reader's language, and only when it says something more.
func (c *PageCtx) ShowDetail(fe *formErr) bool {
	return fe != nil && fe.Detail != "" && c.loc.Tag == "en" && fe.Detail != c.ErrText(fe)
}

// English reports whether the page is in English: text that exists only
// in English (an error's detail, a policy's own note) is shown there only.
func (c *PageCtx) English() bool { return c.loc.Tag == "en" }
