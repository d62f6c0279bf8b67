package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// annotations are keywords that assert nothing; the generator skips them.
// format is one in draft 2020-12 (see the package comment); valueset-uri is
// the DCC schemas' own, which validators ignore.
var annotations = map[string]bool{
	"title": true, "description": true, "examples": true, "$comment": true,
	"default": true, "deprecated": true, "readOnly": true, "writeOnly": true,
	"format": true, "valueset-uri": true,
}

// keywords are the assertions and applicators the generator compiles.
// $schema, $id and $defs are allowed at the root only.
var keywords = map[string]bool{
	"type": true, "$ref": true, "required": true, "properties": true,
	"items": true, "minItems": true, "maxItems": true,
	"minLength": true, "maxLength": true, "pattern": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true,
	"anyOf": true, "oneOf": true, "allOf": true, "not": true,
}

type generator struct {
	funcs    []*genFunc
	byBody   map[string]*genFunc
	names    map[string]bool
	patterns []*dfa
	patFunc  map[string]string // pattern → matcher name
	roots    []root
	utf8     bool // the output uses unicode/utf8
}

type root struct{ version, file, fn string }

type genFunc struct {
	name, body string
	uses       []use
}

// use is where a generated function applies: a schema location and the
// versions that have it.
type use struct {
	ptr      string
	versions []string
}

// schemaFile is one version's schema during generation.
type schemaFile struct {
	version, file string
	defs          map[string]any
	done          map[string]string // $defs pointer → function
	active        map[string]bool   // $defs pointers being compiled (cycle check)
}

// generate compiles every <version>/<name>.json of fsys into Go source.
// dir names fsys in the output's header.
func generate(fsys fs.FS, dir string) ([]byte, error) {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	g := &generator{byBody: map[string]*genFunc{}, names: map[string]bool{}, patFunc: map[string]string{}}
	var versions []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, ok := semver(e.Name()); !ok {
			return nil, fmt.Errorf("folder %s is not a version number", e.Name())
		}
		versions = append(versions, e.Name())
	}
	slices.SortFunc(versions, func(a, b string) int {
		x, _ := semver(a)
		y, _ := semver(b)
		return slices.Compare(x[:], y[:])
	})
	if len(versions) == 0 {
		return nil, fmt.Errorf("no schema folders in %s", dir)
	}
	for _, v := range versions {
		files, err := fs.Glob(fsys, v+"/*.json")
		if err != nil {
			return nil, err
		}
		if len(files) != 1 {
			return nil, fmt.Errorf("%s: want one .json file, have %d", v, len(files))
		}
		raw, err := fs.ReadFile(fsys, files[0])
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("%s: %v", files[0], err)
		}
		if doc["$schema"] != draft2020 {
			return nil, fmt.Errorf("%s: $schema is %v, want %s", files[0], doc["$schema"], draft2020)
		}
		c := &schemaFile{version: v, file: files[0], done: map[string]string{}, active: map[string]bool{}}
		if d, ok := doc["$defs"]; ok {
			if c.defs, ok = d.(map[string]any); !ok {
				return nil, fmt.Errorf("%s: $defs is not an object", files[0])
			}
		}
		top := map[string]any{}
		for k, val := range doc {
			switch k {
			case "$schema", "$id", "$defs":
			default:
				top[k] = val
			}
		}
		fn, err := g.schema(c, top, "#", "dcc")
		if err != nil {
			return nil, err
		}
		g.roots = append(g.roots, root{version: v, file: files[0], fn: fn})
	}
	return g.output(dir)
}

// semver parses "major.minor.patch".
func semver(v string) ([3]int, bool) {
	var n [3]int
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return n, false
	}
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || (len(p) > 1 && p[0] == '0') {
			return n, false
		}
		n[i] = x
	}
	return n, true
}

func (c *schemaFile) errorf(ptr, format string, args ...any) error {
	return fmt.Errorf("%s %s: %s", c.file, ptr, fmt.Sprintf(format, args...))
}

