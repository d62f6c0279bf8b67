package clinic

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// The central's side of offline clinic nodes: enrolment, applying a node's
// pushed writes through the same validation as every other write, the feed
// back to the nodes, and lookups of cards registered elsewhere.

var nodeIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// maxPullPage bounds one pull page.
const maxPullPage = 1000

// boundNode returns the node of a node token's request, which must be bound
// to that token (by hello).
func (s *Service) boundNode(ctx context.Context, ss registry.SyncStore, a Actor, id string) (*registry.SyncNode, error) {
	if id == "" {
		// The node the token is bound to.
		nodes, err := ss.ListNodes(ctx)
		if err != nil {
			return nil, err
		}
		for i := range nodes {
			if nodes[i].TokenID == a.TokenID {
				return &nodes[i], nil
			}
		}
		return nil, registry.FieldErrorf(registry.ECONFLICT, "node", "This node has not enrolled; it must say hello first.")
	}
	if !nodeIDPattern.MatchString(id) {
		return nil, fieldErr("node", "A node ID is 32 lower-case hex digits.")
	}
	n, err := ss.FindNode(ctx, id)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return nil, registry.FieldErrorf(registry.ECONFLICT, "node", "This node has not enrolled; it must say hello first.")
	}
	if err != nil {
		return nil, err
	}
	if n.TokenID != a.TokenID {
		return nil, registry.FieldErrorf(registry.EFORBIDDEN, "node", "This node is enrolled with another token.")
	}
	return n, nil
}

// Hello enrols a node, or renews its enrolment: it binds the node's ID to
// the token, signs its certificate request with the central's CSCA, and
// answers with the node's sites, its cursor and the central's clock.
func (s *Service) Hello(ctx context.Context, a Actor, h syncwire.Hello) (*syncwire.HelloAnswer, error) {
	if err := s.begin(a, ActSyncHello); err != nil {
		return nil, err
	}
	ss, err := s.syncStore()
	if err != nil {
		return nil, err
	}
	if h.Format != syncwire.Format {
		return nil, registry.FieldErrorf(registry.EUNSUPPORTED, "format", "This central speaks %s.", syncwire.Format)
	}
	if !nodeIDPattern.MatchString(h.Node) {
		return nil, fieldErr("node", "A node ID is 32 lower-case hex digits.")
	}
	label, err := cleanText("label", h.Label, 100)
	if err != nil {
		return nil, err
	}
	version, err := cleanText("version", h.Version, 64)
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	n, err := ss.BindNode(ctx, registry.SyncNode{ID: h.Node, TokenID: a.TokenID, Sites: a.Sites, Label: label,
		Version: version, LastContact: now, CreatedAt: now})
	if err != nil {
		return nil, err
	}
	s.sync.hasNodes.Store(true)
	if err := ss.TouchNode(ctx, n.ID, max(h.Pending, 0), time.Duration(h.SkewSeconds*float64(time.Second)), now); err != nil {
		return nil, err
	}
	if err := s.trace(ctx, a, ActSyncHello, "", "node:"+n.ID); err != nil {
		return nil, err
	}
	ans := &syncwire.HelloAnswer{Node: n.ID, AppliedSeq: n.AppliedSeq, Now: now, MaxBatch: syncwire.DefaultBatch,
		ShareBirthDate: s.sync.cfg.ShareBirthDate, PolicyVersion: s.sync.cfg.PolicyVersion}
	if ans.Sites, err = s.wireSites(ctx, a.Sites); err != nil {
		return nil, err
	}
	if len(h.CSR) > 0 && s.sync.cfg.SignCSR != nil {
		if ans.DSC, ans.CSCA, err = s.sync.cfg.SignCSR(h.CSR, label); err != nil {
			return nil, withField("csr", err)
		}
	}
	ans.HLC = syncwire.FormatHLC(hlcOf(now))
	return ans, nil
}

// wireSites returns the sites with the given codes.
func (s *Service) wireSites(ctx context.Context, codes []string) ([]syncwire.Site, error) {
	out := make([]syncwire.Site, 0, len(codes))
	for _, code := range codes {
		site, err := s.FindSite(ctx, code)
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, syncwire.Site{Code: site.Code, Name: site.Name, Jurisdiction: site.Jurisdiction, Services: site.Services})
	}
	return out, nil
}

