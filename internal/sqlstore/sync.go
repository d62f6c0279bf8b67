package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// Offline clinic nodes (docs/adr/0006-offline-clinic-nodes.md), over the
// tables of migration 0011: sync_state, sync_outbox (a node's writes for the
// central), sync_nodes, sync_follows, sync_feed_heads and sync_feed (the
// central's per-node feed) and sync_tombstones.
//
// Lock order on PostgreSQL, for every transaction that touches the feed:
// the node's token and cursor row (Write.Cursor), then persons (FOR SHARE by
// writers, which read their followers; FOR NO KEY UPDATE by Follow, FOR
// UPDATE by an erasure), then the rows written, and the feed heads last, in
// node-ID order. A Follow therefore either commits before a write reads the
// followers, or waits for the write to commit: no event of a followed
// person is ever missed by a new follower.
var _ registry.SyncStore = (*Store)(nil)

func (s *Store) postgres() bool { return s.dialect.Name == "postgres" }

// microsOrZero stores the zero time as 0.
func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

// fromMicrosOrZero reads 0 as the zero time.
func fromMicrosOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

// erasureDay is the day an erasure is recorded under in its tombstone: the
// day of its audit entry or events, today otherwise.
func erasureDay(w registry.Write) registry.Date {
	t := time.Now()
	switch {
	case w.Audit != nil && !w.Audit.Time.IsZero():
		t = w.Audit.Time
	case len(w.Push) > 0 && !w.Push[0].At.IsZero():
		t = w.Push[0].At
	case len(w.Feed) > 0 && !w.Feed[0].At.IsZero():
		t = w.Feed[0].At
	}
	return registry.DateOf(t.UTC())
}

// advanceCursor runs the compare-and-set of c in tx: the node's
// applied_seq moves from c.Seen to c.Last, if its token still exists. On
// PostgreSQL the token row is locked first (FOR SHARE), so that a
// revocation that committed first fails the write, and a later one waits
// for it to commit.
func (s *Store) advanceCursor(ctx context.Context, tx *sql.Tx, c registry.SyncCursor) error {
	if s.postgres() {
		var one int
		err := s.txQueryRow(ctx, tx, `SELECT 1 FROM tokens WHERE id = (SELECT token_id FROM sync_nodes WHERE node_id = ?) FOR SHARE`, c.Node).Scan(&one)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("lock node token: %w", err)
		}
	}
	res, err := s.txExec(ctx, tx, `UPDATE sync_nodes SET applied_seq = ?, last_contact = ?
		WHERE node_id = ? AND applied_seq = ? AND EXISTS (SELECT 1 FROM tokens t WHERE t.id = sync_nodes.token_id)`,
		c.Last, microsOrZero(c.At), c.Node, c.Seen)
	if err != nil {
		return fmt.Errorf("advance applied_seq: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		return nil
	}
	var revoked int
	err = s.txQueryRow(ctx, tx, `SELECT CASE WHEN EXISTS (SELECT 1 FROM tokens t WHERE t.id = n.token_id) THEN 0 ELSE 1 END
		FROM sync_nodes n WHERE n.node_id = ?`, c.Node).Scan(&revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && revoked == 1:
		return registry.Errorf(registry.EUNAUTHORIZED, "This clinic's token was revoked, or the clinic is not enrolled; enrol it again.")
	case err != nil:
		return fmt.Errorf("read node: %w", err)
	}
	return registry.FieldErrorf(registry.ECONFLICT, "applied_seq", "Another push from this clinic was applied first.")
}

// queuePush appends events to the sync outbox in tx, in order.
func (s *Store) queuePush(ctx context.Context, tx *sql.Tx, events []registry.SyncEvent) error {
	for _, e := range events {
		if _, err := s.txExec(ctx, tx, `INSERT INTO sync_outbox (kind, person_id, record_id, hlc, queued_at) VALUES (?, ?, ?, ?, ?)`,
			e.Kind, e.PersonID[:], nullID(e.RecordID), e.HLC, micros(e.At)); err != nil {
			return fmt.Errorf("queue sync event: %w", err)
		}
	}
	return nil
}

// feedPlan is what a write feeds to whom: the events of each follower
// node, in the write's order, and the nodes in ID order (the order their
// heads are locked in).
type feedPlan struct {
	nodes  []string
	events map[string][]registry.SyncEvent
}