// ref compiles the target of a $ref and returns its function.
func (g *generator) ref(c *schemaFile, ref any, ptr string) (string, error) {
	s, ok := ref.(string)
	name, found := strings.CutPrefix(s, "#/$defs/")
	if !ok || !found || name == "" || strings.ContainsAny(name, "/~%") {
		return "", c.errorf(ptr, "$ref %v is not #/$defs/<name>", ref)
	}
	target := "#/$defs/" + name
	if fn, ok := c.done[target]; ok {
		return fn, nil
	}
	def, ok := c.defs[name]
	if !ok {
		return "", c.errorf(ptr, "$ref %s not found", s)
	}
	if c.active[target] {
		return "", c.errorf(ptr, "$ref %s is recursive", s)
	}
	c.active[target] = true
	fn, err := g.schema(c, def, target, camel(name))
	delete(c.active, target)
	if err != nil {
		return "", err
	}
	c.done[target] = fn
	return fn, nil
}

// kinds are the node kinds a value can still have at some point of a check.
type kinds map[string]bool

var allKinds = []string{"jsonNull", "jsonBool", "jsonNumber", "jsonString", "jsonArray", "jsonObject"}

// only reports whether k is exactly {kind}.
func (k kinds) only(kind string) bool { return len(k) == 1 && k[kind] }

// guard opens "if v.kind == kind {" unless k makes it certain; it returns
// the closing text and the indentation inside.
func guard(b *strings.Builder, k kinds, kind string) (end, ind string) {
	if k.only(kind) {
		return "", "\t"
	}
	fmt.Fprintf(b, "\tif v.kind == %s {\n", kind)
	return "\t}\n", "\t\t"
}

// schema compiles one schema object and returns its function. ptr is its
// location, hint the basis of the function's name.
func (g *generator) schema(c *schemaFile, node any, ptr, hint string) (string, error) {
	obj, ok := node.(map[string]any)
	if !ok {
		return "", c.errorf(ptr, "a schema must be an object, not %T", node)
	}
	var kws []string
	for k := range obj {
		switch {
		case annotations[k]:
		case keywords[k]:
			kws = append(kws, k)
		default:
			return "", c.errorf(ptr, "keyword %q is not supported by schemagen", k)
		}
	}
	if len(kws) == 1 && kws[0] == "$ref" {
		// Only a reference: the target's check is this schema's check.
		return g.ref(c, obj["$ref"], ptr)
	}
	var b strings.Builder
	b.WriteString("\tv := &r.nodes[n]\n")
	b.WriteString("\tif v.kind == jsonInvalid {\n\t\treturn r.fail(n, \"type\")\n\t}\n")

	k := kinds{}
	for _, kind := range allKinds {
		k[kind] = true
	}
	if t, ok := obj["type"]; ok {
		var names []string
		switch t := t.(type) {
		case string:
			names = []string{t}
		case []any:
			for _, x := range t {
				s, ok := x.(string)
				if !ok {
					return "", c.errorf(ptr, "type %v is not a string", x)
				}
				names = append(names, s)
			}
		default:
			return "", c.errorf(ptr, "type %v is not a string or a list", t)
		}
		k = kinds{}
		var conds []string
		for _, name := range names {
			switch name {
			case "null", "boolean", "number", "string", "array", "object":
				kind := map[string]string{"null": "jsonNull", "boolean": "jsonBool", "number": "jsonNumber",
					"string": "jsonString", "array": "jsonArray", "object": "jsonObject"}[name]
				conds = append(conds, "v.kind == "+kind)
				k[kind] = true
			case "integer":
				conds = append(conds, "v.kind == jsonNumber && v.isInt")
				k["jsonNumber"] = true
			default:
				return "", c.errorf(ptr, "unknown type %q", name)
			}
		}
		if len(conds) == 1 {
			fmt.Fprintf(&b, "\tif !(%s) {\n", conds[0])
		} else {
			fmt.Fprintf(&b, "\tif !(%s) {\n", "("+strings.Join(conds, ") || (")+")")
		}
		b.WriteString("\t\treturn r.fail(n, \"type\")\n\t}\n")
	}

	if ref, ok := obj["$ref"]; ok {
		fn, err := g.ref(c, ref, ptr)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\tif !r.%s(n) {\n\t\treturn false\n\t}\n", fn)
	}

	if err := g.object(&b, c, obj, k, ptr, hint); err != nil {
		return "", err
	}
	if err := g.array(&b, c, obj, k, ptr, hint); err != nil {
		return "", err
	}
	if err := g.str(&b, c, obj, k, ptr); err != nil {
		return "", err
	}
	if err := g.number(&b, c, obj, k, ptr); err != nil {
		return "", err
	}
	if err := g.applicators(&b, c, obj, ptr, hint); err != nil {
		return "", err
	}
	b.WriteString("\treturn true\n")
	if name := leafName(obj, g.patFunc); name != "" {
		hint = name
	}
	return g.function(b.String(), hint, c.version, ptr), nil
}

