package shc

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
)

// shortRef is the short resource-scheme URI a health card uses for
// Bundle.entry.fullUrl and Reference.reference.
var shortRef = regexp.MustCompile(`^resource:[0-9]+$`)

// codeableConceptFields are element names whose value is a CodeableConcept in
// the resources health cards carry (Immunization, Observation, Patient, …).
var codeableConceptFields = map[string]bool{
	"vaccineCode": true, "code": true, "valueCodeableConcept": true, "type": true,
	"category": true, "interpretation": true, "method": true, "route": true,
	"site": true, "reasonCode": true, "statusReason": true, "fundingSource": true,
}

var codingFields = []string{"system", "version", "code", "display", "userSelected"}

// checkBundle checks a FHIR Bundle and returns the resource types it holds.
// Errors: structure FHIR R4 does not allow (empty values, bad Coding members,
// fullUrl not an absolute URI or not unique, missing or duplicate choice
// elements, codes outside a required binding). Warnings: what the specification
// asks of cards shown as QR codes (no Resource.id, meta holding only security,
// no DomainResource.text, CodeableConcept.text or Coding.display, short
// resource:N fullUrls and references).
func checkBundle(b map[string]any, is *issues) map[string]bool {
	kinds := map[string]bool{}
	if rt, _ := b["resourceType"].(string); rt != "Bundle" {
		is.err(StepFHIR, CodeFHIRSchema, "fhirBundle.resourceType is not Bundle.")
	}
	if t, _ := b["type"].(string); t != "collection" {
		is.err(StepFHIR, CodeFHIRSchema, "fhirBundle.type is not collection.")
	}
	if _, ok := b["id"]; ok {
		is.warn(StepFHIR, CodeFHIRSchema, "fhirBundle.id should be left out.")
	}
	entries, ok := b["entry"].([]any)
	if !ok || len(entries) == 0 {
		is.err(StepFHIR, CodeFHIRSchema, "fhirBundle has no entries.")
		return kinds
	}
	urls := map[string]bool{}
	for i, e := range entries {
		em, _ := e.(map[string]any)
		u, _ := em["fullUrl"].(string)
		if pu, err := url.Parse(u); err != nil || pu.Scheme == "" {
			is.err(StepFHIR, CodeFHIRSchema, "entry[%d].fullUrl is not an absolute URI.", i)
		} else if !shortRef.MatchString(u) {
			is.warn(StepFHIR, CodeFHIRSchema, "entry[%d].fullUrl should be a short resource:N URI.", i)
		}
		if urls[u] {
			is.err(StepFHIR, CodeFHIRSchema, "entry[%d].fullUrl is not unique.", i)
		}
		urls[u] = true
	}
	for i, e := range entries {
		em, _ := e.(map[string]any)
		res, ok := em["resource"].(map[string]any)
		if !ok {
			is.err(StepFHIR, CodeFHIRSchema, "entry[%d] has no resource.", i)
			continue
		}
		rt, _ := res["resourceType"].(string)
		if rt == "" {
			is.err(StepFHIR, CodeFHIRSchema, "entry[%d].resource has no resourceType.", i)
			continue
		}
		kinds[rt] = true
		at := fmt.Sprintf("entry[%d].resource", i)
		checkResource(rt, res, at, urls, is)
	}
	return kinds
}