// planFeed locks the persons of events (PostgreSQL: FOR SHARE, or FOR
// UPDATE for an erasure, which will delete the row) and reads their
// followers, leaving out except. It runs before the write, which may
// erase the person and their follows with them.
func (s *Store) planFeed(ctx context.Context, tx *sql.Tx, events []registry.SyncEvent, except string) (*feedPlan, error) {
	followers := map[registry.ID][]string{}
	for _, e := range events {
		if _, ok := followers[e.PersonID]; ok {
			continue
		}
		erase := slices.ContainsFunc(events, func(o registry.SyncEvent) bool {
			return o.PersonID == e.PersonID && o.Kind == registry.SyncErase
		})
		exists, err := s.lockPerson(ctx, tx, e.PersonID, erase)
		if err != nil {
			return nil, err
		}
		var nodes []string
		if exists {
			if nodes, err = s.followers(ctx, tx, e.PersonID); err != nil {
				return nil, err
			}
		}
		followers[e.PersonID] = nodes
	}
	return buildPlan(events, followers, except), nil
}

func buildPlan(events []registry.SyncEvent, followers map[registry.ID][]string, except string) *feedPlan {
	p := &feedPlan{events: map[string][]registry.SyncEvent{}}
	for _, e := range events {
		for _, n := range followers[e.PersonID] {
			if n == except {
				continue
			}
			if _, ok := p.events[n]; !ok {
				p.nodes = append(p.nodes, n)
			}
			p.events[n] = append(p.events[n], e)
		}
	}
	slices.Sort(p.nodes)
	return p
}

// lockPerson reports whether the person exists, locking the row on
// PostgreSQL: FOR SHARE (exclusive: FOR UPDATE).
func (s *Store) lockPerson(ctx context.Context, tx *sql.Tx, id registry.ID, exclusive bool) (bool, error) {
	q := `SELECT 1 FROM persons WHERE id = ?`
	if s.postgres() {
		q += ` FOR SHARE`
		if exclusive {
			q = `SELECT 1 FROM persons WHERE id = ? FOR UPDATE`
		}
	}
	var one int
	err := s.txQueryRow(ctx, tx, q, id[:]).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock person: %w", err)
	}
	return true, nil
}