// leafName names a schema of a type and scalar constraints by its content
// ("stringMaxLength80Pattern1"), or returns "" for other schemas.
func leafName(obj map[string]any, patFunc map[string]string) string {
	t, ok := obj["type"].(string)
	if !ok {
		return ""
	}
	name := t
	for _, kw := range []string{"minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} {
		x, ok := obj[kw]
		if !ok {
			continue
		}
		if kw == "pattern" {
			name += strings.TrimPrefix(patFunc[x.(string)], "match")
		} else {
			name += upperCamel(kw) + fmt.Sprint(x)
		}
	}
	for k := range obj {
		if keywords[k] && k != "type" && !strings.Contains(name, upperCamel(k)) {
			return ""
		}
	}
	return name
}

func (g *generator) object(b *strings.Builder, c *schemaFile, obj map[string]any, k kinds, ptr, hint string) error {
	var required []string
	if r, ok := obj["required"]; ok {
		list, ok := r.([]any)
		if !ok {
			return c.errorf(ptr, "required is not a list")
		}
		for _, x := range list {
			s, ok := x.(string)
			if !ok {
				return c.errorf(ptr, "required %v is not a string", x)
			}
			if slices.Contains(required, s) {
				return c.errorf(ptr, "required lists %q twice", s)
			}
			required = append(required, s)
		}
	}
	if len(required) > 64 {
		return c.errorf(ptr, "more than 64 required properties")
	}
	props := map[string]string{} // name → function
	if p, ok := obj["properties"]; ok {
		pm, ok := p.(map[string]any)
		if !ok {
			return c.errorf(ptr, "properties is not an object")
		}
		for _, name := range sortedKeys(pm) {
			fn, err := g.schema(c, pm[name], ptr+"/properties/"+escapePtr(name), hint+upperCamel(name))
			if err != nil {
				return err
			}
			props[name] = fn
		}
	}
	if len(required) == 0 && len(props) == 0 {
		return nil
	}
	end, ind := guard(b, k, "jsonObject")
	if len(required) > 0 {
		fmt.Fprintf(b, "%svar seen uint64\n", ind)
	}
	fmt.Fprintf(b, "%sfor c := v.first; c >= 0; c = r.nodes[c].next {\n", ind)
	fmt.Fprintf(b, "%s\tswitch string(r.nodes[c].key) {\n", ind)
	names := slices.Clone(required)
	for _, name := range sortedKeys(props) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, name := range names {
		fmt.Fprintf(b, "%s\tcase %s:\n", ind, strconv.Quote(name))
		if i := slices.Index(required, name); i >= 0 {
			fmt.Fprintf(b, "%s\t\tseen |= 1 << %d\n", ind, i)
		}
		if fn, ok := props[name]; ok {
			fmt.Fprintf(b, "%s\t\tif !r.%s(c) {\n%s\t\t\treturn false\n%s\t\t}\n", ind, fn, ind, ind)
		}
	}
	fmt.Fprintf(b, "%s\t}\n%s}\n", ind, ind)
	if len(required) > 0 {
		mask := uint64(1)<<len(required) - 1
		if len(required) == 64 {
			mask = ^uint64(0)
		}
		fmt.Fprintf(b, "%sif seen != %#x {\n%s\treturn r.fail(n, \"required\")\n%s}\n", ind, mask, ind, ind)
	}
	b.WriteString(end)
	return nil
}

