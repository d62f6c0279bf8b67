package iis_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/encoding/korean"

	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/registry"
)

// TestLeastData sends VXUs whose every optional segment and field holds a
// marker, and checks that no marker reaches the database files (db, WAL,
// shared memory) or the log, in clear: Haven keeps of PID only the
// demographics its person model has, encrypted, and of the sender's IDs
// only keyed hashes.
func TestLeastData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, true)
	vax := vaccinator("YB-1")

	// Markers in plain ASCII, in a UTF-8 message.
	ascii := []string{
		"Quillfeather", "Zephyrine", // the names (encrypted)
		"5557771", "19850923", "1985-09-23", // phone and birth date (encrypted)
		"MRN-LEAST-77",                                                    // PID-3 under another authority
		"123 Secret Street", "MAIDENMARKER", "RACEMARKER", "ETHNICMARKER", // PID-11, PID-6, PID-10, PID-22
		"ALIASMARKER", "PD1MARKER", "NEXTOFKINMARKER", "NK1ADDRMARKER", "PV1MARKER",
		"INSPLANMARKER", "INSCOMPANYMARKER", "GUARANTORMARKER",
		"ORDERMARKER-1",                     // ORC-3: only its keyed hash is kept
		"ORDERERMARKER", "ADMINISTERMARKER", // ORC-12, RXA-10
		"OBXTEXTMARKER", "NOTEMARKER",
	}
	body := msg(
		"MSH|^~\\&|MYEHR|LEAST-CLINIC|HAVEN|HAVEN-IIS|20220301||VXU^V04^VXU_V04|LEAST-1|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS",
		"PID|1||MRN-LEAST-77^^^MYEHR^MR||Quillfeather^Zephyrine^^^^^L~ALIASMARKER^Z^^^^^A|MAIDENMARKER^Mom^^^^^M|19850923|F||"+
			"2106-3^RACEMARKER^CDCREC|123 Secret Street^^Yanji^JL^133000^CHN^P||^PRN^PH^^86^433^5557771|||||||||2135-2^ETHNICMARKER^CDCREC||N|1",
		"PD1|||PD1MARKER^^^^^^^^^MYEHR||||||||02^Reminder/Recall - any method^HL70215",
		"NK1|1|NEXTOFKINMARKER^Parent^^^^^L|MTH^Mother^HL70063|NK1ADDRMARKER 9 Road^^Yanji^JL^133000^CHN^P|^PRN^PH^^86^433^5550001",
		"PV1|1|R|PV1MARKER||||||||||||||||V02^20220301",
		"GT1|1||GUARANTORMARKER^Guy",
		"IN1|1|INSPLANMARKER^Plan|99|INSCOMPANYMARKER",
		"ORC|RE|PLC-1^MYEHR|ORDERMARKER-1^MYEHR|||||||||7824^ORDERERMARKER^Doc^^^^^^MYEHR",
		"RXA|0|1|20210917||511^CoronaVac^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001|7824^ADMINISTERMARKER^Nurse|^^^YB-1||||LOTSAFE1||SNV^Sinovac^MVX|||CP|A",
		"RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163",
		"OBX|1|ST|30945-0^Vaccination contraindication^LN|1|OBXTEXTMARKER||||||F",
		"NTE|1||NOTEMARKER free text",
	)

	// Markers in Korean, in an EUC-KR message: looked for in UTF-8 and in
	// EUC-KR.
	hangul := []string{"홍비밀", "길동비밀", "비밀주소거리", "어머니비밀", "친척비밀", "메모비밀"}
	kr := string(msg(
		"MSH|^~\\&|KREHR|KR-CLINIC|HAVEN|HAVEN-IIS|20220301||VXU^V04^VXU_V04|LEAST-2|P|2.5.1|||ER|AL||KS X 1001|||Z22^CDCPHINVS",
		"PID|1||KR-LEAST^^^KREHR^MR||홍비밀^길동비밀^^^^^L|어머니비밀^^^^^^M|19900101|M|||비밀주소거리 1^^서울^^03000^KOR^P",
		"NK1|1|친척비밀^^^^^^L|MTH^Mother^HL70063",
		"ORC|RE||KR-ORDER-1^KREHR",
		"RXA|0|1|20210917||208^COVID-19 mRNA (Pfizer)^CVX|0.3|mL^^UCUM||00^New immunization record^NIP001||^^^YB-1||||FF1234||PFR^Pfizer^MVX|||CP|A",
		"OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V02^VFC^HL70064||||||F",
		"NTE|1||메모비밀",
	))
	krBody, err := korean.EUCKR.NewEncoder().String(kr)
	if err != nil {
		t.Fatal(err)
	}

	var cards []registry.CardCode
	for _, b := range [][]byte{body, []byte(krBody)} {
		a := readAck(t, f.h.Handle(ctx, vax, b))
		if a.Code != hl7.AA {
			t.Fatalf("MSA-1 = %s: %v", a.Code, a.Errors)
		}
		cards = append(cards, cardOf(t, a))
	}
	// What Haven keeps, it keeps: the demographics read back.
	for i, want := range [][2]string{{"Quillfeather", "Zephyrine"}, {"홍비밀", "길동비밀"}} {
		d := f.record(t, cards[i]).Person.Demographics
		if d.FamilyName != want[0] || d.GivenName != want[1] {
			t.Fatalf("person %d names = %q %q, want %q %q", i, d.FamilyName, d.GivenName, want[0], want[1])
		}
	}

	type needle struct{ what, form string }
	needles := map[needle][]byte{}
	for _, m := range ascii {
		needles[needle{m, "utf-8"}] = []byte(m)
		needles[needle{m, "utf-16le"}] = utf16le(m)
	}
	for _, m := range hangul {
		needles[needle{m, "utf-8"}] = []byte(m)
		needles[needle{m, "utf-16le"}] = utf16le(m)
		raw, err := korean.EUCKR.NewEncoder().String(m)
		if err != nil {
			t.Fatal(err)
		}
		needles[needle{m, "euc-kr"}] = []byte(raw)
	}
	search := func(where string, data []byte) {
		for n, b := range needles {
			if bytes.Contains(data, b) {
				t.Errorf("%s holds %q (%s)", where, n.what, n.form)
			}
		}
	}
	// While the store is open (the WAL holds the latest pages), and after
	// it is closed.
	// The card codes are kept in clear: finding them shows that the search
	// reads what was written.
	files := func(when string) {
		entries, err := os.ReadDir(f.dir)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[registry.CardCode]bool{}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			search(e.Name()+" ("+when+")", data)
			for _, c := range cards {
				seen[c] = seen[c] || bytes.Contains(data, []byte(c))
			}
		}
		for _, c := range cards {
			if !seen[c] {
				t.Errorf("card code %s not found in the files (%s): the search misses data", c, when)
			}
		}
	}
	files("open")
	f.close(t)
	files("closed")
	search("the log", f.log.Bytes())
	if len(f.log.Bytes()) == 0 {
		t.Errorf("nothing was logged; the test looked at an empty log")
	}
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}
