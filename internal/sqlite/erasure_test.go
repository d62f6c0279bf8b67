package sqlite_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/storetest"
	"github.com/haven-registry/haven/internal/vault"
)

// TestSQLiteErasureLeavesNothingDecryptable is the SQLite side of the
// erasure proof: after ErasePerson and AfterErase, neither the database
// file (free pages included), nor its WAL, nor a copy of the database
// taken before the erasure with the keys in it (a file backup, a replica)
// opens the erased person under any key Haven still holds. The others open
// from the live files, and from the old copy where their epoch was not
// touched.
func TestSQLiteErasureLeavesNothingDecryptable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "haven.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	v, ringPath := storetest.MustVault(t, 3)
	names := []string{"Ryeo-Seon", "Okonkwo", "Vasquez", "Ahn-Mirae", "Tuyaara"}
	var persons []registry.SealedPerson
	for i, n := range names {
		persons = append(persons, storetest.RegisterSealed(t, db, v, n, "+82 10 5555 01"+string(rune('0'+i))))
	}
	erased := persons[0]
	copyPath := filepath.Join(dir, "before-erasure.db")
	if _, err := db.DB().ExecContext(ctx, `VACUUM INTO ?`, copyPath); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(copyPath)
	if err != nil || !bytes.Contains(before, erased.WrappedKey) {
		t.Fatalf("the copy lacks the erased person's key (%v); it proves nothing", err)
	}

	if err := db.ErasePerson(ctx, erased.CardCode, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if err := vault.AfterErase(ctx, v, db); err != nil {
		t.Fatal(err)
	}
	reloaded, err := vault.Open(ringPath, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	live := storetest.ReadRange(t, path, 0, -1)
	if wal, err := os.ReadFile(path + "-wal"); err == nil {
		live = append(live, wal...)
	}
	for _, src := range []struct {
		name string
		data []byte
		want []int
	}{
		{"database and WAL", live, []int{1, 2, 3, 4}},
		{"copy from before the erasure", before, []int{3, 4}}, // 1 and 2 shared the erased person's epoch
	} {
		for _, h := range []*vault.Vault{v, reloaded} {
			res := storetest.ScanForKeys(h, src.data, persons)
			if res.Opened[erased.ID] {
				t.Fatalf("the erased person decrypts from the %s", src.name)
			}
			for _, i := range src.want {
				if !res.Opened[persons[i].ID] {
					t.Fatalf("%s does not open from the %s: the scan is broken", names[i], src.name)
				}
			}
		}
	}
}
