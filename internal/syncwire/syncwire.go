// Package syncwire is the wire format between an offline clinic node and the
// central registry (docs/adr/0006-offline-clinic-nodes.md): the JSON shapes
// of hello, push, pull and lookup, and the gzipped NDJSON codec of push
// batches and pull pages. It knows nothing of storage or HTTP; the clinic
// actions build and read these values, and the transports move the bytes.
//
// Every value here is least data: a person is a card code, an ID, a birth
// year (or date) and a sex, never a name or a phone.
package syncwire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"time"
)

// Format names this version of the protocol; every push header and hello
// carries it.
const Format = "haven-sync/1"

// Limits of one push body.
const (
	MaxCompressed   = 1 << 20 // bytes of gzip on the wire
	MaxDecompressed = 8 << 20 // bytes after gunzip
	MaxEvents       = 5000    // events after the header line
	// DefaultBatch is the batch a node sends until the central names its
	// own max_batch.
	DefaultBatch = 2000
)

// Hello enrols a node (POST /api/v1/sync/hello): the first call binds Node
// to the token; later calls report and renew.
type Hello struct {
	Format  string `json:"format"`
	Node    string `json:"node"` // 32 hex digits
	Version string `json:"version"`
	Label   string `json:"label,omitempty"`
	// CSR is a DER PKCS#10 request (base64 in JSON) for the node's
	// document signer certificate, sent until the node has one.
	CSR []byte `json:"csr,omitempty"`
	// Pending is how many events wait in the node's outbox.
	Pending int64 `json:"pending"`
	// SkewSeconds is the node's clock minus the central's, as it last
	// measured it.
	SkewSeconds float64 `json:"skew_seconds"`
}

// HelloAnswer is the central's answer to Hello.
type HelloAnswer struct {
	Node       string    `json:"node"`
	Sites      []Site    `json:"sites"`
	AppliedSeq int64     `json:"applied_seq"`
	HLC        string    `json:"hlc"`
	Now        time.Time `json:"now"`
	// DSC and CSCA are DER certificates (base64 in JSON): the node's
	// document signer certificate, signed by the central's CSCA, when a CSR
	// was sent and the central has keys.
	DSC  []byte `json:"dsc,omitempty"`
	CSCA []byte `json:"csca,omitempty"`
	// MaxBatch is the number of events the central wants per push.
	MaxBatch int `json:"max_batch"`
	// ShareBirthDate says the central keeps full birth dates rather than
	// years.
	ShareBirthDate bool `json:"share_birth_date,omitempty"`
	// PolicyVersion is the version of the central's policy packs (see
	// PolicyBundle): a node whose copy differs fetches them.
	PolicyVersion string `json:"policy_version,omitempty"`
}

// Site is a site a node token may act for, copied into the node's sites.
type Site struct {
	Code         string   `json:"code"`
	Name         string   `json:"name"`
	Jurisdiction string   `json:"jurisdiction"`
	Services     []string `json:"services"`
}

// PushHeader is the first line of a push body.
type PushHeader struct {
	Format  string `json:"format"`
	Node    string `json:"node"`
	After   int64  `json:"after"` // the applied_seq the node last heard
	Last    int64  `json:"last"`  // the seq of the batch's last event
	HLC     string `json:"hlc"`
	Pending int64  `json:"pending"` // events still queued after this batch
	// SkewSeconds is the node's clock minus the central's, as the node
	// last measured it (0: not measured).
	SkewSeconds float64 `json:"skew_seconds,omitempty"`
}

