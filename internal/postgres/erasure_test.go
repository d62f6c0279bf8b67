package postgres_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/postgres"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/storetest"
	"github.com/haven-registry/haven/internal/vault"
)

// TestPostgresErasureLeavesNothingDecryptable proves that erasure holds on
// PostgreSQL, where DELETE and VACUUM leave the old row in the heap file and
// WAL keeps it regardless: after the erasure completes as documented
// (ErasePerson, then the vault's AfterErase) and a CHECKPOINT, no byte
// window of the table's files, of the WAL written since the test began, or
// of a backup taken before the erasure opens the erased person with any key
// Haven still holds (the ring reloaded from disk, and the live vault). The
// other persons still open from the table's files, and the persons of
// untouched epochs from the backup.
func TestPostgresErasureLeavesNothingDecryptable(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	defer db.Close()
	sql := db.DB()
	var dataDir, startLSN string
	if err := sql.QueryRowContext(ctx, `SELECT current_setting('data_directory'), pg_current_wal_lsn()::text`).Scan(&dataDir, &startLSN); err != nil {
		t.Fatal(err)
	}

	// Epochs of 3, so that the backup also holds persons of an epoch the
	// erasure does not touch.
	v, ringPath := storetest.MustVault(t, 3)
	names := []string{"Ryeo-Seon", "Okonkwo", "Vasquez", "Ahn-Mirae", "Tuyaara"}
	var persons []registry.SealedPerson
	for i, n := range names {
		persons = append(persons, storetest.RegisterSealed(t, db, v, n, "+82 10 5555 01"+string(rune('0'+i))))
	}
	erased := persons[0]
	sameEpoch, _ := vault.WrappedEpoch(erased.WrappedKey)
	backup := dumpPersons(t, db)
	if !bytes.Contains(backup, erased.WrappedKey) {
		t.Fatal("the backup lacks the person's key; it proves nothing")
	}

	if err := db.ErasePerson(ctx, erased.CardCode, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	if err := vault.AfterErase(ctx, v, db); err != nil {
		t.Fatal(err)
	}
	if _, err := sql.ExecContext(ctx, `CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	var endLSN string
	if err := sql.QueryRowContext(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&endLSN); err != nil {
		t.Fatal(err)
	}

	// Every key Haven still holds: the live vault, and the ring as a fresh
	// process would load it from disk.
	reloaded, err := vault.Open(ringPath, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if reloaded.HasEpoch(sameEpoch) || v.HasEpoch(sameEpoch) {
		t.Fatal("the erased person's epoch key still exists")
	}
	holders := []*vault.Vault{v, reloaded}

	heap := relationBytes(t, db, dataDir)
	if !bytes.Contains(heap, erased.Sealed) && !bytes.Contains(walBytes(t, db, dataDir, startLSN, endLSN), erased.Sealed) {
		t.Log("the erased person's sealed fields are in neither heap nor WAL")
	}
	wal := walBytes(t, db, dataDir, startLSN, endLSN)
	if !bytes.Contains(wal, erased.WrappedKey) {
		t.Fatal("the WAL since the test began lacks the erased person's wrapped key; the scan proves nothing")
	}
	for _, src := range []struct {
		name string
		data []byte
		want []int // persons that must still open from it
	}{
		{"heap", heap, []int{1, 2, 3, 4}},
		// Persons 1 and 2 shared the erased person's epoch, so their keys
		// in the WAL are the rewrapped ones; PostgreSQL logs an update that
		// stays on its page with the prefix and suffix it shares with the
		// old row left out, which can cut the new wrapped key short. So
		// the scan is proven on 3 and 4, whose inserts are logged whole.
		{"wal", wal, []int{3, 4}},
		{"backup", backup, []int{3, 4}}, // the other epoch; 1 and 2 shared the erased person's epoch
	} {
		for _, h := range holders {
			res := storetest.ScanForKeys(h, src.data, persons)
			t.Logf("%s: %d bytes, %d windows tried, %d keys unwrapped", src.name, res.Bytes, res.Windows, res.Keys)
			if res.Opened[erased.ID] {
				t.Fatalf("the erased person decrypts from the %s", src.name)
			}
			for _, i := range src.want {
				if !res.Opened[persons[i].ID] {
					t.Fatalf("%s (%s) does not open from the %s: the scan is broken", names[i], persons[i].ID, src.name)
				}
			}
		}
	}
	// The others open from the table itself, as the server reads them.
	for _, p := range persons[1:] {
		got, err := db.FindPerson(ctx, p.CardCode)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := registry.OpenPerson(reloaded, *got); err != nil {
			t.Fatalf("a remaining person does not open: %v", err)
		}
	}
}

// dumpPersons is a logical backup of the persons table, keys included (as
// pg_dump without Haven's advice would write it).
func dumpPersons(t *testing.T, db *postgres.DB) []byte {
	t.Helper()
	rows, err := db.DB().QueryContext(context.Background(), `SELECT id, card_code, wrapped_key, sealed FROM persons ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out bytes.Buffer
	for rows.Next() {
		var id, key, sealed []byte
		var code string
		if err := rows.Scan(&id, &code, &key, &sealed); err != nil {
			t.Fatal(err)
		}
		out.Write(id)
		out.WriteString(code)
		out.Write(key)
		out.Write(sealed)
	}
	return out.Bytes()
}

// relationBytes reads the persons table's heap and TOAST files.
func relationBytes(t *testing.T, db *postgres.DB, dataDir string) []byte {
	t.Helper()
	rows, err := db.DB().QueryContext(context.Background(), `
		SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = 'persons'::regclass
		UNION ALL
		SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c WHERE c.oid = 'persons'::regclass AND c.reltoastrelid <> 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []byte
	for rows.Next() {
		var rel string
		if err := rows.Scan(&rel); err != nil {
			t.Fatal(err)
		}
		base := filepath.Join(dataDir, rel)
		out = append(out, storetest.ReadRange(t, base, 0, -1)...)
		for i := 1; ; i++ { // 1 GB segments
			seg := base + "." + string(rune('0'+i))
			if _, err := os.Stat(seg); err != nil {
				break
			}
			out = append(out, storetest.ReadRange(t, seg, 0, -1)...)
		}
	}
	return out
}

// walBytes reads the WAL written between two LSNs, from the segment files.
func walBytes(t *testing.T, db *postgres.DB, dataDir, from, to string) []byte {
	t.Helper()
	var firstFile, lastFile string
	var firstOff, lastOff int64
	q := `SELECT file_name, file_offset FROM pg_walfile_name_offset($1::pg_lsn)`
	if err := db.DB().QueryRow(q, from).Scan(&firstFile, &firstOff); err != nil {
		t.Fatal(err)
	}
	if err := db.DB().QueryRow(q, to).Scan(&lastFile, &lastOff); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dataDir, "pg_wal"))
	if err != nil {
		storetest.ReadRange(t, filepath.Join(dataDir, "pg_wal"), 0, 0) // fails or skips with the reason
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if len(n) == 24 && !strings.Contains(n, ".") && n[:8] == firstFile[:8] && n >= firstFile && n <= lastFile {
			files = append(files, n)
		}
	}
	sort.Strings(files)
	if len(files) == 0 || files[0] != firstFile {
		t.Fatalf("WAL segment %s is gone (WAL files: %d); the scan needs it", firstFile, len(files))
	}
	var out []byte
	for _, f := range files {
		start, end := int64(0), int64(-1)
		if f == firstFile {
			start = firstOff
		}
		if f == lastFile {
			end = lastOff + 8192 // the page the last record is on
		}
		out = append(out, storetest.ReadRange(t, filepath.Join(dataDir, "pg_wal", f), start, end)...)
	}
	return out
}
