package syncwire_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// fakeWall is a wall clock a test moves, safe for concurrent use.
type fakeWall struct{ ms atomic.Int64 }

func newWall(ms int64) *fakeWall { w := &fakeWall{}; w.ms.Store(ms); return w }

func (w *fakeWall) now() time.Time { return time.UnixMilli(w.ms.Load()) }

const t0 = 1767225600123 // 2026-01-01T00:00:00.123Z

func TestFormatParseHLC(t *testing.T) {
	for _, tc := range []struct {
		h int64
		s string
	}{
		{0, "0:0"},
		{syncwire.MakeHLC(t0, 7), "1767225600123:7"},
		{syncwire.MakeHLC(t0, 65535), "1767225600123:65535"},
		{syncwire.MakeHLC(syncwire.MaxHLCMillis, 65535), "140737488355327:65535"},
	} {
		if got := syncwire.FormatHLC(tc.h); got != tc.s {
			t.Errorf("FormatHLC(%d) = %q, want %q", tc.h, got, tc.s)
		}
		h, err := syncwire.ParseHLC(tc.s)
		if err != nil || h != tc.h {
			t.Errorf("ParseHLC(%q) = %d, %v; want %d", tc.s, h, err, tc.h)
		}
	}
	if syncwire.HLCMillis(syncwire.MakeHLC(t0, 7)) != t0 || syncwire.HLCCounter(syncwire.MakeHLC(t0, 7)) != 7 {
		t.Error("HLCMillis or HLCCounter does not take MakeHLC apart")
	}
	for _, s := range []string{"", "1", "1:", ":1", "1:2:3", "01:1", "1:01", "-1:0", "1:-1", "+1:0", "1:65536",
		"140737488355328:0", "99999999999999999999:0", "1:0x", " 1:0", "1.5:0", "1767225600123"} {
		_, err := syncwire.ParseHLC(s)
		if registry.ErrorCode(err) != registry.EINVALID || registry.ErrorField(err) != "hlc" {
			t.Errorf("ParseHLC(%q): %v, want EINVALID on hlc", s, err)
		}
	}
}

func TestClockNow(t *testing.T) {
	w := newWall(t0)
	c := syncwire.NewClock(w.now, 0)
	if got := c.Now(); got != syncwire.MakeHLC(t0, 0) {
		t.Fatalf("first Now = %s", syncwire.FormatHLC(got))
	}
	if got := c.Now(); got != syncwire.MakeHLC(t0, 1) {
		t.Errorf("Now on a tie = %s, want the counter up", syncwire.FormatHLC(got))
	}
	w.ms.Add(5)
	if got := c.Now(); got != syncwire.MakeHLC(t0+5, 0) {
		t.Errorf("Now after the wall moved = %s", syncwire.FormatHLC(got))
	}
	// The wall clock runs back an hour: the clock keeps counting.
	w.ms.Add(-time.Hour.Milliseconds())
	prev := c.Last()
	for range 10 {
		h := c.Now()
		if h <= prev || syncwire.HLCMillis(h) != t0+5 {
			t.Fatalf("Now = %s after %s with the wall behind", syncwire.FormatHLC(h), syncwire.FormatHLC(prev))
		}
		prev = h
	}
	// The counter overflows into the milliseconds.
	w.ms.Store(t0 + 5)
	for range 70000 {
		h := c.Now()
		if h <= prev {
			t.Fatalf("Now = %s after %s", syncwire.FormatHLC(h), syncwire.FormatHLC(prev))
		}
		prev = h
	}
	if syncwire.HLCMillis(prev) != t0+6 {
		t.Errorf("after 70,000 events in one millisecond: %s, want the next millisecond", syncwire.FormatHLC(prev))
	}
	if c.Last() != prev {
		t.Errorf("Last = %d, want %d", c.Last(), prev)
	}
}

