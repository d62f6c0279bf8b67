package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"testing/fstest"
)

// TestGeneratedFileIsCurrent fails when schema_gen.go differs from what the
// generator makes of the schema files: run go generate ./internal/cert.
func TestGeneratedFileIsCurrent(t *testing.T) {
	dir := filepath.Join("..", "..", "schema")
	want, err := generate(os.DirFS(dir), "schema")
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile(filepath.Join("..", "..", "schema_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Error("internal/cert/schema_gen.go is stale: run go generate ./internal/cert")
	}
}

// dfaPatterns are the DCC schemas' patterns and a few that exercise other
// constructs.
var dfaPatterns = []string{
	`(19|20)\d{2}-\d{2}-\d{2}`, `^[A-Z<]*$`, `[A-Z]{1,10}`, `^\d+.\d+.\d+$`,
	`^(19|20)\d\d(-\d\d){0,2}$`, `^((19|20)\d\d(-\d\d){0,2}){0,1}$`,
	``, `^`, `$`, `^$`, `a|^b`, `a$|b`, `(?s:.)x`, `.x`, `é+`, `[^a-c]`, `\pL\d?$`, `(a|ab)(c|bcd)$`, `x*`,
}

// alphabet holds runes around the patterns' boundaries, a newline, a
// multi-byte rune and an invalid byte.
var alphabet = []string{"0", "1", "2", "9", "-", ".", "A", "Z", "<", "a", "b", "c", "d", "x", "\n", "é", "\xff", "Ω"}

func TestDFAAgreesWithRegexp(t *testing.T) {
	for _, p := range dfaPatterns {
		d, err := compileDFA(p)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(p)
		var walk func(s string, depth int)
		walk = func(s string, depth int) {
			if d.match(s) != re.MatchString(s) {
				t.Fatalf("pattern %q on %q: DFA says %v, regexp %v", p, s, d.match(s), re.MatchString(s))
			}
			if depth == 0 {
				return
			}
			for _, a := range alphabet {
				walk(s+a, depth-1)
			}
		}
		walk("", 4)
		for _, s := range []string{"1958-11-11", "2021-05-01x", "x1999-12-31", "1.3.0", "1.3.0\n", "10.20.30", "1..2.3", "SEVENKQM<XFOURTD", "dcervenkova", "XY", "1980-xx-xx", "19800"} {
			if d.match(s) != re.MatchString(s) {
				t.Errorf("pattern %q on %q: DFA says %v, regexp %v", p, s, d.match(s), re.MatchString(s))
			}
		}
	}
}

func FuzzDFA(f *testing.F) {
	f.Add(0, "1958-11-11")
	f.Add(3, "1.3.0")
	f.Fuzz(func(t *testing.T, i int, s string) {
		p := dfaPatterns[uint(i)%uint(len(dfaPatterns))]
		d, err := compileDFA(p)
		if err != nil {
			t.Fatal(err)
		}
		if d.match(s) != regexp.MustCompile(p).MatchString(s) {
			t.Fatalf("pattern %q on %q: DFA says %v", p, s, d.match(s))
		}
	})
}

func TestRefusesWhatItCannotCompile(t *testing.T) {
	for _, p := range []string{`\bword`, `(?i)abc`, `(?m)^a`} {
		if _, err := compileDFA(p); err == nil {
			t.Errorf("pattern %q compiled", p)
		}
	}
}

func TestRefusesUnsupportedSchemas(t *testing.T) {
	doc := func(body string) fstest.MapFS {
		return fstest.MapFS{"1.0.0/s.json": {Data: []byte(`{"$schema": "https://json-schema.org/draft/2020-12/schema", ` + body + `}`)}}
	}
	for name, fsys := range map[string]fstest.MapFS{
		"enum":                 doc(`"enum": ["a"]`),
		"additionalProperties": doc(`"additionalProperties": false`),
		"unknown keyword":      doc(`"foo": 1`),
		"recursive ref":        doc(`"$ref": "#/$defs/a", "$defs": {"a": {"items": {"$ref": "#/$defs/a"}}}`),
		"remote ref":           doc(`"$ref": "https://example.com/s.json"`),
		"fractional minimum":   doc(`"minimum": 0.5`),
		"draft-07":             {"1.0.0/s.json": {Data: []byte(`{"$schema": "http://json-schema.org/draft-07/schema#"}`)}},
		"two files":            {"1.0.0/a.json": {Data: []byte(`{}`)}, "1.0.0/b.json": {Data: []byte(`{}`)}},
		"not a version":        {"latest/s.json": {Data: []byte(`{}`)}},
	} {
		if _, err := generate(fsys, "schema"); err == nil {
			t.Errorf("%s: generated", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