// ErrSyncBehind is the code of a push whose node heard of events the
// central no longer has (the central was restored from a backup): the node
// must queue its records again.
const ErrSyncBehind = "sync_behind"

// ApplyPush applies a node's batch: events at or below the node's cursor
// are skipped (resends), the rest are validated like any write and applied
// one person at a time, so one bad record is rejected alone and never blocks
// the stream. The cursor moves past every event in the same transaction.
func (s *Service) ApplyPush(ctx context.Context, a Actor, b *syncwire.Batch) (*syncwire.PushAnswer, error) {
	if err := s.begin(a, ActSyncPush); err != nil {
		return nil, err
	}
	ss, err := s.syncStore()
	if err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, pushedKey{}, true)
	started := time.Now()
	for attempt := 0; ; attempt++ {
		_, err = s.applyPush(ctx, ss, a, b)
		if registry.ErrorCode(err) == registry.ECONFLICT && registry.ErrorField(err) == "applied_seq" && attempt < 2 {
			continue // a concurrent push of the same node moved the cursor
		}
		break
	}
	if err != nil {
		return nil, err
	}
	n, err := ss.FindNode(ctx, b.Header.Node)
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	skew := n.ClockSkew
	if b.Header.SkewSeconds != 0 {
		skew = time.Duration(b.Header.SkewSeconds * float64(time.Second))
	}
	if err := ss.TouchNode(ctx, n.ID, max(b.Header.Pending, 0), skew, now); err != nil {
		return nil, err
	}
	// Every refusal the node has not acknowledged, this push's and any
	// whose answer was lost, so that a resend is answered alike.
	stored, err := ss.SyncRejects(ctx, n.ID, b.Header.After, n.AppliedSeq)
	if err != nil {
		return nil, err
	}
	rejected := make([]syncwire.Reject, 0, len(stored))
	for _, r := range stored {
		rejected = append(rejected, syncwire.Reject{Seq: r.Seq, Code: r.Code, Field: r.Field, Message: r.Message})
	}
	return &syncwire.PushAnswer{AppliedSeq: n.AppliedSeq, Rejected: rejected, Now: now,
		HLC: syncwire.FormatHLC(hlcOf(now)), MaxBatch: s.adaptBatch(len(b.Events), time.Since(started))}, nil
}

// Bounds of the batch size the central asks nodes for, and the time an
// apply should take: long enough to amortise a commit, short enough that
// one node's backlog never holds the central for long.
const (
	minPushBatch    = 100
	maxPushBatch    = syncwire.MaxEvents
	targetApplyTime = 250 * time.Millisecond
)

// adaptBatch returns the batch size to ask for after applying n events in
// took: scaled towards targetApplyTime, within the bounds.
func (s *Service) adaptBatch(n int, took time.Duration) int {
	cur := int(s.sync.maxBatch.Load())
	if cur == 0 {
		cur = syncwire.DefaultBatch
	}
	if n >= cur/2 && took > 0 {
		// Only a batch near the size asked for says how long one takes.
		next := int(float64(n) * float64(targetApplyTime) / float64(took))
		cur = min(max((cur+next)/2, minPushBatch), maxPushBatch)
		s.sync.maxBatch.Store(int64(cur))
	}
	return cur
}

// applyPush is one attempt of ApplyPush.
func (s *Service) applyPush(ctx context.Context, ss registry.SyncStore, a Actor, b *syncwire.Batch) ([]syncwire.Reject, error) {
	n, err := s.boundNode(ctx, ss, a, b.Header.Node)
	if err != nil {
		return nil, err
	}
	if b.Header.After > n.AppliedSeq {
		return nil, registry.FieldErrorf(ErrSyncBehind, "after",
			"The central has applied events up to %d only; queue this clinic's records again.", n.AppliedSeq)
	}
	source := "node:" + n.ID
	seen := n.AppliedSeq
	var rejected []syncwire.Reject
	var seg []syncwire.Event
	flush := func(last int64) error {
		if last <= seen {
			return nil
		}
		rej, err := s.applySegment(ctx, ss, a, source, n.ID, seen, last, seg)
		if err != nil {
			return err
		}
		rejected = append(rejected, rej...)
		seen, seg = last, seg[:0]
		return nil
	}
	for _, ev := range b.Events {
		if ev.Seq <= seen {
			continue
		}
		if ev.K != registry.SyncErase {
			seg = append(seg, ev)
			continue
		}
		if err := flush(ev.Seq - 1); err != nil {
			return nil, err
		}
		rej, err := s.applyErase(ctx, ss, a, n.ID, seen, ev)
		if err != nil {
			return nil, err
		}
		rejected = append(rejected, rej...)
		seen = ev.Seq
	}
	if len(b.Events) > 0 {
		if err := flush(max(b.Header.Last, b.Events[len(b.Events)-1].Seq)); err != nil {
			return nil, err
		}
	}
	return rejected, nil
}

