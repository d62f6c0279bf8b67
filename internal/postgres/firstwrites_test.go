package postgres_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// TestConcurrentFirstWrites: more concurrent first writes than the pool has
// connections. Each transaction holds a connection while its statements are
// prepared for the first time; preparing them through the pool would wait
// for a connection that only another such transaction could give back.
func TestConcurrentFirstWrites(t *testing.T) {
	db := MustOpenDB(t)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const writers = 64
	persons := make([]registry.SealedPerson, writers)
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for i := range persons {
		persons[i] = registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
			WrappedKey: []byte("wrapped"), Sealed: []byte("sealed")}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.CreatePerson(ctx, persons[i], registry.Write{})
			errs <- err
		}()
	}
	wg.Wait()
	for i := range persons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := sha256.Sum256([]byte(fmt.Sprint(i)))
			v := registry.Vaccination{ID: registry.NewID(), PersonID: persons[i].ID, Product: "coronavac",
				Date: registry.Date{Year: 2021, Month: 9, Day: 1}, Site: "YB-1", Source: registry.SourceAdministered,
				Payment: registry.Payment{Kind: "free"}, RecordedAt: now, Status: registry.StatusCompleted}
			_, err := db.RecordVaccination(ctx, v, registry.Write{
				Idem:  &registry.Idempotency{Scope: "tk", Key: fmt.Sprint(i), RequestHash: h[:], Kind: "vaccination", ResourceID: v.ID.String(), CreatedAt: now},
				Audit: &registry.AuditRecord{Time: now, Actor: "tk", Role: "vaccinator", Action: "vaccination.create", Purpose: "care", Subject: "x"}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a first write failed (a deadlock ends at the test's deadline): %v", err)
		}
	}
}
