package hl7_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/haven-registry/haven/internal/hl7"
)

// FuzzParse feeds any body to the parser and the readers, and checks that
// nothing panics, that every message can be answered with an ACK that parses
// back with the same MSA-1 and ERR count, and that doses read without errors
// survive NewVXU and ReadVXU unchanged.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.hl7")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "MSH", "MSH|", "MSH|^~\\&", "MSH|^~\\&|\\X\\|\\XZ\\|\\", "FHS|^~\\&\rBHS\rBTS|1\rFTS",
		"MSH|^~\\&|A|B|C|D|20210917||VXU^V04|1|P|2.5.1\rPID|1||x^^^HAVEN\rRXA|0|1|20210917||20^^CVX|999",
		"MSH|^~\\&|A|B|C|D|20210917||QBP^Q11|1|P|2.5.1\rQPD|Z34^^CDCPHINVS|t|c^^^HAVEN\rRCP|I|x",
		"\xff\xfeM\x00S\x00H\x00|\x00", "\x00M\x00S\x00H", "MSH|^~\\&||||||||||||||||KS X 1001\r\xb1\xe8",
	} {
		f.Add([]byte(s))
	}
	lim := hl7.Limits{MaxBytes: 1 << 20, MaxSegments: 200, MaxFields: 64, MaxRepetitions: 20}
	eol := cmp.Transformer("eol", func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		batch, err := lim.Parse(body)
		if err != nil {
			if _, ok := err.(*hl7.Error); !ok {
				t.Fatalf("Parse error is %T", err)
			}
			return
		}
		for _, m := range batch.Messages {
			touch(m)
			v, errs := hl7.ReadVXU(m)
			hl7.ReadQBP(m)
			hl7.ReadACK(m)
			ack, err := hl7.NewACK(&v.Header, errs, env)
			if err != nil {
				t.Fatal(err)
			}
			back, err := hl7.ParseMessage(ack)
			if err != nil {
				t.Fatalf("the ACK does not parse: %v\n%q", err, ack)
			}
			a, aerrs := hl7.ReadACK(back)
			if len(aerrs) != 0 {
				t.Fatalf("ReadACK: %v\n%q", aerrs, ack)
			}
			wantERR := min(len(errs), 51)
			if a.Code != errs.Ack() || len(a.Errors) != wantERR {
				t.Fatalf("ACK %s with %d ERR, want %s with %d\n%q", a.Code, len(a.Errors), errs.Ack(), wantERR, ack)
			}
			if errs.Fatal() || len(v.Administrations) == 0 {
				continue
			}
			out, err := hl7.NewVXU(hl7.Person{CardCode: "C"}, v.Administrations, hl7.Profile{}, env)
			if err != nil {
				continue // a dose the reader accepted with a warning may still be unwritable
			}
			v2, errs2 := hl7.ReadVXU(mustParse(t, out))
			if errs2.Fatal() {
				t.Fatalf("NewVXU wrote a message ReadVXU rejects: %v\n%q", errs2, out)
			}
			if diff := cmp.Diff(v.Administrations, v2.Administrations, ignoreLocation, cmpopts.EquateEmpty(), eol); diff != "" {
				t.Fatalf("round trip (-read +again):\n%s\n%q", diff, out)
			}
		}
	})
}

// touch reads every value of a message.
func touch(m *hl7.Message) {
	m.Header()
	for i := range m.Segments() {
		s := &m.Segments()[i]
		_ = s.Loc(1).String()
		for f := 0; f <= s.Len()+1; f++ {
			v := s.Field(f)
			for r := 1; r <= min(v.Reps(), 5)+1; r++ {
				rep := v.Rep(r)
				for c := 1; c <= 4; c++ {
					comp := rep.Comp(c)
					_ = comp.Text()
					_ = comp.Sub(1).Text()
					_ = comp.Sub(2).Comp(2).Rep(2).Text()
				}
			}
		}
	}
}