// pushPart is one person's part of a segment being built.
type pushPart struct {
	p        registry.PushPerson
	records  map[registry.ID]bool // records added by this part
	person   *registry.Person     // the person, opened, when the part edits them
	sealed   *registry.SealedPerson
	rejected error // the person's own event failed: the part is rejected without writing
	// segment holds the records of the whole segment so far (earlier parts
	// included), which a correction may name before they are stored.
	segment map[registry.ID]segmentRecord
}

// segmentRecord is a record added by a segment being built.
type segmentRecord struct {
	site   string
	isDose bool
}

// applySegment applies events (none an erase) from seen+1 to last.
func (s *Service) applySegment(ctx context.Context, ss registry.SyncStore, a Actor, source, node string, seen, last int64, events []syncwire.Event) ([]syncwire.Reject, error) {
	var (
		parts    []*pushPart
		rejected []syncwire.Reject
		open     = map[registry.ID]*pushPart{} // the open part of each person
		segment  = map[registry.ID]segmentRecord{}
	)
	for _, ev := range events {
		pid, err := eventPerson(ev)
		if err != nil {
			rejected = append(rejected, rejectsOf([]int64{ev.Seq}, err)...)
			continue
		}
		part := open[pid]
		// A correction of a record of the open part starts a new part:
		// a part writes corrections before records.
		if part != nil && ev.K == registry.SyncCorrect {
			rec, _ := registry.ParseID(ev.Record)
			rep, _ := registry.ParseID(ev.ReplacedBy)
			if part.records[rec] || part.records[rep] {
				part = nil
			}
		}
		if part == nil {
			prev := open[pid]
			part = &pushPart{p: registry.PushPerson{History: registry.History{PersonID: pid}}, records: map[registry.ID]bool{}, segment: segment}
			if prev != nil && prev.rejected != nil {
				part.rejected = errDependsOnRejected
			}
			open[pid] = part
			parts = append(parts, part)
		}
		if part.rejected != nil {
			part.p.Seqs = append(part.p.Seqs, ev.Seq)
			continue
		}
		// A bad event is refused alone, unless it registers the person:
		// then the person's other events have nothing to attach to.
		if err := s.addPushEvent(ctx, ss, a, source, part, ev); err != nil {
			if ev.K == registry.SyncPerson {
				part.p.Seqs = append(part.p.Seqs, ev.Seq)
				part.rejected = err
			} else {
				rejected = append(rejected, rejectsOf([]int64{ev.Seq}, err)...)
			}
			continue
		}
		part.p.Seqs = append(part.p.Seqs, ev.Seq)
	}
	apply := registry.PushApply{Cursor: registry.SyncCursor{Node: node, Seen: seen, Last: last, At: s.stamp()}}
	for _, r := range rejected {
		apply.Rejects = append(apply.Rejects, registry.SyncReject{Seq: r.Seq, Code: r.Code, Field: r.Field, Message: r.Message})
	}
	var index []int // apply.Persons[i] is parts[index[i]]
	for i, part := range parts {
		if part.rejected != nil {
			rejected = append(rejected, rejectsOf(part.p.Seqs, part.rejected)...)
			continue
		}
		if part.person != nil {
			resealed, err := registry.ResealPerson(s.vault, *part.sealed, *part.person)
			if err != nil {
				return nil, err
			}
			if part.p.History.NewPerson != nil {
				part.p.History.NewPerson = &resealed
			} else {
				part.p.Update = &resealed
			}
		}
		subject, err := s.subjectOf(part.p.History.PersonID)
		if err != nil {
			return nil, err
		}
		part.p.Audit = *s.entry(a, ActSyncApply, "care", subject)
		apply.Persons = append(apply.Persons, part.p)
		index = append(index, i)
	}
	out, err := ss.ApplyPush(ctx, apply)
	if err != nil {
		return nil, err
	}
	for i, err := range out.Rejected {
		rejected = append(rejected, rejectsOf(parts[index[i]].p.Seqs, err)...)
	}
	return rejected, nil
}