func (g *generator) array(b *strings.Builder, c *schemaFile, obj map[string]any, k kinds, ptr, hint string) error {
	minItems, hasMin, err := intKeyword(c, obj, "minItems", ptr)
	if err != nil {
		return err
	}
	maxItems, hasMax, err := intKeyword(c, obj, "maxItems", ptr)
	if err != nil {
		return err
	}
	items := ""
	if it, ok := obj["items"]; ok {
		if items, err = g.schema(c, it, ptr+"/items", hint+"Item"); err != nil {
			return err
		}
	}
	if !hasMin && !hasMax && items == "" {
		return nil
	}
	end, ind := guard(b, k, "jsonArray")
	if hasMin {
		fmt.Fprintf(b, "%sif v.count < %d {\n%s\treturn r.fail(n, \"minItems\")\n%s}\n", ind, minItems, ind, ind)
	}
	if hasMax {
		fmt.Fprintf(b, "%sif v.count > %d {\n%s\treturn r.fail(n, \"maxItems\")\n%s}\n", ind, maxItems, ind, ind)
	}
	if items != "" {
		fmt.Fprintf(b, "%sfor c := v.first; c >= 0; c = r.nodes[c].next {\n", ind)
		fmt.Fprintf(b, "%s\tif !r.%s(c) {\n%s\t\treturn false\n%s\t}\n%s}\n", ind, items, ind, ind, ind)
	}
	b.WriteString(end)
	return nil
}

func (g *generator) str(b *strings.Builder, c *schemaFile, obj map[string]any, k kinds, ptr string) error {
	minLen, hasMin, err := intKeyword(c, obj, "minLength", ptr)
	if err != nil {
		return err
	}
	maxLen, hasMax, err := intKeyword(c, obj, "maxLength", ptr)
	if err != nil {
		return err
	}
	match := ""
	if p, ok := obj["pattern"]; ok {
		s, ok := p.(string)
		if !ok {
			return c.errorf(ptr, "pattern is not a string")
		}
		if match, err = g.pattern(s); err != nil {
			return c.errorf(ptr, "%v", err)
		}
	}
	if !hasMin && !hasMax && match == "" {
		return nil
	}
	end, ind := guard(b, k, "jsonString")
	// Lengths count code points, as JSON Schema says; a string has no more
	// code points than bytes.
	if hasMin {
		g.utf8 = true
		fmt.Fprintf(b, "%sif utf8.RuneCount(v.str) < %d {\n%s\treturn r.fail(n, \"minLength\")\n%s}\n", ind, minLen, ind, ind)
	}
	if hasMax {
		g.utf8 = true
		fmt.Fprintf(b, "%sif len(v.str) > %d && utf8.RuneCount(v.str) > %d {\n%s\treturn r.fail(n, \"maxLength\")\n%s}\n", ind, maxLen, maxLen, ind, ind)
	}
	if match != "" {
		fmt.Fprintf(b, "%sif !%s(v.str) {\n%s\treturn r.fail(n, \"pattern\")\n%s}\n", ind, match, ind, ind)
	}
	b.WriteString(end)
	return nil
}