// followers returns the nodes following the person, in ID order, as tx
// sees them (the read pool when tx is nil).
func (s *Store) followers(ctx context.Context, tx *sql.Tx, id registry.ID) ([]string, error) {
	rows, err := s.query(ctx, tx, tx != nil, `SELECT node_id FROM sync_follows WHERE person_id = ? ORDER BY node_id`, id[:])
	if err != nil {
		return nil, fmt.Errorf("read followers: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// fanOut writes p's events into each node's feed, allocating each node's
// seqs from its head: in node-ID order, so that concurrent writers lock
// heads in one order, and under the head's row lock until commit, so that
// each feed is numbered without gaps.
func (s *Store) fanOut(ctx context.Context, tx *sql.Tx, p *feedPlan) error {
	for _, node := range p.nodes {
		events := p.events[node]
		last, err := s.allocFeed(ctx, tx, node, len(events))
		if err != nil {
			return err
		}
		seq := last - int64(len(events))
		for _, e := range events {
			seq++
			if _, err := s.txExec(ctx, tx, `INSERT INTO sync_feed (node_id, seq, kind, person_id, record_id) VALUES (?, ?, ?, ?, ?)`,
				node, seq, e.Kind, e.PersonID[:], nullID(e.RecordID)); err != nil {
				return fmt.Errorf("queue feed event: %w", err)
			}
		}
	}
	return nil
}

// allocFeed takes n seqs of node's feed and returns the last of them.
func (s *Store) allocFeed(ctx context.Context, tx *sql.Tx, node string, n int) (int64, error) {
	for range 2 {
		var last int64
		err := s.txQueryRow(ctx, tx, `UPDATE sync_feed_heads SET seq = seq + ? WHERE node_id = ? RETURNING seq`, int64(n), node).Scan(&last)
		if err == nil {
			return last, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("allocate feed seq: %w", err)
		}
		// A follower that was never bound (BindNode creates the head).
		if _, err := s.txExec(ctx, tx, `INSERT INTO sync_feed_heads (node_id, seq) VALUES (?, 0) ON CONFLICT (node_id) DO NOTHING`, node); err != nil {
			return 0, fmt.Errorf("create feed head: %w", err)
		}
	}
	return 0, fmt.Errorf("allocate feed seq: no head for node %s", node)
}

// setState upserts kv into sync_state in tx, in key order.
func (s *Store) setState(ctx context.Context, tx *sql.Tx, kv map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		if _, err := s.txExec(ctx, tx, `INSERT INTO sync_state (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, kv[k]); err != nil {
			return fmt.Errorf("save sync state: %w", err)
		}
	}
	return nil
}

// FindPersonByID implements registry.SyncStore.
func (s *Store) FindPersonByID(ctx context.Context, id registry.ID) (*registry.SealedPerson, error) {
	p, err := scanPerson(s.queryRow(ctx, `SELECT `+personColumns+` FROM persons WHERE id = ?`, id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.Errorf(registry.ENOTFOUND, "Person not found.")
	}
	return p, s.wrap("find person by ID", err)
}

// SyncState implements registry.SyncStore.
func (s *Store) SyncState(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, value FROM sync_state`)
	if err != nil {
		return nil, s.wrap("read sync state", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, s.wrap("read sync state", err)
		}
		out[k] = v
	}
	return out, s.wrap("read sync state", rows.Err())
}

// SetSyncState implements registry.SyncStore.
func (s *Store) SetSyncState(ctx context.Context, kv map[string]string) error {
	if len(kv) == 0 {
		return nil
	}
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error { return s.setState(ctx, tx, kv) })
	return s.wrap("save sync state", err)
}

const syncItemColumns = `seq, kind, person_id, record_id, hlc, queued_at, attempts, last_error, failed`

func scanSyncItems(rows *sql.Rows) ([]registry.SyncItem, error) {
	defer rows.Close()
	var out []registry.SyncItem
	for rows.Next() {
		var (
			it             registry.SyncItem
			person, record []byte
			queued         int64
			failed         int
		)
		if err := rows.Scan(&it.Seq, &it.Event.Kind, &person, &record, &it.Event.HLC, &queued, &it.Attempts, &it.LastError, &failed); err != nil {
			return nil, err
		}
		copy(it.Event.PersonID[:], person)
		copy(it.Event.RecordID[:], record)
		it.Event.At, it.Failed = fromMicros(queued), failed == 1
		out = append(out, it)
	}
	return out, rows.Err()
}

func (s *Store) querySync(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]registry.SyncItem, error) {
	rows, err := s.query(ctx, tx, tx != nil, `SELECT `+syncItemColumns+` FROM sync_outbox `+where, args...)
	if err != nil {
		return nil, err
	}
	return scanSyncItems(rows)
}

// PendingSync implements registry.SyncStore.
func (s *Store) PendingSync(ctx context.Context, limit int) ([]registry.SyncItem, error) {
	items, err := s.querySync(ctx, nil, `WHERE failed = 0 ORDER BY seq LIMIT ?`, limit)
	return items, s.wrap("pending sync events", err)
}

// ListFailedSync implements registry.SyncStore.
func (s *Store) ListFailedSync(ctx context.Context, limit int) ([]registry.SyncItem, error) {
	items, err := s.querySync(ctx, nil, `WHERE failed = 1 ORDER BY seq LIMIT ?`, limit)
	return items, s.wrap("failed sync events", err)
}

// rejectText is a rejected event's last_error: "code: field: message".
func rejectText(r registry.SyncReject) string {
	if r.Field == "" {
		return r.Code + ": " + r.Message
	}
	return r.Code + ": " + r.Field + ": " + r.Message
}

// AckSync implements registry.SyncStore. Rejected seqs above upto are
// ignored; events marked failed earlier are kept.
func (s *Store) AckSync(ctx context.Context, upto int64, rejected []registry.SyncReject, state map[string]string) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rejected {
			if r.Seq > upto {
				continue
			}
			if _, err := s.txExec(ctx, tx, `UPDATE sync_outbox SET failed = 1, attempts = attempts + 1, last_error = ? WHERE seq = ?`,
				rejectText(r), r.Seq); err != nil {
				return err
			}
		}
		if _, err := s.txExec(ctx, tx, `DELETE FROM sync_outbox WHERE seq <= ? AND failed = 0`, upto); err != nil {
			return err
		}
		return s.setState(ctx, tx, state)
	})
	return s.wrap("acknowledge sync events", err)
}

