package iis_test

import (
	"context"
	"testing"

	"github.com/haven-registry/haven/internal/hl7"
)

// TestFeedStepWithoutLogger: a feed with no Logger steps through a
// rejection without failing (Run is not the only caller of Step).
func TestFeedStepWithoutLogger(t *testing.T) {
	t.Parallel()
	x := newFeedFixture(t)
	x.feed.Logger = nil
	x.dose(t, x.card, "2021-06-01", "L1")
	x.iis.reply = func(_ int, m []byte) ([]byte, error) {
		return ackTo(m, hl7.Errors{{Location: hl7.Location{Segment: "RXA", Seq: 1, Field: 5}, Code: hl7.CodeTableValue, Severity: hl7.SeverityError}})
	}
	if ok, err := x.feed.Step(context.Background()); !ok || err != nil {
		t.Fatalf("Step = %v, %v; want the report set aside", ok, err)
	}
	if o := x.outbox(t); o.Status.Failed != 1 {
		t.Errorf("outbox = %+v, want one failed report", o.Status)
	}
}

// TestVXUControlIDWithSpaces: HL7 allows any characters in MSH-10; such a
// message is recorded, and its resend is recognised.
func TestVXUControlIDWithSpaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	body := setField(sample(t, "vxu-administered.hl7"), "MSH", 1, 10, "MSG 0001 ü")
	before := f.count(t, "vaccinations")
	for i := range 2 {
		a := readAck(t, f.h.Handle(context.Background(), vaccinator("YB-1"), body))
		if a.Code != hl7.AA {
			t.Fatalf("send %d: ACK %s %+v", i, a.Code, a.Errors)
		}
	}
	if got := f.count(t, "vaccinations") - before; got < 1 {
		t.Fatalf("nothing recorded")
	}
	once := f.count(t, "vaccinations")
	readAck(t, f.h.Handle(context.Background(), vaccinator("YB-1"), body))
	if f.count(t, "vaccinations") != once {
		t.Error("a resend under the same control ID recorded again")
	}
}