var errDependsOnRejected = registry.FieldErrorf(registry.EINVALID, "person", "An earlier event of this person was rejected.")

// rejectsOf names every event of a rejected part.
func rejectsOf(seqs []int64, err error) []syncwire.Reject {
	var e *registry.Error
	if !errors.As(err, &e) {
		e = &registry.Error{Code: registry.EINTERNAL, Message: "The event could not be applied."}
	}
	out := make([]syncwire.Reject, 0, len(seqs))
	for _, seq := range seqs {
		out = append(out, syncwire.Reject{Seq: seq, Code: e.Code, Field: e.Field, Message: e.Message})
	}
	return out
}

// eventPerson is the person an event concerns.
func eventPerson(ev syncwire.Event) (registry.ID, error) {
	id := ev.Person
	if ev.K == registry.SyncPerson {
		id = ev.ID
	}
	pid, err := registry.ParseID(id)
	if err != nil {
		return pid, fieldErr("person", "Malformed person ID.")
	}
	return pid, nil
}

// addPushEvent validates one event and adds it to its person's part.
func (s *Service) addPushEvent(ctx context.Context, ss registry.SyncStore, a Actor, source string, part *pushPart, ev syncwire.Event) error {
	h := &part.p.History
	recorded := s.stamp()
	if t, err := time.Parse(time.RFC3339Nano, ev.Recorded); err == nil && ev.Recorded != "" {
		recorded = t.UTC().Truncate(time.Microsecond)
	}
	switch ev.K {
	case registry.SyncPerson:
		if h.NewPerson != nil || part.sealed != nil {
			return fieldErr("person", "The person was already sent.")
		}
		card, err := registry.ParseCardCode(ev.Card)
		if err != nil {
			return fieldErr("card", "Malformed card code.")
		}
		p := registry.Person{ID: h.PersonID, CardCode: card, CreatedAt: recorded}
		if err := s.setBirthSex(&p, ev); err != nil {
			return err
		}
		if done, err := ss.Tombstoned(ctx, p.ID); err != nil {
			return err
		} else if done {
			return fieldErr("person", "This person was erased at the central.")
		}
		sealed, err := registry.SealPerson(s.vault, p)
		if err != nil {
			return err
		}
		h.NewPerson, part.sealed, part.person = &sealed, &sealed, &p
		part.p.Home = true
		s.feedPart(part, registry.SyncPerson, registry.ID{})
	case registry.SyncEdit:
		if part.person == nil {
			sp, err := ss.FindPersonByID(ctx, h.PersonID)
			if err != nil {
				return withField("person", err)
			}
			rec, err := s.open(&registry.SealedRecord{Person: *sp})
			if err != nil {
				return err
			}
			part.sealed, part.person = sp, &rec.Person
		}
		if err := s.setBirthSex(part.person, ev); err != nil {
			return err
		}
		s.feedPart(part, registry.SyncPerson, registry.ID{})
	case registry.SyncDose:
		v, err := s.pushedVaccination(ctx, a, source, h.PersonID, ev, recorded)
		if err != nil {
			return err
		}
		h.Vaccinations = append(h.Vaccinations, v)
		part.records[v.ID] = true
		part.segment[v.ID] = segmentRecord{site: v.Site, isDose: true}
		part.p.Reports = append(part.p.Reports, s.reports(registry.Vaccination{ID: v.ID, PersonID: v.PersonID}, false)...)
		s.feedPart(part, registry.SyncDose, v.ID)
	case registry.SyncTest:
		t, err := s.pushedTest(ctx, a, source, h.PersonID, ev, recorded)
		if err != nil {
			return err
		}
		h.Tests = append(h.Tests, t)
		part.records[t.ID] = true
		part.segment[t.ID] = segmentRecord{site: t.Site}
		s.feedPart(part, registry.SyncTest, t.ID)
	case registry.SyncCorrect:
		rec, err := registry.ParseID(ev.Record)
		if err != nil {
			return fieldErr("record", "Malformed record ID.")
		}
		var rep registry.ID
		if ev.ReplacedBy != "" {
			if rep, err = registry.ParseID(ev.ReplacedBy); err != nil {
				return fieldErr("replaced_by", "Malformed record ID.")
			}
		}
		site, isDose, err := s.recordSite(ctx, rec)
		if sr, ok := part.segment[rec]; ok {
			site, isDose, err = sr.site, sr.isDose, nil
		}
		if err != nil {
			return withField("record", err)
		}
		if site != "" && !a.MaySite(site) {
			return registry.FieldErrorf(registry.EFORBIDDEN, "site", "This node may not correct records made at site %q.", site)
		}
		h.Corrections = append(h.Corrections, registry.Correction{RecordID: rec, Replacement: rep})
		if isDose {
			part.p.Reports = append(part.p.Reports, s.reports(registry.Vaccination{ID: rec, PersonID: h.PersonID}, true)...)
		}
		s.feedPart(part, registry.SyncCorrect, rec)
	case registry.SyncCert:
		c, err := pushedCertificate(h.PersonID, ev)
		if err != nil {
			return err
		}
		h.Certificates = append(h.Certificates, c)
	default:
		return fieldErr("k", "Unknown event kind %q.", ev.K)
	}
	return nil
}