// SyncOutboxStatus implements registry.SyncStore.
func (s *Store) SyncOutboxStatus(ctx context.Context) (registry.SyncOutboxStatus, error) {
	var (
		st     registry.SyncOutboxStatus
		oldest sql.NullInt64
	)
	err := s.queryRow(ctx, `SELECT
		COALESCE(SUM(CASE WHEN failed = 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(failed), 0),
		MIN(CASE WHEN failed = 0 THEN queued_at END)
		FROM sync_outbox`).Scan(&st.Pending, &st.Failed, &oldest)
	if err != nil {
		return st, s.wrap("sync outbox status", err)
	}
	if oldest.Valid {
		st.Oldest = fromMicros(oldest.Int64)
	}
	// The highest seq ever handed out: SQLite keeps it for AUTOINCREMENT
	// tables in sqlite_sequence, PostgreSQL in the column's sequence (which
	// also counts seqs of rolled-back inserts).
	q := `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'sync_outbox'), (SELECT MAX(seq) FROM sync_outbox), 0)`
	if s.postgres() {
		q = `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sync_outbox_seq_seq`
	}
	err = s.queryRow(ctx, q).Scan(&st.LastSeq)
	return st, s.wrap("sync outbox status", err)
}

// RetrySync implements registry.SyncStore. The events keep their kind,
// references, HLC and queued time; they get new seqs, in their old order,
// and their attempts and error are cleared.
func (s *Store) RetrySync(ctx context.Context, seq int64) (int, error) {
	var n int
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		n = 0
		var (
			items []registry.SyncItem
			err   error
		)
		if seq == 0 {
			items, err = s.querySync(ctx, tx, `WHERE failed = 1 ORDER BY seq`)
		} else {
			var person []byte
			err = s.txQueryRow(ctx, tx, `SELECT person_id FROM sync_outbox WHERE seq = ? AND failed = 1`, seq).Scan(&person)
			if errors.Is(err, sql.ErrNoRows) {
				return registry.FieldErrorf(registry.ENOTFOUND, "seq", "No failed sync event %d.", seq)
			}
			if err != nil {
				return err
			}
			items, err = s.querySync(ctx, tx, `WHERE failed = 1 AND person_id = ? ORDER BY seq`, person)
		}
		if err != nil {
			return err
		}
		for _, it := range items {
			if _, err := s.txExec(ctx, tx, `DELETE FROM sync_outbox WHERE seq = ?`, it.Seq); err != nil {
				return err
			}
			if err := s.queuePush(ctx, tx, []registry.SyncEvent{it.Event}); err != nil {
				return err
			}
		}
		n = len(items)
		return nil
	})
	if err != nil {
		return 0, s.wrap("retry sync events", err)
	}
	return n, nil
}

// ApplyPull implements registry.SyncStore, in one transaction.
//
// A person whose ID is stored already keeps its wrapped key, card code,
// origin and creation time: only its sealed part is replaced by p's
// Sealed, which must therefore be sealed under the key the stored
// WrappedKey holds. Callers read the stored person first (FindPersonByID)
// and reseal under its key; p.WrappedKey is ignored for such a person.
// A person not stored is inserted as given (Origin, CardCode, WrappedKey,
// Sealed, CreatedAt, SourceRef).
//
// Records are inserted under their own IDs; one whose ID or source
// reference is stored already is skipped. Corrections mark a record
// entered in error (linking its replacement, when set); a record already
// marked, or missing, is skipped. State is saved last.
func (s *Store) ApplyPull(ctx context.Context, p registry.PullApply) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		for _, sp := range p.Persons {
			var one int
			err := s.txQueryRow(ctx, tx, `SELECT 1 FROM persons WHERE id = ?`, sp.ID[:]).Scan(&one)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				if err := s.insertPerson(ctx, tx, sp); err != nil {
					return err
				}
			case err != nil:
				return err
			default:
				if _, err := s.txExec(ctx, tx, `UPDATE persons SET sealed = ? WHERE id = ?`, sp.Sealed, sp.ID[:]); err != nil {
					return err
				}
			}
		}
		for _, v := range p.Vaccinations {
			if err := s.insertVaccinationOr(ctx, tx, v, skipAnyConflict); err != nil {
				return err
			}
		}
		for _, t := range p.Tests {
			if err := s.insertTestOr(ctx, tx, t, skipAnyConflict); err != nil {
				return err
			}
		}
		for _, c := range p.Corrections {
			for _, table := range []string{"vaccinations", "tests"} {
				if _, err := s.txExec(ctx, tx, `UPDATE `+table+` SET status = ?, replaced_by = COALESCE(?, replaced_by) WHERE id = ? AND status <> ?`,
					registry.StatusEnteredInError, nullID(c.Replacement), c.RecordID[:], registry.StatusEnteredInError); err != nil {
					return err
				}
			}
		}
		return s.setState(ctx, tx, p.State)
	})
	return s.wrap("apply pull", err)
}

