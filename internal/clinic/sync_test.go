package clinic_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/syncwire"
	"github.com/haven-registry/haven/internal/vault"
)

// syncPair is a node and a central in one process, each on its own store,
// wired by calling the actions the transports call.
type syncPair struct {
	node, central     *clinic.Service
	nodeDB, centralDB *sqlite.DB
	nodeActor         clinic.Actor // the node's token at the central
	nodeID            string
}

func newSyncPair(t *testing.T) *syncPair {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	open := func(node bool) (*clinic.Service, *sqlite.DB) {
		db, err := sqlite.Open(filepath.Join(t.TempDir(), "haven.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(ctx, now); err != nil {
			t.Fatal(err)
		}
		for _, code := range []string{"YB-1", "YB-2"} {
			if _, err := db.CreateSite(ctx, registry.Site{Code: code, Name: "Yanji " + code, Jurisdiction: "CN-JL-YB",
				Services: []string{registry.ServiceVaccination, registry.ServiceTesting}}, registry.Write{}); err != nil {
				t.Fatal(err)
			}
		}
		v, err := vault.NewEphemeral(vault.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return clinic.New(clinic.Deps{Store: db, Vault: v, Catalog: catalog.Default(), Now: func() time.Time { return now },
			Sync: &clinic.SyncConfig{Node: node}}), db
	}
	p := &syncPair{}
	p.node, p.nodeDB = open(true)
	p.central, p.centralDB = open(false)
	_, tok, err := clinic.NewToken(registry.RoleNode, []string{"YB-1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.centralDB.CreateToken(ctx, tok, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	p.nodeActor = clinic.TokenActor(&tok, "")
	h, err := p.node.SyncHello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := p.central.Hello(ctx, p.nodeActor, *h)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.node.SyncEnrolled(ctx, ans); err != nil {
		t.Fatal(err)
	}
	p.nodeID = h.Node
	return p
}

// push sends the node's whole outbox to the central, batch by batch.
func (p *syncPair) push(t *testing.T) []syncwire.Reject {
	t.Helper()
	ctx := context.Background()
	var rejected []syncwire.Reject
	for {
		b, err := p.node.SyncBatch(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return rejected
		}
		ans, err := p.central.ApplyPush(ctx, p.nodeActor, b)
		if err != nil {
			t.Fatal(err)
		}
		rejected = append(rejected, ans.Rejected...)
		if err := p.node.SyncAcked(ctx, b, ans); err != nil {
			t.Fatal(err)
		}
	}
}

var nodeStaff = clinic.Actor{TokenID: "tk_node_staff", Role: registry.RoleVaccinator, Sites: []string{"YB-1", "YB-2"}}

// TestSyncEveryWriteQueuesItsEvent: each write action on a node queues its
// event in the write's transaction, and the central applies them all.
func TestSyncEveryWriteQueuesItsEvent(t *testing.T) {
	p := newSyncPair(t)
	ctx := context.Background()
	pending := func() int64 {
		st, err := p.nodeDB.SyncOutboxStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Pending
	}
	reg, err := p.node.RegisterPerson(ctx, nodeStaff, clinic.PersonInput{GivenName: "순희", FamilyName: "김", BirthDate: "1990-04-01", Sex: "female", Phone: "010-1234-5678"}, "")
	if err != nil {
		t.Fatal(err)
	}
	card := reg.Record.Person.CardCode
	birth := "1991-04-01"
	steps := []struct {
		name string
		do   func() error
	}{
		{"edit", func() error {
			_, err := p.node.EditPerson(ctx, nodeStaff, card, clinic.PersonEdit{BirthDate: &birth}, "")
			return err
		}},
		{"dose", func() error {
			_, err := p.node.RecordVaccination(ctx, nodeStaff, card, clinic.VaccinationInput{Product: "comirnaty", Date: "2026-11-02", Site: "YB-1"}, "")
			return err
		}},
		{"test", func() error {
			_, err := p.node.RecordTest(ctx, nodeStaff, card, clinic.TestInput{Kind: "antigen", Result: "negative", Date: "2026-11-03", Site: "YB-1"}, "")
			return err
		}},
		{"correct", func() error {
			rec, err := p.node.ReadRecord(ctx, nodeStaff, card, "correction")
			if err != nil {
				return err
			}
			_, err = p.node.MarkEnteredInError(ctx, nodeStaff, card, rec.Vaccinations[0].ID, clinic.Correction{}, "")
			return err
		}},
		{"history", func() error {
			_, err := p.node.RecordHistory(ctx, nodeStaff, clinic.HistoryInput{Card: card, Source: "paper",
				Vaccinations: []clinic.HistoryVaccination{{Key: "a", Product: "coronavac", Date: "2021-06-01", Source: "historical-card"}}}, "")
			return err
		}},
	}
	want := int64(1)
	if got := pending(); got != want {
		t.Fatalf("after registering: %d events waiting, want %d", got, want)
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want++
		if got := pending(); got != want {
			t.Fatalf("after %s: %d events waiting, want %d", st.name, got, want)
		}
	}
	if rej := p.push(t); len(rej) != 0 {
		t.Fatalf("the central refused %v", rej)
	}
	if got := pending(); got != 0 {
		t.Fatalf("%d events still waiting after the push", got)
	}
	// The central's access log, with the push's entries inserted together,
	// still verifies, and holds one sync.apply entry per part applied.
	auditor := clinic.Actor{TokenID: "tk_auditor", Role: registry.RoleAuditor}
	rep, err := p.central.VerifyAudit(ctx, auditor)
	if err != nil || !rep.OK {
		t.Fatalf("the central's access log after a push: %+v, %v", rep, err)
	}
	page, err := p.central.AuditEntries(ctx, auditor, 0, 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	applies := 0
	for _, e := range page.Entries {
		if e.Action == string(clinic.ActSyncApply) {
			applies++
		}
	}
	if applies == 0 {
		t.Errorf("no sync.apply entry in the central's access log")
	}
	// The central holds the person as least data, and every record.
	rec, err := p.centralDB.FindRecord(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Vaccinations) != 2 || len(rec.Tests) != 1 {
		t.Fatalf("the central holds %d doses and %d tests; want 2 and 1", len(rec.Vaccinations), len(rec.Tests))
	}
	corrected := 0
	for _, v := range rec.Vaccinations {
		if v.Status == registry.StatusEnteredInError {
			corrected++
		}
	}
	if corrected != 1 {
		t.Errorf("%d doses marked entered in error at the central; want 1", corrected)
	}
	opened, err := p.central.ReadRecord(ctx, clinic.Actor{TokenID: "tk_central", Role: registry.RoleVaccinator, Sites: []string{"YB-1"}}, card, "care")
	if err != nil {
		t.Fatal(err)
	}
	d := opened.Person.Demographics
	if d.GivenName != "" || d.FamilyName != "" || d.Phone != "" || d.BirthDate.String() != "1991" || d.Sex != registry.SexFemale {
		t.Errorf("the central holds %+v for a node's person; want the birth year and sex only", d)
	}

	// Erasing at the node sends only the erasure, and it is applied.
	if err := p.node.ErasePerson(ctx, clinic.Actor{TokenID: "tk_admin", Role: registry.RoleAdmin}, card); err != nil {
		t.Fatal(err)
	}
	if got := pending(); got != 1 {
		t.Fatalf("after erasing: %d events waiting, want the erasure alone", got)
	}
	if rej := p.push(t); len(rej) != 0 {
		t.Fatalf("the central refused the erasure: %v", rej)
	}
	if _, err := p.centralDB.FindPerson(ctx, card); registry.ErrorCode(err) != registry.ENOTFOUND {
		t.Errorf("the person erased at the node is still at the central: %v", err)
	}
}

// TestSyncNodeActsOnlyForItsSites: a dose at a site the node token does not
// hold is rejected alone, naming the site; the rest of the batch is applied
// and the cursor passes the rejected event. A batch sent twice is applied
// once.
func TestSyncNodeActsOnlyForItsSites(t *testing.T) {
	p := newSyncPair(t)
	ctx := context.Background()
	reg, err := p.node.RegisterPerson(ctx, nodeStaff, clinic.PersonInput{BirthDate: "1985", Sex: "male"}, "")
	if err != nil {
		t.Fatal(err)
	}
	card := reg.Record.Person.CardCode
	other, err := p.node.RegisterPerson(ctx, nodeStaff, clinic.PersonInput{BirthDate: "1986", Sex: "female"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []struct {
		card registry.CardCode
		site string
	}{{card, "YB-1"}, {card, "YB-2"}, {other.Record.Person.CardCode, "YB-1"}} {
		if _, err := p.node.RecordVaccination(ctx, nodeStaff, in.card, clinic.VaccinationInput{Product: "comirnaty", Date: "2026-11-02", Site: in.site}, ""); err != nil {
			t.Fatal(err)
		}
	}
	b, err := p.node.SyncBatch(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := p.central.ApplyPush(ctx, p.nodeActor, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Rejected) != 1 || ans.Rejected[0].Code != registry.EFORBIDDEN || ans.Rejected[0].Field == "" {
		t.Fatalf("rejected %+v; want the YB-2 dose alone, forbidden, naming its field", ans.Rejected)
	}
	if ans.AppliedSeq != b.Header.Last {
		t.Errorf("applied_seq %d; want the batch's last, %d", ans.AppliedSeq, b.Header.Last)
	}
	again, err := p.central.ApplyPush(ctx, p.nodeActor, b)
	if err != nil {
		t.Fatal(err)
	}
	// A resend (its answer was lost) is answered alike, refusal included,
	// and applies nothing twice.
	if len(again.Rejected) != 1 || again.Rejected[0] != ans.Rejected[0] || again.AppliedSeq != ans.AppliedSeq {
		t.Errorf("the batch sent again was answered %+v; want %+v", again, ans)
	}
	total := 0
	for _, c := range []registry.CardCode{card, other.Record.Person.CardCode} {
		rec, err := p.centralDB.FindRecord(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		total += len(rec.Vaccinations)
	}
	if total != 2 {
		t.Errorf("the central holds %d doses; want 2 (the YB-1 doses, once each)", total)
	}
	if err := p.node.SyncAcked(ctx, b, ans); err != nil {
		t.Fatal(err)
	}
	st, err := p.nodeDB.SyncOutboxStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.Failed != 1 {
		t.Errorf("node outbox: %d pending, %d failed; want 0 and the refused dose kept as failed", st.Pending, st.Failed)
	}
	// Once the node has them (its next push starts after them), the
	// central forgets its refusals.
	if _, err := p.node.RecordVaccination(ctx, nodeStaff, card, clinic.VaccinationInput{Product: "comirnaty", Date: "2026-11-03", Site: "YB-1"}, ""); err != nil {
		t.Fatal(err)
	}
	next, err := p.node.SyncBatch(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	later, err := p.central.ApplyPush(ctx, p.nodeActor, next)
	if err != nil {
		t.Fatal(err)
	}
	if len(later.Rejected) != 0 {
		t.Errorf("a later push was answered with old refusals: %+v", later.Rejected)
	}
}

// TestSyncShadowsAreNotEdited: a person looked up from the central is a
// shadow on the node: it cannot be edited there, and its new doses reach
// the central.
func TestSyncShadowsAreNotEdited(t *testing.T) {
	p := newSyncPair(t)
	ctx := context.Background()
	central := clinic.Actor{TokenID: "tk_central", Role: registry.RoleVaccinator, Sites: []string{"YB-1"}}
	reg, err := p.central.RegisterPerson(ctx, central, clinic.PersonInput{GivenName: "Ana", BirthDate: "2001-02-03", Sex: "female"}, "")
	if err != nil {
		t.Fatal(err)
	}
	card := reg.Record.Person.CardCode
	if _, err := p.central.RecordVaccination(ctx, central, card, clinic.VaccinationInput{Product: "coronavac", Date: "2026-10-01", Site: "YB-1"}, ""); err != nil {
		t.Fatal(err)
	}
	ans, err := p.central.LookupForNode(ctx, p.nodeActor, "", card, "care")
	if err != nil {
		t.Fatal(err)
	}
	if ans.Person.Card != string(card) || len(ans.Events) != 1 {
		t.Fatalf("lookup answered %+v", ans)
	}
	page := &syncwire.PullPage{Events: append([]syncwire.Event{ans.Person}, ans.Events...)}
	if err := p.node.SyncPulled(ctx, page); err != nil {
		t.Fatal(err)
	}
	rec, err := p.node.ReadRecord(ctx, nodeStaff, card, "care")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Person.Demographics.GivenName != "" || len(rec.Vaccinations) != 1 {
		t.Errorf("the shadow holds %+v with %d doses; want no name and the one dose", rec.Person.Demographics, len(rec.Vaccinations))
	}
	name := "Anna"
	if _, err := p.node.EditPerson(ctx, nodeStaff, card, clinic.PersonEdit{GivenName: &name}, ""); registry.ErrorCode(err) != registry.EFORBIDDEN {
		t.Errorf("editing a shadow: %v; want forbidden", err)
	}
	if _, err := p.node.RecordVaccination(ctx, nodeStaff, card, clinic.VaccinationInput{Product: "coronavac", Date: "2026-11-01", Site: "YB-1"}, ""); err != nil {
		t.Fatal(err)
	}
	if rej := p.push(t); len(rej) != 0 {
		t.Fatalf("refused: %v", rej)
	}
	crec, err := p.centralDB.FindRecord(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	if len(crec.Vaccinations) != 2 {
		t.Errorf("the central holds %d doses; want both", len(crec.Vaccinations))
	}
}

// TestSyncCentralRestored: a central restored from a backup has lost what
// it acknowledged; the node learns it at its next push (sync_behind),
// queues its persons' records again, and the central ends up with every
// record once.
func TestSyncCentralRestored(t *testing.T) {
	p := newSyncPair(t)
	ctx := context.Background()
	var cards []registry.CardCode
	for i := range 3 {
		reg, err := p.node.RegisterPerson(ctx, nodeStaff, clinic.PersonInput{BirthDate: "1980", Sex: "female"}, "")
		if err != nil {
			t.Fatal(err)
		}
		cards = append(cards, reg.Record.Person.CardCode)
		if _, err := p.node.RecordVaccination(ctx, nodeStaff, reg.Record.Person.CardCode, clinic.VaccinationInput{Product: "comirnaty", Date: "2026-11-0" + string(rune('1'+i)), Site: "YB-1"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	p.push(t)
	// The central goes back to a backup taken before any of it.
	for _, q := range []string{`DELETE FROM sync_follows`, `DELETE FROM vaccinations`, `DELETE FROM persons`, `UPDATE sync_nodes SET applied_seq = 0`} {
		if _, err := p.centralDB.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := p.node.RecordVaccination(ctx, nodeStaff, cards[0], clinic.VaccinationInput{Product: "comirnaty", Date: "2026-11-20", Site: "YB-1"}, ""); err != nil {
		t.Fatal(err)
	}
	b, err := p.node.SyncBatch(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.central.ApplyPush(ctx, p.nodeActor, b); registry.ErrorCode(err) != clinic.ErrSyncBehind {
		t.Fatalf("a push after the central lost its cursor: %v; want %s", err, clinic.ErrSyncBehind)
	}
	// The node's loop says hello again on sync_behind.
	h, err := p.node.SyncHello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := p.central.Hello(ctx, p.nodeActor, *h)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.node.SyncEnrolled(ctx, ans); err != nil {
		t.Fatal(err)
	}
	if rej := p.push(t); len(rej) != 0 {
		t.Fatalf("refused: %v", rej)
	}
	total := 0
	for _, c := range cards {
		rec, err := p.centralDB.FindRecord(ctx, c)
		if err != nil {
			t.Fatalf("card %s after the requeue: %v", c, err)
		}
		total += len(rec.Vaccinations)
	}
	if total != 4 {
		t.Errorf("the central holds %d doses after the requeue; want 4, once each", total)
	}
}