// pushedCertificate reads a cert event: the metadata of a certificate a
// node issued.
func pushedCertificate(person registry.ID, ev syncwire.Event) (registry.CertificateMeta, error) {
	c := registry.CertificateMeta{PersonID: person, KID: ev.KID}
	var err error
	if c.ID, err = registry.ParseID(ev.ID); err != nil {
		return c, fieldErr("id", "Malformed certificate ID.")
	}
	if c.RecordID, err = registry.ParseID(ev.Record); err != nil {
		return c, fieldErr("record", "Malformed record ID.")
	}
	if c.UVCI, err = cleanText("uvci", ev.UVCI, 80); err != nil {
		return c, err
	}
	if c.UVCI == "" || len(c.KID) != 8 {
		return c, fieldErr("uvci", "A certificate needs its UVCI and its 8-byte key ID.")
	}
	if c.IssuedAt, err = time.Parse(time.RFC3339Nano, ev.Issued); err != nil {
		return c, fieldErr("issued", "Malformed time.")
	}
	if c.ExpiresAt, err = time.Parse(time.RFC3339Nano, ev.Expires); err != nil {
		return c, fieldErr("expires", "Malformed time.")
	}
	return c, nil
}

// feedPart queues an event of the part for the person's other followers.
func (s *Service) feedPart(part *pushPart, kind string, record registry.ID) {
	part.p.Feed = append(part.p.Feed, registry.SyncEvent{Kind: kind, PersonID: part.p.History.PersonID, RecordID: record, At: s.stamp()})
}

// setBirthSex sets what the central keeps of a node-registered person: the
// birth year (or date, with ShareBirthDate) and sex.
func (s *Service) setBirthSex(p *registry.Person, ev syncwire.Event) error {
	p.Demographics.BirthDate = registry.PartialDate{}
	if ev.Birth != "" {
		b, err := registry.ParsePartialDate(ev.Birth)
		if err != nil {
			return fieldErr("birth", "%v.", err)
		}
		if !s.sync.cfg.ShareBirthDate {
			b = registry.PartialDate{Year: b.Year}
		}
		p.Demographics.BirthDate = b
	}
	sex := registry.Sex(ev.Sex)
	if !sex.Valid() {
		return fieldErr("sex", "Unknown sex %q.", ev.Sex)
	}
	p.Demographics.Sex = sex
	return nil
}

// recordSite finds a stored record's site, and whether it is a dose.
func (s *Service) recordSite(ctx context.Context, id registry.ID) (string, bool, error) {
	v, err := s.store.FindVaccination(ctx, id)
	if err == nil {
		return v.Site, true, nil
	}
	if registry.ErrorCode(err) != registry.ENOTFOUND {
		return "", false, err
	}
	t, err := s.store.FindTest(ctx, id)
	if err != nil {
		return "", false, err
	}
	return t.Site, false, nil
}

