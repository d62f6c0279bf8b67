package nodesync

import (
	"context"

	"github.com/haven-registry/haven/internal/syncwire"
)

// Local is the node's side of sync, as the clinic actions implement it
// (*clinic.Service). The Syncer only moves what Local builds and hands back
// what the central answered; every check, write and audit entry is Local's.
type Local interface {
	// SyncHello is the node's hello: its ID, version, pending count and a
	// CSR while it has no signing certificate.
	SyncHello(ctx context.Context) (*syncwire.Hello, error)
	// SyncEnrolled stores what the central answered to hello (sites, DSC,
	// cursor, clock).
	SyncEnrolled(ctx context.Context, ans *syncwire.HelloAnswer) error
	// SyncBatch builds the next push batch of at most limit events after
	// the events already acknowledged; nil when nothing is pending.
	SyncBatch(ctx context.Context, limit int) (*syncwire.Batch, error)
	// SyncAcked settles the central's answer to a push of batch.
	SyncAcked(ctx context.Context, batch *syncwire.Batch, ans *syncwire.PushAnswer) error
	// SyncPullCursor is the last feed seq the node has stored.
	SyncPullCursor(ctx context.Context) (int64, error)
	// SyncPulled stores a pull page and advances the pull cursor.
	SyncPulled(ctx context.Context, page *syncwire.PullPage) error
	// SyncContact records the outcome of an exchange for sync status:
	// state (online, offline, revoked, refused, sealed, disk_full), the
	// error's one-line message (empty on success), and the central's clock
	// as measured (zero when unknown).
	SyncContact(ctx context.Context, c Contact) error
}

// States of a node's link to the central, as sync status shows them.
const (
	StateOnline   = "online"
	StateOffline  = "offline"
	StateRevoked  = "revoked"
	StateRefused  = "refused"
	StateSealed   = "sealed"
	StateDiskFull = "disk_full"
)

// Contact is the outcome of one exchange with the central.
type Contact struct {
	State string
	// Direction is "hello", "push" or "pull".
	Direction string
	// Error is a one-line message naming what failed (a wrong URL, a bad
	// token, a bad TLS certificate, an unreachable central); empty on
	// success. It never holds personal data.
	Error string
	// Code is a stable code for Error (unreachable, tls, unauthorized,
	// forbidden, busy, server, protocol), for translation.
	Code string
	// Skew is the node's clock minus the central's, when measured.
	Skew     float64
	Measured bool
	// Events and Bytes count what this exchange moved (compressed bytes).
	Events int
	Bytes  int64
}
