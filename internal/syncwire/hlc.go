package syncwire

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// A hybrid logical clock value (Kulkarni et al., "Logical Physical Clocks",
// 2014) is an int64: the high 48 bits are Unix milliseconds, the low 16 a
// counter that orders events within one millisecond. Because the counter is
// the low part, h+1 is the next value: a counter overflow carries into the
// milliseconds. Values are never negative (so the milliseconds stay below
// 2^47, the year 6429), and they compare as integers.
const (
	hlcCounterBits = 16
	hlcCounterMask = 1<<hlcCounterBits - 1
	// MaxHLCMillis is the largest physical part an HLC may hold.
	MaxHLCMillis = 1<<(63-hlcCounterBits) - 1
	// MaxClockAhead is how far a remote HLC's physical part may be ahead of
	// the local wall clock and still be merged by Clock.Observe.
	MaxClockAhead = 5 * time.Minute
)

// HLCMillis returns the physical part of h, in Unix milliseconds.
func HLCMillis(h int64) int64 { return h >> hlcCounterBits }

// HLCCounter returns the logical part of h.
func HLCCounter(h int64) int64 { return h & hlcCounterMask }

// MakeHLC returns the HLC of millis and counter. millis is clamped to
// [0, MaxHLCMillis] and counter to [0, 65535].
func MakeHLC(millis, counter int64) int64 {
	millis = min(max(millis, 0), MaxHLCMillis)
	counter = min(max(counter, 0), hlcCounterMask)
	return millis<<hlcCounterBits | counter
}

// FormatHLC writes h as on the wire: "millis:counter" in decimal, such as
// "1767225600123:7". (A JSON number would lose precision above 2^53.)
func FormatHLC(h int64) string {
	if h < 0 {
		h = 0
	}
	return strconv.FormatInt(HLCMillis(h), 10) + ":" + strconv.FormatInt(HLCCounter(h), 10)
}

// ParseHLC reads an HLC written by FormatHLC. It accepts only that form:
// two decimal numbers without sign or leading zeros, the first at most
// MaxHLCMillis and the second at most 65535, so that FormatHLC(ParseHLC(s))
// is s. Any other string is an *registry.Error with code EINVALID and field
// "hlc".
func ParseHLC(s string) (int64, error) {
	ms, cnt, ok := strings.Cut(s, ":")
	m, okM := parseDecimal(ms, MaxHLCMillis)
	c, okC := parseDecimal(cnt, hlcCounterMask)
	if !ok || !okM || !okC {
		return 0, registry.FieldErrorf(registry.EINVALID, "hlc", "Not a hybrid logical clock value (millis:counter).")
	}
	return m<<hlcCounterBits | c, nil
}

// parseDecimal reads a canonical non-negative decimal number up to limit.
func parseDecimal(s string, limit int64) (int64, bool) {
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int64(d)
		if n > limit {
			return 0, false
		}
	}
	return n, true
}

// Clock is a hybrid logical clock, safe for concurrent use. Every value it
// returns is greater than every value it returned or observed before, even
// when the wall clock runs back.
type Clock struct {
	wall func() time.Time

	mu   sync.Mutex
	last int64
}

// NewClock returns a clock reading the wall clock wall (time.Now when nil),
// whose values will all be greater than floor: the HLC saved with the last
// acknowledgement, or the last outbox row's, so that the clock never runs
// back across a restart.
func NewClock(wall func() time.Time, floor int64) *Clock {
	if wall == nil {
		wall = time.Now
	}
	return &Clock{wall: wall, last: max(floor, 0)}
}

// wallMillis is the wall clock's physical part.
func (c *Clock) wallMillis() int64 {
	return min(max(c.wall().UnixMilli(), 0), MaxHLCMillis)
}

// Now returns the HLC of a local event: the physical part is the later of
// the last value's and the wall clock's; on a tie the counter counts up,
// and when it overflows the physical part moves one millisecond on.
func (c *Clock) Now() int64 {
	pt := c.wallMillis() << hlcCounterBits
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = next(c.last, pt)
	return c.last
}

// next is the value after last, at physical time pt (already shifted).
func next(last, pt int64) int64 {
	if pt > last {
		return pt
	}
	if last == MaxHLCMillis<<hlcCounterBits|hlcCounterMask {
		return last // the year 6429: stand still rather than wrap negative
	}
	return last + 1
}

// Observe merges remote, an HLC received from another Haven, as Kulkarni et
// al.'s receive rule: the clock moves past both its last value and remote.
// It reports whether remote was merged. A remote HLC whose physical part is
// more than MaxClockAhead ahead of the local wall clock is not merged (it
// would drag every later value forward with it): Observe then changes
// nothing and returns false, and the caller records the skew. A negative
// remote is not an HLC and is not merged either.
func (c *Clock) Observe(remote int64) (merged bool) {
	wall := c.wallMillis()
	if remote < 0 || HLCMillis(remote)-wall > MaxClockAhead.Milliseconds() {
		return false
	}
	pt := wall << hlcCounterBits
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = next(max(c.last, remote), pt)
	return true
}

// Raise moves the clock to at least h without the MaxClockAhead check: for
// a floor read from storage after the clock was made. A value at or below
// the clock's last one changes nothing.
func (c *Clock) Raise(h int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = max(c.last, h)
}

// Last returns the last value the clock returned or merged (its floor if
// none), without advancing it.
func (c *Clock) Last() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
