package nodesync

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestBackoff(t *testing.T) {
	minB, maxB := 500*time.Millisecond, 15*time.Second
	for n, full := range []time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 6: 15 * time.Second, 7: 15 * time.Second, 40: 15 * time.Second} {
		if full == 0 {
			continue
		}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := backoff(minB, maxB, n)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, full/2, full)
			}
			seen[d] = true
		}
		if len(seen) < 100 {
			t.Errorf("backoff(%d): %d distinct waits in 200, want jitter", n, len(seen))
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"999999999999":                  time.Hour,
		"Sat, 05 Dec 2026 10:00:30 GMT": 30 * time.Second,
		"Sat, 05 Dec 2026 09:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestSkew(t *testing.T) {
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	end := start.Add(2 * time.Second)
	central := start.Add(-time.Hour) // the central's clock an hour behind the node's
	s, ok := skew(start, end, central)
	if !ok || s != 3601 {
		t.Errorf("skew = %v, %v; want 3601 (the middle of the round trip)", s, ok)
	}
	if _, ok := skew(start, end, time.Time{}); ok {
		t.Error("a zero now measured")
	}
}

func TestClipLine(t *testing.T) {
	if got := clipLine("a\nb\r\tc \x00 d\xff"); got != "a b c d?" {
		t.Errorf("clipLine = %q", got)
	}
	long := clipLine("a" + strings.Repeat("é", 150))
	if len(long) > 204 || !utf8.ValidString(long) || !strings.HasSuffix(long, "é…") {
		t.Errorf("clipLine = %q (%d bytes)", long, len(long))
	}
}
