package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/haven-registry/haven/internal/registry"
)

// Status is a residence status, the fact that most policies turn on. It is an
// input to a decision only: Haven never stores it.
type Status string

// The residence statuses every pack understands.
const (
	StatusCitizen             Status = "citizen"
	StatusPermanentResident   Status = "permanent_resident"
	StatusRegisteredForeigner Status = "registered_foreigner"
	// StatusTemporaryHukou is a temporary household registration (China).
	StatusTemporaryHukou Status = "temporary_hukou"
	// StatusRegisteredIrregular is a person recorded as an irregular resident
	// in a spouse's household register.
	StatusRegisteredIrregular Status = "registered_irregular"
	StatusUnregistered        Status = "unregistered"
)

// Statuses lists every residence status, in a stable order.
var Statuses = []Status{
	StatusCitizen, StatusPermanentResident, StatusRegisteredForeigner,
	StatusTemporaryHukou, StatusRegisteredIrregular, StatusUnregistered,
}

// ValidStatus reports whether s is one of Statuses.
func ValidStatus(s string) bool {
	for _, v := range Statuses {
		if string(v) == s {
			return true
		}
	}
	return false
}

// FactType is the type of a fact in the CEL environment.
type FactType string

// Fact types a pack may declare.
const (
	TypeBool   FactType = "bool"
	TypeInt    FactType = "int"
	TypeDouble FactType = "double"
	TypeString FactType = "string"
	TypeStatus FactType = "status" // a string restricted to Statuses
)

// FactDecl declares one fact: its name, its type and, for integers, its
// inclusive range.
type FactDecl struct {
	Name        string
	Type        FactType
	Min, Max    int64 // for TypeInt
	Description string
}

// Built-in fact slots. The order is the index into factSet.vals.
const (
	slotResidenceStatus = iota
	slotAgeYears
	slotYearsResident
	slotHasChildWithCitizen
	slotCanPay
	slotPreviousDoses
	slotMonthsSinceLastDose
	slotPregnant
	slotImmunocompromised
	numBuiltin
)

// BuiltinFacts is the typed vocabulary every pack's CEL is checked against.
var BuiltinFacts = []FactDecl{
	slotResidenceStatus:     {Name: "residence_status", Type: TypeStatus, Description: "residence status, one of Statuses"},
	slotAgeYears:            {Name: "age_years", Type: TypeInt, Min: 0, Max: 150, Description: "age in completed years"},
	slotYearsResident:       {Name: "years_resident", Type: TypeInt, Min: 0, Max: 150, Description: "years resident in the jurisdiction's country"},
	slotHasChildWithCitizen: {Name: "has_child_with_citizen", Type: TypeBool, Description: "has a child or children with a citizen"},
	slotCanPay:              {Name: "can_pay", Type: TypeBool, Description: "able and willing to pay a fee"},
	slotPreviousDoses:       {Name: "previous_doses", Type: TypeInt, Min: 0, Max: 20, Description: "number of doses already received"},
	slotMonthsSinceLastDose: {Name: "months_since_last_dose", Type: TypeInt, Min: 0, Max: 1200, Description: "whole months since the last dose"},
	slotPregnant:            {Name: "pregnant", Type: TypeBool, Description: "pregnant"},
	slotImmunocompromised:   {Name: "immunocompromised", Type: TypeBool, Description: "immunocompromised"},
}

// builtinSlot returns the slot of a built-in fact, or -1. A switch keeps the
// lookup free of allocations on the decision path.
func builtinSlot(name string) int {
	switch name {
	case "residence_status":
		return slotResidenceStatus
	case "age_years":
		return slotAgeYears
	case "years_resident":
		return slotYearsResident
	case "has_child_with_citizen":
		return slotHasChildWithCitizen
	case "can_pay":
		return slotCanPay
	case "previous_doses":
		return slotPreviousDoses
	case "months_since_last_dose":
		return slotMonthsSinceLastDose
	case "pregnant":
		return slotPregnant
	case "immunocompromised":
		return slotImmunocompromised
	}
	return -1
}

// maxStringFact bounds a string fact, which also bounds CEL's cost estimate.
const maxStringFact = 256

