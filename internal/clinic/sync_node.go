package clinic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/nodesync"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// The node's side of sync: what the nodesync.Syncer calls. The node reads
// its outbox of references and sends each record as it now stands, so the
// outbox holds no personal data; a person leaves as card code, birth year
// (or date, when the central keeps dates) and sex, never a name or phone.

var _ nodesync.Local = (*Service)(nil)

// syncActor is who writes what the central sent (pulled records, erasures).
func syncActor() Actor { return Actor{TokenID: "sync", Role: RoleOperator} }

// Keys of the node's saved sync state.
const (
	stNodeID       = "node_id"
	stAcked        = "acked_seq"
	stPullCursor   = "pull_cursor"
	stHLC          = "hlc"
	stState        = "state"
	stLastContact  = "last_contact"
	stLastPush     = "last_push"
	stLastPull     = "last_pull"
	stLastError    = "last_error"
	stLastErrCode  = "last_error_code"
	stLastErrAt    = "last_error_at"
	stOfflineSince = "offline_since"
	stSkew         = "clock_skew_seconds"
	stShareBirth   = "share_birth_date"
	stUpstream     = "upstream"
	// stPolicyVersion is the version of the central's packs the node uses.
	stPolicyVersion = "policy_version"
)

// loadSyncState reads the saved state into memory once.
func (s *Service) loadSyncState(ctx context.Context) (registry.SyncStore, error) {
	ss, err := s.syncStore()
	if err != nil {
		return nil, err
	}
	s.sync.mu.Lock()
	loaded := s.sync.contact.loaded
	s.sync.mu.Unlock()
	if loaded {
		return ss, nil
	}
	kv, err := ss.SyncState(ctx)
	if err != nil {
		return nil, err
	}
	id := kv[stNodeID]
	if id == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, registry.Errorf(registry.EINTERNAL, "no randomness for the node ID: %v", err)
		}
		id = hex.EncodeToString(b[:])
		if err := ss.SetSyncState(ctx, map[string]string{stNodeID: id}); err != nil {
			return nil, err
		}
	}
	s.sync.mu.Lock()
	defer s.sync.mu.Unlock()
	c := &s.sync.contact
	s.sync.nodeID = id
	c.State = kv[stState]
	c.AckedSeq, _ = strconv.ParseInt(kv[stAcked], 10, 64)
	c.PullCursor, _ = strconv.ParseInt(kv[stPullCursor], 10, 64)
	c.LastContact, c.LastPush, c.LastPull = parseStamp(kv[stLastContact]), parseStamp(kv[stLastPush]), parseStamp(kv[stLastPull])
	c.LastError, c.LastErrorCode, c.LastErrorAt = kv[stLastError], kv[stLastErrCode], parseStamp(kv[stLastErrAt])
	c.OfflineSince = parseStamp(kv[stOfflineSince])
	c.SkewSeconds, _ = strconv.ParseFloat(kv[stSkew], 64)
	c.shareBirthDate = kv[stShareBirth] == "1"
	c.upstream = kv[stUpstream]
	c.policyVersion = kv[stPolicyVersion]
	if floor, err := strconv.ParseInt(kv[stHLC], 10, 64); err == nil && s.sync.clock != nil {
		s.sync.clock.Raise(floor)
	}
	if s.sync.clock != nil {
		// The clock never runs back across a restart: the last event
		// queued is at or below it.
		if items, err := ss.PendingSync(ctx, 1); err == nil && len(items) > 0 {
			s.sync.clock.Raise(items[0].Event.HLC)
		}
	}
	c.loaded = true
	return ss, nil
}

