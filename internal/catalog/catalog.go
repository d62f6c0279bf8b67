// Package catalog is Haven's vaccine product catalogue, with the codes of
// every system Haven speaks (CVX, MVX, EU DCC mp/ma/vp, SNOMED CT, ICD-11)
// and display names in English, Chinese and Korean. The catalogue is
// embedded data, not code: products.json and the CDC's MVX table, mvx.txt
// (their sources are in NOTICE).
//
// The catalogue holds two kinds of product:
//
//   - Curated products: COVID-19 vaccines used in China and Korea or listed
//     by WHO, each a brand with its own Haven ID ("coronavac", "comirnaty",
//     ...). One may carry several CVX codes (its formulations), or none.
//   - One product per remaining CVX code of the CDSi supporting data's
//     CVX-to-antigen map, with ID "cvx-" and the code as the CDC writes it
//     ("cvx-03" is MMR). Its English name is the CDSi short description.
//
// Together they cover every CVX code of the CDSi map (release 4.64), so any
// dose an IIS sends in those codes can be recorded and forecast; a test
// keeps products.json in step with the map. A CVX code not in the catalogue
// is refused, never guessed.
//
// CVX 998 ("no vaccine administered") and 999 ("unknown") are not vaccines
// and are not in the catalogue (nor in the CDSi map): Lookup does not find
// them, and LookupCodes refuses them with a message that says what they
// mean. A dose whose vaccine is unknown is recorded with an "unspecified
// formulation" code of its vaccine group instead (CVX 213 or 500 for
// COVID-19).
//
// CVX codes compare as numbers written in decimal: "3", "03" and "003" are
// the same code, and CVXCode returns it as the CDC writes it ("03").
package catalog

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/haven-registry/haven/internal/registry"
)

//go:embed products.json
var productsJSON []byte

// The CDC status of a CVX code (Product.Status).
const (
	StatusActive      = "active"       // in use in the US
	StatusInactive    = "inactive"     // no longer made; kept to record past doses
	StatusNonUS       = "non-us"       // used outside the US only
	StatusNeverActive = "never-active" // listed but never licensed
)

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
	CVX       []string `json:"cvx"`
	RecordCVX string   `json:"record_cvx,omitempty"`
	CVXNote   string   `json:"cvx_note,omitempty"`
	// Status is the CDC status of the product's CVX code (one of the Status
	// constants) for the one-code cvx-… products; it is empty for curated
	// products, whose codes differ in status, and where it is not known.
	Status string `json:"status,omitempty"`
	// Antigens are the CDSi antigens the product protects against (the
	// CDSi map's associations of its CVX codes), such as "COVID-19" or
	// "Measles", "Mumps", "Rubella".
	Antigens        []string `json:"antigens"`
	MVX             string   `json:"mvx"`
	DCCProduct      string   `json:"dcc_mp"`                      // EU DCC mp
	DCCHolder       string   `json:"dcc_ma"`                      // EU DCC ma
	DCCProphylaxis  string   `json:"dcc_vp"`                      // EU DCC vp (SNOMED class)
	DCCDeprecatedMP []string `json:"dcc_mp_deprecated,omitempty"` // accepted when verifying, never issued
	SNOMED          string   `json:"snomed"`
	ICD11           string   `json:"icd11"`
	// PrimaryDoses is the number of doses in the product's primary series
	// (the EU DCC "sd" of a primary dose). Every product with an EU DCC
	// product code has one; it is 0 where the catalogue does not state it
	// (the schedule, not the product, then says how many doses a series has).
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

// HasCVX reports whether the CVX code cvx identifies the product (it is one
// of p.CVX; RecordCVX does not count).
func (p *Product) HasCVX(cvx string) bool {
	cvx = normCVX(cvx)
	return slices.ContainsFunc(p.CVX, func(c string) bool { return normCVX(c) == cvx })
}

// Protects reports whether the product protects against the CDSi antigen
// (for example "COVID-19" or "Measles").
func (p *Product) Protects(antigen string) bool { return slices.Contains(p.Antigens, antigen) }

