package cert

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/testenv"
)

// The generated schema checks (schema_gen.go) replace a general JSON-schema
// validator on the verification path. These tests hold them to that
// validator, santhosh-tekuri/jsonschema compiled from the same schema files
// with its defaults (as Haven used it before), on every official vector and
// on mutations of the vectors' payloads: the two must agree on acceptance,
// on the error code, and the generated check's failing location must be
// one the general validator reports.

var generalSchemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	out := map[string]*jsonschema.Schema{}
	for _, v := range schemaVersions {
		files, err := filepath.Glob(filepath.Join("schema", v, "*.json"))
		if err != nil || len(files) != 1 {
			return nil, fmt.Errorf("schema %s: %d files, %v", v, len(files), err)
		}
		f, err := os.Open(files[0])
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			return nil, err
		}
		c := jsonschema.NewCompiler()
		url := "haven:///" + filepath.ToSlash(files[0])
		if err := c.AddResource(url, doc); err != nil {
			return nil, err
		}
		if out[v], err = c.Compile(url); err != nil {
			return nil, err
		}
	}
	return out, nil
})

// generalOutcome is the verdict of the reference path: the error code ("" if
// valid) and, for a schema mismatch, every location the validator reports.
type generalOutcome struct {
	code      string
	mismatch  bool
	locations []string
}

// generalValidate is ValidatePayload as it was with the general validator.
func generalValidate(t testing.TB, m map[string]any) generalOutcome {
	t.Helper()
	schemas, err := generalSchemas()
	if err != nil {
		t.Fatal(err)
	}
	ver, ok := m["ver"].(string)
	if !ok {
		return generalOutcome{code: registry.EINVALID}
	}
	v, err := schemaVersion(ver)
	if err != nil {
		return generalOutcome{code: registry.ErrorCode(err)}
	}
	if err := schemas[v].Validate(any(m)); err != nil {
		ve, ok := err.(*jsonschema.ValidationError)
		if !ok {
			t.Fatalf("validator: %v", err)
		}
		return generalOutcome{code: registry.EINVALID, mismatch: true, locations: leafLocations(ve, nil)}
	}
	if _, err := kindOfMap(m); err != nil {
		return generalOutcome{code: registry.EINVALID}
	}
	return generalOutcome{}
}

func leafLocations(ve *jsonschema.ValidationError, out []string) []string {
	if len(ve.Causes) == 0 {
		return append(out, "/"+strings.Join(ve.InstanceLocation, "/"))
	}
	for _, c := range ve.Causes {
		out = leafLocations(c, out)
	}
	return out
}

var mismatchMessage = regexp.MustCompile(`^payload does not match the schema at (\S*) \((\w+)\)$`)

// agree reports how err, from the generated checks, differs from want.
func agree(err error, want generalOutcome) string {
	if registry.ErrorCode(err) != want.code {
		return fmt.Sprintf("generated: %v (code %q); general: code %q at %v", err, registry.ErrorCode(err), want.code, want.locations)
	}
	sub := mismatchMessage.FindStringSubmatch(registry.ErrorMessage(err))
	if (sub != nil) != want.mismatch {
		return fmt.Sprintf("generated: %v; general: mismatch %v at %v", err, want.mismatch, want.locations)
	}
	if sub != nil && !slices.Contains(want.locations, sub[1]) {
		return fmt.Sprintf("generated fails at %s (%s); the general validator at %v", sub[1], sub[2], want.locations)
	}
	return ""
}

// checkPayloadCBOR runs CheckSchema on the CBOR payload b and compares it
// with the general validator on its JSON form. It reports whether the
// tree was built from the CBOR directly.
func checkPayloadCBOR(t *testing.T, name string, b []byte) (direct bool) {
	t.Helper()
	h := &HCert{rawDCC: b}
	got := h.CheckSchema()
	var tr jsonTree
	direct = tr.fromCBOR(b)
	m, perr := h.PayloadJSON()
	if perr != nil {
		if direct {
			t.Errorf("%s: the tree was built from CBOR that PayloadJSON refuses: %v", name, perr)
		}
		// Compare codes only: the message may name any of several bad map
		// keys (PayloadJSON walks a Go map).
		if registry.ErrorCode(got) != registry.ErrorCode(perr) || registry.ErrorField(got) != StepSchema {
			t.Errorf("%s: CheckSchema = %v, want the PayloadJSON error %v", name, got, perr)
		}
		return direct
	}
	if direct {
		var want jsonTree
		want.fromJSON(m)
		if a, b := treeString(&tr, 0), treeString(&want, 0); a != b {
			t.Errorf("%s: tree from CBOR\n%s\ndiffers from tree from PayloadJSON\n%s", name, a, b)
		}
	}
	if d := agree(got, generalValidate(t, m)); d != "" {
		t.Errorf("%s: CheckSchema: %s", name, d)
	}
	return direct
}

