package hl7_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/hl7"
)

// t0 is the time written in replies.
var t0 = time.Date(2021, 9, 17, 10, 0, 0, 0, time.UTC)

// env is Haven's envelope in tests.
var env = hl7.Envelope{
	SendingApplication: hl7.HD{Namespace: "HAVEN"},
	SendingFacility:    hl7.HD{Namespace: "HAVEN-IIS"},
	ControlID:          "HAVEN-ACK-1",
	Time:               t0,
}

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mustParse parses a body that must hold exactly one message.
func mustParse(tb testing.TB, body []byte) *hl7.Message {
	tb.Helper()
	m, err := hl7.ParseMessage(body)
	if m == nil {
		tb.Fatalf("ParseMessage: %v", err)
	}
	return m
}

// er7 turns a readable message (one segment a line) into ER7 with \r.
func er7(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimSpace(s), "\n", "\r") + "\r")
}

// segments splits written ER7 into its segments.
func segments(b []byte) []string {
	return strings.Split(strings.TrimSuffix(string(b), "\r"), "\r")
}

// withTerminator rewrites a body's \n segment terminators.
func withTerminator(b []byte, t string) []byte {
	return bytes.ReplaceAll(b, []byte("\n"), []byte(t))
}

type wantErr struct {
	code hl7.Code
	loc  string
	sev  hl7.Severity
}

func errsOf(es hl7.Errors) []wantErr {
	var out []wantErr
	for _, e := range es {
		out = append(out, wantErr{e.Code, e.Location.String(), e.Severity})
	}
	return out
}
