package cert

import (
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// DCC is the EU Digital COVID Certificate payload (eu_dcc_v1, schema 1.3.x).
// Field names are those of the DCC JSON schema. A certificate holds exactly
// one entry in exactly one of V, T and R.
type DCC struct {
	Ver string        `cbor:"ver" json:"ver"`
	Nam Name          `cbor:"nam" json:"nam"`
	Dob string        `cbor:"dob" json:"dob"`
	V   []Vaccination `cbor:"v,omitempty" json:"v,omitempty"`
	T   []TestEntry   `cbor:"t,omitempty" json:"t,omitempty"`
	R   []Recovery    `cbor:"r,omitempty" json:"r,omitempty"`
}

// Name holds the person's names and their ICAO 9303 transliterations.
type Name struct {
	Fn  string `cbor:"fn,omitempty" json:"fn,omitempty"`
	Fnt string `cbor:"fnt,omitempty" json:"fnt,omitempty"`
	Gn  string `cbor:"gn,omitempty" json:"gn,omitempty"`
	Gnt string `cbor:"gnt,omitempty" json:"gnt,omitempty"`
}

// Vaccination is a vaccination entry (v).
type Vaccination struct {
	Tg string  `cbor:"tg" json:"tg"`
	Vp string  `cbor:"vp" json:"vp"`
	Mp string  `cbor:"mp" json:"mp"`
	Ma string  `cbor:"ma" json:"ma"`
	Dn Integer `cbor:"dn" json:"dn"`
	Sd Integer `cbor:"sd" json:"sd"`
	Dt string  `cbor:"dt" json:"dt"`
	Co string  `cbor:"co" json:"co"`
	Is string  `cbor:"is" json:"is"`
	Ci string  `cbor:"ci" json:"ci"`
}

// TestEntry is a test entry (t).
type TestEntry struct {
	Tg string   `cbor:"tg" json:"tg"`
	Tt string   `cbor:"tt" json:"tt"`
	Nm string   `cbor:"nm,omitempty" json:"nm,omitempty"`
	Ma string   `cbor:"ma,omitempty" json:"ma,omitempty"`
	Sc DateTime `cbor:"sc" json:"sc"`
	Tr string   `cbor:"tr" json:"tr"`
	Tc string   `cbor:"tc,omitempty" json:"tc,omitempty"`
	Co string   `cbor:"co" json:"co"`
	Is string   `cbor:"is" json:"is"`
	Ci string   `cbor:"ci" json:"ci"`
}

// Recovery is a recovery entry (r).
type Recovery struct {
	Tg string `cbor:"tg" json:"tg"`
	Fr string `cbor:"fr" json:"fr"`
	Co string `cbor:"co" json:"co"`
	Is string `cbor:"is" json:"is"`
	Df string `cbor:"df" json:"df"`
	Du string `cbor:"du" json:"du"`
	Ci string `cbor:"ci" json:"ci"`
}

// Integer is a DCC integer (dn, sd). Decoding also accepts an integral
// floating-point encoding such as 1.0, the "reasonable type conversion" that
// HCERT spec 3.3.7 asks decoders to accept.
type Integer int

// UnmarshalCBOR reads an integer, or a float with no fractional part.
func (n *Integer) UnmarshalCBOR(b []byte) error {
	major, _, _, _ := cborHead(b)
	if major == 7 {
		var f float64
		if err := decMode.Unmarshal(b, &f); err != nil {
			return err
		}
		if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
			return fmt.Errorf("cbor: %v is not an integer", f)
		}
		*n = Integer(f)
		return nil
	}
	var i int32
	if err := decMode.Unmarshal(b, &i); err != nil {
		return err
	}
	*n = Integer(i)
	return nil
}

// DateTime is a DCC date-time text (sc). Decoding also accepts the CBOR
// date/time tags: tag 0 text as is, tag 1 epoch seconds as RFC 3339 UTC.
type DateTime string

// UnmarshalCBOR reads a text string, optionally tagged 0, or a tag-1 epoch.
func (d *DateTime) UnmarshalCBOR(b []byte) error {
	major, arg, n, _ := cborHead(b)
	if major == 6 && arg == 1 {
		var f float64
		if err := decMode.Unmarshal(b[n:], &f); err != nil {
			return err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<40 {
			return fmt.Errorf("cbor: epoch %v out of range", f)
		}
		sec, frac := math.Modf(f)
		*d = DateTime(time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(time.RFC3339Nano))
		return nil
	}
	var s string
	if err := decMode.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = DateTime(s)
	return nil
}

// Kind returns "v", "t" or "r" for a certificate with exactly one entry
// group, or "" otherwise.
func (d *DCC) Kind() string {
	n, k := 0, ""
	if len(d.V) > 0 {
		n, k = n+1, "v"
	}
	if len(d.T) > 0 {
		n, k = n+1, "t"
	}
	if len(d.R) > 0 {
		n, k = n+1, "r"
	}
	if n != 1 {
		return ""
	}
	return k
}

// PayloadJSON returns the eu_dcc_v1 payload as a JSON-compatible value
// (map[string]any at the top), converting CBOR date/time tags to RFC 3339
// strings. It fails if the payload has no JSON equivalent (non-text map keys,
// byte strings, unknown tags, non-finite numbers).
func (h *HCert) PayloadJSON() (map[string]any, error) {
	var v any
	if err := decMode.Unmarshal(h.rawDCC, &v); err != nil {
		return nil, registry.FieldErrorf(registry.EMALFORMED, StepSchema, "payload: %v", err)
	}
	j, err := toJSONValue(v, "")
	if err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, StepSchema, "payload%s", err.Error())
	}
	m, ok := j.(map[string]any)
	if !ok {
		return nil, registry.FieldErrorf(registry.EINVALID, StepSchema, "payload is not an object")
	}
	return m, nil
}

type pathError struct {
	path, msg string
}

func (e *pathError) Error() string { return e.path + ": " + e.msg }

func toJSONValue(v any, path string) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64, uint64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, &pathError{path, "non-finite number"}
		}
		return x, nil
	case float32:
		return toJSONValue(float64(x), path)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case big.Int:
		return nil, &pathError{path, "integer out of range"}
	case []byte:
		return nil, &pathError{path, "byte string has no JSON equivalent"}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = toJSONValue(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, &pathError{path, fmt.Sprintf("map key of type %T is not a text string", k)}
			}
			var err error
			if out[ks], err = toJSONValue(e, path+"."+ks); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, &pathError{path, fmt.Sprintf("unsupported CBOR value of type %T", v)}
}
