package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/haven-registry/haven/internal/registry"
)

// testSyncRequeueOwn checks that RequeueOwn queues the node's own persons
// and records (not shadows) again, in order, above the floor it is given.
func testSyncRequeueOwn(t *testing.T, s SyncStore) {
	ctx := context.Background()
	p := nodePerson(t, s, 1)
	v := nodeDose(t, s, p, 2)
	if _, err := s.MarkEnteredInError(ctx, p.ID, v.ID, registry.ID{}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	shadow := registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
		WrappedKey: []byte("wrapped"), Sealed: []byte("sealed"), Origin: registry.OriginCentral}
	if _, err := s.CreatePerson(ctx, shadow, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordVaccination(ctx, newDose(shadow, "2021-06-02"), registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if err := s.AckSync(ctx, 2, nil, nil); err != nil { // both sent and acknowledged
		t.Fatal(err)
	}
	n, err := s.RequeueOwn(ctx, 100, 7, now)
	if err != nil {
		t.Fatal(err)
	}
	items := pending(t, s)
	var kinds []string
	for _, it := range items {
		kinds = append(kinds, it.Event.Kind)
		if it.Seq <= 100 || it.Event.HLC != 7 || it.Event.PersonID != p.ID {
			t.Errorf("requeued %+v; want seq above 100, hlc 7, the node's own person only", it)
		}
	}
	want := []string{registry.SyncPerson, registry.SyncDose, registry.SyncCorrect}
	if n != 3 || !slices.Equal(kinds, want) {
		t.Errorf("requeued %d events %v; want %v", n, kinds, want)
	}
	if !slices.IsSorted(seqs(items, itemSeq)) {
		t.Errorf("requeued seqs %v are not in order", seqs(items, itemSeq))
	}
}
