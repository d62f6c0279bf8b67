package cert

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The generated schema checks (schema_gen.go) run on a jsonTree: the JSON
// form of a DCC payload as a flat list of nodes. A tree is built either
// straight from the payload's CBOR (fromCBOR, the verification hot path,
// which allocates nothing) or from a JSON-form value (fromJSON, used by
// ValidatePayload and whenever the CBOR holds something fromCBOR leaves to
// PayloadJSON). Both give the same tree for the same payload, up to the
// order of object members.

// jsonKind is the JSON type of a node, as a JSON schema sees it.
type jsonKind uint8

const (
	jsonInvalid jsonKind = iota // a Go value with no JSON equivalent (fromJSON only)
	jsonNull
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// numRepr says how a number node holds its value.
type numRepr uint8

const (
	numInt   numRepr = iota // int64 in bits
	numUint                 // uint64 in bits
	numFloat                // float64 in bits (finite)
	numRat                  // rat (a json.Number; nil if it does not parse)
)

// jsonNode is one value of a jsonTree.
type jsonNode struct {
	key    []byte   // member name, when the parent is an object
	str    []byte   // value of a string
	rat    *big.Rat // value of a numRat number
	bits   uint64   // value of other numbers, see num
	parent int32    // -1 for the root
	next   int32    // next sibling, -1 for the last
	first  int32    // first child (array element or object member), -1 if none
	count  int32    // number of children
	index  int32    // position in the parent
	kind   jsonKind
	num    numRepr
	isInt  bool // a number with an integral value
}

// jsonTree is a JSON value as a flat list of nodes; node 0 is the root.
type jsonTree struct {
	nodes []jsonNode
}

// Limits of fromCBOR. Larger or deeper payloads are left to PayloadJSON,
// whose decoder applies the HCERT limits (decMode).
const (
	treeMaxDepth    = 8
	treeMaxChildren = 64
)

func (t *jsonTree) reset() {
	clear(t.nodes) // drop references to the payload
	t.nodes = t.nodes[:0]
}

// add appends a node under parent, after sibling prev (-1 if first).
func (t *jsonTree) add(parent, prev int32, key []byte, index int32, kind jsonKind) int32 {
	i := int32(len(t.nodes))
	t.nodes = append(t.nodes, jsonNode{key: key, parent: parent, next: -1, first: -1, index: index, kind: kind})
	if prev >= 0 {
		t.nodes[prev].next = i
	} else if parent >= 0 {
		t.nodes[parent].first = i
	}
	return i
}

// member returns the node of member name of object n, or -1.
func (t *jsonTree) member(n int32, name string) int32 {
	if t.nodes[n].kind != jsonObject {
		return -1
	}
	for c := t.nodes[n].first; c >= 0; c = t.nodes[c].next {
		if string(t.nodes[c].key) == name {
			return c
		}
	}
	return -1
}

// cmpInt compares number node v with b (|b| < 2^53): -1, 0 or +1. A
// json.Number that does not parse compares as less than any b.
func (v *jsonNode) cmpInt(b int64) int {
	switch v.num {
	case numInt:
		i := int64(v.bits)
		switch {
		case i < b:
			return -1
		case i > b:
			return 1
		}
		return 0
	case numUint:
		if v.bits > math.MaxInt64 {
			return 1
		}
		i := int64(v.bits)
		switch {
		case i < b:
			return -1
		case i > b:
			return 1
		}
		return 0
	case numFloat:
		f, fb := math.Float64frombits(v.bits), float64(b) // exact: |b| < 2^53
		switch {
		case f < fb:
			return -1
		case f > fb:
			return 1
		}
		return 0
	}
	if v.rat == nil {
		return -1
	}
	return v.rat.Cmp(new(big.Rat).SetInt64(b))
}

// path returns the JSON pointer of node n, its tokens unescaped (as the
// messages of the general validator gave them): "/v/0/dn".
func (t *jsonTree) path(n int32) string {
	var toks []string
	for ; n > 0; n = t.nodes[n].parent {
		nd := &t.nodes[n]
		if t.nodes[nd.parent].kind == jsonObject {
			toks = append(toks, string(nd.key))
		} else {
			toks = append(toks, strconv.Itoa(int(nd.index)))
		}
	}
	slices.Reverse(toks)
	return "/" + strings.Join(toks, "/")
}

// fromCBOR builds the tree of the CBOR data item b. It reports false, with
// the tree undefined, unless b is one well-formed map within the subset
// whose JSON form it can give without judging: definite lengths, text-string
// map keys without duplicates, valid UTF-8, integers within int64 or
// uint64, finite floats, false, true and null, no tags, no byte strings, and
// at most treeMaxDepth levels and treeMaxChildren entries per array or map.
// For every b it accepts, PayloadJSON succeeds and fromJSON builds the same
// tree (TestSchemaTreeFromCBOR, FuzzSchemaTree).
func (t *jsonTree) fromCBOR(b []byte) bool {
	t.reset()
	end, _, ok := t.cborItem(b, 0, -1, -1, nil, 0, 0)
	return ok && end == len(b) && t.nodes[0].kind == jsonObject
}

// cborItem adds the item at b[off:] under parent, after sibling prev, and
// returns the offset after it and its node.
func (t *jsonTree) cborItem(b []byte, off int, parent, prev int32, key []byte, index int32, depth int) (int, int32, bool) {
	if off >= len(b) {
		return 0, -1, false
	}
	info := b[off] & 0x1f
	major, arg, n, ok := cborHead(b[off:])
	if !ok || info == 31 {
		return 0, -1, false
	}
	off += n
	switch major {
	case 0:
		i := t.add(parent, prev, key, index, jsonNumber)
		t.nodes[i].num, t.nodes[i].bits, t.nodes[i].isInt = numUint, arg, true
		return off, i, true
	case 1:
		if arg > math.MaxInt64 {
			return 0, -1, false // a big.Int for the CBOR decoder
		}
		i := t.add(parent, prev, key, index, jsonNumber)
		t.nodes[i].num, t.nodes[i].bits, t.nodes[i].isInt = numInt, uint64(-1^int64(arg)), true
		return off, i, true
	case 3:
		if arg > uint64(len(b)-off) {
			return 0, -1, false
		}
		s := b[off : off+int(arg)]
		if !utf8.Valid(s) {
			return 0, -1, false
		}
		i := t.add(parent, prev, key, index, jsonString)
		t.nodes[i].str = s
		return off + int(arg), i, true
	case 4, 5:
		if depth >= treeMaxDepth || arg > treeMaxChildren {
			return 0, -1, false
		}
		kind := jsonArray
		if major == 5 {
			kind = jsonObject
		}
		i := t.add(parent, prev, key, index, kind)
		t.nodes[i].count = int32(arg)
		last := int32(-1)
		for j := int32(0); j < int32(arg); j++ {
			var k []byte
			if major == 5 {
				if off >= len(b) || b[off]&0x1f == 31 {
					return 0, -1, false
				}
				km, kl, kn, ok := cborHead(b[off:])
				if !ok || km != 3 || kl > uint64(len(b)-off-kn) {
					return 0, -1, false
				}
				k = b[off+kn : off+kn+int(kl)]
				if !utf8.Valid(k) {
					return 0, -1, false
				}
				for c := t.nodes[i].first; c >= 0; c = t.nodes[c].next {
					if bytes.Equal(t.nodes[c].key, k) {
						return 0, -1, false // duplicate key: the CBOR decoder refuses it
					}
				}
				off += kn + int(kl)
			}
			var ok bool
			if off, last, ok = t.cborItem(b, off, i, last, k, j, depth+1); !ok {
				return 0, -1, false
			}
		}
		return off, i, true
	case 7:
		var f float64
		switch info {
		case 20, 21:
			i := t.add(parent, prev, key, index, jsonBool)
			t.nodes[i].bits = uint64(info - 20)
			return off, i, true
		case 22:
			return off, t.add(parent, prev, key, index, jsonNull), true
		case 25:
			f = halfToFloat(uint16(arg))
		case 26:
			f = float64(math.Float32frombits(uint32(arg)))
		case 27:
			f = math.Float64frombits(arg)
		default:
			return 0, -1, false // undefined or a simple value
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, -1, false
		}
		i := t.add(parent, prev, key, index, jsonNumber)
		t.nodes[i].num, t.nodes[i].bits, t.nodes[i].isInt = numFloat, math.Float64bits(f), f == math.Trunc(f)
		return off, i, true
	}
	return 0, -1, false // byte string or tag
}

// halfToFloat converts an IEEE 754 half-precision value exactly.
func halfToFloat(h uint16) float64 {
	exp, mant := int(h>>10)&0x1f, float64(h&0x3ff)
	var f float64
	switch exp {
	case 0:
		f = math.Ldexp(mant, -24)
	case 31:
		if mant == 0 {
			f = math.Inf(1)
		} else {
			f = math.NaN()
		}
	default:
		f = math.Ldexp(1024+mant, exp-25)
	}
	if h&0x8000 != 0 {
		f = -f
	}
	return f
}

// fromJSON builds the tree of a JSON-form value: nil, bool, string, any Go
// number type, []any and map[string]any, as the general JSON-schema
// validator accepts them. Object members are sorted by name. Other Go values,
// NaN and infinities become jsonInvalid nodes, which every schema refuses.
func (t *jsonTree) fromJSON(v any) {
	t.reset()
	t.jsonValue(v, -1, -1, nil, 0)
}

func (t *jsonTree) jsonValue(v any, parent, prev int32, key []byte, index int32) int32 {
	num := func(r numRepr, bits uint64, isInt bool) int32 {
		i := t.add(parent, prev, key, index, jsonNumber)
		t.nodes[i].num, t.nodes[i].bits, t.nodes[i].isInt = r, bits, isInt
		return i
	}
	float := func(f float64) int32 {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return t.add(parent, prev, key, index, jsonInvalid)
		}
		return num(numFloat, math.Float64bits(f), f == math.Trunc(f))
	}
	switch x := v.(type) {
	case nil:
		return t.add(parent, prev, key, index, jsonNull)
	case bool:
		i := t.add(parent, prev, key, index, jsonBool)
		if x {
			t.nodes[i].bits = 1
		}
		return i
	case string:
		i := t.add(parent, prev, key, index, jsonString)
		t.nodes[i].str = []byte(x)
		return i
	case int:
		return num(numInt, uint64(x), true)
	case int8:
		return num(numInt, uint64(x), true)
	case int16:
		return num(numInt, uint64(x), true)
	case int32:
		return num(numInt, uint64(x), true)
	case int64:
		return num(numInt, uint64(x), true)
	case uint:
		return num(numUint, uint64(x), true)
	case uint8:
		return num(numUint, uint64(x), true)
	case uint16:
		return num(numUint, uint64(x), true)
	case uint32:
		return num(numUint, uint64(x), true)
	case uint64:
		return num(numUint, x, true)
	case float64:
		return float(x)
	case float32:
		return float(float64(x))
	case json.Number:
		i := t.add(parent, prev, key, index, jsonNumber)
		t.nodes[i].num = numRat
		if r, ok := new(big.Rat).SetString(string(x)); ok {
			t.nodes[i].rat, t.nodes[i].isInt = r, r.IsInt()
		}
		return i
	case []any:
		i := t.add(parent, prev, key, index, jsonArray)
		t.nodes[i].count = int32(len(x))
		last := int32(-1)
		for j, e := range x {
			last = t.jsonValue(e, i, last, nil, int32(j))
		}
		return i
	case map[string]any:
		i := t.add(parent, prev, key, index, jsonObject)
		t.nodes[i].count = int32(len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		last := int32(-1)
		for j, k := range keys {
			last = t.jsonValue(x[k], i, last, []byte(k), int32(j))
		}
		return i
	}
	return t.add(parent, prev, key, index, jsonInvalid)
}
