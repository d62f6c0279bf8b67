package hl7_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/hl7"
)

// vxuBody returns n VXU^V04 messages, one dose each, with a PID full of
// fields that are read only to be dropped, as an EHR sends them.
func vxuBody(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "MSH|^~\\&|MYEHR|CLINIC-%d|HAVEN|HAVEN-IIS|20210917093000-0500||VXU^V04^VXU_V04|MSG-%d|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r", i%7, i)
		fmt.Fprintf(&b, "PID|1||MRN-%d^^^MYEHR^MR~7KQM-X4TD-9HCA^^^HAVEN^PI||Kim^Minji^Seo^^^^L|Park^Soyeon^^^^^M|19850923|F||2028-9^Asian^CDCREC|12 Yanji Road^^Yanji^JL^133000^CHN^P||^PRN^PH^^86^433^5551234|||||||||2186-5^Not Hispanic or Latino^CDCREC\r", i)
		fmt.Fprintf(&b, "ORC|RE||DOSE-%d^MYEHR|||||||7824^Lee^Nurse^^^^^^MYEHR^L\r", i)
		b.WriteString("RXA|0|1|20210917||511^COVID-19 IV Non-US Vaccine (CoronaVac)^CVX|0.5|mL^milliliter^UCUM||00^New immunization record^NIP001|7824^Lee^Nurse^^^^^^MYEHR^L^^^PRN|^^^YB-1||||A21091712||SNV^Sinovac^MVX|||CP|A\r")
		b.WriteString("RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163\r")
		b.WriteString("OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V02^VFC eligible - Medicaid^HL70064||||||F|||20210917|||VXC40^per imm^CDCPHINVS\r")
		b.WriteString("OBX|2|CE|30963-3^Vaccine funding source^LN|2|VXC1^Federal funds^CDCPHINVS||||||F|||20210917\r")
	}
	return []byte(b.String())
}

// BenchmarkReadVXU parses a body of 1,000 one-dose VXUs and reads each one,
// as the HL7 transport does: the rates it reports are whole messages, each
// with one RXA, per second of wall time and per second of CPU time (the
// latter is what one core does when the machine is shared; run with -cpu 1).
func BenchmarkReadVXU(b *testing.B) {
	const n = 1000
	body := vxuBody(n)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		batch, err := hl7.Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range batch.Messages {
			v, errs := hl7.ReadVXU(m)
			if len(errs) != 0 || len(v.Administrations) != 1 {
				b.Fatal(errs)
			}
		}
	}
	reportRates(b, n, cpu0)
}

// reportRates reports RXA segments per second of wall time, and per second
// of CPU time where it can be measured.
func reportRates(b *testing.B, perOp int, cpu0 time.Duration) {
	b.ReportMetric(float64(perOp*b.N)/b.Elapsed().Seconds(), "RXA/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(perOp*b.N)/cpu.Seconds(), "RXA/cpu-s")
	}
}

// BenchmarkReadVXUOne parses and reads one one-dose VXU per call, as a
// transport does with one message per request or MLLP frame.
func BenchmarkReadVXUOne(b *testing.B) {
	body := vxuBody(1)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		m, err := hl7.ParseMessage(body)
		if err != nil {
			b.Fatal(err)
		}
		if v, errs := hl7.ReadVXU(m); len(errs) != 0 || len(v.Administrations) != 1 {
			b.Fatal(errs)
		}
	}
	reportRates(b, 1, cpu0)
}

// BenchmarkReadVXUManyOrders reads one message with 400 ORC/RXA/RXR/OBX
// groups.
func BenchmarkReadVXUManyOrders(b *testing.B) {
	const n = 400
	var s strings.Builder
	s.WriteString("MSH|^~\\&|MYEHR|C|HAVEN|H|20210917||VXU^V04^VXU_V04|M1|P|2.5.1\rPID|1||X^^^MYEHR^MR||Doe^J\r")
	for i := range n {
		fmt.Fprintf(&s, "ORC|RE||D%d^MYEHR\r", i)
		s.WriteString("RXA|0|1|20210917||20^DTaP^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001||^^^YB-1||||L1||SKB^GSK^MVX|||CP|A\r")
		s.WriteString("RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163\r")
		s.WriteString("OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V01^Not VFC eligible^HL70064||||||F\r")
	}
	body := []byte(s.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		m, err := hl7.ParseMessage(body)
		if err != nil {
			b.Fatal(err)
		}
		if v, errs := hl7.ReadVXU(m); len(errs) != 0 || len(v.Administrations) != n {
			b.Fatal(errs)
		}
	}
	reportRates(b, n, cpu0)
}

func BenchmarkNewACK(b *testing.B) {
	m, _ := hl7.ParseMessage(vxuBody(1))
	v, errs := hl7.ReadVXU(m)
	errs = append(errs, hl7.CardCodeAssigned("7KQM-X4TD-9HCA"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hl7.NewACK(&v.Header, errs, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewVXU(b *testing.B) {
	d := doses()[:1]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hl7.NewVXU(person, d, hl7.Profile{}, env); err != nil {
			b.Fatal(err)
		}
	}
}
