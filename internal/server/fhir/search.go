package fhir

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
)

// Parameters every search accepts and ignores or has already honoured.
var commonParams = []string{"_format", "_pretty", "_count"}

// identifying names the search parameters (of Patient, or chained through a
// reference to one) by which a person could be looked for without their
// card: Haven refuses every one of them, whatever resource is searched.
var identifying = []string{"name", "given", "family", "phonetic", "birthdate", "death-date", "deceased",
	"phone", "telecom", "email", "address", "address-city", "address-country", "address-postalcode",
	"address-state", "address-use", "gender", "language", "general-practitioner", "organization", "link"}

// searchQuery checks a search's query string before anything is read: each
// parameter must be one of allowed (or common), given once. A parameter
// that would find a person by anything but the card code (name, birth
// date, phone…, also when chained as patient.name or with a modifier as
// name:exact) is refused with EUNSUPPORTED naming it, and so is any other
// parameter the endpoint does not support: Haven never answers a search it
// did not understand with a wider result.
func searchQuery(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, "http.query", "The query string is malformed.")
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		base, _, _ := strings.Cut(name, ":")
		last := base[strings.LastIndex(base, ".")+1:]
		if slices.Contains(identifying, last) {
			return nil, registry.FieldErrorf(registry.EUNSUPPORTED, "http."+name,
				"Haven finds a person only by their card code; it never searches by name, birth date, phone or any other detail.")
		}
		if !slices.Contains(allowed, name) && !slices.Contains(commonParams, name) {
			return nil, registry.FieldErrorf(registry.EUNSUPPORTED, "http."+name,
				"Haven does not support the search parameter %q here; search by card code (%s).", name, strings.Join(allowed, ", "))
		}
		if len(q[name]) > 1 || strings.Contains(q.Get(name), ",") {
			return nil, registry.FieldErrorf(registry.EINVALID, "http."+name, "Give %s once, with one value.", name)
		}
	}
	return q, nil
}

// cardToken reads a card code from a token search value: "SYSTEM|CARD",
// "|CARD" or "CARD". The system, when given, must be CardSystem. param names
// the parameter in an error.
func cardToken(param, v string) (registry.CardCode, error) {
	system, code, hasSystem := strings.Cut(v, "|")
	if !hasSystem {
		code, system = system, ""
	}
	if system != "" && system != CardSystem {
		return "", registry.FieldErrorf(registry.EINVALID, "http."+param,
			"Haven identifies people by card code only: the system must be %s.", CardSystem)
	}
	card, err := registry.ParseCardCode(code)
	if err != nil {
		return "", registry.FieldErrorf(registry.EINVALID, "http."+param, "%s", registry.ErrorMessage(err))
	}
	return card, nil
}

// patientCard reads the person a search is about: patient.identifier (a
// card token) or patient (a reference to Patient/CARD), exactly one.
func patientCard(q url.Values) (registry.CardCode, error) {
	ident, ref := q.Get("patient.identifier"), q.Get("patient")
	switch {
	case ident != "" && ref != "":
		return "", registry.FieldErrorf(registry.EINVALID, "http.patient", "Give patient.identifier or patient, not both.")
	case ident != "":
		return cardToken("patient.identifier", ident)
	case ref != "":
		i := strings.LastIndex(ref, "Patient/")
		if i >= 0 {
			ref = ref[i+len("Patient/"):]
		}
		card, err := registry.ParseCardCode(ref)
		if err != nil {
			return "", registry.FieldErrorf(registry.EINVALID, "http.patient", "%s", registry.ErrorMessage(err))
		}
		return card, nil
	}
	return "", registry.FieldErrorf(registry.EINVALID, "http.patient.identifier",
		"Search by the person's card code: patient.identifier=%s|CARD.", CardSystem)
}

// searchset wraps entries in a searchset Bundle whose self link is the
// request.
func (h *Handler) searchset(r *http.Request, entries []BundleEntry) Bundle {
	n := len(entries)
	self := h.baseURL(r) + strings.TrimPrefix(r.URL.Path, Prefix)
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	return Bundle{ResourceType: "Bundle", Type: "searchset", Timestamp: h.svc.Now().UTC().Format("2006-01-02T15:04:05Z07:00"), Total: &n,
		Link: []BundleLink{{Relation: "self", URL: self}}, Entry: entries}
}

// match is a searchset entry.
func match(fullURL string, resource any) BundleEntry {
	return BundleEntry{FullURL: fullURL, Resource: resource, Search: &BundleSearch{Mode: "match"}}
}