// Facts is one person's eligibility inputs, validated against a vocabulary.
// The zero Facts has no fact set. A Facts value is immutable and safe to share
// between goroutines. Facts are never logged or stored by this package: they
// exist only for the duration of a decision.
type Facts struct {
	p *factSet
}

// factSet holds the values as CEL values so that a decision needs no
// conversion. It implements interpreter.Activation directly.
type factSet struct {
	vals  [numBuiltin]ref.Val // nil means "not given"
	extra map[string]ref.Val
}

var _ interpreter.Activation = (*factSet)(nil)

// ResolveName implements interpreter.Activation.
func (f *factSet) ResolveName(name string) (any, bool) {
	if i := builtinSlot(name); i >= 0 {
		v := f.vals[i]
		return v, v != nil
	}
	v, ok := f.extra[name]
	return v, ok
}

// Parent implements interpreter.Activation.
func (f *factSet) Parent() interpreter.Activation { return nil }

var emptyFacts = &factSet{}

func (f Facts) set() *factSet {
	if f.p == nil {
		return emptyFacts
	}
	return f.p
}

// Has reports whether the named fact was given.
func (f Facts) Has(name string) bool {
	_, ok := f.set().ResolveName(name)
	return ok
}

// Status returns the residence status, or "" when it was not given.
func (f Facts) Status() Status {
	if v, ok := f.set().vals[slotResidenceStatus].(types.String); ok {
		return Status(v)
	}
	return ""
}

// Names returns the names of the facts that were given, sorted.
func (f Facts) Names() []string {
	s := f.set()
	var out []string
	for i, v := range s.vals {
		if v != nil {
			out = append(out, BuiltinFacts[i].Name)
		}
	}
	for k := range s.extra {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// With returns a copy of f with the named fact replaced. The value is checked
// as NewFacts checks it, against the built-in vocabulary and extra.
func (f Facts) With(name string, value any, extra ...FactDecl) (Facts, error) {
	d, ok := lookupDecl(name, extra)
	if !ok {
		return Facts{}, registry.FieldErrorf(registry.EINVALID, "facts."+name, "Unknown fact %q.", name)
	}
	v, err := convertFact(d, value)
	if err != nil {
		return Facts{}, err
	}
	old := f.set()
	n := &factSet{vals: old.vals}
	if len(old.extra) > 0 {
		n.extra = make(map[string]ref.Val, len(old.extra)+1)
		for k, x := range old.extra {
			n.extra[k] = x
		}
	}
	n.put(d.Name, v)
	return Facts{p: n}, nil
}

func (f *factSet) put(name string, v ref.Val) {
	if i := builtinSlot(name); i >= 0 {
		f.vals[i] = v
		return
	}
	if f.extra == nil {
		f.extra = make(map[string]ref.Val)
	}
	f.extra[name] = v
}

func lookupDecl(name string, extra []FactDecl) (FactDecl, bool) {
	if i := builtinSlot(name); i >= 0 {
		return BuiltinFacts[i], true
	}
	for _, d := range extra {
		if d.Name == name {
			return d, true
		}
	}
	return FactDecl{}, false
}

// NewFacts builds Facts from Go values: bool, string, any Go integer type or
// an integral float64 for integers, float64 for doubles. extra declares facts
// beyond the built-in vocabulary (a pack's own facts; see Pack.NewFacts).
// Returns EINVALID, naming the field "facts.NAME", for an unknown fact, a
// wrong type, an out-of-range number or an unknown status.
func NewFacts(values map[string]any, extra ...FactDecl) (Facts, error) {
	s := &factSet{}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names) // deterministic first error
	for _, name := range names {
		d, ok := lookupDecl(name, extra)
		if !ok {
			return Facts{}, registry.FieldErrorf(registry.EINVALID, "facts."+name, "Unknown fact %q.", name)
		}
		v, err := convertFact(d, values[name])
		if err != nil {
			return Facts{}, err
		}
		s.put(name, v)
	}
	return Facts{p: s}, nil
}

// ParseFacts parses the "facts" object of an eligibility request against the
// built-in vocabulary plus extra. Returns EMALFORMED when raw is not a JSON
// object, and EINVALID naming "facts.NAME" for an unknown fact, a wrong type,
// a number out of range or an unknown status. Duplicate keys are rejected.
func ParseFacts(raw json.RawMessage, extra ...FactDecl) (Facts, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return Facts{}, registry.FieldErrorf(registry.EMALFORMED, "facts", "Facts must be a JSON object.")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Facts{}, registry.FieldErrorf(registry.EMALFORMED, "facts", "Facts must be a JSON object.")
	}
	s := &factSet{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Facts{}, registry.FieldErrorf(registry.EMALFORMED, "facts", "Malformed JSON.")
		}
		name, _ := tok.(string)
		field := "facts." + name
		var val any
		if err := dec.Decode(&val); err != nil {
			return Facts{}, registry.FieldErrorf(registry.EMALFORMED, field, "Malformed JSON value.")
		}
		if seen[name] {
			return Facts{}, registry.FieldErrorf(registry.EINVALID, field, "Fact %q is given twice.", name)
		}
		seen[name] = true
		d, ok := lookupDecl(name, extra)
		if !ok {
			return Facts{}, registry.FieldErrorf(registry.EINVALID, field, "Unknown fact %q.", name)
		}
		v, err := convertFact(d, val)
		if err != nil {
			return Facts{}, err
		}
		s.put(name, v)
	}
	if _, err := dec.Token(); err != nil { // closing brace
		return Facts{}, registry.FieldErrorf(registry.EMALFORMED, "facts", "Malformed JSON.")
	}
	if dec.More() {
		return Facts{}, registry.FieldErrorf(registry.EMALFORMED, "facts", "Unexpected data after the facts object.")
	}
	return Facts{p: s}, nil
}