const nodeColumns = `n.node_id, n.token_id, n.sites, n.label, n.applied_seq, n.pending, n.skew_ms, n.version, n.last_contact, n.created_at,
	CASE WHEN EXISTS (SELECT 1 FROM tokens t WHERE t.id = n.token_id) THEN 0 ELSE 1 END`

func scanNode(row interface{ Scan(...any) error }) (*registry.SyncNode, error) {
	var (
		n                registry.SyncNode
		sites            string
		skew, at, create int64
		revoked          int
	)
	if err := row.Scan(&n.ID, &n.TokenID, &sites, &n.Label, &n.AppliedSeq, &n.Pending, &skew, &n.Version, &at, &create, &revoked); err != nil {
		return nil, err
	}
	n.Sites, n.ClockSkew = splitList(sites), time.Duration(skew)*time.Millisecond
	n.LastContact, n.CreatedAt, n.Revoked = fromMicrosOrZero(at), fromMicrosOrZero(create), revoked == 1
	return &n, nil
}

// sameSites reports whether a and b name the same sites, in any order.
func sameSites(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// BindNode implements registry.SyncStore. A new node starts with
// applied_seq 0 and an empty feed; n.AppliedSeq, Pending and ClockSkew are
// not taken from n.
func (s *Store) BindNode(ctx context.Context, n registry.SyncNode) (*registry.SyncNode, error) {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		q := `SELECT ` + nodeColumns + ` FROM sync_nodes n WHERE n.node_id = ?`
		if s.postgres() {
			q += ` FOR UPDATE OF n`
		}
		cur, err := scanNode(s.txQueryRow(ctx, tx, q, n.ID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := s.txExec(ctx, tx, `INSERT INTO sync_nodes
				(node_id, token_id, sites, label, applied_seq, pending, skew_ms, version, last_contact, created_at)
				VALUES (?, ?, ?, ?, 0, 0, 0, ?, ?, ?)`,
				n.ID, n.TokenID, joinList(n.Sites), n.Label, n.Version, microsOrZero(n.LastContact), microsOrZero(n.CreatedAt)); err != nil {
				if s.dialect.IsUniqueViolation(err) {
					return registry.FieldErrorf(registry.ECONFLICT, "node", "This clinic is being enrolled by another request; try again.")
				}
				return err
			}
			_, err = s.txExec(ctx, tx, `INSERT INTO sync_feed_heads (node_id, seq) VALUES (?, 0) ON CONFLICT (node_id) DO NOTHING`, n.ID)
			return err
		case err != nil:
			return err
		case cur.TokenID == n.TokenID:
			_, err = s.txExec(ctx, tx, `UPDATE sync_nodes SET version = ?, last_contact = ? WHERE node_id = ?`,
				n.Version, microsOrZero(n.LastContact), n.ID)
			return err
		case cur.Revoked && sameSites(cur.Sites, n.Sites):
			_, err = s.txExec(ctx, tx, `UPDATE sync_nodes SET token_id = ?, label = ?, version = ?, last_contact = ? WHERE node_id = ?`,
				n.TokenID, n.Label, n.Version, microsOrZero(n.LastContact), n.ID)
			return err
		case cur.Revoked:
			return registry.FieldErrorf(registry.EFORBIDDEN, "sites", "This clinic was enrolled for other sites; it cannot be enrolled again with these.")
		default:
			return registry.FieldErrorf(registry.EFORBIDDEN, "node", "This clinic is enrolled with another token.")
		}
	})
	if err != nil {
		return nil, s.wrap("bind node", err)
	}
	return s.FindNode(ctx, n.ID)
}

