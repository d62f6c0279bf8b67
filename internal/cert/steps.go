package cert

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Step names, in the order in which Verify runs them. They are the keys of
// VerifyResult.Steps and the values of VerifyResult.Failed, and they appear as
// the Field of every verification error.
const (
	StepUnprefix   = "unprefix"
	StepBase45     = "base45"
	StepDecompress = "decompress"
	StepCOSE       = "cose"
	StepCWT        = "cwt"
	StepSignature  = "signature"
	StepTime       = "time"
	StepKeyUsage   = "key_usage"
	StepSchema     = "schema"
	StepValueSets  = "valuesets"
)

// HCERTSteps lists the HCERT verification steps in order.
var HCERTSteps = []string{
	StepUnprefix, StepBase45, StepDecompress, StepCOSE, StepCWT,
	StepSignature, StepTime, StepKeyUsage, StepSchema, StepValueSets,
}

// StepOutcome is the outcome of one verification step.
type StepOutcome struct {
	Step string
	OK   bool
}

// Steps is the ordered list of steps that ran. It marshals to a JSON object
// whose keys keep the run order, e.g. {"unprefix":true,"base45":false}. A
// step that did not run is absent.
type Steps []StepOutcome

// Get reports whether step ran and whether it passed.
func (s Steps) Get(step string) (ok, ran bool) {
	for _, o := range s {
		if o.Step == step {
			return o.OK, true
		}
	}
	return false, false
}

// MarshalJSON writes the steps as an ordered JSON object.
func (s Steps) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, o := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(o.Step))
		b.WriteByte(':')
		b.WriteString(strconv.FormatBool(o.OK))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object of booleans, keeping the key order.
func (s *Steps) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("steps: want a JSON object")
	}
	*s = (*s)[:0]
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		var ok bool
		if err := dec.Decode(&ok); err != nil {
			return err
		}
		*s = append(*s, StepOutcome{Step: kt.(string), OK: ok})
	}
	_, err = dec.Token()
	return err
}