func parseStamp(v string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// NodeID returns this node's ID, making it on first use.
func (s *Service) NodeID(ctx context.Context) (string, error) {
	if _, err := s.loadSyncState(ctx); err != nil {
		return "", err
	}
	s.sync.mu.Lock()
	defer s.sync.mu.Unlock()
	return s.sync.nodeID, nil
}

// SyncHello implements nodesync.Local.
func (s *Service) SyncHello(ctx context.Context) (*syncwire.Hello, error) {
	ss, err := s.loadSyncState(ctx)
	if err != nil {
		return nil, err
	}
	st, err := ss.SyncOutboxStatus(ctx)
	if err != nil {
		return nil, err
	}
	s.sync.mu.Lock()
	h := &syncwire.Hello{Format: syncwire.Format, Node: s.sync.nodeID, Version: "haven", Label: s.sync.cfg.Label,
		Pending: st.Pending, SkewSeconds: s.sync.contact.SkewSeconds}
	s.sync.mu.Unlock()
	if s.currentCerts().Issuer == nil && s.sync.cfg.NewCSR != nil && s.sync.cfg.InstallDSC != nil && !s.Sealed() {
		s.sync.mu.Lock()
		defer s.sync.mu.Unlock()
		key, csr, err := s.sync.cfg.NewCSR(s.sync.cfg.Label)
		if err != nil {
			return nil, err
		}
		s.sync.csrKey, h.CSR = key, csr
	}
	return h, nil
}

// SyncEnrolled implements nodesync.Local: it copies the node's sites,
// installs its signing certificate, and settles what the central applied.
func (s *Service) SyncEnrolled(ctx context.Context, ans *syncwire.HelloAnswer) error {
	ss, err := s.loadSyncState(ctx)
	if err != nil {
		return err
	}
	for _, site := range ans.Sites {
		if _, err := s.store.FindSite(ctx, site.Code); err == nil {
			continue
		} else if registry.ErrorCode(err) != registry.ENOTFOUND {
			return err
		}
		in := SiteInput{Code: site.Code, Name: site.Name, Jurisdiction: site.Jurisdiction, Services: site.Services}
		rs, err := in.site()
		if err != nil {
			return withField("sites", err)
		}
		rs.CreatedAt = s.stamp()
		if _, err := s.store.CreateSite(ctx, rs, registry.Write{Audit: s.entry(syncActor(), ActSiteCreate, "", "site:"+rs.Code)}); err != nil && registry.ErrorCode(err) != registry.ECONFLICT {
			return err
		}
	}
	s.sync.mu.Lock()
	key := s.sync.csrKey
	s.sync.mu.Unlock()
	if len(ans.DSC) > 0 && key != nil && s.sync.cfg.InstallDSC != nil {
		if err := s.sync.cfg.InstallDSC(key, ans.DSC, ans.CSCA); err != nil {
			return err
		}
		s.sync.mu.Lock()
		s.sync.csrKey = nil
		s.sync.mu.Unlock()
		if s.loadCerts != nil {
			if c, err := s.loadCerts(); err == nil {
				s.SetIssuer(c)
			} else {
				s.logger.Warn("loading the node's signing certificate failed", "error", err.Error())
			}
		}
	}
	s.observeCentral(ans.HLC, ans.Now)
	if err := s.copyPolicies(ctx, ss, ans.PolicyVersion); err != nil {
		// The node keeps deciding with the packs it has.
		s.logger.Warn("copying the central's policy packs failed", "error", err.Error())
	}
	state := map[string]string{stShareBirth: boolString(ans.ShareBirthDate), stAcked: strconv.FormatInt(ans.AppliedSeq, 10),
		stUpstream: s.sync.cfg.Upstream}
	s.sync.mu.Lock()
	s.sync.contact.shareBirthDate = ans.ShareBirthDate
	acked := s.sync.contact.AckedSeq
	s.sync.contact.AckedSeq = ans.AppliedSeq
	s.sync.mu.Unlock()
	// The central lost events it had acknowledged (it was restored from a
	// backup), or this node lost events the central holds (it was): every
	// record of the node's own persons is queued again, above the
	// central's cursor, and the central's deduplication by record ID keeps
	// anything from being added twice.
	st, err := ss.SyncOutboxStatus(ctx)
	if err != nil {
		return err
	}
	if ans.AppliedSeq < acked || st.LastSeq < ans.AppliedSeq {
		n, err := ss.RequeueOwn(ctx, ans.AppliedSeq, s.sync.clock.Now(), s.stamp())
		if err != nil {
			return err
		}
		s.logger.Warn("the central and this node disagree on what was synced (one was restored from a backup): every record of this node's persons is queued again",
			"central_applied", ans.AppliedSeq, "node_acked", acked, "node_last_seq", st.LastSeq, "queued", n)
	}
	// Events the central applied but whose answer was lost leave the
	// outbox now.
	if ans.AppliedSeq > acked {
		return ss.AckSync(ctx, ans.AppliedSeq, nil, state)
	}
	return ss.SetSyncState(ctx, state)
}

// copyPolicies copies the central's policy packs when their version
// differs from the node's copy, and decides with them from now on. The
// change is audited as a policy load, naming each pack's version.
func (s *Service) copyPolicies(ctx context.Context, ss registry.SyncStore, version string) error {
	if version == "" || s.sync.cfg.InstallPolicies == nil {
		return nil
	}
	kv, err := ss.SyncState(ctx)
	if err != nil {
		return err
	}
	if kv[stPolicyVersion] == version && s.Policy() != nil {
		return nil
	}
	engine, err := s.sync.cfg.InstallPolicies(ctx, version)
	if err != nil {
		return err
	}
	for _, p := range engine.Packs() {
		if err := s.trace(ctx, syncActor(), "policy.load", "", "pack:"+p.Name+"@"+strings.TrimPrefix(p.Version, "sha256:")); err != nil {
			return err
		}
	}
	s.SetPolicy(engine)
	s.sync.mu.Lock()
	s.sync.contact.policyVersion = version
	s.sync.mu.Unlock()
	return ss.SetSyncState(ctx, map[string]string{stPolicyVersion: version})
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// observeCentral merges the central's clock: its HLC into the node's, and
// how far its wall clock is ahead into the future-date slack (a node whose
// clock runs behind must not refuse today's date).
func (s *Service) observeCentral(hlc string, now time.Time) {
	if v, err := syncwire.ParseHLC(hlc); err == nil && s.sync.clock != nil {
		s.sync.clock.Observe(v)
	}
	if now.IsZero() {
		return
	}
	ahead := now.Sub(s.now())
	s.sync.slack.Store(int64(max(ahead, 0)))
}

// SyncBatch implements nodesync.Local. Every person whose data leaves is
// audited on the node first (report.send, as the IIS feed does).
func (s *Service) SyncBatch(ctx context.Context, limit int) (*syncwire.Batch, error) {
	if s.Sealed() {
		return nil, registry.Errorf(registry.ESEALED, "Haven is sealed; an administrator must unlock it.")
	}
	ss, err := s.loadSyncState(ctx)
	if err != nil {
		return nil, err
	}
	items, err := ss.PendingSync(ctx, max(limit, 1))
	if err != nil || len(items) == 0 {
		return nil, err
	}
	st, err := ss.SyncOutboxStatus(ctx)
	if err != nil {
		return nil, err
	}
	s.sync.mu.Lock()
	share := s.sync.contact.shareBirthDate
	b := &syncwire.Batch{Header: syncwire.PushHeader{Format: syncwire.Format, Node: s.sync.nodeID, After: s.sync.contact.AckedSeq,
		Last: items[len(items)-1].Seq, Pending: max(st.Pending-int64(len(items)), 0), SkewSeconds: s.sync.contact.SkewSeconds}}
	s.sync.mu.Unlock()
	b.Header.HLC = syncwire.FormatHLC(s.sync.clock.Now())
	// The batch's doses and tests are read at once.
	var ids []registry.ID
	for _, it := range items {
		if it.Event.Kind == registry.SyncDose || it.Event.Kind == registry.SyncTest {
			ids = append(ids, it.Event.RecordID)
		}
	}
	vs, ts, err := ss.FindRecordsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	recs := batchRecords{doses: make(map[registry.ID]*registry.Vaccination, len(vs)), tests: make(map[registry.ID]*registry.Test, len(ts))}
	for i := range vs {
		recs.doses[vs[i].ID] = &vs[i]
	}
	for i := range ts {
		recs.tests[ts[i].ID] = &ts[i]
	}
	persons := map[registry.ID]bool{}
	for _, it := range items {
		evs, err := s.outboxEvents(ctx, ss, it.Event, share, recs)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			ev.Seq, ev.HLC = it.Seq, syncwire.FormatHLC(it.Event.HLC)
			b.Events = append(b.Events, ev)
		}
		if len(evs) > 0 && it.Event.Kind != registry.SyncErase {
			persons[it.Event.PersonID] = true
		}
	}
	// Every person whose data leaves is traced first, in one transaction.
	entries := make([]registry.AuditRecord, 0, len(persons))
	for id := range persons {
		subject, err := s.subjectOf(id)
		if err != nil {
			return nil, err
		}
		entries = append(entries, *s.entry(syncActor(), ActReportSend, "care", subject))
	}
	if err := ss.AppendAudits(ctx, entries); err != nil {
		return nil, err
	}
	return b, nil
}

// batchRecords are a push batch's doses and tests, read at once.
type batchRecords struct {
	doses map[registry.ID]*registry.Vaccination
	tests map[registry.ID]*registry.Test
}

// outboxEvents reads what a queued event refers to, as it now stands;
// nothing when it is gone.
func (s *Service) outboxEvents(ctx context.Context, ss registry.SyncStore, ev registry.SyncEvent, shareBirth bool, recs batchRecords) ([]syncwire.Event, error) {
	gone := func(err error) bool { return registry.ErrorCode(err) == registry.ENOTFOUND }
	switch ev.Kind {
	case registry.SyncPerson, registry.SyncEdit:
		sp, err := ss.FindPersonByID(ctx, ev.PersonID)
		if gone(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		pe, err := s.personEvent(sp)
		if err != nil {
			return nil, err
		}
		if !shareBirth && len(pe.Birth) > 4 {
			pe.Birth = pe.Birth[:4]
		}
		if ev.Kind == registry.SyncEdit {
			pe.K, pe.Person, pe.ID, pe.Card, pe.Recorded = registry.SyncEdit, pe.ID, "", "", ""
		}
		return []syncwire.Event{pe}, nil
	case registry.SyncDose:
		v, ok := recs.doses[ev.RecordID]
		if !ok {
			return nil, nil // gone with its person
		}
		return vaccinationEvents(*v)[:1], nil // its correction travels as its own event
	case registry.SyncTest:
		t, ok := recs.tests[ev.RecordID]
		if !ok {
			return nil, nil
		}
		return testEvents(*t)[:1], nil
	case registry.SyncCorrect:
		ce, err := s.correctEvent(ctx, ev.PersonID, ev.RecordID)
		if gone(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []syncwire.Event{ce}, nil
	case registry.SyncErase:
		return []syncwire.Event{{K: registry.SyncErase, Person: ev.PersonID.String()}}, nil
	case registry.SyncCert:
		c, err := ss.FindCertificate(ctx, ev.RecordID)
		if gone(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []syncwire.Event{{K: registry.SyncCert, ID: c.ID.String(), Person: c.PersonID.String(), Record: c.RecordID.String(),
			UVCI: c.UVCI, KID: c.KID, Issued: c.IssuedAt.Format(time.RFC3339Nano), Expires: c.ExpiresAt.Format(time.RFC3339Nano)}}, nil
	}
	return nil, registry.Errorf(registry.EINTERNAL, "unknown sync event %q", ev.Kind)
}

// SyncAcked implements nodesync.Local.
func (s *Service) SyncAcked(ctx context.Context, b *syncwire.Batch, ans *syncwire.PushAnswer) error {
	ss, err := s.loadSyncState(ctx)
	if err != nil {
		return err
	}
	s.observeCentral(ans.HLC, ans.Now)
	rejected := make([]registry.SyncReject, 0, len(ans.Rejected))
	for _, r := range ans.Rejected {
		rejected = append(rejected, registry.SyncReject{Seq: r.Seq, Code: r.Code, Field: r.Field, Message: r.Message})
	}
	now := s.stamp()
	state := map[string]string{stAcked: strconv.FormatInt(ans.AppliedSeq, 10), stHLC: strconv.FormatInt(s.sync.clock.Last(), 10),
		stLastPush: stamp(now)}
	if err := ss.AckSync(ctx, ans.AppliedSeq, rejected, state); err != nil {
		return err
	}
	s.sync.mu.Lock()
	s.sync.contact.AckedSeq, s.sync.contact.LastPush = ans.AppliedSeq, now
	s.sync.mu.Unlock()
	return nil
}

// SyncPullCursor implements nodesync.Local.
func (s *Service) SyncPullCursor(ctx context.Context) (int64, error) {
	if _, err := s.loadSyncState(ctx); err != nil {
		return 0, err
	}
	s.sync.mu.Lock()
	defer s.sync.mu.Unlock()
	return s.sync.contact.PullCursor, nil
}

// SyncPulled implements nodesync.Local: it stores a page of the central's
// feed (shadows of followed persons and their records) and erases persons
// erased elsewhere, key included. Nothing pulled is pushed back.
func (s *Service) SyncPulled(ctx context.Context, page *syncwire.PullPage) error {
	if s.Sealed() {
		return registry.Errorf(registry.ESEALED, "Haven is sealed; an administrator must unlock it.")
	}
	ss, err := s.loadSyncState(ctx)
	if err != nil {
		return err
	}
	s.observeCentral(page.Header.HLC, page.Header.Now)
	if err := s.storePulled(ctx, ss, page.Events, page.Header.Last); err != nil {
		return err
	}
	s.sync.mu.Lock()
	s.sync.contact.PullCursor, s.sync.contact.LastPull = page.Header.Last, s.stamp()
	s.sync.mu.Unlock()
	return nil
}

// storePulled writes pulled events, then saves cursor (when > 0) with the
// last of them.
func (s *Service) storePulled(ctx context.Context, ss registry.SyncStore, events []syncwire.Event, cursor int64) error {
	var (
		apply registry.PullApply
		known = map[registry.ID]bool{} // persons present on the node or in apply
	)
	has := func(id registry.ID) (*registry.SealedPerson, error) {
		sp, err := ss.FindPersonByID(ctx, id)
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			return nil, nil
		}
		return sp, err
	}
	flush := func(final bool) error {
		if final && cursor > 0 {
			apply.State = map[string]string{stPullCursor: strconv.FormatInt(cursor, 10), stLastPull: stamp(s.stamp())}
		}
		if len(apply.Persons)+len(apply.Vaccinations)+len(apply.Tests)+len(apply.Corrections) == 0 && apply.State == nil {
			return nil
		}
		err := ss.ApplyPull(ctx, apply)
		apply = registry.PullApply{}
		return err
	}
	for _, ev := range events {
		pid, err := eventPerson(ev)
		if err != nil {
			continue // nothing a node can do with it
		}
		switch ev.K {
		case registry.SyncErase, registry.SyncUnfollow:
			if err := flush(false); err != nil {
				return err
			}
			delete(known, pid)
			sp, err := has(pid)
			if err != nil {
				return err
			}
			if sp == nil || (ev.K == registry.SyncUnfollow && sp.Origin == "") {
				continue
			}
			if err := s.erasePulled(ctx, sp); err != nil {
				return err
			}
		case registry.SyncPerson, registry.SyncEdit:
			sp, err := has(pid)
			if err != nil {
				return err
			}
			if sp != nil && sp.Origin == "" {
				known[pid] = true
				continue // this node registered them: its own data stands
			}
			p := registry.Person{ID: pid, CreatedAt: s.stamp()}
			if sp != nil {
				p.CardCode, p.CreatedAt = sp.CardCode, sp.CreatedAt
			} else if p.CardCode, err = registry.ParseCardCode(ev.Card); err != nil {
				continue
			}
			if ev.Birth != "" {
				if p.Demographics.BirthDate, err = registry.ParsePartialDate(ev.Birth); err != nil {
					continue
				}
			}
			if sex := registry.Sex(ev.Sex); sex.Valid() {
				p.Demographics.Sex = sex
			}
			var sealed registry.SealedPerson
			if sp != nil {
				sealed, err = registry.ResealPerson(s.vault, *sp, p)
			} else {
				sealed, err = registry.SealPerson(s.vault, p)
			}
			if err != nil {
				return err
			}
			sealed.Origin = registry.OriginCentral
			apply.Persons = append(apply.Persons, sealed)
			known[pid] = true
		case registry.SyncDose, registry.SyncTest, registry.SyncCorrect:
			if !known[pid] {
				sp, err := has(pid)
				if err != nil {
					return err
				}
				if sp == nil {
					continue // not followed here (any more)
				}
				known[pid] = true
			}
			if err := addPulledRecord(&apply, pid, ev); err != nil {
				continue
			}
		}
	}
	return flush(true)
}

// addPulledRecord adds a pulled dose, test or correction to apply.
func addPulledRecord(apply *registry.PullApply, pid registry.ID, ev syncwire.Event) error {
	recorded := parseStamp(ev.Recorded)
	switch ev.K {
	case registry.SyncDose:
		id, err := registry.ParseID(ev.ID)
		if err != nil {
			return err
		}
		d, err := registry.ParseDate(ev.Date)
		if err != nil {
			return err
		}
		v := registry.Vaccination{ID: id, PersonID: pid, Product: ev.Product, Date: d, Site: ev.Site, Lot: ev.Lot,
			Source: registry.Source(ev.Source), Status: ev.Status, StatusReason: ev.Reason, RecordedAt: recorded}
		if v.Status == "" {
			v.Status = registry.StatusCompleted
		}
		if ev.Payment != nil {
			v.Payment = registry.Payment{Kind: ev.Payment.Kind, Amount: ev.Payment.Amount}
		}
		if ev.Replaces != "" {
			v.Replaces, _ = registry.ParseID(ev.Replaces)
		}
		apply.Vaccinations = append(apply.Vaccinations, v)
	case registry.SyncTest:
		id, err := registry.ParseID(ev.ID)
		if err != nil {
			return err
		}
		d, err := registry.ParseDate(ev.Date)
		if err != nil {
			return err
		}
		t := registry.Test{ID: id, PersonID: pid, Kind: registry.TestKind(ev.Kind), Result: registry.TestResult(ev.Result),
			Date: d, Site: ev.Site, Status: registry.StatusCompleted, RecordedAt: recorded}
		if ev.Replaces != "" {
			t.Replaces, _ = registry.ParseID(ev.Replaces)
		}
		apply.Tests = append(apply.Tests, t)
	case registry.SyncCorrect:
		rec, err := registry.ParseID(ev.Record)
		if err != nil {
			return err
		}
		c := registry.Correction{RecordID: rec}
		if ev.ReplacedBy != "" {
			c.Replacement, _ = registry.ParseID(ev.ReplacedBy)
		}
		apply.Corrections = append(apply.Corrections, c)
	}
	return nil
}

// erasePulled erases a person on this node because the central says so:
// nothing is queued back, and the key epoch is retired as for any erasure.
func (s *Service) erasePulled(ctx context.Context, sp *registry.SealedPerson) error {
	subject, err := s.subjectOf(sp.ID)
	if err != nil {
		return err
	}
	err = s.store.ErasePerson(ctx, sp.CardCode, registry.Write{Audit: s.entry(syncActor(), ActSyncErase, "", subject)})
	if err != nil && registry.ErrorCode(err) != registry.ENOTFOUND {
		return err
	}
	if s.afterErase != nil {
		if err := s.afterErase(ctx); err != nil {
			s.logger.Warn("retiring the erased person's key epoch failed; the rotator will retry", "error", err.Error())
		}
	}
	return nil
}

// lookupUpstream asks the central for a card that is not on this node and
// stores what it answers as a shadow. Offline, the card is simply not
// found, with a message saying why.
func (s *Service) lookupUpstream(ctx context.Context, card registry.CardCode, purpose string) error {
	if !s.sync.cfg.Node || s.sync.cfg.Lookup == nil {
		return registry.FieldErrorf(registry.ENOTFOUND, "card_code", "No person has this card code.")
	}
	ans, err := s.sync.cfg.Lookup(ctx, card, purpose)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return registry.FieldErrorf(registry.ENOTFOUND, "card_code", "No person has this card code.")
	}
	if err != nil {
		s.logger.Info("looking a card up at the central failed", "error", err.Error())
		return registry.FieldErrorf(registry.ENOTFOUND, "card_code",
			"Not on this computer. Connect to look up cards registered at other clinics.")
	}
	ss, err := s.syncStore()
	if err != nil {
		return err
	}
	s.observeCentral(ans.HLC, time.Time{})
	return s.storePulled(ctx, ss, append([]syncwire.Event{ans.Person}, ans.Events...), 0)
}

// SyncContact implements nodesync.Local: it keeps the outcome for sync
// status, in memory and in the saved state.
func (s *Service) SyncContact(ctx context.Context, c nodesync.Contact) error {
	ss, err := s.loadSyncState(ctx)
	if err != nil {
		return err
	}
	now := s.stamp()
	s.sync.mu.Lock()
	st := &s.sync.contact
	prevState := st.State
	st.State = c.State
	switch c.Direction {
	case "push":
		st.pushedEvents += int64(c.Events)
		st.pushedBytes += c.Bytes
	case "pull":
		st.pulledEvents += int64(c.Events)
		st.pulledBytes += c.Bytes
	}
	if c.Error == "" {
		st.LastContact, st.LastError, st.LastErrorCode, st.OfflineSince = now, "", "", time.Time{}
	} else {
		st.LastError, st.LastErrorCode, st.LastErrorAt = c.Error, c.Code, now
		if prevState == nodesync.StateOnline || st.OfflineSince.IsZero() {
			st.OfflineSince = now
		}
	}
	if c.Measured {
		st.SkewSeconds = c.Skew
	}
	kv := map[string]string{stState: st.State, stLastContact: stamp(st.LastContact), stLastError: st.LastError,
		stLastErrCode: st.LastErrorCode, stLastErrAt: stamp(st.LastErrorAt), stOfflineSince: stamp(st.OfflineSince),
		stSkew: strconv.FormatFloat(st.SkewSeconds, 'f', 3, 64)}
	changed := prevState != st.State || c.Error != "" || c.Measured
	s.sync.mu.Unlock()
	if !changed {
		return nil
	}
	return ss.SetSyncState(ctx, kv)
}

// SyncStatus returns the state of sync: on a node, its link to the
// central; on a central, its nodes.
func (s *Service) SyncStatus(ctx context.Context, a Actor) (*SyncStatus, error) {
	if err := s.begin(a, ActSyncStatus); err != nil {
		return nil, err
	}
	return s.syncStatus(ctx)
}

// syncStatus is SyncStatus without the permission check, for the web app's
// line on every page of a signed-in member of staff.
func (s *Service) syncStatus(ctx context.Context) (*SyncStatus, error) {
	ss, err := s.syncStore()
	if err != nil {
		return nil, err
	}
	if !s.sync.cfg.Node {
		nodes, err := ss.ListNodes(ctx)
		if err != nil {
			return nil, err
		}
		out := &SyncStatus{Role: "standalone"}
		if len(nodes) > 0 {
			out.Role = "central"
		}
		for _, n := range nodes {
			out.Nodes = append(out.Nodes, NodeStatus{ID: n.ID, Label: n.Label, Sites: n.Sites, AppliedSeq: n.AppliedSeq,
				Pending: n.Pending, LastContact: n.LastContact, ClockSkewSeconds: n.ClockSkew.Seconds(), Revoked: n.Revoked})
		}
		return out, nil
	}
	if _, err := s.loadSyncState(ctx); err != nil {
		return nil, err
	}
	st, err := ss.SyncOutboxStatus(ctx)
	if err != nil {
		return nil, err
	}
	s.sync.mu.Lock()
	defer s.sync.mu.Unlock()
	c := s.sync.contact
	state := c.State
	if state == "" {
		state = nodesync.StateOffline
	}
	if s.Sealed() {
		state = nodesync.StateSealed
	}
	upstream := s.sync.cfg.Upstream
	if upstream == "" {
		upstream = c.upstream
	}
	return &SyncStatus{Role: "node", Upstream: upstream, State: state, Pending: st.Pending, Failed: st.Failed,
		OldestPending: st.Oldest, LastPush: c.LastPush, LastPull: c.LastPull, LastContact: c.LastContact,
		AckedSeq: c.AckedSeq, PullCursor: c.PullCursor, ClockSkewSeconds: c.SkewSeconds, LastError: c.LastError,
		LastErrorCode: c.LastErrorCode, LastErrorAt: c.LastErrorAt, OfflineSince: c.OfflineSince,
		PolicyVersion: c.policyVersion, PushedEvents: c.pushedEvents, PushedBytes: c.pushedBytes, PulledEvents: c.pulledEvents, PulledBytes: c.pulledBytes}, nil
}

// PageSyncStatus is the sync line of the web app: the node's state for
// any signed-in member of staff (it names no person), nil elsewhere.
func (s *Service) PageSyncStatus(ctx context.Context) *SyncStatus {
	if !s.sync.cfg.Node {
		return nil
	}
	st, err := s.syncStatus(ctx)
	if err != nil {
		return nil
	}
	return st
}

// RetrySync queues again the failed events of the person of failed event
// seq (every failed event when seq is 0), once an operator has fixed what
// the central refused.
func (s *Service) RetrySync(ctx context.Context, a Actor, seq int64) (int, error) {
	if err := s.begin(a, ActSyncRetry); err != nil {
		return 0, err
	}
	ss, err := s.syncStore()
	if err != nil {
		return 0, err
	}
	n, err := ss.RetrySync(ctx, seq)
	if err != nil {
		return 0, err
	}
	if err := s.trace(ctx, a, ActSyncRetry, "", "sync:"+strconv.FormatInt(seq, 10)); err != nil {
		return n, err
	}
	if s.sync.cfg.Kick != nil {
		s.sync.cfg.Kick()
	}
	return n, nil
}

// FailedSync lists the events the central refused (admin).
func (s *Service) FailedSync(ctx context.Context, a Actor, limit int) ([]registry.SyncItem, error) {
	if err := s.begin(a, ActSyncStatus); err != nil {
		return nil, err
	}
	ss, err := s.syncStore()
	if err != nil {
		return nil, err
	}
	return ss.ListFailedSync(ctx, limit)
}

// keepCertificate records, on a node, the metadata of a certificate it
// issued (UVCI, key ID, validity, the record), queued for the central,
// which keeps what a registry needs of certificates issued offline.
func (s *Service) keepCertificate(ctx context.Context, person, record registry.ID, certs Certs, issued *cert.Issued) error {
	ss, ok := s.store.(registry.SyncStore)
	if !s.sync.cfg.Node || !ok || issued.DCC == nil {
		return nil
	}
	uvci := ""
	switch d := issued.DCC; {
	case len(d.V) > 0:
		uvci = d.V[0].Ci
	case len(d.T) > 0:
		uvci = d.T[0].Ci
	}
	c := registry.CertificateMeta{ID: registry.NewID(), PersonID: person, RecordID: record, UVCI: uvci,
		KID: cert.KID(certs.Issuer.DSC()), IssuedAt: issued.IssuedAt.UTC().Truncate(time.Microsecond), ExpiresAt: issued.ExpiresAt.UTC().Truncate(time.Microsecond)}
	w := registry.Write{Push: []registry.SyncEvent{s.syncEvent(registry.SyncCert, person, c.ID)}}
	if err := ss.RecordCertificate(ctx, c, w); err != nil {
		return err
	}
	s.synced(&w)
	return nil
}
