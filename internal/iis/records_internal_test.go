package iis

import (
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/hl7"
)

func TestScheduleOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string
	}{{"cdc", hl7.ScheduleACIP.Code}, {"who", "WHO"}, {"cn", "CN"}} {
		if got := scheduleOf(tc.name); got.Code != tc.want {
			t.Errorf("scheduleOf(%q) = %+v, want code %s", tc.name, got, tc.want)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	for _, tc := range []struct{ control, prefix string }{
		{"", ""},
		{"MSG-0001", "hl7:MSG-0001"},
		{"MSG 0001", "hl7#"},
		{"MSG-ü", "hl7#"},
		{strings.Repeat("x", 300), "hl7#"},
	} {
		got := idempotencyKey(tc.control)
		if !strings.HasPrefix(got, tc.prefix) || (tc.prefix == "") != (got == "") || len(got) > 255 {
			t.Errorf("idempotencyKey(%.20q) = %q, want prefix %q", tc.control, got, tc.prefix)
		}
		for i := 0; i < len(got); i++ {
			if got[i] <= 0x20 || got[i] >= 0x7f {
				t.Errorf("idempotencyKey(%.20q) = %q holds a byte keys may not", tc.control, got)
			}
		}
	}
	if idempotencyKey("MSG 1") == idempotencyKey("MSG 2") {
		t.Error("two control IDs share a key")
	}
}