// checkPayloadJSON runs ValidatePayload on m and compares it with the
// general validator.
func checkPayloadJSON(t *testing.T, name string, m map[string]any) {
	t.Helper()
	if d := agree(ValidatePayload(m), generalValidate(t, m)); d != "" {
		t.Errorf("%s: ValidatePayload: %s", name, d)
	}
}

// treeString prints the subtree at n canonically: object members sorted,
// numbers exactly.
func treeString(t *jsonTree, n int32) string {
	nd := &t.nodes[n]
	switch nd.kind {
	case jsonNull:
		return "null"
	case jsonBool:
		return fmt.Sprint(nd.bits == 1)
	case jsonString:
		return fmt.Sprintf("%q", nd.str)
	case jsonNumber:
		var r *big.Rat
		switch nd.num {
		case numInt:
			r = new(big.Rat).SetInt64(int64(nd.bits))
		case numUint:
			r = new(big.Rat).SetInt(new(big.Int).SetUint64(nd.bits))
		case numFloat:
			r = new(big.Rat).SetFloat64(math.Float64frombits(nd.bits))
		default:
			r = nd.rat
		}
		return fmt.Sprintf("%v(int %v)", r, nd.isInt)
	case jsonArray, jsonObject:
		var parts []string
		for c := nd.first; c >= 0; c = t.nodes[c].next {
			p := treeString(t, c)
			if nd.kind == jsonObject {
				p = fmt.Sprintf("%q:", t.nodes[c].key) + p
			}
			parts = append(parts, p)
		}
		if int(nd.count) != len(parts) {
			return fmt.Sprintf("count %d != %d children", nd.count, len(parts))
		}
		if nd.kind == jsonObject {
			slices.Sort(parts)
			return "{" + strings.Join(parts, ",") + "}"
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return "invalid"
}

// officialPayloads returns the signed payload (CBOR) of every official
// vector that decodes, and the issuers' JSON payloads, by file.
func officialPayloads(t *testing.T) (cborPayloads map[string][]byte, jsonPayloads map[string]map[string]any) {
	t.Helper()
	root := filepath.Join(testenv.SharedTestdata(t, "dcc"), "vectors")
	cborPayloads, jsonPayloads = map[string][]byte{}, map[string]map[string]any{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var v struct {
			JSON   json.RawMessage `json:"JSON"`
			Prefix string          `json:"PREFIX"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		if h, err := ParseHC1(v.Prefix); err == nil {
			cborPayloads[rel] = h.rawDCC
		}
		var m map[string]any
		if json.Unmarshal(v.JSON, &m) == nil && m != nil {
			jsonPayloads[rel] = m
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cborPayloads) == 0 {
		t.Fatal("no vectors decoded")
	}
	return cborPayloads, jsonPayloads
}

// TestSchemaChecksOnOfficialVectors compares the generated checks with the
// general validator on the payload of every official vector, both from its
// CBOR (CheckSchema) and in JSON form (ValidatePayload), and on the JSON
// payloads the vectors carry.
func TestSchemaChecksOnOfficialVectors(t *testing.T) {
	cborPayloads, jsonPayloads := officialPayloads(t)
	direct, invalid := 0, 0
	for _, name := range sortedNames(cborPayloads) {
		if checkPayloadCBOR(t, name, cborPayloads[name]) {
			direct++
		}
		if (&HCert{rawDCC: cborPayloads[name]}).CheckSchema() != nil {
			invalid++
		}
		if m, err := (&HCert{rawDCC: cborPayloads[name]}).PayloadJSON(); err == nil {
			checkPayloadJSON(t, name, m)
		}
	}
	for _, name := range sortedNames(jsonPayloads) {
		checkPayloadJSON(t, name+" (JSON)", jsonPayloads[name])
	}
	t.Logf("%d signed payloads (%d read straight from CBOR, %d failing the schema), %d JSON payloads",
		len(cborPayloads), direct, invalid, len(jsonPayloads))
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// mutationValues replace values in the mutation test: every JSON type, and
// strings and numbers on either side of the schemas' patterns and bounds.
var mutationValues = []any{
	nil, true, false, int64(0), int64(-1), int64(1), int64(2), int64(9), int64(10), uint64(math.MaxUint64),
	1.0, 1.5, 0.5, 9.0, 9.5, 1e300, -1e300, math.NaN(),
	"", "x", "XY", "xy", "1", "1.3.0", "1.3.0\n", "01.3.0", "2021-05-01", "2021-05-01T10:00:00Z", "1980", "1980-01",
	"1980-xx-xx", "18000", "A<B", "A B", "ÄÖ", "ЖУК",
	strings.Repeat("A", 50), strings.Repeat("A", 51), strings.Repeat("A", 80), strings.Repeat("A", 81),
	strings.Repeat("é", 50), strings.Repeat("é", 51), strings.Repeat("é", 80), strings.Repeat("é", 81),
	[]any{}, []any{"x"}, map[string]any{}, map[string]any{"fnt": "A"},
}

// mutants returns copies of m, each changed in one place: a member removed
// or added, a value replaced, an array emptied or doubled.
func mutants(m map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	var walk func(v any, path []any)
	walk = func(v any, path []any) {
		at := func(kind string, f func(any) any) {
			out[fmt.Sprintf("%v %s", path, kind)] = replaceAt(m, path, f).(map[string]any)
		}
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedNames(x) {
				at("-"+k, func(o any) any {
					c := maps(o)
					delete(c, k)
					return c
				})
				walk(x[k], append(slices.Clip(path), k))
			}
			at("+extra", func(o any) any {
				c := maps(o)
				c["extra"] = "x"
				return c
			})
			at("+extra-invalid", func(o any) any {
				c := maps(o)
				c["extra"] = math.NaN()
				return c
			})
		case []any:
			for i, e := range x {
				walk(e, append(slices.Clip(path), i))
			}
			at("=[]", func(any) any { return []any{} })
			at("doubled", func(o any) any { return append(slices.Clone(o.([]any)), o.([]any)...) })
		}
		if len(path) == 0 {
			return
		}
		for i, r := range mutationValues {
			at(fmt.Sprintf("=%d:%T", i, r), func(any) any { return r })
		}
	}
	walk(m, nil)
	return out
}

func maps(o any) map[string]any {
	c := map[string]any{}
	for k, v := range o.(map[string]any) {
		c[k] = v
	}
	return c
}

// replaceAt returns a copy of v with the value at path replaced by f of it.
func replaceAt(v any, path []any, f func(any) any) any {
	if len(path) == 0 {
		return f(v)
	}
	switch k := path[0].(type) {
	case string:
		c := maps(v)
		c[k] = replaceAt(c[k], path[1:], f)
		return c
	case int:
		c := slices.Clone(v.([]any))
		c[k] = replaceAt(c[k], path[1:], f)
		return c
	}
	panic("bad path")
}

// TestSchemaChecksOnMutations compares the generated checks with the general
// validator on mutations of Haven's own payload in every schema version and
// of one official payload per schema version and entry group, in JSON form
// and encoded as CBOR.
func TestSchemaChecksOnMutations(t *testing.T) {
	t.Run("haven", func(t *testing.T) {
		reps := map[string]map[string]any{}
		for _, v := range schemaVersions {
			reps[v] = map[string]any{"ver": v, "dob": "1980-01-02",
				"nam": map[string]any{"fn": "Rogaliński-Król", "fnt": "ROGALINSKI<KROL", "gn": "Stanisław", "gnt": "STANISLAW"},
				"v": []any{map[string]any{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
					"dn": int64(1), "sd": int64(2), "dt": "2026-02-01", "co": "KR", "is": "Haven", "ci": "URN:UVCI:01:KR:TEST#A"}}}
		}
		checkMutations(t, reps)
	})
	t.Run("official", func(t *testing.T) {
		cborPayloads, _ := officialPayloads(t)
		reps := map[string]map[string]any{}
		for _, name := range sortedNames(cborPayloads) {
			m, err := (&HCert{rawDCC: cborPayloads[name]}).PayloadJSON()
			if err != nil {
				continue
			}
			ver, _ := m["ver"].(string)
			kind, _ := kindOfMap(m)
			if v, err := schemaVersion(ver); err == nil && reps[v+"/"+kind] == nil {
				reps[v+"/"+kind] = m
			}
		}
		checkMutations(t, reps)
	})
}

func checkMutations(t *testing.T, reps map[string]map[string]any) {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	n, direct := 0, 0
	for _, rep := range sortedNames(reps) {
		muts := mutants(reps[rep])
		for _, name := range sortedNames(muts) {
			m := muts[name]
			name = rep + " " + name
			n++
			checkPayloadJSON(t, name, m)
			b, err := em.Marshal(m)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if checkPayloadCBOR(t, name, b) {
				direct++
			}
		}
		if t.Failed() {
			break
		}
	}
	t.Logf("%d mutants of %d payloads (%d read straight from CBOR)", n, len(reps), direct)
}

// schemaCBORCases are payloads that fromCBOR leaves to PayloadJSON, or that
// test its edges, as CBOR diagnostic-like Go values or raw bytes.
func schemaCBORCases(t testing.TB) map[string][]byte {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	enc := func(v any) []byte {
		b, err := em.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"ver": "1.3.0", "dob": "1980", "nam": map[string]any{"fnt": "A"},
			"t": []any{map[string]any{"tg": "840539006", "tt": "LP6464-4", "sc": "2021-05-01T10:00:00Z", "tr": "260415000", "co": "KR", "is": "X", "ci": "Y"}}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	withSC := func(sc any) []byte {
		m := base(nil)
		m["t"].([]any)[0].(map[string]any)["sc"] = sc
		return enc(m)
	}
	ok := enc(base(nil))
	cases := map[string][]byte{
		"ok":                ok,
		"sc-tag0":           withSC(cbor.Tag{Number: 0, Content: "2021-05-01T12:00:00+02:00"}),
		"sc-tag1":           withSC(cbor.Tag{Number: 1, Content: 1619863200}),
		"sc-tag1-float":     withSC(cbor.Tag{Number: 1, Content: 1619863200.5}),
		"sc-bytes":          withSC([]byte("2021")),
		"sc-tag-unknown":    withSC(cbor.Tag{Number: 99, Content: "x"}),
		"sc-bignum":         withSC(cbor.Tag{Number: 2, Content: []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}}),
		"extra-int-key":     enc(map[any]any{"ver": "1.3.0", 1: "x"}),
		"extra-neg-big":     enc(base(map[string]any{"x": new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 64))})),
		"extra-uint-max":    enc(base(map[string]any{"x": uint64(math.MaxUint64)})),
		"extra-float32":     enc(base(map[string]any{"x": float32(1.5)})),
		"extra-float64":     enc(base(map[string]any{"x": 0.1})),
		"extra-nan":         enc(base(map[string]any{"x": math.NaN()})),
		"extra-inf":         enc(base(map[string]any{"x": math.Inf(-1)})),
		"extra-null":        enc(base(map[string]any{"x": nil})),
		"extra-bool":        enc(base(map[string]any{"x": true})),
		"extra-undefined":   enc(base(map[string]any{"x": cbor.SimpleValue(23)})),
		"extra-simple":      enc(base(map[string]any{"x": cbor.SimpleValue(16)})),
		"extra-deep":        enc(base(map[string]any{"x": []any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{"deep"}}}}}}}}}})),
		"extra-long":        enc(base(map[string]any{"x": make([]any, 100)})),
		"dn-half":           enc(map[string]any{"ver": "1.3.0", "v": []any{map[string]any{"dn": 1.0, "sd": -0.0}}}),
		"dn-half-subnormal": {0xa2, 0x63, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', '0', 0x62, 'd', 'n', 0xf9, 0x00, 0x01},
		"dn-single":         {0xa2, 0x63, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', '0', 0x62, 'd', 'n', 0xfa, 0x3f, 0x80, 0x00, 0x00},
		"non-minimal-int":   {0xa2, 0x63, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', '0', 0x62, 'd', 'n', 0x1b, 0, 0, 0, 0, 0, 0, 0, 1},
		"non-minimal-text":  {0xa1, 0x78, 0x03, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', '0'},
		"duplicate-key":     {0xa2, 0x63, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', '0', 0x63, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', '0'},
		"invalid-utf8":      {0xa1, 0x63, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', 0xff},
		"invalid-utf8-key":  {0xa2, 0x63, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', '0', 0x61, 0xff, 0x01},
		"indefinite-map":    {0xbf, 0x63, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', '0', 0xff},
		"indefinite-text":   {0xa1, 0x63, 'v', 'e', 'r', 0x7f, 0x63, '1', '.', '3', 0x62, '.', '0', 0xff},
		"truncated":         ok[:len(ok)-1],
		"trailing":          append(slices.Clone(ok), 0),
		"empty":             {},
		"not-a-map":         enc([]any{"ver"}),
		"self-described":    append([]byte{0xd9, 0xd9, 0xf7}, ok...),
	}
	return cases
}

// TestSchemaTreeFromCBOR checks CheckSchema on CBOR that fromCBOR reads
// itself or leaves to PayloadJSON: both ways must agree with the general
// validator, and fromCBOR must build the tree PayloadJSON implies.
func TestSchemaTreeFromCBOR(t *testing.T) {
	cases := schemaCBORCases(t)
	for _, name := range sortedNames(cases) {
		direct := checkPayloadCBOR(t, name, cases[name])
		t.Logf("%s: direct %v", name, direct)
	}
}

// FuzzSchemaTree checks, on any CBOR, that fromCBOR accepts only what
// PayloadJSON reads the same way, and that CheckSchema agrees with the
// general validator.
func FuzzSchemaTree(f *testing.F) {
	for _, b := range schemaCBORCases(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkPayloadCBOR(t, "fuzz", b)
	})
}

// TestSchemaPatterns compares each generated pattern matcher with Go's
// regexp, which the general validator uses.
func TestSchemaPatterns(t *testing.T) {
	alphabet := []string{"0", "1", "2", "9", "-", ".", "A", "Z", "<", "a", "\n", "é", "\xff"}
	corpus := []string{"1958-11-11", "1958", "1958-11", "", "1963-xx-xx", "2021-05-01T10:00:00Z", "1.3.0", "1.3.0\n", "10.20.30",
		"SEVENKQM<XFOURTD", "DCERVENKOVA<PANKLOVA", "dcervenkova", "XY", "xY", "ÄÖ"}
	var walk func(s string, depth int)
	walk = func(s string, depth int) {
		corpus = append(corpus, s)
		if depth > 0 {
			for _, a := range alphabet {
				walk(s+a, depth-1)
			}
		}
	}
	walk("", 4)
	for _, p := range schemaPatterns {
		re := regexp.MustCompile(p.pattern)
		for _, s := range corpus {
			if got, want := p.match([]byte(s)), re.MatchString(s); got != want {
				t.Errorf("pattern %q on %q: generated %v, regexp %v", p.pattern, s, got, want)
			}
		}
	}
}

func FuzzSchemaPatterns(f *testing.F) {
	f.Add("1958-11-11")
	f.Add("1.3.0")
	f.Add("A<B")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range schemaPatterns {
			if got, want := p.match([]byte(s)), regexp.MustCompile(p.pattern).MatchString(s); got != want {
				t.Fatalf("pattern %q on %q: generated %v, regexp %v", p.pattern, s, got, want)
			}
		}
	})
}

// TestSchemaVersionsMatchFiles checks that the generated checks cover
// exactly the schema folders.
func TestSchemaVersionsMatchFiles(t *testing.T) {
	ents, err := os.ReadDir("schema")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	slices.SortFunc(dirs, func(a, b string) int {
		switch {
		case semverLess(a, b):
			return -1
		case semverLess(b, a):
			return 1
		}
		return 0
	})
	if !slices.Equal(dirs, schemaVersions[:]) {
		t.Errorf("schema folders %v, generated versions %v", dirs, schemaVersions)
	}
}
