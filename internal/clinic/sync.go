package clinic

import (
	"context"
	"crypto/ecdsa"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// SyncConfig makes the service an offline clinic node, or sets how it
// serves nodes as the central registry (docs/adr/0006-offline-clinic-nodes.md).
// Every server accepts node tokens on the sync routes; a node is a server
// started with an upstream.
type SyncConfig struct {
	// Node makes this server an offline clinic node: every write queues its
	// event for the central in the same transaction.
	Node bool
	// Upstream is the central's URL, for sync status (node).
	Upstream string
	// Label names the node in its signing certificate (node).
	Label string
	// Lookup asks the central for a card that is not on this node; nil when
	// the node cannot reach one (node).
	Lookup func(ctx context.Context, card registry.CardCode, purpose string) (*syncwire.LookupAnswer, error)
	// Kick wakes the pusher after a write queued an event (node).
	Kick func()
	// InstallDSC keeps the node's signing key and the DER certificates the
	// central signed for it; the service then reloads its issuer (node).
	InstallDSC func(key *ecdsa.PrivateKey, dsc, csca []byte) error
	// NewCSR makes the key and DER request for the node's signing
	// certificate (node); nil when the node does not issue certificates.
	NewCSR func(label string) (*ecdsa.PrivateKey, []byte, error)

	// InstallPolicies fetches the central's policy packs of the given
	// version, keeps them, and returns the engine they make (node).
	InstallPolicies func(ctx context.Context, version string) (*policy.Engine, error)
	// PolicyVersion is the version of the central's packs, as nodes copy
	// them (central; see syncwire.PolicyBundle).
	PolicyVersion string

	// SignCSR signs a node's request with the central's CSCA and returns
	// the DER DSC and CSCA (central); nil when the central has no keys.
	SignCSR func(csr []byte, label string) (dsc, csca []byte, err error)
	// ShareBirthDate keeps full birth dates of node-registered persons at
	// the central instead of the year (central).
	ShareBirthDate bool
	// MaxSkew is how far past the central's today a node's event date may
	// be (its clock may run ahead): 72 hours by default (central).
	MaxSkew time.Duration
}

// syncState is the service's sync bookkeeping in memory.
type syncState struct {
	cfg   SyncConfig
	clock *syncwire.Clock

	// slack widens "today" for a node's event dates: how far the
	// central's clock is ahead of this one.
	slack atomic.Int64 // nanoseconds

	// hasNodes reports, at the central, whether any node has enrolled, so
	// that writes look for followers only then (checked every cacheTTL).
	hasNodes    atomic.Bool
	maxBatch    atomic.Int64 // the batch size the central asks nodes for (see adaptBatch)
	nodesSeenAt atomic.Int64

	mu      sync.Mutex
	csrKey  *ecdsa.PrivateKey // the key of the CSR in flight (node)
	nodeID  string            // node
	contact syncContact       // node
}

// syncContact is the last outcome of the node's exchanges.
type syncContact struct {
	State                           string
	LastContact, LastPush, LastPull time.Time
	LastError, LastErrorCode        string
	LastErrorAt, OfflineSince       time.Time
	SkewSeconds                     float64
	AckedSeq, PullCursor            int64
	upstream, policyVersion         string
	pushedEvents, pushedBytes       int64
	pulledEvents, pulledBytes       int64
	loaded                          bool
	shareBirthDate                  bool
}

// IsNode reports whether this server is an offline clinic node.
func (s *Service) IsNode() bool { return s.sync.cfg.Node }

// initSync sets up the sync state of a new service.
func (s *Service) initSync(cfg *SyncConfig) {
	s.sync = &syncState{}
	if cfg != nil {
		s.sync.cfg = *cfg
	}
	if s.sync.cfg.MaxSkew == 0 {
		s.sync.cfg.MaxSkew = 72 * time.Hour
	}
	if s.sync.cfg.Node {
		s.sync.clock = syncwire.NewClock(s.now, 0)
	}
}

// pushedKey marks the context of a node's push being applied.
type pushedKey struct{}

// todayBound is the latest event date accepted: today anywhere on Earth;
// on a node, widened by how far the central's clock is ahead; for a node's
// push at the central, by MaxSkew (the node's clock may run ahead).
func (s *Service) todayBound(ctx context.Context) registry.Date {
	slack := time.Duration(s.sync.slack.Load())
	if ctx.Value(pushedKey{}) != nil {
		slack = s.sync.cfg.MaxSkew
	}
	return registry.DateOf(s.now().Add(slack).In(time.FixedZone("UTC+14", 14*3600)))
}

// feedOn reports whether writes at this central must look for nodes that
// follow the person.
func (s *Service) feedOn(ctx context.Context) bool {
	if s.sync.cfg.Node {
		return false
	}
	if s.sync.hasNodes.Load() {
		return true
	}
	now := s.now().UnixNano()
	if now-s.sync.nodesSeenAt.Load() < int64(cacheTTL) {
		return false
	}
	s.sync.nodesSeenAt.Store(now)
	ss, ok := s.store.(registry.SyncStore)
	if !ok {
		return false
	}
	nodes, err := ss.ListNodes(ctx)
	if err == nil && len(nodes) > 0 {
		s.sync.hasNodes.Store(true)
		return true
	}
	return false
}

// syncEvent returns the event of a write, stamped now.
func (s *Service) syncEvent(kind string, person, record registry.ID) registry.SyncEvent {
	ev := registry.SyncEvent{Kind: kind, PersonID: person, RecordID: record, At: s.stamp()}
	if s.sync.clock != nil {
		ev.HLC = s.sync.clock.Now()
	}
	return ev
}

// queueSync adds the write's events to w: on a node, for the central (push);
// at a central with nodes, for the nodes following the person (feed).
func (s *Service) queueSync(ctx context.Context, w *registry.Write, events ...registry.SyncEvent) {
	if len(events) == 0 {
		return
	}
	if s.sync.cfg.Node {
		w.Push = append(w.Push, events...)
		return
	}
	if s.feedOn(ctx) {
		w.Feed = append(w.Feed, events...)
	}
}

// synced runs after a write that queued events: it wakes the node's pusher.
func (s *Service) synced(w *registry.Write) {
	if len(w.Push) > 0 && s.sync.cfg.Kick != nil {
		s.sync.cfg.Kick()
	}
}

// syncStore is the store's sync part, or EUNAVAILABLE.
func (s *Service) syncStore() (registry.SyncStore, error) {
	ss, ok := s.store.(registry.SyncStore)
	if !ok {
		return nil, registry.Errorf(registry.EUNAVAILABLE, "This store cannot sync.")
	}
	return ss, nil
}

// historyEvents are the sync events of a history batch, in the order the
// central can apply them: the person, the new records, then the
// corrections (which may name a new record as the replacement).
func (s *Service) historyEvents(h registry.History) []registry.SyncEvent {
	var evs []registry.SyncEvent
	if h.NewPerson != nil {
		evs = append(evs, s.syncEvent(registry.SyncPerson, h.PersonID, registry.ID{}))
	}
	for _, v := range h.Vaccinations {
		evs = append(evs, s.syncEvent(registry.SyncDose, h.PersonID, v.ID))
	}
	for _, t := range h.Tests {
		evs = append(evs, s.syncEvent(registry.SyncTest, h.PersonID, t.ID))
	}
	for _, c := range h.Corrections {
		evs = append(evs, s.syncEvent(registry.SyncCorrect, h.PersonID, c.RecordID))
	}
	return evs
}
