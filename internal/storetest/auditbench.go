package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// This file measures what the audit log costs: write throughput under many
// concurrent writers (AuditedDoses, against a floor of plain inserts,
// PlainInserts) and bytes on disk per person (LoadClinicLike). The
// benchmarks in internal/sqlite and internal/postgres call it; see
// docs/adr/0005-audit-chains-per-writer.md.

// keyAuditLog keys s's audit log with a fixed chain key, as a server does,
// if s can key it.
func keyAuditLog(tb testing.TB, s registry.Store) {
	tb.Helper()
	cs, ok := s.(interface {
		SetAuditChain(key func() *audit.ChainKey)
	})
	if !ok {
		return
	}
	k, err := audit.NewChainKey(bytes.Repeat([]byte{7}, audit.ChainKeySize))
	if err != nil {
		tb.Fatal(err)
	}
	cs.SetAuditChain(func() *audit.ChainKey { return k })
}

// clinicAudit is the audit record the clinic writes for action on the
// person with pseudonym subject, by a vaccinator token.
func clinicAudit(actor, action, subject string) *registry.AuditRecord {
	return &registry.AuditRecord{Time: time.Now(), Actor: actor, Role: "vaccinator", Action: action, Purpose: "care", Subject: subject}
}

// clinicIdem is an idempotency entry as the clinic stores it for a client
// key (a UUID, as most clients send).
func clinicIdem(scope, kind, resource string) *registry.Idempotency {
	var k [16]byte
	rand.Read(k[:])
	key := fmt.Sprintf("%x-%x-%x-%x-%x", k[0:4], k[4:6], k[6:8], k[8:10], k[10:16])
	h := sha256.Sum256([]byte(key))
	return &registry.Idempotency{Scope: scope, Key: key, RequestHash: h[:], Kind: kind, ResourceID: resource, CreatedAt: time.Now()}
}

// BenchSubjects makes n persons with no audit entries (the load to record
// doses for) and returns them with their pseudonyms.
func BenchSubjects(tb testing.TB, s registry.Store, n int) ([]registry.SealedPerson, []string) {
	tb.Helper()
	ctx := context.Background()
	persons := make([]registry.SealedPerson, n)
	subjects := make([]string, n)
	for i := range persons {
		persons[i] = registry.SealedPerson{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
			WrappedKey: []byte("wrapped"), Sealed: []byte("sealed")}
		if _, err := s.CreatePerson(ctx, persons[i], registry.Write{}); err != nil {
			tb.Fatal(err)
		}
		sum := sha256.Sum256(persons[i].ID[:])
		subjects[i] = fmt.Sprintf("ps1_%x", sum[:16])
	}
	return persons, subjects
}

// AuditedDoses records doses from writers goroutines for d, each through
// the store with its audit entry and an idempotency key, as the clinic
// records a dose (the log keyed as a server keys it), and returns doses
// per second.
func AuditedDoses(tb testing.TB, s registry.Store, persons []registry.SealedPerson, subjects []string, writers int, d time.Duration) float64 {
	return StoreDoses(tb, s, persons, subjects, writers, d, true)
}

