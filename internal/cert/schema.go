package cert

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/haven-registry/haven/internal/registry"
)

//go:embed schema valuesets NOTICE.md
var dataFS embed.FS

type schemaEntry struct {
	once   sync.Once
	file   string
	schema *jsonschema.Schema
	err    error
}

var schemas = func() map[string]*schemaEntry {
	m := map[string]*schemaEntry{}
	dirs, err := fs.ReadDir(dataFS, "schema")
	if err != nil {
		panic(err) // embedded at build time
	}
	for _, d := range dirs {
		files, _ := fs.Glob(dataFS, "schema/"+d.Name()+"/*.json")
		if len(files) == 1 {
			m[d.Name()] = &schemaEntry{file: files[0]}
		}
	}
	return m
}()

// SchemaVersions returns the DCC schema versions Haven ships, sorted.
func SchemaVersions() []string {
	out := make([]string, 0, len(schemas))
	for v := range schemas {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return semverLess(out[i], out[j]) })
	return out
}

func parseSemver(v string) (maj, min, patch int, ok bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || p == "" || (len(p) > 1 && p[0] == '0') {
			return 0, 0, 0, false
		}
		n[i] = x
	}
	return n[0], n[1], n[2], true
}

func semverLess(a, b string) bool {
	a1, a2, a3, _ := parseSemver(a)
	b1, b2, b3, _ := parseSemver(b)
	if a1 != b1 {
		return a1 < b1
	}
	if a2 != b2 {
		return a2 < b2
	}
	return a3 < b3
}

// schemaFor picks the schema for a payload's ver: the exact version if Haven
// ships it, else the newest shipped patch release of the same major.minor
// (patch releases do not change what is valid). Other versions are refused.
func schemaFor(ver string) (*schemaEntry, string, error) {
	if e, ok := schemas[ver]; ok {
		return e, ver, nil
	}
	maj, min, _, ok := parseSemver(ver)
	if !ok {
		return nil, "", registry.FieldErrorf(registry.EINVALID, StepSchema, "ver %q is not a version number", ver)
	}
	best := ""
	for v := range schemas {
		m1, m2, _, _ := parseSemver(v)
		if m1 == maj && m2 == min && (best == "" || semverLess(best, v)) {
			best = v
		}
	}
	if best == "" {
		return nil, "", registry.FieldErrorf(registry.EUNSUPPORTED, StepSchema, "schema version %q is not supported", ver)
	}
	return schemas[best], best, nil
}

func (e *schemaEntry) compile() (*jsonschema.Schema, error) {
	e.once.Do(func() {
		raw, err := dataFS.ReadFile(e.file)
		if err != nil {
			e.err = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			e.err = err
			return
		}
		c := jsonschema.NewCompiler()
		url := "haven:///" + e.file
		if err := c.AddResource(url, doc); err != nil {
			e.err = err
			return
		}
		e.schema, e.err = c.Compile(url)
	})
	return e.schema, e.err
}

// CheckSchema validates the payload against the DCC JSON schema of its own
// ver (see schemaFor) and checks the DCC rule that a certificate holds
// exactly one of the entry groups v, t and r.
func (h *HCert) CheckSchema() error {
	m, err := h.PayloadJSON()
	if err != nil {
		return err
	}
	return ValidatePayload(m)
}

// ValidatePayload validates a JSON-form DCC payload as CheckSchema does.
func ValidatePayload(m map[string]any) error {
	ver, ok := m["ver"].(string)
	if !ok {
		return registry.FieldErrorf(registry.EINVALID, StepSchema, "ver is missing or not a string")
	}
	e, _, err := schemaFor(ver)
	if err != nil {
		return err
	}
	sch, err := e.compile()
	if err != nil {
		return registry.FieldErrorf(registry.EINTERNAL, StepSchema, "compiling schema %s: %v", path.Dir(e.file), err)
	}
	if err := sch.Validate(any(m)); err != nil {
		// The jsonschema error itself is dropped: its details quote values.
		return &registry.Error{Code: registry.EINVALID, Field: StepSchema, Message: schemaMessage(err)}
	}
	if _, err := kindOfMap(m); err != nil {
		return registry.FieldErrorf(registry.EINVALID, StepSchema, "%s", err.Error())
	}
	return nil
}

// schemaMessage condenses a jsonschema validation error to one line naming
// the first failing location and schema keyword. It never quotes the value,
// which may be personal data (a name, a birth date).
func schemaMessage(err error) string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err.Error()
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	loc := "/" + strings.Join(ve.InstanceLocation, "/")
	return fmt.Sprintf("payload does not match the schema at %s (%s)", loc, strings.Join(ve.ErrorKind.KeywordPath(), "/"))
}
