package registry

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// ID is a random 128-bit internal identifier. A person's ID is never shown
// outside Haven; records point at it instead of at the card code so that a
// card code can be unlinked by erasure.
type ID [16]byte

// NewID returns a random ID from crypto/rand.
func NewID() ID {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		panic("registry: crypto/rand failed: " + err.Error())
	}
	return id
}

// String returns the ID as 32 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID reads the 32-hex-digit form written by String.
func ParseID(s string) (ID, error) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, Errorf(EINVALID, "Malformed record ID.")
	}
	copy(id[:], b)
	return id, nil
}

// Person is a pseudonymous registrant. Only CardCode is ever shown; ID links
// the person's records internally.
type Person struct {
	ID        ID
	CardCode  CardCode
	CreatedAt time.Time
	// Demographics are optional and identifying. Stores keep them encrypted
	// under the person's own data key (see Vault) and never index them.
	Demographics Demographics
	// HolderSecret lets the person read their own record without staff. It is
	// kept encrypted with the demographics and compared in constant time.
	HolderSecret string
	// DemographicsDestroyed reports that the demographics and holder secret
	// can never be read again (the key that wrapped the person's data key
	// was destroyed, by a shred or a retired epoch, or a database restored
	// from a backup holds no data key). The card code, doses and tests are
	// unaffected.
	DemographicsDestroyed bool
}

// Demographics are the optional identifying fields of a person. Every one may
// be empty: Haven registers people who have no documents at all.
type Demographics struct {
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	// GivenNameICAO and FamilyNameICAO are the machine-readable forms of the
	// names (ICAO 9303: A-Z and "<"), as certificates carry them. Haven
	// suggests them from the names as written; the clinic may correct them.
	GivenNameICAO      string      `json:"given_name_icao,omitempty"`
	FamilyNameICAO     string      `json:"family_name_icao,omitempty"`
	BirthDate          PartialDate `json:"-"`
	BirthDateEstimated bool        `json:"birth_date_estimated,omitempty"`
	Sex                Sex         `json:"sex,omitempty"`
	Phone              string      `json:"phone,omitempty"`
}

// Sex is recorded as the person states it; it is used only by schedules that
// have sex-specific rules.
type Sex string

// The recorded sexes.
const (
	SexFemale  Sex = "female"
	SexMale    Sex = "male"
	SexOther   Sex = "other"
	SexUnknown Sex = "unknown"
)

// Valid reports whether s is one of the recorded sexes (or empty).
func (s Sex) Valid() bool {
	switch s {
	case "", SexFemale, SexMale, SexOther, SexUnknown:
		return true
	}
	return false
}

// Source says how Haven learned of a vaccination.
type Source string

// The vaccination sources.
const (
	SourceAdministered   Source = "administered"    // given at a Haven site
	SourceHistoricalCard Source = "historical-card" // copied from a paper card
	SourceSelfReport     Source = "self-report"     // reported by the person
	// SourceHistoricalRecord is a dose copied from another provider's or
	// registry's record (HL7 RXA-9 01-03 and 05-08, or an import).
	SourceHistoricalRecord Source = "historical-record"
)

// Valid reports whether s is a known source.
func (s Source) Valid() bool {
	switch s {
	case SourceAdministered, SourceHistoricalCard, SourceSelfReport, SourceHistoricalRecord:
		return true
	}
	return false
}

// Payment records whether a dose was free or paid for, and how much. Amount is
// a decimal string ("50.00") so that no rounding is ever introduced.
type Payment struct {
	Kind     string `json:"kind"` // "free" or "paid"
	Amount   string `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"` // ISO 4217
}

// Record statuses. A record is never edited: a correction marks the old one
// entered in error and links the new one.
const (
	StatusCompleted      = "completed"
	StatusEnteredInError = "entered-in-error"
	// StatusNotDone marks a vaccination that was not given: a refusal, or a
	// dose not administered for another reason (HL7 RXA-20 RE or NA). It is
	// never a dose: forecasts, certificates and statistics skip it.
	StatusNotDone = "not-done"
)

// Why a vaccination was not given (Vaccination.StatusReason), as the codes of
// HL7's v3-ActReason that FHIR R4 binds to Immunization.statusReason.
const (
	ReasonPatientObjection  = "PATOBJ"  // the person (or a parent) refused
	ReasonImmune            = "IMMUNE"  // immune from the disease
	ReasonMedicalPrecaution = "MEDPREC" // a contraindication or precaution
	ReasonOutOfStock        = "OSTOCK"  // no vaccine available
)