// pushedVaccination validates a dose event as RecordVaccination validates a
// dose, keeping the node's record ID.
func (s *Service) pushedVaccination(ctx context.Context, a Actor, source string, person registry.ID, ev syncwire.Event, recorded time.Time) (registry.Vaccination, error) {
	id, err := registry.ParseID(ev.ID)
	if err != nil {
		return registry.Vaccination{}, fieldErr("id", "Malformed record ID.")
	}
	var pay *registry.Payment
	if ev.Payment != nil {
		pay = &registry.Payment{Kind: ev.Payment.Kind, Amount: ev.Payment.Amount}
	}
	var v registry.Vaccination
	switch ev.Status {
	case "", registry.StatusCompleted:
		if v, err = s.vaccination(ctx, a, VaccinationInput{Product: ev.Product, Date: ev.Date, Site: ev.Site, Lot: ev.Lot,
			Source: ev.Source, Payment: pay}); err != nil {
			return v, err
		}
	case registry.StatusNotDone:
		if v, err = s.historyVaccination(ctx, a, &HistoryVaccination{Product: ev.Product, Date: ev.Date, Site: ev.Site,
			NotGiven: true, Reason: ev.Reason}); err != nil {
			return v, err
		}
	default:
		return v, fieldErr("status", "Unknown status %q.", ev.Status)
	}
	if ev.Replaces != "" {
		if v.Replaces, err = registry.ParseID(ev.Replaces); err != nil {
			return v, fieldErr("replaces", "Malformed record ID.")
		}
	}
	v.ID, v.PersonID, v.RecordedAt = id, person, recorded
	if v.SourceRef, err = s.sourceRef(source, ev.ID); err != nil {
		return v, err
	}
	return v, nil
}

// pushedTest validates a test event as RecordTest validates a test.
func (s *Service) pushedTest(ctx context.Context, a Actor, source string, person registry.ID, ev syncwire.Event, recorded time.Time) (registry.Test, error) {
	id, err := registry.ParseID(ev.ID)
	if err != nil {
		return registry.Test{}, fieldErr("id", "Malformed record ID.")
	}
	t, err := s.test(ctx, a, TestInput{Kind: ev.Kind, Result: ev.Result, Date: ev.Date, Site: ev.Site})
	if err != nil {
		return t, err
	}
	if ev.Replaces != "" {
		if t.Replaces, err = registry.ParseID(ev.Replaces); err != nil {
			return t, fieldErr("replaces", "Malformed record ID.")
		}
	}
	t.ID, t.PersonID, t.RecordedAt = id, person, recorded
	if t.SourceRef, err = s.sourceRef(source, ev.ID); err != nil {
		return t, err
	}
	return t, nil
}

// applyErase erases, at the central, a person a node erased: only a node
// that follows the person may (the holder stood in front of it). The
// cursor moves past the event in the erasure's transaction, and the
// erasure reaches the person's other nodes through the feed.
func (s *Service) applyErase(ctx context.Context, ss registry.SyncStore, a Actor, node string, seen int64, ev syncwire.Event) ([]syncwire.Reject, error) {
	cursor := registry.SyncCursor{Node: node, Seen: seen, Last: ev.Seq, At: s.stamp()}
	skip := func(err error) ([]syncwire.Reject, error) {
		// Settle the event without erasing: only the cursor moves, and a
		// refusal is kept.
		apply := registry.PushApply{Cursor: cursor}
		var rejected []syncwire.Reject
		if err != nil {
			rejected = rejectsOf([]int64{ev.Seq}, err)
			r := rejected[0]
			apply.Rejects = []registry.SyncReject{{Seq: r.Seq, Code: r.Code, Field: r.Field, Message: r.Message}}
		}
		if _, aerr := ss.ApplyPush(ctx, apply); aerr != nil {
			return nil, aerr
		}
		return rejected, nil
	}
	pid, err := registry.ParseID(ev.Person)
	if err != nil {
		return skip(fieldErr("person", "Malformed person ID."))
	}
	sp, err := ss.FindPersonByID(ctx, pid)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return skip(nil) // never received, or erased already
	}
	if err != nil {
		return nil, err
	}
	followers, err := ss.Followers(ctx, pid)
	if err != nil {
		return nil, err
	}
	follows := false
	for _, f := range followers {
		follows = follows || f == node
	}
	if !follows {
		return skip(registry.FieldErrorf(registry.EFORBIDDEN, "person", "This clinic does not follow this person."))
	}
	subject, err := s.subjectOf(pid)
	if err != nil {
		return nil, err
	}
	w := registry.Write{Audit: s.entry(a, ActPersonErase, "", subject), Cursor: &cursor, FeedExcept: node,
		Feed: []registry.SyncEvent{{Kind: registry.SyncErase, PersonID: pid, At: s.stamp()}}}
	if err := s.store.ErasePerson(ctx, sp.CardCode, w); err != nil {
		return nil, err
	}
	if s.afterErase != nil {
		if err := s.afterErase(ctx); err != nil {
			s.logger.Warn("retiring the erased person's key epoch failed; the rotator will retry", "error", err.Error())
		}
	}
	return nil, nil
}

