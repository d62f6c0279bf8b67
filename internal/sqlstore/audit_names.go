package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

// The audit log stores names compactly (migration 0009): the actor, role,
// action and purpose of an entry are small integers from the dictionary
// table audit_names, and a subject that ends in a long run of hex digits
// (a pseudonym "ps1_…", a token "token:tk_…", a digest) is the dictionary ID
// of what comes before the digits followed by the digits as bytes. Any
// other subject is stored as text. Entries hash and verify as the names
// they stand for, so the encoding is invisible above the store.
//
// IDs 1 to 3 are fixed (the migration seeds them, and the partial index on
// epochs names 1); the others are handed out as names first appear, the
// highest so far plus one, inside the write that first uses them. Two
// writers that add different names at once collide on the ID, and the
// second tries again; that happens once per name, never on the hot path.
const (
	nameEpochAction = 1 // audit.EpochAction
	nameJoinAction  = 2 // audit.JoinAction
	namePseudonym   = 3 // vault.PseudonymPrefix, "ps1_"

	// minHexSubject is the shortest run of hex digits stored as bytes.
	minHexSubject = 8
	// subjectText starts a subject stored as text.
	subjectText = 0
)

// auditNames caches the dictionary. It holds only names that are
// committed: a name a transaction adds is cached once it commits.
type auditNames struct {
	mu    sync.RWMutex
	ids   map[string]int64
	names map[int64]string
}

func newAuditNames() *auditNames {
	return &auditNames{
		ids:   map[string]int64{audit.EpochAction: nameEpochAction, audit.JoinAction: nameJoinAction, "ps1_": namePseudonym},
		names: map[int64]string{nameEpochAction: audit.EpochAction, nameJoinAction: audit.JoinAction, namePseudonym: "ps1_"},
	}
}

func (n *auditNames) id(name string) (int64, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	id, ok := n.ids[name]
	return id, ok
}

func (n *auditNames) name(id int64) (string, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	name, ok := n.names[id]
	return name, ok
}

func (n *auditNames) remember(learnt map[string]int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, id := range learnt {
		n.ids[name], n.names[id] = id, name
	}
}

// nameID returns the dictionary ID of name ("" is 0), adding name to
// audit_names inside tx if it is new. A name learnt from tx is cached only
// once tx commits (see auditRunner.settle).
func (s *Store) nameID(ctx context.Context, tx *sql.Tx, at *auditTx, name string) (int64, error) {
	if name == "" {
		return 0, nil
	}
	log := s.auditLog()
	if id, ok := log.names.id(name); ok {
		return id, nil
	}
	if id, ok := at.names[name]; ok {
		return id, nil
	}
	for range 8 {
		var id int64
		err := tx.QueryRowContext(ctx, s.dialect.Rebind(`SELECT id FROM audit_names WHERE name = ?`), name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			// Not there: add it. If another writer takes the same ID (or
			// adds the same name) first, nothing is inserted and the loop
			// looks again. (SQLite needs a WHERE before ON CONFLICT in
			// INSERT … SELECT.)
			err = tx.QueryRowContext(ctx, s.dialect.Rebind(`INSERT INTO audit_names (id, name)
				SELECT COALESCE(MAX(id), 0) + 1, CAST(? AS TEXT) FROM audit_names WHERE TRUE ON CONFLICT DO NOTHING RETURNING id`), name).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
		}
		if err != nil {
			return 0, fmt.Errorf("audit name %q: %w", name, err)
		}
		if at.names == nil {
			at.names = map[string]int64{}
		}
		at.names[name] = id
		return id, nil
	}
	return 0, registry.Errorf(registry.EUNAVAILABLE, "The audit log's dictionary is busy; try again.")
}

// loadNames reads the whole dictionary (committed names only) into the
// cache.
func (s *Store) loadNames(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name FROM audit_names`)
	if err != nil {
		return fmt.Errorf("read audit names: %w", err)
	}
	defer rows.Close()
	learnt := map[string]int64{}
	for rows.Next() {
		var (
			id   int64
			name string
		)
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("read audit names: %w", err)
		}
		learnt[name] = id
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read audit names: %w", err)
	}
	s.auditLog().names.remember(learnt)
	return nil
}

// lookupName returns the name of id, reading the dictionary again once if
// the cache lacks it. A stored ID that names nothing (the table was edited)
// reads as a name no entry could have, so that the entry fails its hash
// instead of stopping the scan.
func (s *Store) lookupName(ctx context.Context, id int64, reloaded *bool) (string, error) {
	if id == 0 {
		return "", nil
	}
	names := s.auditLog().names
	if name, ok := names.name(id); ok {
		return name, nil
	}
	if !*reloaded {
		*reloaded = true
		if err := s.loadNames(ctx); err != nil {
			return "", err
		}
		if name, ok := names.name(id); ok {
			return name, nil
		}
	}
	return fmt.Sprintf("?name-%d", id), nil
}

// splitSubject splits a subject that ends in an even run of at least
// minHexSubject lower-case hex digits after a prefix that does not: the
// prefix, and the digits as bytes.
func splitSubject(subject string) (prefix string, raw []byte, ok bool) {
	i := len(subject)
	for i > 0 && isLowerHex(subject[i-1]) {
		i--
	}
	digits := len(subject) - i
	if i == 0 || digits < minHexSubject || digits%2 != 0 {
		return "", nil, false
	}
	raw, err := hex.DecodeString(subject[i:])
	if err != nil {
		return "", nil, false
	}
	return subject[:i], raw, true
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// encodeSubject returns the stored form of subject: empty for none,
// uvarint(prefix ID) ‖ bytes for a prefix and hex digits, 0 ‖ text for
// anything else.
func (s *Store) encodeSubject(ctx context.Context, tx *sql.Tx, at *auditTx, subject string) ([]byte, error) {
	if subject == "" {
		return []byte{}, nil
	}
	if prefix, raw, ok := splitSubject(subject); ok {
		id, err := s.nameID(ctx, tx, at, prefix)
		if err != nil {
			return nil, err
		}
		b := binary.AppendUvarint(make([]byte, 0, 3+len(raw)), uint64(id))
		return append(b, raw...), nil
	}
	return append([]byte{subjectText}, subject...), nil
}

// decodeSubject reads what encodeSubject wrote. Bytes that are not such an
// encoding read as a subject no entry could have.
func (s *Store) decodeSubject(ctx context.Context, b []byte, reloaded *bool) (string, error) {
	switch {
	case len(b) == 0:
		return "", nil
	case b[0] == subjectText:
		return string(b[1:]), nil
	}
	id, n := binary.Uvarint(b)
	if n <= 0 || id > 1<<62 {
		return "?bad-subject", nil
	}
	prefix, err := s.lookupName(ctx, int64(id), reloaded)
	if err != nil {
		return "", err
	}
	return prefix + hex.EncodeToString(b[n:]), nil
}
