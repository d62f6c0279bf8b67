package schedule

import (
	"bytes"
	"fmt"
	"strings"
)

// node is one element of a parsed supporting-data XML file. The CDSi files
// use elements only (no attributes that matter, no mixed content), so a
// small dedicated parser is enough and is much faster than encoding/xml,
// which keeps loading all 30 antigens well under the 100 ms budget.
type node struct {
	name     string
	text     string
	children []*node
	line     int
}

// child returns the first child element with the given name, or nil.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// all returns every child element with the given name.
func (n *node) all(name string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// val returns the trimmed text of the named child, or "".
func (n *node) val(name string) string {
	c := n.child(name)
	if c == nil {
		return ""
	}
	return c.text
}

// xmlError reports a syntax error at a line of the input.
type xmlError struct {
	line int
	msg  string
}

func (e *xmlError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// parseXML parses a document made of nested elements with text content. It
// accepts an XML declaration, comments, processing instructions, CDATA and
// attributes (which it ignores), and the five predefined entities plus
// numeric character references. Anything else is a syntax error.
func parseXML(data []byte) (*node, error) {
	p := xparser{s: data, line: 1, names: map[string]string{}}
	var root *node
	type open struct {
		n            *node
		contentStart int  // offset just after the start tag
		complex      bool // holds a comment, CDATA or processing instruction
	}
	var stack []open
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c != '<' {
			start := p.i
			for p.i < len(p.s) && p.s[p.i] != '<' {
				if p.s[p.i] == '\n' {
					p.line++
				}
				p.i++
			}
			if len(stack) == 0 && len(bytes.TrimSpace(p.s[start:p.i])) != 0 {
				return nil, &xmlError{p.line, "text outside the root element"}
			}
			continue
		}
		switch {
		case p.hasPrefix("<!--"):
			end := p.index("-->", p.i+4)
			if end < 0 {
				return nil, &xmlError{p.line, "unterminated comment"}
			}
			p.advance(end + 3)
			if len(stack) > 0 {
				stack[len(stack)-1].complex = true
			}
		case p.hasPrefix("<![CDATA["):
			end := p.index("]]>", p.i+9)
			if end < 0 {
				return nil, &xmlError{p.line, "unterminated CDATA section"}
			}
			if len(stack) == 0 {
				return nil, &xmlError{p.line, "CDATA outside the root element"}
			}
			p.advance(end + 3)
			stack[len(stack)-1].complex = true
		case p.hasPrefix("<?"):
			end := p.index("?>", p.i+2)
			if end < 0 {
				return nil, &xmlError{p.line, "unterminated processing instruction"}
			}
			p.advance(end + 2)
			if len(stack) > 0 {
				stack[len(stack)-1].complex = true
			}
		case p.hasPrefix("<!"):
			end := p.index(">", p.i+2)
			if end < 0 {
				return nil, &xmlError{p.line, "unterminated declaration"}
			}
			p.advance(end + 1)
		case p.hasPrefix("</"):
			tagStart := p.i
			p.i += 2
			name := p.name()
			if name == "" {
				return nil, &xmlError{p.line, "missing element name in end tag"}
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != '>' {
				return nil, &xmlError{p.line, fmt.Sprintf("malformed end tag </%s", name)}
			}
			p.i++
			if len(stack) == 0 {
				return nil, &xmlError{p.line, fmt.Sprintf("end tag </%s> without start tag", name)}
			}
			top := stack[len(stack)-1]
			if top.n.name != name {
				return nil, &xmlError{p.line, fmt.Sprintf("end tag </%s> does not match <%s> (line %d)", name, top.n.name, top.n.line)}
			}
			if len(top.n.children) == 0 {
				txt, err := leafText(p.s[top.contentStart:tagStart], top.complex, p.line)
				if err != nil {
					return nil, err
				}
				top.n.text = txt
			}
			stack = stack[:len(stack)-1]
		default:
			p.i++
			line := p.line
			name := p.name()
			if name == "" {
				return nil, &xmlError{p.line, "missing element name"}
			}
			selfClose := false
			for {
				p.space()
				if p.i >= len(p.s) {
					return nil, &xmlError{p.line, fmt.Sprintf("unterminated start tag <%s", name)}
				}
				if p.s[p.i] == '>' {
					p.i++
					break
				}
				if p.s[p.i] == '/' {
					if p.i+1 < len(p.s) && p.s[p.i+1] == '>' {
						p.i += 2
						selfClose = true
						break
					}
					return nil, &xmlError{p.line, fmt.Sprintf("malformed start tag <%s", name)}
				}
				if err := p.attr(); err != nil {
					return nil, err
				}
			}
			n := &node{name: name, line: line}
			if len(stack) == 0 {
				if root != nil {
					return nil, &xmlError{line, "more than one root element"}
				}
				root = n
			} else {
				parent := stack[len(stack)-1].n
				parent.children = append(parent.children, n)
			}
			if !selfClose {
				stack = append(stack, open{n: n, contentStart: p.i})
			}
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1].n
		return nil, &xmlError{p.line, fmt.Sprintf("element <%s> (line %d) is not closed", top.name, top.line)}
	}
	if root == nil {
		return nil, &xmlError{p.line, "no root element"}
	}
	return root, nil
}

// leafText returns the trimmed text content of a leaf element from its raw
// content, resolving entities, CDATA sections and dropping comments and
// processing instructions.
func leafText(raw []byte, complex bool, line int) (string, error) {
	if !complex {
		raw = bytes.TrimSpace(raw)
		if bytes.IndexByte(raw, '&') < 0 {
			return string(raw), nil
		}
		var b strings.Builder
		if err := appendText(&b, raw, line); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	var b strings.Builder
	for len(raw) > 0 {
		k := bytes.IndexByte(raw, '<')
		if k < 0 {
			k = len(raw)
		}
		if err := appendText(&b, raw[:k], line); err != nil {
			return "", err
		}
		raw = raw[k:]
		if len(raw) == 0 {
			break
		}
		switch {
		case bytes.HasPrefix(raw, []byte("<![CDATA[")):
			end := bytes.Index(raw, []byte("]]>"))
			b.Write(raw[9:end])
			raw = raw[end+3:]
		case bytes.HasPrefix(raw, []byte("<!--")):
			raw = raw[bytes.Index(raw, []byte("-->"))+3:]
		default: // processing instruction
			raw = raw[bytes.Index(raw, []byte("?>"))+2:]
		}
	}
	return strings.TrimSpace(b.String()), nil
}

type xparser struct {
	s     []byte
	i     int
	line  int
	names map[string]string // interned element names
}

func (p *xparser) hasPrefix(pre string) bool {
	return len(p.s)-p.i >= len(pre) && string(p.s[p.i:p.i+len(pre)]) == pre
}

func (p *xparser) index(sub string, from int) int {
	if from > len(p.s) {
		return -1
	}
	k := bytes.Index(p.s[from:], []byte(sub))
	if k < 0 {
		return -1
	}
	return from + k
}

// advance moves to position j, counting newlines.
func (p *xparser) advance(j int) {
	for ; p.i < j && p.i < len(p.s); p.i++ {
		if p.s[p.i] == '\n' {
			p.line++
		}
	}
}

func (p *xparser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\n':
			p.line++
			fallthrough
		case ' ', '\t', '\r':
			p.i++
		default:
			return
		}
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c == ':' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func (p *xparser) name() string {
	start := p.i
	for p.i < len(p.s) && isNameByte(p.s[p.i]) {
		p.i++
	}
	b := p.s[start:p.i]
	if n, ok := p.names[string(b)]; ok {
		return n
	}
	n := string(b)
	p.names[n] = n
	return n
}

// attr skips one name="value" attribute.
func (p *xparser) attr() error {
	if p.name() == "" {
		return &xmlError{p.line, "malformed attribute"}
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return &xmlError{p.line, "attribute without value"}
	}
	p.i++
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '"' && p.s[p.i] != '\'') {
		return &xmlError{p.line, "unquoted attribute value"}
	}
	q := p.s[p.i]
	p.i++
	for p.i < len(p.s) && p.s[p.i] != q {
		if p.s[p.i] == '\n' {
			p.line++
		}
		p.i++
	}
	if p.i >= len(p.s) {
		return &xmlError{p.line, "unterminated attribute value"}
	}
	p.i++
	return nil
}

func appendText(b *strings.Builder, raw []byte, line int) error {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '&' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(raw) && raw[j] != ';' && j-i < 12 {
			j++
		}
		if j >= len(raw) || raw[j] != ';' {
			return &xmlError{line, "unterminated entity reference"}
		}
		ent := string(raw[i+1 : j])
		switch ent {
		case "amp":
			b.WriteByte('&')
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "quot":
			b.WriteByte('"')
		case "apos":
			b.WriteByte('\'')
		default:
			var r int
			var err error
			switch {
			case strings.HasPrefix(ent, "#x"):
				var v uint64
				_, err = fmt.Sscanf(ent[2:], "%x", &v)
				r = int(v)
			case strings.HasPrefix(ent, "#"):
				_, err = fmt.Sscanf(ent[1:], "%d", &r)
			default:
				err = fmt.Errorf("unknown entity")
			}
			if err != nil || r <= 0 || r > 0x10FFFF {
				return &xmlError{line, fmt.Sprintf("unknown entity &%s;", ent)}
			}
			b.WriteRune(rune(r))
		}
		i = j
	}
	return nil
}
