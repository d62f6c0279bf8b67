package hl7_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/korean"

	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

func TestNewACKGolden(t *testing.T) {
	v, errs := hl7.ReadVXU(mustParse(t, readFile(t, "bad-date.hl7")))
	b, err := hl7.NewACK(&v.Header, errs, env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`MSH|^~\&|HAVEN|HAVEN-IIS|MYEHR|CLINIC-9|20210917100000+0000||ACK^V04^ACK|HAVEN-ACK-1|P|2.5.1|||NE|NE|||||Z23^CDCPHINVS`,
		`MSA|AE|MSG-0303`,
		`ERR||RXA^1^3^1^1|102^Data type error^HL70357|E|2^Invalid Date^HL70533|||RXA-3 (date/time start of administration) is not a valid date`,
	}
	if diff := cmp.Diff(want, segments(b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNewACKAccepted(t *testing.T) {
	v, errs := hl7.ReadVXU(mustParse(t, readFile(t, "vxu-administered.hl7")))
	b, err := hl7.NewACK(&v.Header, errs, env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`MSH|^~\&|HAVEN|HAVEN-IIS|MYEHR|Yanbian Clinic|20210917100000+0000||ACK^V04^ACK|HAVEN-ACK-1|P|2.5.1|||NE|NE|||||Z23^CDCPHINVS|HAVEN^^^^^HAVEN^XX^^^HAVEN|YBClinic^^^^^HAVEN^XX^^^YB-1`,
		`MSA|AA|MSG-0001`,
	}
	if diff := cmp.Diff(want, segments(b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCardCodeInACK(t *testing.T) {
	v, errs := hl7.ReadVXU(mustParse(t, readFile(t, "vxu-no-orc.hl7")))
	errs = append(errs, hl7.CardCodeAssigned("7KQM-X4TD-9HCA"))
	b, err := hl7.NewACK(&v.Header, errs, env)
	if err != nil {
		t.Fatal(err)
	}
	segs := segments(b)
	if got, want := segs[len(segs)-1], `ERR||PID^1^3^1^1|0^Message accepted^HL70357|I|CARD^Card code assigned^HAVEN|7KQM-X4TD-9HCA||Card code assigned: 7KQM-X4TD-9HCA`; got != want {
		t.Errorf("ERR = %s\nwant  %s", got, want)
	}
	if segs[1] != "MSA|AA|MSG-0006" {
		t.Errorf("MSA = %s (warnings and information keep AA)", segs[1])
	}
	a, aerrs := hl7.ReadACK(mustParse(t, b))
	if len(aerrs) != 0 {
		t.Fatal(aerrs)
	}
	if card, ok := a.CardCode(); !ok || card != "7KQM-X4TD-9HCA" {
		t.Errorf("CardCode() = %q, %v", card, ok)
	}
}

func TestNewACKWithoutHeader(t *testing.T) {
	b, err := hl7.NewACK(nil, hl7.Errors{{Code: hl7.CodeSegmentSequence, Severity: hl7.SeverityError, Message: "no message"}}, env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`MSH|^~\&|HAVEN|HAVEN-IIS|||20210917100000+0000||ACK|HAVEN-ACK-1|P|2.5.1|||NE|NE|||||Z23^CDCPHINVS`,
		`MSA|AR`,
		`ERR|||100^Segment sequence error^HL70357|E||||no message`,
	}
	if diff := cmp.Diff(want, segments(b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := hl7.NewACK(nil, nil, hl7.Envelope{}); registry.ErrorCode(err) != registry.EINVALID {
		t.Errorf("no control ID: %v", err)
	}
}

func TestNewACKEscapesAndLimits(t *testing.T) {
	var errs hl7.Errors
	for i := range 60 {
		errs = append(errs, hl7.Error{Location: hl7.Location{Segment: "OBX", Seq: i + 1}, Code: hl7.CodeTableValue,
			Severity: hl7.SeverityWarning, Message: fmt.Sprintf("value %d|^~\\& ignored\nreally", i)})
	}
	b, err := hl7.NewACK(&hl7.Header{ControlID: "C|1", Type: hl7.MessageType{Code: "VXU", Event: "V04"}}, errs, env)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := hl7.ReadACK(mustParse(t, b))
	if a.ControlID != "C|1" || len(a.Errors) != 51 {
		t.Fatalf("MSA-2 %q, %d ERR", a.ControlID, len(a.Errors))
	}
	if got := a.Errors[0].Message; got != "value 0|^~\\& ignored\nreally" {
		t.Errorf("ERR-8 = %q", got)
	}
	if got := a.Errors[50].Message; got != "10 more problems were found and are not listed" {
		t.Errorf("last ERR-8 = %q", got)
	}
}

func TestNewACKInRequestCharset(t *testing.T) {
	v, errs := hl7.ReadVXU(mustParse(t, readFile(t, "vxu-euc-kr.hl7")))
	errs = append(errs, hl7.Error{Severity: hl7.SeverityWarning, Code: hl7.CodeTableValue, Message: "접종 부위 무시됨"})
	b, err := hl7.NewACK(&v.Header, errs, env)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "서울") {
		t.Fatal("the ACK is not in EUC-KR")
	}
	utf8, err := korean.EUCKR.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(utf8), "|서울보건소|") || !strings.Contains(string(utf8), "|KS X 1001|") || !strings.Contains(string(utf8), "접종 부위 무시됨") {
		t.Errorf("ACK = %s", utf8)
	}
	a, _ := hl7.ReadACK(mustParse(t, b))
	if a.Header.ReceivingFacility.Namespace != "서울보건소" || a.Errors[0].Message != "접종 부위 무시됨" {
		t.Errorf("read back: %+v", a)
	}

	// Text the request's set cannot hold makes the reply UTF-8, declared.
	errs[0].Message = "王 not in EUC-KR? 丽"
	env2 := env
	env2.Charset = "8859/1"
	b, _ = hl7.NewACK(&v.Header, errs, env2)
	if !strings.Contains(string(b), "|UNICODE UTF-8|") || !strings.Contains(string(b), "서울보건소") {
		t.Errorf("ACK = %s", b)
	}
}

func TestReadACK(t *testing.T) {
	t.Run("upstream-error", func(t *testing.T) {
		a, errs := hl7.ReadACK(mustParse(t, readFile(t, "ack-upstream-error.hl7")))
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		got := []string{string(a.Code), a.ControlID}
		for _, e := range a.Errors {
			got = append(got, fmt.Sprintf("%s %d %s %s %s", e.Location, e.Code, e.Severity, e.App, e.Message))
		}
		want := []string{"AE", "HAVEN-0042",
			"RXA^1^5^1^1 103 E 5 Vaccine code not recognized - message rejected",
			"RXR^1^2^1^1 103 W 5 Administration site not recognized - site data will not be saved"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
		if _, ok := a.CardCode(); ok {
			t.Error("CardCode found")
		}
	})
	t.Run("v2.3.1", func(t *testing.T) {
		a, errs := hl7.ReadACK(mustParse(t, readFile(t, "ack-v231.hl7")))
		if len(errs) != 0 {
			t.Fatal(errs)
		}
		if a.Code != hl7.AR || len(a.Errors) != 1 || a.Errors[0].Location.String() != "PID^1^3" || a.Errors[0].Code != 101 {
			t.Errorf("%+v", a)
		}
	})
	t.Run("msa-3-only", func(t *testing.T) {
		a, _ := hl7.ReadACK(mustParse(t, er7("MSH|^~\\&|A|B|C|D|20210917||ACK|1|P|2.3.1\nMSA|AE|X|Bad lot")))
		if len(a.Errors) != 1 || a.Errors[0].Message != "Bad lot" {
			t.Errorf("%+v", a.Errors)
		}
	})
	for name, body := range map[string]string{
		"not-an-ack": "MSH|^~\\&|A|B|C|D|20210917||VXU^V04|1|P|2.5.1\nMSA|AA|X",
		"no-msa":     "MSH|^~\\&|A|B|C|D|20210917||ACK|1|P|2.5.1",
		"bad-msa-1":  "MSH|^~\\&|A|B|C|D|20210917||ACK|1|P|2.5.1\nMSA|OK|X",
	} {
		t.Run(name, func(t *testing.T) {
			if _, errs := hl7.ReadACK(mustParse(t, er7(body))); !errs.Fatal() {
				t.Error("no error")
			}
		})
	}
}

func TestFromError(t *testing.T) {
	loc := hl7.Location{Segment: "RXA", Seq: 2}
	tests := []struct {
		err  error
		code hl7.Code
		app  hl7.AppCode
		msg  string
	}{
		{registry.FieldErrorf(registry.EINVALID, "product", "Unknown CVX code %q.", "999"), 103, hl7.AppTableValue, `Unknown CVX code "999".`},
		{registry.FieldErrorf(registry.EINVALID, "date", "The date is in the future."), 102, hl7.AppInvalidDate, "The date is in the future."},
		{registry.Errorf(registry.EINVALID, "Bad."), 102, hl7.AppInvalidValue, "Bad."},
		{registry.Errorf(registry.ENOTFOUND, "No such card."), 204, "", "No such card."},
		{registry.Errorf(registry.ECONFLICT, "Dose already recorded."), 205, "", "Dose already recorded."},
		{fmt.Errorf("sqlite: %w", errors.New("disk I/O error")), 207, "", "Internal error."},
		{registry.Errorf(registry.ESEALED, "Sealed."), 207, "", "Sealed."},
	}
	for _, tc := range tests {
		e := hl7.FromError(tc.err, loc)
		if e.Code != tc.code || e.App != tc.app || e.Message != tc.msg || e.Severity != hl7.SeverityError || e.Location != loc {
			t.Errorf("FromError(%v) = %+v", tc.err, e)
		}
		if !errors.Is(&e, tc.err) {
			t.Errorf("FromError(%v) does not wrap it", tc.err)
		}
	}
	in := hl7.Error{Code: 101, Severity: hl7.SeverityError}
	if got := hl7.FromError(&in, loc); got.Location != loc || got.Code != 101 {
		t.Errorf("FromError(*Error) = %+v", got)
	}
	if ack := (hl7.Errors{hl7.FromError(registry.Errorf(registry.ENOTFOUND, "x"), loc)}).Ack(); ack != hl7.AR {
		t.Errorf("Ack = %s", ack)
	}
}

func TestHeaderLogValue(t *testing.T) {
	v, _ := hl7.ReadVXU(mustParse(t, readFile(t, "vxu-administered.hl7")))
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("hl7", "message", &v.Header)
	got := b.String()
	if !strings.Contains(got, "message.type=VXU^V04^VXU_V04") || !strings.Contains(got, "message.control_id=MSG-0001") {
		t.Errorf("log = %s", got)
	}
}