func TestClockFloor(t *testing.T) {
	floor := syncwire.MakeHLC(t0+time.Hour.Milliseconds(), 3) // saved before the wall clock was set back
	c := syncwire.NewClock(newWall(t0).now, floor)
	if c.Last() != floor {
		t.Errorf("Last = %d, want the floor", c.Last())
	}
	if h := c.Now(); h != floor+1 {
		t.Errorf("Now = %s, want just past the floor %s", syncwire.FormatHLC(h), syncwire.FormatHLC(floor))
	}
	c.Raise(floor + 100)
	c.Raise(floor) // lower: no change
	if h := c.Now(); h != floor+101 {
		t.Errorf("Now after Raise = %s", syncwire.FormatHLC(h))
	}
	if h := syncwire.NewClock(nil, -5).Now(); syncwire.HLCMillis(h) < time.Now().Add(-time.Minute).UnixMilli() {
		t.Errorf("a clock on time.Now reads %s", syncwire.FormatHLC(h))
	}
}

func TestClockObserve(t *testing.T) {
	w := newWall(t0)
	c := syncwire.NewClock(w.now, 0)
	c.Now()

	// Behind: merged, the clock just counts on.
	if !c.Observe(syncwire.MakeHLC(t0-1000, 9)) {
		t.Error("an HLC behind was not merged")
	}
	if c.Last() != syncwire.MakeHLC(t0, 1) {
		t.Errorf("Last = %s", syncwire.FormatHLC(c.Last()))
	}
	// Ahead within five minutes: merged, and every later value is past it.
	ahead := syncwire.MakeHLC(t0+syncwire.MaxClockAhead.Milliseconds(), 4)
	if !c.Observe(ahead) {
		t.Error("an HLC exactly 5 minutes ahead was not merged")
	}
	if c.Last() != ahead+1 {
		t.Errorf("Last = %s, want %s", syncwire.FormatHLC(c.Last()), syncwire.FormatHLC(ahead+1))
	}
	if h := c.Now(); h != ahead+2 {
		t.Errorf("Now = %s", syncwire.FormatHLC(h))
	}
	// More than five minutes ahead: not merged, nothing changes.
	before := c.Last()
	if c.Observe(syncwire.MakeHLC(t0+syncwire.MaxClockAhead.Milliseconds()+1, 0)) {
		t.Error("an HLC more than 5 minutes ahead was merged")
	}
	if c.Observe(syncwire.MakeHLC(t0+2*24*time.Hour.Milliseconds(), 0)) {
		t.Error("an HLC 2 days ahead was merged")
	}
	if c.Observe(-1) {
		t.Error("a negative HLC was merged")
	}
	if c.Last() != before {
		t.Errorf("Last moved to %s on a refused HLC", syncwire.FormatHLC(c.Last()))
	}
	// The rule reads the wall clock: once it catches up, the same HLC merges.
	w.ms.Add(time.Hour.Milliseconds())
	if !c.Observe(syncwire.MakeHLC(t0+(time.Hour+4*time.Minute).Milliseconds(), 0)) {
		t.Error("an HLC 4 minutes ahead of the moved wall was not merged")
	}
}

// TestClockConcurrent checks that concurrent Now and Observe calls never
// return a value twice, and each goroutine sees its values rise, while the
// wall clock jumps back and forth.
func TestClockConcurrent(t *testing.T) {
	w := newWall(t0)
	c := syncwire.NewClock(w.now, 0)
	const goroutines, each = 8, 5000
	got := make([][]int64, goroutines)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // the wall clock wanders, backwards too
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			w.ms.Store(t0 + (i%7-3)*50)
			time.Sleep(time.Microsecond)
		}
	}()
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if i%100 == 0 {
					c.Observe(syncwire.MakeHLC(t0+int64(i%3)*10, int64(g)))
				}
				got[g] = append(got[g], c.Now())
			}
		})
	}
	wg.Wait()
	close(stop)
	var all []int64
	for g, vs := range got {
		for i := 1; i < len(vs); i++ {
			if vs[i] <= vs[i-1] {
				t.Fatalf("goroutine %d: %s after %s", g, syncwire.FormatHLC(vs[i]), syncwire.FormatHLC(vs[i-1]))
			}
		}
		all = append(all, vs...)
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != goroutines*each {
		t.Error("Now returned a value twice")
	}
	if c.Last() < all[len(all)-1] {
		t.Errorf("Last = %d, below the greatest value %d", c.Last(), all[len(all)-1])
	}
}