// convertFact checks one value against its declaration and returns it as a
// CEL value.
func convertFact(d FactDecl, value any) (ref.Val, error) {
	field := "facts." + d.Name
	switch d.Type {
	case TypeBool:
		b, ok := value.(bool)
		if !ok {
			return nil, registry.FieldErrorf(registry.EINVALID, field, "Must be true or false, got %s.", describe(value))
		}
		return types.Bool(b), nil
	case TypeString, TypeStatus:
		s, ok := value.(string)
		if !ok {
			return nil, registry.FieldErrorf(registry.EINVALID, field, "Must be a string, got %s.", describe(value))
		}
		if len(s) > maxStringFact {
			return nil, registry.FieldErrorf(registry.EINVALID, field, "Longer than %d bytes.", maxStringFact)
		}
		if d.Type == TypeStatus && !ValidStatus(s) {
			return nil, registry.FieldErrorf(registry.EINVALID, field, "Unknown status; want one of %s.", statusList())
		}
		return types.String(s), nil
	case TypeInt:
		n, ok := toInt(value)
		if !ok {
			return nil, registry.FieldErrorf(registry.EINVALID, field, "Must be a whole number, got %s.", describe(value))
		}
		if d.Min != 0 || d.Max != 0 {
			if n < d.Min || n > d.Max {
				return nil, registry.FieldErrorf(registry.EINVALID, field, "Must be between %d and %d.", d.Min, d.Max)
			}
		}
		return types.Int(n), nil
	case TypeDouble:
		x, ok := toFloat(value)
		if !ok {
			return nil, registry.FieldErrorf(registry.EINVALID, field, "Must be a number, got %s.", describe(value))
		}
		return types.Double(x), nil
	}
	return nil, registry.FieldErrorf(registry.EINVALID, field, "Fact has unsupported type %q.", d.Type)
}

func statusList() string {
	s := make([]string, len(Statuses))
	for i, v := range Statuses {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// describe names the JSON type of a value without echoing it: facts are
// sensitive and must not leak into error messages or logs.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64, float32, int, int64, int32, uint, uint64, uint32, int8, int16, uint8, uint16:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case json.Number:
		n, err := x.Int64()
		if err == nil {
			return n, true
		}
		f, err := x.Float64()
		if err != nil {
			return 0, false
		}
		return toInt(f)
	case float64:
		if x != math.Trunc(x) || x < -1e15 || x > 1e15 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, false
		}
		return x, true
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, false
		}
		return toFloat(f)
	}
	if n, ok := toInt(v); ok {
		return float64(n), true
	}
	return 0, false
}
