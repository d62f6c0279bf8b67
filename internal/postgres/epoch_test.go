package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/storetest"
	"github.com/haven-registry/haven/internal/vault"
)

func TestKeyEpochs(t *testing.T) {
	storetest.RunKeyEpochs(t, func(t *testing.T) storetest.EpochStore { return MustOpenDB(t) })
}

// An erasure that races a rotator rewrapping the same person marks the epoch
// the key is under when the row goes (the rotator's target), not the one it
// was under when the erasure began: otherwise the rewrapped copy, left in a
// dead tuple and the WAL, would stay openable.
func TestEraseMarksTheEpochAfterARacingRewrap(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	defer db.Close()
	v, _ := storetest.MustVault(t, 0)
	p := storetest.RegisterSealed(t, db, v, "Mirela", "+82 10 5555 0199")
	target, err := v.NewEpoch()
	if err != nil {
		t.Fatal(err)
	}
	moved, err := v.RewrapTo(target)(p.WrappedKey)
	if err != nil {
		t.Fatal(err)
	}
	// The rotator's transaction has rewritten the row but not committed.
	tx, err := db.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE persons SET wrapped_key = $1 WHERE id = $2`, moved, p.ID[:]); err != nil {
		t.Fatal(err)
	}
	erased := make(chan error, 1)
	go func() { erased <- db.ErasePerson(ctx, p.CardCode, registry.Write{}) }()
	time.Sleep(200 * time.Millisecond) // the erasure reads the row now, and must wait
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-erased; err != nil {
		t.Fatal(err)
	}
	retire := map[vault.EpochID]bool{}
	if err := db.KeyEpochs(ctx, func(prefix []byte, r, _ bool) error {
		id, _ := vault.EpochFromPrefix(prefix)
		retire[id] = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !retire[target] {
		t.Fatalf("the erasure did not ask to retire the epoch the key was moved to (epochs: %v)", retire)
	}
}