// Pull returns the next page of the node's feed: the writes of other
// clinics and of the central to the persons the node follows. A pull with
// after=N acknowledges every event up to N. Each person sent is audited.
func (s *Service) Pull(ctx context.Context, a Actor, nodeID string, after int64, limit int) (*syncwire.PullPage, error) {
	if err := s.begin(a, ActSyncPull); err != nil {
		return nil, err
	}
	ss, err := s.syncStore()
	if err != nil {
		return nil, err
	}
	n, err := s.boundNode(ctx, ss, a, nodeID)
	if err != nil {
		return nil, err
	}
	if after < 0 {
		return nil, fieldErr("after", "after must not be negative.")
	}
	if limit <= 0 || limit > maxPullPage {
		limit = maxPullPage
	}
	items, err := ss.PullFeed(ctx, n.ID, after, limit+1)
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	page := &syncwire.PullPage{Header: syncwire.PullHeader{After: after, Last: after, Now: now,
		HLC: syncwire.FormatHLC(hlcOf(now))}}
	if len(items) > limit {
		items, page.Header.More = items[:limit], true
	}
	traced := map[registry.ID]bool{}
	for _, it := range items {
		page.Header.Last = it.Seq
		evs, err := s.feedEvents(ctx, ss, it.Event)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			continue
		}
		if it.Event.Kind != registry.SyncErase && !traced[it.Event.PersonID] {
			traced[it.Event.PersonID] = true
			subject, err := s.subjectOf(it.Event.PersonID)
			if err != nil {
				return nil, err
			}
			if err := s.trace(ctx, a, ActSyncPull, "care", subject); err != nil {
				return nil, err
			}
		}
		for _, ev := range evs {
			ev.Seq = it.Seq
			page.Events = append(page.Events, ev)
		}
	}
	if err := ss.TouchNode(ctx, n.ID, n.Pending, n.ClockSkew, now); err != nil {
		return nil, err
	}
	return page, nil
}

