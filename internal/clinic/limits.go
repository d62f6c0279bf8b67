package clinic

import (
	"sync"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// limiter is a token bucket per key (a token ID, a client address or a card
// code), kept only in memory.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens a second
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(r Rate) *limiter {
	return &limiter{rate: float64(r.PerMinute) / 60, burst: float64(r.Burst), buckets: map[string]*bucket{}}
}

// allow takes one token from key's bucket, reporting whether there was one.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) > 50000 {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict drops full buckets, which carry no state worth keeping.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// errTooManyReads is the answer to a person-level read over a limit.
var errTooManyReads = registry.Errorf(registry.ERATELIMITED, "Too many lookups; slow down.")

// limitRead admits one person-level read of card by actor, or returns
// ERATELIMITED. Every action that returns anything of a person's record
// calls it: lookups, forecasts, previews, certificates and replays alike.
func (s *Service) limitRead(a Actor, card registry.CardCode) error {
	now := s.now()
	if a.TokenID != "" && !s.readsByToken.allow(a.TokenID, now) {
		return errTooManyReads
	}
	if a.Addr != "" && !s.readsByAddr.allow(a.Addr, now) {
		return errTooManyReads
	}
	if card != "" && !s.readsByCard.allow(string(card), now) {
		return errTooManyReads
	}
	return nil
}

// backoff locks a key out for longer after each consecutive failure: after
// the fifth failure, 2^(n-5) seconds, at most an hour. A success forgets the
// key. It protects a card against guessing of its holder secret without
// letting a stranger lock the real holder out for long.
type backoff struct {
	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	n     int
	until time.Time
}

func newBackoff() *backoff { return &backoff{keys: map[string]*failures{}} }

// locked reports whether key is locked at now.
func (b *backoff) locked(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.keys[key]
	return f != nil && now.Before(f.until)
}

// fail records a failure of key at now.
func (b *backoff) fail(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.keys) > 50000 {
		for k, f := range b.keys {
			if now.After(f.until.Add(time.Hour)) {
				delete(b.keys, k)
			}
		}
	}
	f := b.keys[key]
	if f == nil {
		f = &failures{}
		b.keys[key] = f
	}
	f.n++
	if f.n >= 5 {
		f.until = now.Add(min(time.Duration(1)<<min(f.n-5, 12)*time.Second, time.Hour))
	}
}

// succeed forgets key's failures.
func (b *backoff) succeed(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.keys, key)
}

// ttlCache remembers values for a short time. It holds only data that is
// safe to serve slightly stale across processes (tokens, sites): a change
// made through another haven serve process is seen within the TTL.
type ttlCache[V any] struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[V any](ttl time.Duration, max int) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, max: max, entries: map[string]ttlEntry[V]{}}
}

func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(key string, v V, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries) // crude but bounded; refilled on demand
	}
	c.entries[key] = ttlEntry[V]{v, now.Add(c.ttl)}
}

// clear forgets every entry.
func (c *ttlCache[V]) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}
