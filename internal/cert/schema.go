package cert

import (
	"embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/haven-registry/haven/internal/registry"
)

//go:generate go run ./internal/schemagen -schemas schema -o schema_gen.go

//go:embed valuesets NOTICE.md
var dataFS embed.FS

// SchemaVersions returns the DCC schema versions Haven checks, sorted.
func SchemaVersions() []string {
	return slices.Clone(schemaVersions[:])
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

// schemaFor returns the check for a payload's ver (see schemaVersion).
func schemaFor(ver []byte) (schemaCheckFunc, error) {
	if check := schemaCheck(ver); check != nil {
		return check, nil // the common case, without allocating
	}
	v, err := schemaVersion(string(ver))
	if err != nil {
		return nil, err
	}
	return schemaCheck([]byte(v)), nil
}

// schemaVersion picks the schema for a payload's ver: the exact version if
// Haven ships it, else the newest shipped patch release of the same
// major.minor (patch releases do not change what is valid). Other versions
// are refused.
func schemaVersion(ver string) (string, error) {
	if slices.Contains(schemaVersions[:], ver) {
		return ver, nil
	}
	maj, min, _, ok := parseSemver(ver)
	if !ok {
		return "", registry.FieldErrorf(registry.EINVALID, StepSchema, "ver %q is not a version number", ver)
	}
	best := ""
	for _, v := range schemaVersions {
		m1, m2, _, _ := parseSemver(v)
		if m1 == maj && m2 == min && (best == "" || semverLess(best, v)) {
			best = v
		}
	}
	if best == "" {
		return "", registry.FieldErrorf(registry.EUNSUPPORTED, StepSchema, "schema version %q is not supported", ver)
	}
	return best, nil
}

// schemaCheckFunc is the generated check of one schema version, run on the
// root of the tree.
type schemaCheckFunc func(r *schemaRun, root int32) bool

// schemaRun is one run of the generated checks over a tree. The checks
// record the first failure outside anyOf and oneOf branches (quiet > 0),
// where a failure only decides the branch.
type schemaRun struct {
	jsonTree
	quiet      int
	errNode    int32
	errKeyword string
}

var schemaRuns = sync.Pool{New: func() any { return new(schemaRun) }}

// fail records that node n breaks the schema keyword and returns false.
func (r *schemaRun) fail(n int32, keyword string) bool {
	if r.quiet == 0 && r.errNode < 0 {
		r.errNode, r.errKeyword = n, keyword
	}
	return false
}

// CheckSchema validates the payload against the DCC JSON schema of its own
// ver (see schemaFor) and checks the DCC rule that a certificate holds
// exactly one of the entry groups v, t and r. The schema checks are Go code
// generated from the official schema files (schema_gen.go); tests hold them
// to a general JSON-schema validator.
func (h *HCert) CheckSchema() error {
	r := schemaRuns.Get().(*schemaRun)
	defer r.release()
	if !r.fromCBOR(h.rawDCC) {
		// Tags, byte strings and other rarities: take the JSON form.
		m, err := h.PayloadJSON()
		if err != nil {
			return err
		}
		r.fromJSON(m)
	}
	return r.validate()
}

// ValidatePayload validates a JSON-form DCC payload as CheckSchema does.
func ValidatePayload(m map[string]any) error {
	r := schemaRuns.Get().(*schemaRun)
	defer r.release()
	r.fromJSON(m)
	return r.validate()
}

func (r *schemaRun) release() {
	r.reset()
	schemaRuns.Put(r)
}

// validate checks the tree, whose root is an object.
func (r *schemaRun) validate() error {
	ver := r.member(0, "ver")
	if ver < 0 || r.nodes[ver].kind != jsonString {
		return registry.FieldErrorf(registry.EINVALID, StepSchema, "ver is missing or not a string")
	}
	check, err := schemaFor(r.nodes[ver].str)
	if err != nil {
		return err
	}
	r.quiet, r.errNode, r.errKeyword = 0, -1, ""
	if !check(r, 0) {
		// The message names the location and keyword, never the value,
		// which may be personal data (a name, a birth date).
		loc := "/"
		if r.errNode >= 0 {
			loc = r.path(r.errNode)
		}
		return &registry.Error{Code: registry.EINVALID, Field: StepSchema,
			Message: fmt.Sprintf("payload does not match the schema at %s (%s)", loc, r.errKeyword)}
	}
	n := 0
	for _, k := range [...]string{"v", "t", "r"} {
		if r.member(0, k) >= 0 {
			n++
		}
	}
	if n != 1 {
		return registry.FieldErrorf(registry.EINVALID, StepSchema, "payload has %d of the entry groups v, t and r, want exactly one", n)
	}
	return nil
}