// Vaccination is one dose in a person's history.
type Vaccination struct {
	ID         ID
	PersonID   ID
	Product    string // catalogue product ID
	Date       Date
	Site       string // site code; may be empty for historical or self-reported doses
	Lot        string
	Source     Source
	Payment    Payment
	RecordedAt time.Time
	// Status is StatusCompleted, StatusNotDone or StatusEnteredInError.
	Status string
	// StatusReason says why a not-done vaccination was not given (one of
	// the Reason constants), or is empty when that is not known.
	StatusReason string
	// Replaces names the record this one corrects; ReplacedBy the record that
	// corrected this one. Both are zero when there was no correction.
	Replaces, ReplacedBy ID
	// SourceRef identifies the record in the system it came from (an HL7
	// sender's order ID, an import's source-record key) as a keyed hash, so
	// that a message resent or an import run twice adds nothing twice, and
	// a later deletion finds it. Empty for records made in Haven. A store
	// keeps it unique.
	SourceRef string
}

// TestKind is the kind of a diagnostic test.
type TestKind string

// The test kinds.
const (
	TestPCR     TestKind = "pcr"
	TestAntigen TestKind = "antigen"
)

// TestResult is the outcome of a test.
type TestResult string

// The test results.
const (
	ResultPositive TestResult = "positive"
	ResultNegative TestResult = "negative"
	ResultInvalid  TestResult = "invalid"
)

// Test is one diagnostic test in a person's history.
type Test struct {
	ID         ID
	PersonID   ID
	Kind       TestKind
	Result     TestResult
	Date       Date // sample date
	Site       string
	RecordedAt time.Time
	Status     string
	Replaces   ID
	ReplacedBy ID
	// SourceRef is as for Vaccination.
	SourceRef string
}

// Services a site can offer.
const (
	ServiceVaccination = "vaccination"
	ServiceTesting     = "testing"
)

// Site is a place where vaccinations or tests are given.
type Site struct {
	Code         string   // short unique code, e.g. "YB-CLINIC-3"
	Name         string   // display name
	Jurisdiction string   // ISO 3166-1/2 or a sub-area code such as CN-JL-YB
	Services     []string // ServiceVaccination, ServiceTesting
	CreatedAt    time.Time
}

// Record is everything Haven holds about one person, as returned by a lookup.
type Record struct {
	Person       Person
	Vaccinations []Vaccination // in dose-date order, then recording order
	Tests        []Test        // in sample-date order, then recording order
}

// Role is what a token may do. Every route denies by default and lists the
// roles it admits.
type Role string

// The roles.
const (
	RoleAdmin      Role = "admin"      // manages tokens, sites and erasure
	RoleVaccinator Role = "vaccinator" // registers, looks up by card code, records doses and tests at its sites
	RoleAnalyst    Role = "analyst"    // aggregates only
	RoleAuditor    Role = "auditor"    // the audit log only
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleVaccinator, RoleAnalyst, RoleAuditor, RoleNode:
		return true
	}
	return false
}

// Token is an API credential. Only the SHA-256 hash of its secret is stored.
type Token struct {
	ID        string // public identifier, used as the actor in logs and audit entries
	Hash      []byte // SHA-256 of the secret
	Role      Role
	Sites     []string // for vaccinators: the sites they may record at
	CreatedAt time.Time
	// Label names the staff member or device the token was made for, so
	// that an administrator revokes the right one. It is never a person
	// served by Haven.
	Label string
}

// MaySite reports whether the token may act at the given site. Tokens other
// than vaccinators and nodes are not scoped to sites.
func (t *Token) MaySite(site string) bool {
	if t.Role != RoleVaccinator && t.Role != RoleNode {
		return true
	}
	for _, s := range t.Sites {
		if s == site {
			return true
		}
	}
	return false
}

// Idempotency ties a client's Idempotency-Key to the resource its first
// request created, so that a retry returns the original result instead of
// writing again. Scope separates keys of different tokens.
type Idempotency struct {
	Scope       string // token ID
	Key         string // the client's Idempotency-Key header
	RequestHash []byte // SHA-256 of method, path and body
	Kind        string // "person", "vaccination", "test", "site", "correction"
	ResourceID  string // the created resource (person ID, record ID or site code)
	CreatedAt   time.Time
}
