package clinic

import "time"

// SyncStatus is the state of offline-node sync, for the web app, the API
// (GET /api/v1/sync/status) and "haven sync status". On a node it describes
// the link to the central; on the central it lists the nodes.
type SyncStatus struct {
	Role string `json:"role"` // "node", "central" (nodes have enrolled), or "standalone"

	// Node side.
	Upstream string `json:"upstream,omitempty"`
	// State is online, offline, revoked, refused, sealed or disk_full.
	State         string    `json:"state,omitempty"`
	Pending       int64     `json:"pending"`
	Failed        int64     `json:"failed"`
	OldestPending time.Time `json:"oldest_pending,omitzero"`
	LastPush      time.Time `json:"last_push,omitzero"`
	LastPull      time.Time `json:"last_pull,omitzero"`
	// LastContact is the last exchange that reached the central.
	LastContact time.Time `json:"last_contact,omitzero"`
	AckedSeq    int64     `json:"acked_seq"`
	PullCursor  int64     `json:"pull_cursor"`
	// ClockSkewSeconds is this node's clock minus the central's.
	ClockSkewSeconds float64 `json:"clock_skew_seconds"`
	// LastError is the last failure's one-line message, and LastErrorCode
	// its stable code (unreachable, tls, unauthorized, forbidden, busy,
	// server, protocol) for translation. Both are empty once an exchange
	// succeeds.
	LastError     string    `json:"last_error,omitempty"`
	LastErrorCode string    `json:"last_error_code,omitempty"`
	LastErrorAt   time.Time `json:"last_error_at,omitzero"`
	// PolicyVersion is the version of the central's policy packs this
	// node decides with (empty: its bundled packs).
	PolicyVersion string `json:"policy_version,omitempty"`
	// OfflineSince is when the link was last lost (zero while online).
	OfflineSince time.Time `json:"offline_since,omitzero"`
	// PushedEvents and PushedBytes count what this process sent since it
	// started (compressed bodies), PulledEvents and PulledBytes what it
	// received: the wire cost of sync.
	PushedEvents int64 `json:"pushed_events"`
	PushedBytes  int64 `json:"pushed_bytes"`
	PulledEvents int64 `json:"pulled_events"`
	PulledBytes  int64 `json:"pulled_bytes"`

	// Central side.
	Nodes []NodeStatus `json:"nodes,omitempty"`
}

// NodeStatus is one node as the central sees it.
type NodeStatus struct {
	ID               string    `json:"id"`
	Label            string    `json:"label,omitempty"`
	Sites            []string  `json:"sites"`
	AppliedSeq       int64     `json:"applied_seq"`
	Pending          int64     `json:"pending"`
	LastContact      time.Time `json:"last_contact,omitzero"`
	ClockSkewSeconds float64   `json:"clock_skew_seconds"`
	Revoked          bool      `json:"revoked"`
}
