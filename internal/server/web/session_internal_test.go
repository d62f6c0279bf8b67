package web

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

func TestSessionStore(t *testing.T) {
	t0 := time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)
	st := newSessionStore(30*time.Minute, 12*time.Hour, 3)
	tok := &registry.Token{ID: "tk_1", Role: registry.RoleVaccinator}
	id, sess := st.create(tok, t0)
	if len(id) < 40 || sess.csrf == "" || sess.csrf == id {
		t.Fatalf("cookie %q, csrf %q", id, sess.csrf)
	}
	tests := []struct {
		name  string
		after time.Duration
		live  bool
	}{
		{"ok/fresh", time.Minute, true},
		{"ok/used-29-minutes-later", 30 * time.Minute, true},
		{"ok/kept-alive-by-use", 59 * time.Minute, true},
		{"fail/idle-31-minutes", 90*time.Minute + time.Second, false},
	}
	for _, tt := range tests {
		got := st.get(id, t0.Add(tt.after))
		if (got != nil) != tt.live {
			t.Fatalf("%s: live = %v, want %v", tt.name, got != nil, tt.live)
		}
	}
	// The absolute limit ends a busy session too.
	id, _ = st.create(tok, t0)
	for d := time.Duration(0); d < 12*time.Hour; d += 20 * time.Minute {
		if st.get(id, t0.Add(d)) == nil {
			t.Fatalf("session ended after %v of use", d)
		}
	}
	if st.get(id, t0.Add(12*time.Hour+time.Minute)) != nil {
		t.Fatal("a session outlived the absolute limit")
	}
	// Unknown and empty cookies, and sign-out.
	if st.get("", t0) != nil || st.get("nope", t0) != nil {
		t.Fatal("an unknown cookie found a session")
	}
	id, _ = st.create(tok, t0)
	st.end(id)
	if st.get(id, t0) != nil {
		t.Fatal("a session survived sign-out")
	}
	// The store is bounded: when it is full, expired sessions are swept,
	// then the least recently used live one goes.
	var last string
	for i := range 10 {
		last, _ = st.create(tok, t0.Add(24*time.Hour+time.Duration(i)*time.Second))
	}
	if n := len(st.m); n > 3 {
		t.Fatalf("%d sessions kept, limit 3", n)
	}
	if st.get(last, t0.Add(24*time.Hour+10*time.Second)) == nil {
		t.Fatal("the newest session was evicted")
	}
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/clinic", "/clinic"},
		{"/clinic/p/7KQM-X4TD-9HCA?purpose=care", "/clinic/p/7KQM-X4TD-9HCA?purpose=care"},
		{"", ""},
		{"//evil.example/", ""},
		{"/\\evil.example", ""},
		{"https://evil.example/", ""},
		{"clinic", ""},
		{"javascript:alert(1)", ""},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestReturnPath: a GET page comes back to itself, less lang; a form's
// target comes back to the page its route names (the back column of
// package server's route table), with the card filled in.
func TestReturnPath(t *testing.T) {
	tests := []struct{ method, target, card, back, want string }{
		{"GET", "/clinic/p/7KQM-X4TD-9HCA?purpose=care&lang=ko", "7KQM-X4TD-9HCA", "", "/clinic/p/7KQM-X4TD-9HCA?purpose=care"},
		{"GET", "/check", "", "", "/check"},
		{"POST", "/clinic/p/7KQM-X4TD-9HCA/dose", "7KQM-X4TD-9HCA", "/clinic/p/{card}?purpose=care", "/clinic/p/7KQM-X4TD-9HCA?purpose=care"},
		{"POST", "/clinic/p/7KQM%2FX4TD/dose", "7KQM/X4TD", "/clinic/p/{card}?purpose=care", "/clinic/p/7KQM%2FX4TD?purpose=care"},
		{"POST", "/clinic/register", "", "/clinic", "/clinic"},
		{"POST", "/check", "", "/check", "/check"},
		{"POST", "/program/policy/explain", "", "/program/policy", "/program/policy"},
		{"POST", "/admin/tokens", "", "/admin", "/admin"},
		{"POST", "/holder/certificate", "", "/holder", "/holder"},
		{"POST", "/signout", "", "", "/"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.target, nil)
		if tt.card != "" {
			r.SetPathValue("card", tt.card)
		}
		if got := returnPath(r, tt.back); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.method, tt.target, got, tt.want)
		}
	}
}