// Catalog looks products up by any of their identifiers, and manufacturers
// by MVX code.
type Catalog struct {
	products   []Product
	byKey      map[string]*Product
	reportedAs map[string][]*Product // by normalised RecordCVX
	mvx        map[string]Manufacturer
	mvxOrder   []string
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

// Parse reads a catalogue in the products.json layout, with the embedded CDC
// MVX table as its manufacturers. It returns an error naming the product if
// an ID or English name is missing, a product with an EU DCC product code
// has no primary_doses, a CVX code is not a number, an MVX code is not in
// the MVX table, a status is not one of the Status constants, or any
// identifier or display name is claimed by two products.
func Parse(data []byte) (*Catalog, error) {
	var doc struct {
		Products []Product `json:"products"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	c := &Catalog{products: doc.Products, byKey: make(map[string]*Product), reportedAs: make(map[string][]*Product)}
	var err error
	if c.mvx, c.mvxOrder, err = parseMVX(mvxTXT); err != nil {
		return nil, err
	}
	for i := range c.products {
		p := &c.products[i]
		if p.ID == "" || p.Names["en"] == "" {
			return nil, fmt.Errorf("catalog: product %d: id and English name are required", i)
		}
		if err := c.check(p); err != nil {
			return nil, fmt.Errorf("catalog: product %q: %w", p.ID, err)
		}
		keys := []string{"id:" + p.ID}
		for _, cvx := range p.CVX {
			keys = append(keys, "cvx:"+normCVX(cvx))
		}
		if p.DCCProduct != "" {
			keys = append(keys, "mp:"+p.DCCProduct)
		}
		for _, mp := range p.DCCDeprecatedMP {
			keys = append(keys, "mp:"+mp)
		}
		seen := map[string]bool{}
		for _, n := range p.Names {
			if k := "name:" + strings.ToLower(strings.TrimSpace(n)); n != "" && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			if q, dup := c.byKey[k]; dup {
				return nil, fmt.Errorf("catalog: product %q: %s is already used by %q", p.ID, k, q.ID)
			}
			c.byKey[k] = p
		}
		if p.RecordCVX != "" {
			k := normCVX(p.RecordCVX)
			c.reportedAs[k] = append(c.reportedAs[k], p)
		}
	}
	return c, nil
}

// check validates the fields of p that Parse does not index.
func (c *Catalog) check(p *Product) error {
	if p.PrimaryDoses < 0 || p.DCCProduct != "" && p.PrimaryDoses < 1 {
		return fmt.Errorf("primary_doses %d: a product with an EU DCC code needs its primary series size", p.PrimaryDoses)
	}
	for _, cvx := range append(slices.Clone(p.CVX), p.RecordCVX) {
		if cvx != "" && !isDigits(cvx) {
			return fmt.Errorf("CVX code %q is not a number", cvx)
		}
	}
	if _, ok := c.mvx[p.MVX]; p.MVX != "" && !ok {
		return fmt.Errorf("MVX code %q is not in the CDC MVX table", p.MVX)
	}
	switch p.Status {
	case "", StatusActive, StatusInactive, StatusNonUS, StatusNeverActive:
	default:
		return fmt.Errorf("unknown status %q", p.Status)
	}
	return nil
}

// Products returns every product in catalogue order.
func (c *Catalog) Products() []Product { return slices.Clone(c.products) }

// ProductsFor returns the products that protect against the CDSi antigen
// (for example "COVID-19"), in catalogue order.
func (c *Catalog) ProductsFor(antigen string) []Product {
	var out []Product
	for _, p := range c.products {
		if p.Protects(antigen) {
			out = append(out, p)
		}
	}
	return out
}

// ByID returns the product with Haven's ID id.
func (c *Catalog) ByID(id string) (*Product, bool) { p, ok := c.byKey["id:"+id]; return p, ok }

// ByCVX returns the product identified by a CVX code ("3" and "03" alike).
func (c *Catalog) ByCVX(cvx string) (*Product, bool) {
	p, ok := c.byKey["cvx:"+normCVX(cvx)]
	return p, ok
}

// ByDCCProduct returns the product with EU DCC product code mp, including
// deprecated codes that verifiers must still accept.
func (c *Catalog) ByDCCProduct(mp string) (*Product, bool) { p, ok := c.byKey["mp:"+mp]; return p, ok }

// Lookup finds a product by Haven ID, CVX code, EU DCC product code, or a
// display name in any language (case-insensitive), in that order.
func (c *Catalog) Lookup(s string) (*Product, bool) {
	s = strings.TrimSpace(s)
	for _, k := range []string{"id:" + s, "cvx:" + normCVX(s), "mp:" + s, "id:" + strings.ToLower(s), "name:" + strings.ToLower(s)} {
		if p, ok := c.byKey[k]; ok {
			return p, true
		}
	}
	return nil, false
}

// notVaccines are the CVX codes that record no vaccine.
var notVaccines = map[string]string{
	"998": "no vaccine administered",
	"999": "an unknown vaccine or immune globulin",
}

// LookupCodes finds the product of a dose reported as a CVX code and,
// optionally, an MVX manufacturer code, as an IIS or an HL7 v2 RXA segment
// gives them.
//
// The CVX code decides: the product it identifies is returned, unless the
// MVX code picks out another product that is reported under the same CVX
// code (a product whose RecordCVX it is, such as Covishield under CVX 210).
// An empty MVX code is allowed. A known MVX code that matches no product
// does not refuse the dose: the MVX is informative, and the CVX code's
// product is returned.
//
// Returns EINVALID naming field "cvx" if the CVX code is empty, not in the
// catalogue, or 998 or 999 (which record no vaccine); EINVALID naming field
// "mvx" if a non-empty MVX code is not in the CDC MVX table. Neither code is
// ever guessed.
func (c *Catalog) LookupCodes(cvx, mvx string) (*Product, error) {
	cvx, mvx = strings.TrimSpace(cvx), strings.ToUpper(strings.TrimSpace(mvx))
	if cvx == "" {
		return nil, registry.FieldErrorf(registry.EINVALID, "cvx", "The CVX code is required.")
	}
	code := normCVX(cvx)
	if what, ok := notVaccines[code]; ok {
		return nil, registry.FieldErrorf(registry.EINVALID, "cvx", "CVX code %q means %s; it is not a vaccine dose.", cvx, what)
	}
	var cands []*Product
	if p, ok := c.byKey["cvx:"+code]; ok {
		cands = append(cands, p)
	}
	cands = append(cands, c.reportedAs[code]...)
	if len(cands) == 0 {
		return nil, registry.FieldErrorf(registry.EINVALID, "cvx", "Unknown CVX code %q.", cvx)
	}
	if mvx == "" {
		return cands[0], nil
	}
	if _, ok := c.mvx[mvx]; !ok {
		return nil, registry.FieldErrorf(registry.EINVALID, "mvx", "Unknown MVX code %q.", mvx)
	}
	for _, p := range cands {
		if p.MVX == mvx {
			return p, nil
		}
	}
	return cands[0], nil
}

// normCVX normalises a CVX code for comparison: it trims space and, from a
// code of digits only, leading zeros ("03" and "3" are the same code).
func normCVX(s string) string {
	s = strings.TrimSpace(s)
	if !isDigits(s) {
		return s
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