// FindNode implements registry.SyncStore.
func (s *Store) FindNode(ctx context.Context, id string) (*registry.SyncNode, error) {
	n, err := scanNode(s.queryRow(ctx, `SELECT `+nodeColumns+` FROM sync_nodes n WHERE n.node_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, "node", "No clinic node has this ID.")
	}
	return n, s.wrap("find node", err)
}

// ListNodes implements registry.SyncStore.
func (s *Store) ListNodes(ctx context.Context) ([]registry.SyncNode, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+nodeColumns+` FROM sync_nodes n ORDER BY n.node_id`)
	if err != nil {
		return nil, s.wrap("list nodes", err)
	}
	defer rows.Close()
	var out []registry.SyncNode
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, s.wrap("list nodes", err)
		}
		out = append(out, *n)
	}
	return out, s.wrap("list nodes", rows.Err())
}

// TouchNode implements registry.SyncStore. Returns ENOTFOUND if there is no
// such node.
func (s *Store) TouchNode(ctx context.Context, id string, pending int64, skew time.Duration, at time.Time) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		res, err := s.txExec(ctx, tx, `UPDATE sync_nodes SET pending = ?, skew_ms = ?, last_contact = ? WHERE node_id = ?`,
			pending, skew.Milliseconds(), microsOrZero(at), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return registry.FieldErrorf(registry.ENOTFOUND, "node", "No clinic node has this ID.")
		}
		return nil
	})
	return s.wrap("touch node", err)
}

// ApplyPush implements registry.SyncStore.
//
// Each person's part runs in a savepoint. For a person event (Home with
// History.NewPerson): a tombstoned ID is ECONFLICT on "person"; a person
// stored already (a resend) is not created again, and the node must then
// follow them like any other; otherwise the person is inserted and the node
// becomes their home follower. Any other part needs the node to follow the
// person (EFORBIDDEN on "person"; ENOTFOUND on "person" if there is no such
// person). Then corrections (one of a record already marked is skipped),
// records (one whose ID is stored is skipped; every record must belong to
// the part's person, else EINVALID), Update, Reports, and the follow's
// last use. A part failing with an application error (a unique or foreign
// key violation counts as ECONFLICT or ENOTFOUND) is rolled back to its
// savepoint and named in the outcome; any other error fails the call.
//
// After the parts, the audit entries of the parts applied are appended in
// order (outside the savepoints, so that a part rolled back leaves the
// in-memory audit state alone; an invalid audit record rejects its part),
// then the Feed events of the parts applied are fanned out to the persons'
// followers except the pushing node, heads last in node-ID order.
func (s *Store) ApplyPush(ctx context.Context, p registry.PushApply) (*registry.PushOutcome, error) {
	out, err := s.applyPush(ctx, p, true)
	if errors.Is(err, errSlowPath) {
		out, err = s.applyPush(ctx, p, false)
	}
	return out, err
}

// applyPush is ApplyPush, the fast way (see applyPushFast) or the careful
// way, a savepoint per person.
func (s *Store) applyPush(ctx context.Context, p registry.PushApply, fast bool) (*registry.PushOutcome, error) {
	var out *registry.PushOutcome
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		// The group writer may run fn again, or inside a larger
		// transaction: start afresh every time.
		out = &registry.PushOutcome{Rejected: map[int]error{}}
		if err := s.advanceCursor(ctx, tx, p.Cursor); err != nil {
			return err
		}
		var (
			applied   []int
			followers map[registry.ID][]string
		)
		if fast {
			var err error
			if applied, followers, err = s.applyPushFast(ctx, tx, p, out); err != nil {
				return err
			}
		}
		for i := 0; !fast && i < len(p.Persons); i++ { // the careful way
			sp := fmt.Sprintf("sp_push_%d", i)
			if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
			err := s.pushErr(s.applyPushPerson(ctx, tx, p.Cursor, &p.Persons[i]))
			var appErr *registry.Error
			switch {
			case err == nil:
				applied = append(applied, i)
			case errors.As(err, &appErr):
				if _, rbErr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+sp); rbErr != nil {
					return fmt.Errorf("rollback to savepoint: %w", rbErr)
				}
				out.Rejected[i] = err
			default:
				return err
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
		}
		rejects := append([]registry.SyncReject(nil), p.Rejects...)
		for i, err := range out.Rejected {
			var e *registry.Error
			errors.As(err, &e)
			for _, seq := range p.Persons[i].Seqs {
				rejects = append(rejects, registry.SyncReject{Seq: seq, Code: e.Code, Field: e.Field, Message: e.Message})
			}
		}
		for _, r := range rejects {
			if _, err := s.txExec(ctx, tx, `INSERT INTO sync_rejects (node_id, seq, code, field, message) VALUES (?, ?, ?, ?, ?) ON CONFLICT (node_id, seq) DO NOTHING`,
				p.Cursor.Node, r.Seq, r.Code, r.Field, r.Message); err != nil {
				return fmt.Errorf("keep refusals: %w", err)
			}
		}
		var events []registry.SyncEvent
		if err := s.batchAudit(tx); err != nil {
			return err
		}
		for _, i := range applied {
			pp := &p.Persons[i]
			if pp.Audit != (registry.AuditRecord{}) {
				if err := s.appendAudit(ctx, tx, pp.Audit); err != nil {
					return err
				}
			}
			events = append(events, pp.Feed...)
		}
		if err := s.flushAudit(ctx, tx); err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		if followers == nil {
			followers = map[registry.ID][]string{}
		}
		for _, e := range events {
			if _, ok := followers[e.PersonID]; ok {
				continue
			}
			nodes, err := s.followers(ctx, tx, e.PersonID)
			if err != nil {
				return err
			}
			followers[e.PersonID] = nodes
		}
		return s.fanOut(ctx, tx, buildPlan(events, followers, p.Cursor.Node))
	})
	if err != nil {
		return nil, s.wrap("apply push", err)
	}
	return out, nil
}

// pushErr turns the constraint violations of a push part into application
// errors, so that they reject the part rather than fail the batch.
func (s *Store) pushErr(err error) error {
	var appErr *registry.Error
	switch {
	case err == nil, errors.As(err, &appErr):
		return err
	case s.dialect.IsUniqueViolation(err):
		return &registry.Error{Code: registry.ECONFLICT, Message: "The record clashes with one stored already.", Err: err}
	case s.dialect.IsForeignKeyViolation(err):
		return &registry.Error{Code: registry.ENOTFOUND, Field: "person", Message: "Person not found.", Err: err}
	}
	return err
}

// applyPushPerson writes one person's part of a push (see ApplyPush).
func (s *Store) applyPushPerson(ctx context.Context, tx *sql.Tx, c registry.SyncCursor, pp *registry.PushPerson) error {
	h := pp.History
	pid := h.PersonID
	if pid == (registry.ID{}) && h.NewPerson != nil {
		pid = h.NewPerson.ID
	}
	if h.NewPerson != nil && h.NewPerson.ID != pid {
		return registry.FieldErrorf(registry.EINVALID, "person", "The new person is not the person of the batch.")
	}
	if pp.Audit != (registry.AuditRecord{}) {
		r := pp.Audit
		if err := (audit.Record{Actor: r.Actor, Role: r.Role, Action: r.Action, Purpose: r.Purpose, Subject: r.Subject}).Validate(); err != nil {
			return err
		}
	}
	exists, err := s.lockPerson(ctx, tx, pid, false)
	if err != nil {
		return err
	}
	if pp.Home && h.NewPerson != nil && !exists {
		tomb, err := s.tombstoned(ctx, tx, pid)
		if err != nil {
			return err
		}
		if tomb {
			return registry.FieldErrorf(registry.ECONFLICT, "person", "This person was erased at the central.")
		}
		if err := s.insertPerson(ctx, tx, *h.NewPerson); err != nil {
			if s.dialect.IsUniqueViolation(err) {
				return &registry.Error{Code: registry.ECONFLICT, Field: "card", Message: "The card code is taken.", Err: err}
			}
			return err
		}
		if _, err := s.txExec(ctx, tx, `INSERT INTO sync_follows (node_id, person_id, home, last_used) VALUES (?, ?, 1, ?)
			ON CONFLICT (node_id, person_id) DO UPDATE SET home = 1`, c.Node, pid[:], micros(c.At)); err != nil {
			return err
		}
	} else {
		if !exists {
			return registry.FieldErrorf(registry.ENOTFOUND, "person", "Person not found.")
		}
		var home int
		err := s.txQueryRow(ctx, tx, `SELECT home FROM sync_follows WHERE node_id = ? AND person_id = ?`, c.Node, pid[:]).Scan(&home)
		if errors.Is(err, sql.ErrNoRows) {
			return registry.FieldErrorf(registry.EFORBIDDEN, "person", "This clinic does not follow this person.")
		}
		if err != nil {
			return err
		}
	}
	if err := s.applyCorrections(ctx, tx, pid, h.Corrections, true); err != nil {
		return err
	}
	for _, v := range h.Vaccinations {
		if v.PersonID != pid {
			return registry.FieldErrorf(registry.EINVALID, "person", "A record is not of the person of the batch.")
		}
		if err := s.insertVaccinationOr(ctx, tx, v, skipSameID); err != nil {
			return err
		}
	}
	for _, t := range h.Tests {
		if t.PersonID != pid {
			return registry.FieldErrorf(registry.EINVALID, "person", "A record is not of the person of the batch.")
		}
		if err := s.insertTestOr(ctx, tx, t, skipSameID); err != nil {
			return err
		}
	}
	for _, c := range h.Certificates {
		if c.PersonID != pid {
			return registry.FieldErrorf(registry.EINVALID, "person", "A certificate is not of the person of the batch.")
		}
		if err := s.insertCertificate(ctx, tx, c, true); err != nil {
			return err
		}
	}
	if u := pp.Update; u != nil {
		if u.ID != pid && u.ID != (registry.ID{}) {
			return registry.FieldErrorf(registry.EINVALID, "person", "The edit is not of the person of the batch.")
		}
		if _, err := s.txExec(ctx, tx, `UPDATE persons SET sealed = ? WHERE id = ?`, u.Sealed, pid[:]); err != nil {
			return err
		}
	}
	if err := s.queueReports(ctx, tx, pp.Reports); err != nil {
		return err
	}
	_, err = s.txExec(ctx, tx, `UPDATE sync_follows SET last_used = ? WHERE node_id = ? AND person_id = ? AND last_used < ?`,
		micros(c.At), c.Node, pid[:], micros(c.At))
	return err
}

// Follow implements registry.SyncStore. On PostgreSQL the person's row is
// locked (FOR NO KEY UPDATE, which waits for the writers that hold it FOR
// SHARE while reading its followers), so that every write either feeds the
// new follower or committed before the follow did. Returns ENOTFOUND if
// there is no such person.
func (s *Store) Follow(ctx context.Context, node string, personID registry.ID, a registry.AuditRecord, at time.Time) error {
	err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
		q := `SELECT 1 FROM persons WHERE id = ?`
		if s.postgres() {
			q += ` FOR NO KEY UPDATE`
		}
		var one int
		err := s.txQueryRow(ctx, tx, q, personID[:]).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return registry.FieldErrorf(registry.ENOTFOUND, "person", "Person not found.")
		}
		if err != nil {
			return err
		}
		if _, err := s.txExec(ctx, tx, `INSERT INTO sync_follows (node_id, person_id, home, last_used) VALUES (?, ?, 0, ?)
			ON CONFLICT (node_id, person_id) DO UPDATE SET last_used = CASE
				WHEN excluded.last_used > sync_follows.last_used THEN excluded.last_used ELSE sync_follows.last_used END`,
			node, personID[:], micros(at)); err != nil {
			return err
		}
		if a != (registry.AuditRecord{}) {
			return s.appendAudit(ctx, tx, a)
		}
		return nil
	})
	return s.wrap("follow person", err)
}

// Followers implements registry.SyncStore, in node-ID order.
func (s *Store) Followers(ctx context.Context, personID registry.ID) ([]string, error) {
	nodes, err := s.followers(ctx, nil, personID)
	return nodes, s.wrap("read followers", err)
}

// PullFeed implements registry.SyncStore. The items received are deleted
// durably before the next ones are read.
func (s *Store) PullFeed(ctx context.Context, node string, after int64, limit int) ([]registry.FeedItem, error) {
	if after > 0 {
		err := s.runner.RunTx(ctx, func(tx *sql.Tx) error {
			_, err := s.txExec(ctx, tx, `DELETE FROM sync_feed WHERE node_id = ? AND seq <= ?`, node, after)
			return err
		})
		if err != nil {
			return nil, s.wrap("pull feed", err)
		}
	}
	rows, err := s.query(ctx, nil, false, `SELECT seq, kind, person_id, record_id FROM sync_feed WHERE node_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		node, after, limit)
	if err != nil {
		return nil, s.wrap("pull feed", err)
	}
	defer rows.Close()
	var out []registry.FeedItem
	for rows.Next() {
		var (
			it             registry.FeedItem
			person, record []byte
		)
		if err := rows.Scan(&it.Seq, &it.Event.Kind, &person, &record); err != nil {
			return nil, s.wrap("pull feed", err)
		}
		copy(it.Event.PersonID[:], person)
		copy(it.Event.RecordID[:], record)
		out = append(out, it)
	}
	return out, s.wrap("pull feed", rows.Err())
}

func (s *Store) tombstoned(ctx context.Context, tx *sql.Tx, id registry.ID) (bool, error) {
	q := `SELECT 1 FROM sync_tombstones WHERE person_id = ?`
	var (
		one int
		err error
	)
	if tx != nil {
		err = s.txQueryRow(ctx, tx, q, id[:]).Scan(&one)
	} else {
		err = s.queryRow(ctx, q, id[:]).Scan(&one)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// Tombstoned implements registry.SyncStore.
func (s *Store) Tombstoned(ctx context.Context, id registry.ID) (bool, error) {
	ok, err := s.tombstoned(ctx, nil, id)
	return ok, s.wrap("read tombstone", err)
}
