// Command schemagen compiles the official DCC JSON schemas into Go checks.
//
// It reads schema/<version>/<name>.json (one file per version folder) and
// writes schema_gen.go for package cert: one method of *schemaRun per
// distinct subschema, shared between versions where they agree, a search
// DFA per pattern, and schemaVersions and schemaCheck, which map a version
// to its check. The checks run on the jsonTree of a payload (see
// internal/cert/schematree.go).
//
// It knows the JSON Schema 2020-12 keywords that the DCC schemas use (type,
// $ref to #/$defs, required, properties, items, minItems, maxItems,
// minLength, maxLength, pattern, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, anyOf, oneOf, allOf, not) and skips annotations. format
// is an annotation too: in draft 2020-12 it asserts nothing unless a schema
// opts into the format-assertion vocabulary, which the DCC schemas do not.
// Any other keyword (enum, additionalProperties, ...) stops the generator
// with an error rather than being skipped, so that a new schema release
// cannot weaken the checks unnoticed.
//
// Usage, from internal/cert (see go:generate in schema.go):
//
//	go run ./internal/schemagen -schemas schema -o schema_gen.go
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	dir := flag.String("schemas", "schema", "folder of <version>/<name>.json schema files")
	out := flag.String("o", "schema_gen.go", "output Go file")
	flag.Parse()
	src, err := generate(os.DirFS(*dir), *dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}