func checkResource(rt string, res map[string]any, at string, urls map[string]bool, is *issues) {
	if _, ok := res["id"]; ok {
		is.warn(StepFHIR, CodeFHIRSchema, "%s.id should be left out.", at)
	}
	if _, ok := res["text"]; ok {
		is.warn(StepFHIR, CodeFHIRSchema, "%s.text should be left out.", at)
	}
	if meta, ok := res["meta"]; ok {
		mm, isObj := meta.(map[string]any)
		if !isObj {
			is.warn(StepFHIR, CodeFHIRSchema, "%s.meta should be left out or hold only security.", at)
		} else {
			for k := range mm {
				if k != "security" {
					is.warn(StepFHIR, CodeFHIRSchema, "%s.meta should hold only security, not %q.", at, trunc(k))
				}
			}
			if sec, ok := mm["security"]; ok {
				list, isArr := sec.([]any)
				if !isArr {
					is.err(StepFHIR, CodeFHIRSchema, "%s.meta.security is not an array of Coding.", at)
				}
				for j, c := range list {
					checkCoding(c, fmt.Sprintf("%s.meta.security[%d]", at, j), is)
				}
			}
		}
	}
	walk(res, at, "", urls, is)

	switch rt {
	case "Immunization":
		switch s, _ := res["status"].(string); s {
		case "completed", "entered-in-error", "not-done":
		default:
			is.err(StepFHIR, CodeFHIRSchema, "%s.status %q is not completed, entered-in-error or not-done.", at, trunc(s))
		}
		_, dt := res["occurrenceDateTime"]
		_, st := res["occurrenceString"]
		if dt == st {
			is.err(StepFHIR, CodeFHIRSchema, "%s must have exactly one of occurrenceDateTime and occurrenceString.", at)
		}
		if !hasCoding(res["vaccineCode"]) {
			is.err(StepFHIR, CodeFHIRSchema, "%s.vaccineCode has no coding.", at)
		}
		if p, _ := res["patient"].(map[string]any); p == nil || p["reference"] == nil {
			is.err(StepFHIR, CodeFHIRSchema, "%s.patient has no reference.", at)
		}
	case "Observation":
		switch s, _ := res["status"].(string); s {
		case "registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown":
		default:
			is.err(StepFHIR, CodeFHIRSchema, "%s.status %q is not an observation status.", at, trunc(s))
		}
		if !hasCoding(res["code"]) {
			is.err(StepFHIR, CodeFHIRSchema, "%s.code has no coding.", at)
		}
	}
}

func hasCoding(v any) bool {
	m, _ := v.(map[string]any)
	list, _ := m["coding"].([]any)
	return len(list) > 0
}

func checkCoding(v any, at string, is *issues) {
	m, ok := v.(map[string]any)
	if !ok {
		is.err(StepFHIR, CodeFHIRSchema, "%s is not a Coding.", at)
		return
	}
	for k, val := range m {
		if !slices.Contains(codingFields, k) {
			is.err(StepFHIR, CodeFHIRSchema, "%s has member %q, which a Coding does not have.", at, trunc(k))
			continue
		}
		if _, isStr := val.(string); !isStr && k != "userSelected" {
			is.err(StepFHIR, CodeFHIRSchema, "%s.%s is not a string.", at, k)
		}
	}
}

// walk checks every element below v: no empty strings, arrays or objects;
// references are short and resolve; CodeableConcept.text and Coding.display are
// flagged.
func walk(v any, at, name string, urls map[string]bool, is *issues) {
	if len(at) > 4096 {
		return
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			is.err(StepFHIR, CodeFHIRSchema, "%s is an empty string.", at)
		}
	case []any:
		if len(x) == 0 {
			is.err(StepFHIR, CodeFHIRSchema, "%s is an empty array.", at)
		}
		for i, e := range x {
			walk(e, fmt.Sprintf("%s[%d]", at, i), name, urls, is)
		}
	case map[string]any:
		if len(x) == 0 {
			is.err(StepFHIR, CodeFHIRSchema, "%s is an empty object.", at)
		}
		if codeableConceptFields[name] {
			if _, ok := x["text"]; ok {
				is.warn(StepFHIR, CodeFHIRSchema, "%s.text (CodeableConcept.text) should be left out.", at)
			}
		}
		if name == "coding" {
			checkCoding(x, at, is)
			if _, ok := x["display"]; ok {
				is.warn(StepFHIR, CodeFHIRSchema, "%s.display (Coding.display) should be left out.", at)
			}
		}
		if ref, ok := x["reference"].(string); ok && (!shortRef.MatchString(ref) || !urls[ref]) {
			is.warn(StepFHIR, CodeFHIRSchema, "%s.reference should be the short resource:N URI of an entry.", at)
		}
		for k, e := range x {
			if name == "" && (k == "meta" || k == "resourceType") {
				continue // checked by checkResource
			}
			walk(e, at+"."+k, k, urls, is)
		}
	}
}