func (g *generator) number(b *strings.Builder, c *schemaFile, obj map[string]any, k kinds, ptr string) error {
	type bound struct {
		kw, cmp string
	}
	var checks []string
	for _, bd := range []bound{{"minimum", "< 0"}, {"maximum", "> 0"}, {"exclusiveMinimum", "<= 0"}, {"exclusiveMaximum", ">= 0"}} {
		x, ok := obj[bd.kw]
		if !ok {
			continue
		}
		n, ok := x.(json.Number)
		if !ok {
			return c.errorf(ptr, "%s is not a number", bd.kw)
		}
		v, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || v <= -1<<53 || v >= 1<<53 {
			return c.errorf(ptr, "%s %s is not an integer within ±2^53 (not supported)", bd.kw, n)
		}
		checks = append(checks, fmt.Sprintf("if v.cmpInt(%d) %s {\n\treturn r.fail(n, %q)\n}\n", v, bd.cmp, bd.kw))
	}
	if len(checks) == 0 {
		return nil
	}
	end, ind := guard(b, k, "jsonNumber")
	for _, ch := range checks {
		for _, line := range strings.SplitAfter(ch, "\n") {
			if line != "" {
				b.WriteString(ind + line)
			}
		}
	}
	b.WriteString(end)
	return nil
}

func (g *generator) applicators(b *strings.Builder, c *schemaFile, obj map[string]any, ptr, hint string) error {
	sub := func(kw string) ([]string, error) {
		x, ok := obj[kw]
		if !ok {
			return nil, nil
		}
		list, ok := x.([]any)
		if !ok || len(list) == 0 {
			return nil, c.errorf(ptr, "%s is not a non-empty list", kw)
		}
		var fns []string
		for i, s := range list {
			fn, err := g.schema(c, s, fmt.Sprintf("%s/%s/%d", ptr, kw, i), fmt.Sprintf("%s%s%d", hint, upperCamel(kw), i))
			if err != nil {
				return nil, err
			}
			fns = append(fns, fn)
		}
		return fns, nil
	}
	allOf, err := sub("allOf")
	if err != nil {
		return err
	}
	for _, fn := range allOf {
		fmt.Fprintf(b, "\tif !r.%s(n) {\n\t\treturn false\n\t}\n", fn)
	}
	// The branches of anyOf, oneOf and not only decide; they record no
	// failure (r.quiet).
	anyOf, err := sub("anyOf")
	if err != nil {
		return err
	}
	if len(anyOf) > 0 {
		var calls []string
		for _, fn := range anyOf {
			calls = append(calls, "r."+fn+"(n)")
		}
		fmt.Fprintf(b, "\tr.quiet++\n\tanyOK := %s\n\tr.quiet--\n", strings.Join(calls, " || "))
		b.WriteString("\tif !anyOK {\n\t\treturn r.fail(n, \"anyOf\")\n\t}\n")
	}
	oneOf, err := sub("oneOf")
	if err != nil {
		return err
	}
	if len(oneOf) > 0 {
		b.WriteString("\tr.quiet++\n\tmatched := 0\n")
		for _, fn := range oneOf {
			fmt.Fprintf(b, "\tif r.%s(n) {\n\t\tmatched++\n\t}\n", fn)
		}
		b.WriteString("\tr.quiet--\n\tif matched != 1 {\n\t\treturn r.fail(n, \"oneOf\")\n\t}\n")
	}
	if x, ok := obj["not"]; ok {
		fn, err := g.schema(c, x, ptr+"/not", hint+"Not")
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "\tr.quiet++\n\tnotOK := r.%s(n)\n\tr.quiet--\n", fn)
		b.WriteString("\tif notOK {\n\t\treturn r.fail(n, \"not\")\n\t}\n")
	}
	return nil
}

func intKeyword(c *schemaFile, obj map[string]any, kw, ptr string) (int64, bool, error) {
	x, ok := obj[kw]
	if !ok {
		return 0, false, nil
	}
	n, ok := x.(json.Number)
	if !ok {
		return 0, false, c.errorf(ptr, "%s is not a number", kw)
	}
	v, err := strconv.ParseInt(string(n), 10, 32)
	if err != nil || v < 0 {
		return 0, false, c.errorf(ptr, "%s %s is not a non-negative integer", kw, n)
	}
	return v, true, nil
}

