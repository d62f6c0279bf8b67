package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// Backup writes an online, transactionally consistent snapshot of db to
// dest (VACUUM INTO), then removes from the copy every wrapped data key,
// every sealed field and every idempotency entry, and vacuums it again so
// that no free page still holds them. The backup therefore carries card
// codes, records, sites, tokens' hashes and the audit log, but no
// demographics that anyone could ever decrypt.
func Backup(ctx context.Context, db *DB, dest string) error {
	if err := createPrivate(dest); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := db.DB().ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	cp, err := sql.Open("sqlite", "file:"+dest+"?_pragma=secure_delete(ON)")
	if err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	defer cp.Close()
	for _, q := range []string{
		`UPDATE persons SET wrapped_key = NULL, sealed = NULL`,
		`DELETE FROM idempotency`,
		`VACUUM`,
	} {
		if _, err := cp.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlite: backup: strip keys: %w", err)
		}
	}
	return cp.Close()
}
