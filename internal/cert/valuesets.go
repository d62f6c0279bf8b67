package cert

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/haven-registry/haven/internal/registry"
)

// ValueSet is one EU DCC value set: code → whether it is still active.
// Inactive codes remain acceptable in certificates issued while they were
// active, but Haven never issues them.
type ValueSet struct {
	ID    string
	Codes map[string]bool
}

// Has reports whether code is in the value set (active or not).
func (v *ValueSet) Has(code string) bool {
	_, ok := v.Codes[code]
	return ok
}

// Active reports whether code is in the value set and active.
func (v *ValueSet) Active(code string) bool { return v.Codes[code] }

// Value set file names (release 2.12.0), embedded in the binary.
const (
	VSDisease     = "disease-agent-targeted"
	VSProphylaxis = "vaccine-prophylaxis"
	VSProduct     = "vaccine-medicinal-product"
	VSHolder      = "vaccine-mah-manf"
	VSCountry     = "country-2-codes"
	VSTestType    = "test-type"
	VSTestResult  = "test-result"
	VSTestDevice  = "test-manf-example"
)

var (
	valueSetsOnce sync.Once
	valueSets     map[string]*ValueSet
	valueSetsErr  error
)

// ValueSets returns the embedded value sets by file name.
func ValueSets() (map[string]*ValueSet, error) {
	valueSetsOnce.Do(func() {
		valueSets = map[string]*ValueSet{}
		for _, name := range []string{VSDisease, VSProphylaxis, VSProduct, VSHolder, VSCountry, VSTestType, VSTestResult, VSTestDevice} {
			raw, err := dataFS.ReadFile("valuesets/" + name + ".json")
			if err != nil {
				valueSetsErr = err
				return
			}
			var doc struct {
				ValueSetID     string `json:"valueSetId"`
				ValueSetValues map[string]struct {
					Active bool `json:"active"`
				} `json:"valueSetValues"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				valueSetsErr = fmt.Errorf("value set %s: %w", name, err)
				return
			}
			vs := &ValueSet{ID: doc.ValueSetID, Codes: make(map[string]bool, len(doc.ValueSetValues))}
			for code, v := range doc.ValueSetValues {
				vs.Codes[code] = v.Active
			}
			valueSets[name] = vs
		}
	})
	return valueSets, valueSetsErr
}

// codeSets maps each coded field of a DCC entry to its value set. The RAT
// device (t.ma) is not checked: the shipped list is only an example of the
// JRC device database, which changes weekly.
var codeSets = map[string]string{
	"tg": VSDisease, "vp": VSProphylaxis, "mp": VSProduct, "ma": VSHolder,
	"co": VSCountry, "tt": VSTestType, "tr": VSTestResult,
}

func checkCodes(sets map[string]*ValueSet, group string, i int, pairs [][2]string) error {
	for _, p := range pairs {
		if !sets[codeSets[p[0]]].Has(p[1]) {
			return registry.FieldErrorf(registry.EINVALID, StepValueSets, "%s[%d].%s: %q is not in value set %s", group, i, p[0], p[1], sets[codeSets[p[0]]].ID)
		}
	}
	return nil
}

// CheckValueSets checks every coded field against the EU DCC value sets
// (release 2.12.0). Codes that have since been deactivated are accepted.
func (h *HCert) CheckValueSets() error {
	if h.DCC == nil {
		return registry.FieldErrorf(registry.EINVALID, StepValueSets, "payload does not fit the DCC data model")
	}
	return CheckDCCValueSets(h.DCC)
}

// CheckDCCValueSets checks the coded fields of d as CheckValueSets does.
func CheckDCCValueSets(d *DCC) error {
	sets, err := ValueSets()
	if err != nil {
		return registry.FieldErrorf(registry.EINTERNAL, StepValueSets, "loading value sets: %v", err)
	}
	if d.Kind() == "" {
		return registry.FieldErrorf(registry.EINVALID, StepValueSets, "payload needs exactly one of v, t and r")
	}
	for i := range d.V {
		if err := checkCodes(sets, "v", i, [][2]string{{"tg", d.V[i].Tg}, {"vp", d.V[i].Vp}, {"mp", d.V[i].Mp}, {"ma", d.V[i].Ma}, {"co", d.V[i].Co}}); err != nil {
			return err
		}
	}
	for i := range d.T {
		if err := checkCodes(sets, "t", i, [][2]string{{"tg", d.T[i].Tg}, {"tt", d.T[i].Tt}, {"tr", d.T[i].Tr}, {"co", d.T[i].Co}}); err != nil {
			return err
		}
	}
	for i := range d.R {
		if err := checkCodes(sets, "r", i, [][2]string{{"tg", d.R[i].Tg}, {"co", d.R[i].Co}}); err != nil {
			return err
		}
	}
	return nil
}