// pattern returns the matcher of a pattern, compiling it if new.
func (g *generator) pattern(p string) (string, error) {
	if fn, ok := g.patFunc[p]; ok {
		return fn, nil
	}
	d, err := compileDFA(p)
	if err != nil {
		return "", err
	}
	fn := fmt.Sprintf("matchPattern%d", len(g.patterns))
	g.patterns = append(g.patterns, d)
	g.patFunc[p] = fn
	return fn, nil
}

// function returns the function with the given body, adding it if new.
func (g *generator) function(body, hint, version, ptr string) string {
	f, ok := g.byBody[body]
	if !ok {
		name := "check" + upperCamel(hint)
		for i := 2; g.names[name]; i++ {
			name = fmt.Sprintf("check%s_%d", upperCamel(hint), i)
		}
		g.names[name] = true
		f = &genFunc{name: name, body: body}
		g.byBody[body] = f
		g.funcs = append(g.funcs, f)
	}
	for i := range f.uses {
		if f.uses[i].ptr == ptr {
			if !slices.Contains(f.uses[i].versions, version) {
				f.uses[i].versions = append(f.uses[i].versions, version)
			}
			return f.name
		}
	}
	f.uses = append(f.uses, use{ptr: ptr, versions: []string{version}})
	return f.name
}

func (g *generator) output(dir string) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "// Code generated by schemagen from %s; DO NOT EDIT.\n\n", path.Join(dir, "*", "*.json"))
	b.WriteString("package cert\n\n")
	if g.utf8 {
		b.WriteString("import \"unicode/utf8\"\n\n")
	}
	b.WriteString("// schemaVersions lists the schema versions compiled below, in ascending order.\n")
	b.WriteString("var schemaVersions = [...]string{")
	for i, r := range g.roots {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(r.version))
	}
	b.WriteString("}\n\n")
	b.WriteString("// schemaCheck returns the check of schema version ver, or nil if it is not\n// one of schemaVersions.\n")
	b.WriteString("func schemaCheck(ver []byte) schemaCheckFunc {\n\tswitch string(ver) {\n")
	for _, r := range g.roots {
		fmt.Fprintf(&b, "\tcase %q: // %s\n\t\treturn (*schemaRun).%s\n", r.version, r.file, r.fn)
	}
	b.WriteString("\t}\n\treturn nil\n}\n\n")
	b.WriteString("// schemaPatterns lists the schemas' patterns with their matchers, for tests.\n")
	b.WriteString("var schemaPatterns = []struct {\n\tpattern string\n\tmatch   func([]byte) bool\n}{\n")
	for i, d := range g.patterns {
		fmt.Fprintf(&b, "\t{%s, matchPattern%d},\n", strconv.Quote(d.pattern), i)
	}
	b.WriteString("}\n\n")
	for _, f := range g.funcs {
		fmt.Fprintf(&b, "// %s checks\n", f.name)
		for _, u := range f.uses {
			fmt.Fprintf(&b, "//   - %s in %s\n", u.ptr, strings.Join(u.versions, ", "))
		}
		fmt.Fprintf(&b, "func (r *schemaRun) %s(n int32) bool {\n%s}\n\n", f.name, f.body)
	}
	for i, d := range g.patterns {
		d.emit(&b, fmt.Sprintf("matchPattern%d", i))
	}
	src, err := format.Source([]byte(b.String()))
	if err != nil {
		return nil, fmt.Errorf("formatting the output: %v", err)
	}
	return src, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// escapePtr escapes a JSON pointer token (RFC 6901).
func escapePtr(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// camel turns "person_name" or "disease-agent-targeted" into personName
// and diseaseAgentTargeted, dropping what cannot be in a Go name.
func camel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'):
			up = b.Len() > 0
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func upperCamel(s string) string {
	s = camel(s)
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