// StoreDoses is AuditedDoses, with an audit entry for each dose or
// (audited false) none: the store's write without its access log.
func StoreDoses(tb testing.TB, s registry.Store, persons []registry.SealedPerson, subjects []string, writers int, d time.Duration, audited bool) float64 {
	tb.Helper()
	keyAuditLog(tb, s)
	ctx := context.Background()
	// One write first, alone: the store prepares each statement on first
	// use, which needs a connection of its own (with every connection in a
	// transaction, that would wait forever).
	dose := newDose(persons[0], "2021-09-17")
	if _, err := s.RecordVaccination(ctx, dose, registry.Write{Idem: clinicIdem("tk_warm", "vaccination", dose.ID.String()),
		Audit: clinicAudit("tk_warm", "vaccination.create", subjects[0])}); err != nil {
		tb.Fatal(err)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actor := fmt.Sprintf("tk_%012x", w%4)
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := mrand.IntN(len(persons))
				dose := newDose(persons[i], "2021-09-17")
				dose.RecordedAt = time.Now()
				wr := registry.Write{Idem: clinicIdem(actor, "vaccination", dose.ID.String())}
				if audited {
					wr.Audit = clinicAudit(actor, "vaccination.create", subjects[i])
				}
				if _, err := s.RecordVaccination(ctx, dose, wr); err != nil {
					tb.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// PlainInserts is the floor AuditedDoses is compared with: writers
// goroutines insert rows shaped like vaccinations (migration 0001) into a
// table of their own, one row per transaction, for d, through db, and it
// returns rows per second. dollar selects $n placeholders (PostgreSQL).
func PlainInserts(tb testing.TB, db *sql.DB, dollar bool, writers int, d time.Duration) float64 {
	tb.Helper()
	ctx := context.Background()
	blob, integer := "BLOB", "INTEGER"
	if dollar {
		blob, integer = "BYTEA", "BIGINT"
	}
	table := "floor_" + strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	for _, q := range []string{
		fmt.Sprintf(`CREATE TABLE %s (id %s PRIMARY KEY, person_id %[2]s, product TEXT NOT NULL, dose_date TEXT NOT NULL,
			dose_number %[3]s NOT NULL, site TEXT NOT NULL, lot TEXT NOT NULL, source TEXT NOT NULL, payment_kind TEXT NOT NULL,
			payment_amount TEXT NOT NULL, payment_currency TEXT NOT NULL, recorded_at %[3]s NOT NULL, status TEXT NOT NULL)`, table, blob, integer),
		fmt.Sprintf(`CREATE INDEX %[1]s_person ON %[1]s (person_id, dose_date)`, table),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	ph := make([]string, 13)
	for i := range ph {
		ph[i] = "?"
		if dollar {
			ph[i] = "$" + strconv.Itoa(i+1)
		}
	}
	insert := fmt.Sprintf(`INSERT INTO %s (id, person_id, product, dose_date, dose_number, site, lot, source,
		payment_kind, payment_amount, payment_currency, recorded_at, status) VALUES (%s)`, table, strings.Join(ph, ","))
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id, person := make([]byte, 16), make([]byte, 16)
				rand.Read(id)
				rand.Read(person)
				tx, err := db.BeginTx(ctx, nil)
				if err == nil {
					_, err = tx.ExecContext(ctx, insert, id, person, "coronavac", "2021-09-17", int64(1), "YB-1", "L1",
						"administered", "free", "", "", time.Now().UnixMicro(), "completed")
					if err == nil {
						err = tx.Commit()
					} else {
						tx.Rollback()
					}
				}
				if err != nil {
					tb.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	rate := float64(n.Load()) / time.Since(start).Seconds()
	if _, err := db.ExecContext(ctx, "DROP TABLE "+table); err != nil {
		tb.Fatal(err)
	}
	return rate
}

// LoadClinicLike registers n persons and records three doses for each, as
// the clinic does for API clients that send an Idempotency-Key: a person
// sealed under v with a name, a birth date, a sex and a phone number, and
// four writes, each with its idempotency entry and its audit entry (the
// person's pseudonym as subject, under one of a few vaccinator tokens),
// from writers goroutines. The log is keyed as a server keys it.
func LoadClinicLike(tb testing.TB, s registry.Store, v *vault.Vault, n, writers int) {
	tb.Helper()
	keyAuditLog(tb, s)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actor := fmt.Sprintf("tk_%012x", 0xa1b2c3d4e5f0+w%8)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || tb.Failed() {
					return
				}
				birth, _ := registry.ParsePartialDate(fmt.Sprintf("%04d-%02d-%02d", 1940+i%70, 1+i%12, 1+i%28))
				p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: time.Now(),
					Demographics: registry.Demographics{GivenName: "Mi-young" + strconv.FormatInt(i%1000, 10), FamilyName: "Kim",
						BirthDate: birth, Sex: registry.SexFemale, Phone: "+82 10 " + strconv.FormatInt(10_000_000+i, 10)},
					HolderSecret: strings.ReplaceAll(string(registry.NewCardCode()), "-", "")[:10]}
				sp, err := registry.SealPerson(v, p)
				if err != nil {
					tb.Error(err)
					return
				}
				subject, err := v.Pseudonym(p.ID.String())
				if err != nil {
					tb.Error(err)
					return
				}
				wr := registry.Write{Idem: clinicIdem(actor, "person", string(sp.CardCode)), Audit: clinicAudit(actor, "person.create", subject)}
				if _, err := s.CreatePerson(ctx, sp, wr); err != nil {
					tb.Error(err)
					return
				}
				for k, day := range []string{"2021-04-01", "2021-05-01", "2021-11-01"} {
					dose := newDose(sp, day)
					dose.RecordedAt, dose.Lot, dose.Product = time.Now(), "A21"+strconv.Itoa(k)+"C", []string{"coronavac", "comirnaty"}[k/2]
					wr := registry.Write{Idem: clinicIdem(actor, "vaccination", dose.ID.String()), Audit: clinicAudit(actor, "vaccination.create", subject)}
					if _, err := s.RecordVaccination(ctx, dose, wr); err != nil {
						tb.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