// feedEvents reads what a feed item refers to as it now stands; nothing
// when it is gone (the person was erased: their erase event follows).
func (s *Service) feedEvents(ctx context.Context, ss registry.SyncStore, ev registry.SyncEvent) ([]syncwire.Event, error) {
	gone := func(err error) bool { return registry.ErrorCode(err) == registry.ENOTFOUND }
	switch ev.Kind {
	case registry.SyncErase, registry.SyncUnfollow:
		return []syncwire.Event{{K: ev.Kind, Person: ev.PersonID.String()}}, nil
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
		return []syncwire.Event{pe}, nil
	case registry.SyncDose:
		v, err := s.store.FindVaccination(ctx, ev.RecordID)
		if gone(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		// One event per feed row (a page's seqs ascend strictly): a
		// correction travels as its own row, as in the node's outbox.
		return vaccinationEvents(*v)[:1], nil
	case registry.SyncTest:
		t, err := s.store.FindTest(ctx, ev.RecordID)
		if gone(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
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
	}
	return nil, registry.Errorf(registry.EINTERNAL, "unknown feed event %q", ev.Kind)
}

// personEvent is the least-data form of a person: card code, birth and sex.
func (s *Service) personEvent(sp *registry.SealedPerson) (syncwire.Event, error) {
	rec, err := s.open(&registry.SealedRecord{Person: *sp})
	if err != nil {
		return syncwire.Event{}, err
	}
	d := rec.Person.Demographics
	return syncwire.Event{K: registry.SyncPerson, ID: sp.ID.String(), Card: string(sp.CardCode), Birth: d.BirthDate.String(),
		Sex: string(d.Sex), Recorded: sp.CreatedAt.Format(time.RFC3339Nano)}, nil
}

// vaccinationEvents is a stored dose on the wire: the dose, then its
// correction when it was entered in error.
func vaccinationEvents(v registry.Vaccination) []syncwire.Event {
	ev := syncwire.Event{K: registry.SyncDose, ID: v.ID.String(), Person: v.PersonID.String(), Product: v.Product,
		Date: v.Date.String(), Site: v.Site, Lot: v.Lot, Source: string(v.Source), Status: v.Status, Reason: v.StatusReason,
		Payment: &syncwire.Payment{Kind: v.Payment.Kind, Amount: v.Payment.Amount}, Recorded: v.RecordedAt.Format(time.RFC3339Nano)}
	if v.Payment.Kind == "" {
		ev.Payment = nil
	}
	if v.Replaces != (registry.ID{}) {
		ev.Replaces = v.Replaces.String()
	}
	if v.Status != registry.StatusEnteredInError {
		return []syncwire.Event{ev}
	}
	ev.Status = registry.StatusCompleted
	return []syncwire.Event{ev, correctionOf(v.PersonID, v.ID, v.ReplacedBy)}
}

// testEvents is vaccinationEvents for a test.
func testEvents(t registry.Test) []syncwire.Event {
	ev := syncwire.Event{K: registry.SyncTest, ID: t.ID.String(), Person: t.PersonID.String(), Kind: string(t.Kind),
		Result: string(t.Result), Date: t.Date.String(), Site: t.Site, Recorded: t.RecordedAt.Format(time.RFC3339Nano)}
	if t.Replaces != (registry.ID{}) {
		ev.Replaces = t.Replaces.String()
	}
	if t.Status != registry.StatusEnteredInError {
		return []syncwire.Event{ev}
	}
	return []syncwire.Event{ev, correctionOf(t.PersonID, t.ID, t.ReplacedBy)}
}

func correctionOf(person, record, replacedBy registry.ID) syncwire.Event {
	ev := syncwire.Event{K: registry.SyncCorrect, Person: person.String(), Record: record.String()}
	if replacedBy != (registry.ID{}) {
		ev.ReplacedBy = replacedBy.String()
	}
	return ev
}

// correctEvent reads a stored correction.
func (s *Service) correctEvent(ctx context.Context, person, record registry.ID) (syncwire.Event, error) {
	if v, err := s.store.FindVaccination(ctx, record); err == nil {
		return correctionOf(person, record, v.ReplacedBy), nil
	} else if registry.ErrorCode(err) != registry.ENOTFOUND {
		return syncwire.Event{}, err
	}
	t, err := s.store.FindTest(ctx, record)
	if err != nil {
		return syncwire.Event{}, err
	}
	return correctionOf(person, record, t.ReplacedBy), nil
}

// LookupForNode answers a node's lookup of a card registered elsewhere: the
// node follows the person from now on (their later records reach it through
// the feed), and the answer holds the least-data person and every record.
// It is limited and audited like any read, with the staff member's purpose.
func (s *Service) LookupForNode(ctx context.Context, a Actor, nodeID string, card registry.CardCode, purpose string) (*syncwire.LookupAnswer, error) {
	if err := s.begin(a, ActSyncLookup); err != nil {
		return nil, err
	}
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	ss, err := s.syncStore()
	if err != nil {
		return nil, err
	}
	n, err := s.boundNode(ctx, ss, a, nodeID)
	if err != nil {
		return nil, err
	}
	if err := s.limitRead(a, card); err != nil {
		return nil, err
	}
	sp, err := s.findPerson(ctx, card)
	if err != nil {
		return nil, err
	}
	subject, err := s.subjectOf(sp.ID)
	if err != nil {
		return nil, err
	}
	// The follow commits before the record is read, so that a dose
	// written meanwhile is either in this answer or in the feed.
	if err := ss.Follow(ctx, n.ID, sp.ID, *s.entry(a, ActSyncLookup, purpose, subject), s.stamp()); err != nil {
		return nil, err
	}
	rec, err := s.findRecord(ctx, card)
	if err != nil {
		return nil, err
	}
	pe, err := s.personEvent(&rec.Person)
	if err != nil {
		return nil, err
	}
	ans := &syncwire.LookupAnswer{Person: pe, HLC: syncwire.FormatHLC(hlcOf(s.stamp()))}
	for _, v := range rec.Vaccinations {
		ans.Events = append(ans.Events, vaccinationEvents(v)...)
	}
	for _, t := range rec.Tests {
		ans.Events = append(ans.Events, testEvents(t)...)
	}
	return ans, nil
}

// hlcOf is the hybrid logical clock reading of a wall-clock time (no
// counter): the central's clock as it answers.
func hlcOf(t time.Time) int64 { return t.UnixMilli() << 16 }

// SyncReferenceAllowed checks that a may fetch the central's reference
// data, its trust list and policy packs (a node token); neither names a
// person.
func (s *Service) SyncReferenceAllowed(a Actor) error {
	return s.begin(a, ActSyncPull)
}
