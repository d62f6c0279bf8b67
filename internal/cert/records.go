package cert

import (
	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/registry"
)

// EU DCC codes for test types and results (value sets test-type and
// test-result).
const (
	TestTypeNAAT       = "LP6464-4"
	TestTypeRAT        = "LP217198-3"
	TestResultNegative = "260415000"
	TestResultPositive = "260373001"
)

// Field names used in the errors of the record mappers.
const (
	recordFieldProduct = "product"
	recordFieldResult  = "result"
	recordFieldKind    = "kind"
	recordFieldStatus  = "status"
	recordFieldDevice  = "device"
)

// PersonFromRegistry maps a registered person to a certificate holder: the
// card code, the names as recorded, and the birth date as recorded, which may
// be partial. An estimated birth date is reduced to its year, so that the
// certificate never states a made-up day as fact.
func PersonFromRegistry(p registry.Person) Person {
	d := p.Demographics
	bd := d.BirthDate
	if d.BirthDateEstimated {
		bd = registry.PartialDate{Year: bd.Year}
	}
	return Person{
		CardCode:       string(p.CardCode),
		FamilyName:     d.FamilyName,
		GivenName:      d.GivenName,
		FamilyNameICAO: d.FamilyNameICAO,
		GivenNameICAO:  d.GivenNameICAO,
		BirthDate:      bd.String(),
	}
}

// VaccinationFromRecord builds the event for vaccination record v of
// catalogue product p, as dose number dose of a series of series doses,
// given in country (ISO 3166-1 alpha-2). A product without an EU DCC code
// (for example ZF2001 or KCONVAC) cannot be stated in an EU DCC: EUNSUPPORTED
// naming "product". A record entered in error is refused.
func VaccinationFromRecord(v registry.Vaccination, p *catalog.Product, dose, series int, country string) (*VaccinationEvent, error) {
	if v.Status == registry.StatusEnteredInError {
		return nil, registry.FieldErrorf(registry.EINVALID, recordFieldStatus, "the vaccination record was entered in error")
	}
	if p == nil || p.DCCProduct == "" {
		return nil, registry.FieldErrorf(registry.EUNSUPPORTED, recordFieldProduct, "the product has no EU DCC code and cannot be certified as an EU DCC")
	}
	return &VaccinationEvent{
		Product:     p.DCCProduct,
		Holder:      p.DCCHolder,
		Prophylaxis: p.DCCProphylaxis,
		Dose:        dose,
		Series:      series,
		Date:        v.Date.String(),
		Country:     country,
	}, nil
}

// TestFromRecord builds the event for test record t: PCR as NAAT, antigen
// as RAT (which needs device, the JRC device id), negative or positive. An
// invalid result, or a record entered in error, cannot be certified
// (EINVALID naming the field). The sample time is the record's sample date at
// 00:00 UTC, as Haven records days, not times.
func TestFromRecord(t registry.Test, device, centre, country string) (*TestEvent, error) {
	if t.Status == registry.StatusEnteredInError {
		return nil, registry.FieldErrorf(registry.EINVALID, recordFieldStatus, "the test record was entered in error")
	}
	ev := &TestEvent{SampledAt: t.Date.Time(), Centre: centre, Country: country}
	switch t.Kind {
	case registry.TestPCR:
		ev.Type = TestTypeNAAT
	case registry.TestAntigen:
		ev.Type = TestTypeRAT
		if device == "" {
			return nil, registry.FieldErrorf(registry.EINVALID, recordFieldDevice, "a rapid antigen test certificate needs the device id")
		}
		ev.Device = device
	default:
		return nil, registry.FieldErrorf(registry.EUNSUPPORTED, recordFieldKind, "test kind %q cannot be certified", t.Kind)
	}
	switch t.Result {
	case registry.ResultNegative:
		ev.Result = TestResultNegative
	case registry.ResultPositive:
		ev.Result = TestResultPositive
	default:
		return nil, registry.FieldErrorf(registry.EINVALID, recordFieldResult, "result %q cannot be certified", t.Result)
	}
	return ev, nil
}
