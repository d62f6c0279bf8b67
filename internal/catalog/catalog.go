// Package catalog is Haven's vaccine product catalogue: each COVID-19 product
// used in China and Korea or listed by WHO, with its codes in every system
// Haven speaks (CVX, MVX, EU DCC mp/ma/vp, SNOMED CT, ICD-11) and display
// names in English, Chinese and Korean. The catalogue is embedded data
// (products.json), not code.
package catalog

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

//go:embed products.json
var productsJSON []byte

// Product is one vaccine product. ID is Haven's own stable identifier; no
// external code system covers every product (ZF2001 and KCONVAC have no EU DCC
// product code, WIBP-CorV has no CVX), so none is used as the key.
type Product struct {
	ID           string            `json:"id"`
	Names        map[string]string `json:"names"` // by language: en, zh, ko
	Platform     string            `json:"platform"`
	Manufacturer string            `json:"manufacturer"`
	// CVX lists the codes that identify this product. The first is the one
	// Haven writes. RecordCVX, when CVX is empty, is the generic code used to
	// report the product to CVX-only systems (it does not identify it).
	CVX             []string `json:"cvx"`
	RecordCVX       string   `json:"record_cvx,omitempty"`
	CVXNote         string   `json:"cvx_note,omitempty"`
	MVX             string   `json:"mvx"`
	DCCProduct      string   `json:"dcc_mp"`                      // EU DCC mp
	DCCHolder       string   `json:"dcc_ma"`                      // EU DCC ma
	DCCProphylaxis  string   `json:"dcc_vp"`                      // EU DCC vp (SNOMED class)
	DCCDeprecatedMP []string `json:"dcc_mp_deprecated,omitempty"` // accepted when verifying, never issued
	SNOMED          string   `json:"snomed"`
	ICD11           string   `json:"icd11"`
	// PrimaryDoses is the number of doses in the product's primary series
	// (the EU DCC "sd" of a primary dose).
	PrimaryDoses int `json:"primary_doses"`
}

// Name returns the product's display name in lang (en, zh, ko; a region
// suffix such as zh-Hans is ignored), falling back to English.
func (p *Product) Name(lang string) string {
	lang, _, _ = strings.Cut(strings.ToLower(lang), "-")
	if n := p.Names[lang]; n != "" {
		return n
	}
	return p.Names["en"]
}

// CVXCode returns the CVX code to report for the product: its own code if it
// has one, otherwise the generic RecordCVX.
func (p *Product) CVXCode() string {
	if len(p.CVX) > 0 {
		return p.CVX[0]
	}
	return p.RecordCVX
}

// Catalog looks products up by any of their identifiers.
type Catalog struct {
	products []Product
	byKey    map[string]*Product
}

// Default returns the embedded catalogue. It panics only if the embedded data
// is malformed, which a test rules out.
func Default() *Catalog {
	c, err := Parse(productsJSON)
	if err != nil {
		panic("catalog: embedded products.json: " + err.Error())
	}
	return c
}

// Parse reads a catalogue in the products.json layout. It returns an error
// naming the product if an ID is missing or any identifier is claimed twice.
func Parse(data []byte) (*Catalog, error) {
	var doc struct {
		Products []Product `json:"products"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c := &Catalog{products: doc.Products, byKey: make(map[string]*Product)}
	for i := range c.products {
		p := &c.products[i]
		if p.ID == "" || p.Names["en"] == "" || p.PrimaryDoses < 1 {
			return nil, fmt.Errorf("catalog: product %d: id, English name and primary_doses are required", i)
		}
		keys := []string{"id:" + p.ID}
		for _, cvx := range p.CVX {
			keys = append(keys, "cvx:"+cvx)
		}
		if p.DCCProduct != "" {
			keys = append(keys, "mp:"+p.DCCProduct)
		}
		for _, mp := range p.DCCDeprecatedMP {
			keys = append(keys, "mp:"+mp)
		}
		for _, k := range keys {
			if q, dup := c.byKey[k]; dup {
				return nil, fmt.Errorf("catalog: product %q: %s is already used by %q", p.ID, k, q.ID)
			}
			c.byKey[k] = p
		}
	}
	return c, nil
}

// Products returns every product in catalogue order.
func (c *Catalog) Products() []Product { return slices.Clone(c.products) }

// ByID returns the product with Haven's ID id.
func (c *Catalog) ByID(id string) (*Product, bool) { p, ok := c.byKey["id:"+id]; return p, ok }

// ByCVX returns the product identified by a CVX code.
func (c *Catalog) ByCVX(cvx string) (*Product, bool) { p, ok := c.byKey["cvx:"+cvx]; return p, ok }

// ByDCCProduct returns the product with EU DCC product code mp, including
// deprecated codes that verifiers must still accept.
func (c *Catalog) ByDCCProduct(mp string) (*Product, bool) { p, ok := c.byKey["mp:"+mp]; return p, ok }

// Lookup finds a product by Haven ID, CVX code, EU DCC product code, or a
// display name in any language (case-insensitive), in that order.
func (c *Catalog) Lookup(s string) (*Product, bool) {
	s = strings.TrimSpace(s)
	for _, k := range []string{"id:", "cvx:", "mp:"} {
		if p, ok := c.byKey[k+s]; ok {
			return p, true
		}
	}
	if p, ok := c.byKey["id:"+strings.ToLower(s)]; ok {
		return p, true
	}
	for i := range c.products {
		for _, n := range c.products[i].Names {
			if strings.EqualFold(n, s) {
				return &c.products[i], true
			}
		}
	}
	return nil, false
}