// Event is one line of a push body or a pull page. K is the kind
// (registry.Sync*); the other fields depend on it, as the ADR lists. IDs
// are 32 hex digits, dates YYYY-MM-DD, HLCs "millis:counter".
type Event struct {
	Seq int64  `json:"seq"`
	HLC string `json:"hlc,omitempty"`
	K   string `json:"k"`
	// ID is the record's own ID for dose and test, and the person's for
	// person; Person is the person's ID for every other kind.
	ID     string `json:"id,omitempty"`
	Person string `json:"person,omitempty"`

	// person, edit
	Card  string `json:"card,omitempty"`
	Birth string `json:"birth,omitempty"` // YYYY, YYYY-MM or YYYY-MM-DD
	Sex   string `json:"sex,omitempty"`

	// dose, test
	Date     string   `json:"date,omitempty"`
	Site     string   `json:"site,omitempty"`
	Product  string   `json:"product,omitempty"`
	Lot      string   `json:"lot,omitempty"`
	Source   string   `json:"source,omitempty"`
	Payment  *Payment `json:"payment,omitempty"`
	Status   string   `json:"status,omitempty"` // completed, not-done (entered-in-error travels as correct)
	Reason   string   `json:"reason,omitempty"`
	Replaces string   `json:"replaces,omitempty"`
	Kind     string   `json:"kind,omitempty"`   // test: pcr, antigen
	Result   string   `json:"result,omitempty"` // test: positive, negative, invalid

	// correct
	Record     string `json:"record,omitempty"`
	ReplacedBy string `json:"replaced_by,omitempty"`

	// cert: the certificate's metadata (ID is its own ID, Record the
	// record it certifies); never the certificate itself.
	UVCI    string `json:"uvci,omitempty"`
	KID     []byte `json:"kid,omitempty"`
	Issued  string `json:"issued,omitempty"`
	Expires string `json:"expires,omitempty"`

	// When the record was made, as the node's HLC's wall time (RFC 3339),
	// for the central's recorded_at.
	Recorded string `json:"recorded,omitempty"`
}

// Payment is a dose's payment on the wire.
type Payment struct {
	Kind   string `json:"kind"`
	Amount string `json:"amount,omitempty"`
}

// Batch is a decoded push body.
type Batch struct {
	Header PushHeader
	Events []Event
}

// Reject is an event the central refused. Rejected events count as
// settled: the cursor passes them.
type Reject struct {
	Seq     int64  `json:"seq"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// PushAnswer is the central's answer to a push.
type PushAnswer struct {
	AppliedSeq int64     `json:"applied_seq"`
	Rejected   []Reject  `json:"rejected"`
	HLC        string    `json:"hlc"`
	Now        time.Time `json:"now"`
	MaxBatch   int       `json:"max_batch"`
}

// PullHeader is the first line of a pull page.
type PullHeader struct {
	After int64     `json:"after"`
	Last  int64     `json:"last"` // the seq of the page's last event (After if none)
	More  bool      `json:"more"`
	HLC   string    `json:"hlc"`
	Now   time.Time `json:"now"`
	Sites []Site    `json:"sites,omitempty"`
}

// PullPage is a decoded pull page.
type PullPage struct {
	Header PullHeader
	Events []Event
}

// LookupAnswer is the central's answer to a node's lookup of a card
// registered elsewhere (GET /api/v1/sync/persons/{card}): the person event
// and every record, as pull events. The node stores them as a shadow.
type LookupAnswer struct {
	Person Event   `json:"person"`
	Events []Event `json:"events"`
	// Last is the node's feed seq when the answer was made: what the feed
	// holds after it is newer than the answer.
	HLC string `json:"hlc"`
}

// PolicyBundle is the central's policy packs as a node copies them (GET
// /api/v1/sync/policies): every pack file by its path under the packs
// folder ("inclusive/pack.yaml"). Version is PolicyVersion of Files, which
// the node checks before it uses them.
type PolicyBundle struct {
	Version string            `json:"version"`
	Files   map[string]string `json:"files"`
}

// PolicyVersion is the content hash of a set of pack files: SHA-256 over
// each path and content, in path order, length-prefixed.
func PolicyVersion(files map[string]string) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%d:%s%d:", len(p), p, len(files[p]))
		h.Write([]byte(files[p]))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
