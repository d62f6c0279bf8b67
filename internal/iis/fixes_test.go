package iis_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
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

// TestBatchOrderPerCard: in a body of several messages, those about one
// card are applied in the order sent (an add, then its deletion), while the
// replies keep the order of the messages.
func TestBatchOrderPerCard(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	card := f.register(t, clinic.PersonInput{BirthDate: "1980-01-01"})
	other := f.register(t, clinic.PersonInput{BirthDate: "1981-01-01"})
	add := func(control, order string, c registry.CardCode) string {
		return "MSH|^~\\&|EHR|CLINIC-1|HAVEN|HAVEN|20210921||VXU^V04^VXU_V04|" + control + "|P|2.5.1|||ER|AL\r" +
			"PID|1||" + string(c) + "^^^HAVEN^PI\r" +
			"ORC|RE||" + order + "^EHR\r" +
			"RXA|0|1|20210920||208^Pfizer^CVX|0.3|mL^mL^UCUM||00^New^NIP001||^^^YB-1||||L1\r"
	}
	del := strings.Replace(add("M-3", "O-1", card), "||||L1\r", "||||L1||||||D\r", 1)
	var body strings.Builder
	for _, m := range []string{add("M-1", "O-1", card), add("M-2", "O-2", other), del, add("M-4", "O-4", other)} {
		body.WriteString(m)
	}
	reply := f.h.Handle(context.Background(), vaccinator("YB-1"), []byte(body.String()))
	b, err := hl7.Parse(reply)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Messages) != 4 {
		t.Fatalf("%d replies, want 4:\n%s", len(b.Messages), show(reply))
	}
	for i, m := range b.Messages {
		a, _ := hl7.ReadACK(m)
		if a == nil || a.Code != hl7.AA || a.ControlID != "M-"+strconv.Itoa(i+1) {
			t.Errorf("reply %d = %+v, want AA for M-%d", i, a, i+1)
		}
	}
	rec := f.record(t, card)
	if len(rec.Vaccinations) != 1 || rec.Vaccinations[0].Status != registry.StatusEnteredInError {
		t.Errorf("the card's dose = %+v, want it recorded then marked entered in error", rec.Vaccinations)
	}
	if got := len(f.record(t, other).Vaccinations); got != 2 {
		t.Errorf("the other card has %d doses, want 2", got)
	}
}
