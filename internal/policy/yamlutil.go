package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/haven-registry/haven/internal/registry"
)

// loadError returns an EINVALID error naming the file and line (and the rule,
// when given) that failed. Field is "FILE:LINE" so callers can show it apart.
func loadError(file string, line int, rule string, format string, args ...any) error {
	where := fmt.Sprintf("%s:%d", file, line)
	msg := fmt.Sprintf(format, args...)
	if rule != "" {
		msg = "rule " + rule + ": " + msg
	}
	return &registry.Error{Code: registry.EINVALID, Field: where, Message: msg}
}

// ydoc decodes one YAML file with strict key checking and line-numbered errors.
type ydoc struct {
	file string
}

func (d ydoc) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return loadError(d.file, line, "", format, args...)
}

// parse parses src into its root mapping node.
func (d ydoc) parse(src []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		line := 0
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return nil, &registry.Error{Code: registry.EMALFORMED, Field: fmt.Sprintf("%s:%d", d.file, line), Message: "malformed YAML: " + msg}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &registry.Error{Code: registry.EMALFORMED, Field: d.file + ":1", Message: "empty YAML document"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, d.errf(root, "the document must be a mapping")
	}
	return root, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// fields returns the values of a mapping by key. It rejects a node that is
// not a mapping, duplicate keys, keys not in allowed, and missing required
// keys (allowed keys ending in "!" are required; the "!" is not part of the key).
func (d ydoc) fields(n *yaml.Node, what string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, d.errf(n, "%s must be a mapping", what)
	}
	ok := make(map[string]bool, len(allowed))
	var required []string
	for _, a := range allowed {
		if strings.HasSuffix(a, "!") {
			a = strings.TrimSuffix(a, "!")
			required = append(required, a)
		}
		ok[a] = true
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, d.errf(k, "%s: keys must be plain strings", what)
		}
		if !ok[k.Value] {
			return nil, d.errf(k, "%s: unknown key %q", what, k.Value)
		}
		if _, dup := out[k.Value]; dup {
			return nil, d.errf(k, "%s: key %q appears twice", what, k.Value)
		}
		out[k.Value] = v
	}
	for _, r := range required {
		if _, has := out[r]; !has {
			return nil, d.errf(n, "%s: missing key %q", what, r)
		}
	}
	return out, nil
}

func (d ydoc) str(n *yaml.Node, what string) (string, error) {
	if n == nil {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", d.errf(n, "%s must be a string", what)
	}
	return n.Value, nil
}

func (d ydoc) boolean(n *yaml.Node, what string) (bool, error) {
	if n == nil {
		return false, nil
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, d.errf(n, "%s must be true or false", what)
	}
	return n.Value == "true", nil
}

func (d ydoc) seq(n *yaml.Node, what string) ([]*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, d.errf(n, "%s must be a list", what)
	}
	return n.Content, nil
}

func (d ydoc) strs(n *yaml.Node, what string) ([]string, error) {
	items, err := d.seq(n, what)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, err := d.str(it, what+" item")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// date parses a YYYY-MM-DD date (see Date).
func (d ydoc) date(n *yaml.Node, what string) (Date, error) {
	s, err := d.str(n, what)
	if err != nil {
		return 0, err
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, d.errf(n, "%s must be a date YYYY-MM-DD, got %q", what, s)
	}
	return dayOf(t), nil
}

// Date is a civil date encoded as YYYYMMDD, so that comparing dates is
// comparing integers. It marshals to JSON as "YYYY-MM-DD".
type Date int32

func dayOf(t time.Time) Date {
	y, m, dd := t.Date()
	return Date(y*10000 + int(m)*100 + dd)
}

// DateOf returns the civil date of t in t's own location.
func DateOf(t time.Time) Date { return dayOf(t) }

// Time returns the date as midnight UTC.
func (d Date) Time() time.Time {
	return time.Date(int(d)/10000, time.Month(int(d)/100%100), int(d)%100, 0, 0, 0, 0, time.UTC)
}

func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", int(d)/10000, int(d)/100%100, int(d)%100)
}

// MarshalJSON writes the date as "YYYY-MM-DD".
func (d Date) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.String() + `"`), nil
}
