package catalog

import (
	_ "embed"
	"fmt"
	"strings"
)

//go:embed mvx.txt
var mvxTXT string

// Manufacturer is one entry of the CDC's table of vaccine manufacturer codes
// (MVX, HL7 v2 table 0227).
type Manufacturer struct {
	Code string // the MVX code, such as "PFR"
	// Name is the CDC's name for the manufacturer, in English. It is a
	// proper name and Haven does not translate it; OTH ("Other
	// manufacturer") and UNK ("Unknown manufacturer") are codes whose
	// meaning a page should state in its own words.
	Name string
	Note string // the CDC's note, often empty
	// Status is StatusActive or StatusInactive; an inactive code is kept to
	// record past doses.
	Status  string
	Updated string // when the CDC last changed the entry, YYYY-MM-DD
}

// Manufacturer returns the manufacturer with MVX code mvx (case-insensitive).
func (c *Catalog) Manufacturer(mvx string) (Manufacturer, bool) {
	m, ok := c.mvx[strings.ToUpper(strings.TrimSpace(mvx))]
	return m, ok
}

// Manufacturers returns every manufacturer of the MVX table, in the CDC's
// order.
func (c *Catalog) Manufacturers() []Manufacturer {
	out := make([]Manufacturer, len(c.mvxOrder))
	for i, code := range c.mvxOrder {
		out[i] = c.mvx[code]
	}
	return out
}

// parseMVX reads the CDC's mvx.txt layout, code|name|notes|status|updated
// (updated as YYYY/MM/DD), skipping blank lines and lines starting with #.
func parseMVX(data string) (map[string]Manufacturer, []string, error) {
	byCode := map[string]Manufacturer{}
	var order []string
	for n, line := range strings.Split(data, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 5 {
			return nil, nil, fmt.Errorf("catalog: mvx.txt line %d: want 5 fields, have %d", n+1, len(f))
		}
		m := Manufacturer{
			Code:    strings.TrimSpace(f[0]),
			Name:    strings.TrimSpace(f[1]),
			Note:    strings.Join(strings.Fields(f[2]), " "),
			Updated: strings.ReplaceAll(strings.TrimSpace(f[4]), "/", "-"),
		}
		switch strings.TrimSpace(f[3]) {
		case "Active":
			m.Status = StatusActive
		case "Inactive":
			m.Status = StatusInactive
		default:
			return nil, nil, fmt.Errorf("catalog: mvx.txt line %d: status %q", n+1, f[3])
		}
		if m.Code == "" || m.Name == "" {
			return nil, nil, fmt.Errorf("catalog: mvx.txt line %d: code and name are required", n+1)
		}
		if _, dup := byCode[m.Code]; dup {
			return nil, nil, fmt.Errorf("catalog: mvx.txt line %d: MVX %s twice", n+1, m.Code)
		}
		byCode[m.Code] = m
		order = append(order, m.Code)
	}
	return byCode, order, nil
}
