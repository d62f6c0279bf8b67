package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// BenchPersons is how many persons the erasure benchmarks load:
// HAVEN_BENCH_PERSONS, default one million.
func BenchPersons() int {
	if n, err := strconv.Atoi(os.Getenv("HAVEN_BENCH_PERSONS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// SealedBatches seals n persons under v (as registration would, epoch by
// epoch) and hands them to load in batches of up to 50,000, for a bulk
// loader. It returns every person's card code and ID, in order.
func SealedBatches(tb testing.TB, v *vault.Vault, n int, load func([]registry.SealedPerson)) []registry.SealedPerson {
	tb.Helper()
	out := make([]registry.SealedPerson, 0, n)
	batch := make([]registry.SealedPerson, 0, 50_000)
	for i := range n {
		p := registry.Person{ID: registry.NewID(), CardCode: registry.NewCardCode(), CreatedAt: now,
			Demographics: registry.Demographics{GivenName: "P" + strconv.Itoa(i), Phone: "+82 10 " + strconv.Itoa(10_000_000+i)}}
		sp, err := registry.SealPerson(v, p)
		if err != nil {
			tb.Fatal(err)
		}
		batch = append(batch, sp)
		out = append(out, registry.SealedPerson{ID: sp.ID, CardCode: sp.CardCode, WrappedKey: sp.WrappedKey[:vault.EpochPrefixSize]})
		if len(batch) == cap(batch) || i == n-1 {
			load(batch)
			batch = batch[:0]
		}
	}
	return out
}

// ErasureReport is what MeasureErasure found.
type ErasureReport struct {
	Epochs            int
	BaselineDoses     float64 // doses per second with no erasure, before and after the erasures
	DuringDoses       float64 // doses per second while erasures ran back to back
	Erasures          int
	Latencies         []time.Duration // ErasePerson + AfterErase, each
	StoreLatencies    []time.Duration // ErasePerson alone (delete, counts, the dialect's purge)
	RotationDoses     float64         // doses per second while the Rotator retired epochs back to back (no ErasePerson)
	RotatedEpochs     int             // epochs retired in that phase
	RotatedKeys       int             // data keys rewrapped in that phase
	RotationBaseline  float64         // doses per second with no rotation, around that phase
	RewrappedPerErase float64
}

func (r ErasureReport) String() string {
	l := append([]time.Duration(nil), r.Latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	pct := func(p float64) time.Duration {
		if len(l) == 0 {
			return 0
		}
		return l[min(len(l)-1, int(p*float64(len(l))))]
	}
	var after []time.Duration
	for i := range r.Latencies {
		after = append(after, r.Latencies[i]-r.StoreLatencies[i])
	}
	return fmt.Sprintf("epochs=%d erasures=%d latency p50=%v p95=%v max=%v (ErasePerson alone p50=%v max=%v; AfterErase alone p50=%v max=%v); doses/s baseline=%.0f during=%.0f (%.0f%%)",
		r.Epochs, r.Erasures, pct(0.5), pct(0.95), pct(1), percentile(r.StoreLatencies, 0.5), percentile(r.StoreLatencies, 1),
		percentile(after, 0.5), percentile(after, 1), r.BaselineDoses, r.DuringDoses, 100*r.DuringDoses/r.BaselineDoses) +
		fmt.Sprintf("; rotation alone: %d epochs (%d keys) retired, doses/s=%.0f (%.0f%%)",
			r.RotatedEpochs, r.RotatedKeys, r.RotationDoses, 100*r.RotationDoses/r.RotationBaseline)
}

// P50 is the median erasure latency.
func (r ErasureReport) P50() time.Duration { return percentile(r.Latencies, 0.5) }

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), d...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[min(len(l)-1, int(p*float64(len(l))))]
}

// MeasureErasure records doses for random persons of pool from clients
// goroutines, in phases of d: alone; while erasing victims one after the
// other (ErasePerson, then the vault's AfterErase, as the erase action
// does); alone; while the Rotator retires epochs back to back (a scheduled
// rotation with nothing else); alone. It reports each phase's throughput
// against the mean of the phases alone around it (so that a slow drift of
// the machine or the database does not count), and each erasure's latency.
func MeasureErasure(tb testing.TB, s EpochStore, v *vault.Vault, pool, victims []registry.SealedPerson, clients int, d time.Duration) ErasureReport {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.CreateSite(ctx, registry.Site{Code: "B-1", Name: "Bench", Jurisdiction: "KR", Services: []string{"vaccination"}, CreatedAt: now}, registry.Write{}); err != nil {
		tb.Fatal(err)
	}
	erased := sync.Map{}
	load := func(stop <-chan struct{}) float64 {
		var n atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					p := pool[rand.IntN(len(pool))]
					if _, gone := erased.Load(p.ID); gone {
						continue
					}
					dose := newDose(p, "2021-09-17")
					dose.Site = "B-1"
					if _, err := s.RecordVaccination(ctx, dose, registry.Write{Audit: &registry.AuditRecord{Time: now, Actor: "tk_bench",
						Role: "vaccinator", Action: "vaccination.create", Purpose: "care", Subject: "ps1_00112233445566778899aabbccddeeff"}}); err != nil {
						if registry.ErrorCode(err) == registry.ENOTFOUND {
							continue // erased meanwhile
						}
						tb.Error(err)
						return
					}
					n.Add(1)
				}
			}()
		}
		<-stop
		wg.Wait()
		return float64(n.Load()) / time.Since(start).Seconds()
	}
	rep := ErasureReport{}
	baseline := func() float64 {
		stop := make(chan struct{})
		time.AfterFunc(d, func() { close(stop) })
		return load(stop)
	}
	b1 := baseline()

	rot := vault.NewRotator(v, s, vault.RotatorOptions{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range victims {
			select {
			case <-stop:
				return
			default:
			}
			erased.Store(p.ID, true)
			t0 := time.Now()
			if err := s.ErasePerson(ctx, p.CardCode, registry.Write{}); err != nil {
				tb.Error(err)
				return
			}
			rep.StoreLatencies = append(rep.StoreLatencies, time.Since(t0))
			if err := rot.AfterErase(ctx); err != nil {
				tb.Error(err)
				return
			}
			rep.Latencies = append(rep.Latencies, time.Since(t0))
			rep.Erasures++
		}
	}()
	time.AfterFunc(d, func() { close(stop) })
	rep.DuringDoses = load(stop)
	<-done
	rep.Epochs = len(v.Epochs())
	b2 := baseline()
	rep.BaselineDoses = (b1 + b2) / 2

	// The Rotator alone, retiring epochs back to back as a scheduled
	// rotation would (every epoch is older than this MaxAge).
	rctx, cancel := context.WithCancel(ctx)
	stop = make(chan struct{})
	done = make(chan struct{})
	go func() {
		defer close(done)
		rep2, _ := vault.NewRotator(v, s, vault.RotatorOptions{MaxAge: time.Nanosecond}).Pass(rctx)
		rep.RotatedEpochs, rep.RotatedKeys = len(rep2.Retired), rep2.Rewrapped
	}()
	time.AfterFunc(d, func() { cancel(); close(stop) })
	rep.RotationDoses = load(stop)
	<-done
	rep.RotationBaseline = (b2 + baseline()) / 2
	return rep
}

// Victims picks one person from each of up to n different epochs of
// persons (as returned by SealedBatches), spread over the table.
func Victims(persons []registry.SealedPerson, n int) []registry.SealedPerson {
	seen := map[string]bool{}
	var out []registry.SealedPerson
	step := max(1, len(persons)/(4*n))
	for i := 0; i < len(persons) && len(out) < n; i += step {
		p := persons[(i*7919)%len(persons)]
		if seen[string(p.WrappedKey)] {
			continue
		}
		seen[string(p.WrappedKey)] = true
		out = append(out, p)
	}
	return out
}
