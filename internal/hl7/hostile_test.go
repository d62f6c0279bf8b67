package hl7_test

import (
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/hl7"
)

// TestHostileInputs runs bodies near the limits, built to find quadratic
// work: long runs of escapes, delimiters, line breaks, segments and fields.
func TestHostileInputs(t *testing.T) {
	head := "MSH|^~\\&|A|B|C|D|20210917||VXU^V04|C1|P|2.5.1\r"
	cases := map[string]string{
		"escapes":  head + "PID|1||" + strings.Repeat("\\", 900000) + "\r",
		"escapes2": head + "PID|1||" + strings.Repeat("\\X", 450000) + "\r",
		"hex":      head + "PID|1||\\X" + strings.Repeat("41", 400000) + "\\\r",
		"reps":     head + "PID|1||" + strings.Repeat("~", 900000) + "\r",
		"comps":    head + "PID|1||" + strings.Repeat("^", 900000) + "\r",
		"segments": head + strings.Repeat("PID|1\r", 1990),
		"ids":      head + strings.Repeat("ABC\rABD\rXYZ\r", 600),
		"lf":       head + strings.Repeat("\n", 900000),
		"crs":      head + strings.Repeat("\r", 900000),
		"fields":   head + strings.Repeat("OBX"+strings.Repeat("|", 255)+"\r", 1900),
		"rxa-reps": head + "PID|1||x^^^A\r" + strings.Repeat("RXA|0|1|20210917||20^^CVX|1|||"+strings.Repeat("~", 200)+"\r", 1000),
	}
	for name, body := range cases {
		start := time.Now()
		b, err := hl7.Parse([]byte(body))
		if err == nil {
			for _, m := range b.Messages {
				v, errs := hl7.ReadVXU(m)
				hl7.NewACK(&v.Header, errs, env)
			}
		}
		// Each takes milliseconds; the bound only catches quadratic work.
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: %v", name, d)
		}
	}
}
