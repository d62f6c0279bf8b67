package registry_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/registry"
)

// Every single-symbol substitution and every swap of two different
// neighbouring symbols of a card code is detected.
func TestCardCodeCheckCatchesTypos(t *testing.T) {
	for range 200 {
		code := registry.NewCardCode()
		if _, err := registry.ParseCardCode(string(code)); err != nil {
			t.Fatalf("fresh code %s rejected: %v", code, err)
		}
		plain := []byte(strings.ReplaceAll(string(code), "-", ""))
		for i := range plain {
			for _, c := range []byte(registry.CardAlphabet) {
				if c == plain[i] {
					continue
				}
				typo := append([]byte{}, plain...)
				typo[i] = c
				if _, err := registry.ParseCardCode(string(typo)); err == nil {
					t.Fatalf("substitution at %d in %s not detected: %s", i, plain, typo)
				}
			}
			if i+1 < len(plain) && plain[i] != plain[i+1] {
				swap := append([]byte{}, plain...)
				swap[i], swap[i+1] = swap[i+1], swap[i]
				if _, err := registry.ParseCardCode(string(swap)); err == nil {
					t.Fatalf("swap at %d in %s not detected: %s", i, plain, swap)
				}
			}
		}
	}
}

func TestParseCardCode(t *testing.T) {
	code := registry.NewCardCode()
	if len(code) != 14 || strings.ContainsAny(string(code), "01IOU") {
		t.Fatalf("code %q: want 12 symbols in groups of four, without 0 1 I O U", code)
	}
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"ok/canonical", string(code), true},
		{"ok/lower-case-and-spaces", strings.ToLower(strings.ReplaceAll(string(code), "-", " ")), true},
		{"fail/empty", "", false},
		{"fail/confusable-symbol", "O" + string(code[1:]), false},
		{"fail/too-short", string(code[:10]), false},
		{"fail/too-long", string(code) + "A", false},
		{"fail/not-ascii", "가" + string(code[1:]), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := registry.ParseCardCode(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseCardCode(%q) = %q, %v", tt.in, got, err)
			}
			if err != nil && (registry.ErrorCode(err) != registry.EINVALID || registry.ErrorField(err) != "card_code") {
				t.Fatalf("error %v: want invalid card_code", err)
			}
			if tt.ok && got != code {
				t.Fatalf("ParseCardCode(%q) = %q, want %q", tt.in, got, code)
			}
		})
	}
}

func TestParsePartialDate(t *testing.T) {
	tests := []struct {
		in, want, earliest string
	}{
		{"1985", "1985", "1985-01-01"},
		{"1985-04", "1985-04", "1985-04-01"},
		{"1985-04-23", "1985-04-23", "1985-04-23"},
		{"2000-02-29", "2000-02-29", "2000-02-29"},
		{"1985-13", "", ""},
		{"1985-02-30", "", ""},
		{"2001-02-29", "", ""},
		{"85", "", ""},
		{"1985/04", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		p, err := registry.ParsePartialDate(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParsePartialDate(%q) = %v, want error", tt.in, p)
			}
			continue
		}
		if err != nil || p.String() != tt.want || p.Earliest().String() != tt.earliest {
			t.Errorf("ParsePartialDate(%q) = %v (earliest %v), %v", tt.in, p, p.Earliest(), err)
		}
	}
}

func FuzzParseCardCode(f *testing.F) {
	f.Add(string(registry.NewCardCode()))
	f.Add("7KQM X4TD 9HCA")
	f.Add("----")
	f.Fuzz(func(t *testing.T, s string) {
		code, err := registry.ParseCardCode(s)
		if err != nil {
			return
		}
		again, err := registry.ParseCardCode(string(code))
		if err != nil || again != code {
			t.Fatalf("canonical form %q does not parse back: %v", code, err)
		}
	})
}

// Identifying types redact themselves in structured logs.
func TestLogRedaction(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	code := registry.NewCardCode()
	p := registry.Person{CardCode: code, Demographics: registry.Demographics{GivenName: "Jiyoung", Phone: "0199555433"}, HolderSecret: "SECRET1234"}
	log.Info("x", "card", code, "person", p, "demo", p.Demographics, "ptr", &p)
	for _, leak := range []string{string(code), "Jiyoung", "0199555433", "SECRET1234"} {
		if strings.Contains(buf.String(), leak) {
			t.Errorf("log line leaks %q: %s", leak, buf.String())
		}
	}
}
