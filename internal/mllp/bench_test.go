package mllp_test

import (
	"context"
	"crypto/tls"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/haven-registry/haven/internal/mllp"
)

// vxu is a one-dose VXU^V04 of about 600 bytes, as an EHR sends it.
var vxu = []byte(strings.Join([]string{
	"MSH|^~\\&|MYEHR|CLINIC-1|HAVEN|HAVEN-IIS|20210917093000-0500||VXU^V04^VXU_V04|MSG-1|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS",
	"PID|1||MRN-1^^^MYEHR^MR||Kim^Minji^Seo^^^^L|Park^Soyeon^^^^^M|19850923|F||2028-9^Asian^CDCREC|12 Yanji Road^^Yanji^JL^133000^CHN^P",
	"ORC|RE||DOSE-1^MYEHR|||||||7824^Lee^Nurse^^^^^^MYEHR^L",
	"RXA|0|1|20210917||511^COVID-19 IV Non-US Vaccine (CoronaVac)^CVX|0.5|mL^milliliter^UCUM||00^New immunization record^NIP001|||||A21091712||SNV^Sinovac^MVX|||CP|A",
	"RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163",
	"OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V02^VFC eligible - Medicaid^HL70064||||||F",
	"",
}, "\r"))

// ack is the reply: an ACK of about 150 bytes.
var ack = []byte("MSH|^~\\&|HAVEN|HAVEN-IIS|MYEHR|CLINIC-1|20210917093001||ACK^V04^ACK|HAVEN-ACK-1|P|2.5.1\rMSA|AA|MSG-1\r")

var ackHandler = mllp.HandlerFunc(func(context.Context, mllp.Peer, []byte) []byte { return ack })

// BenchmarkRoundTrip sends the VXU and waits for the ACK, over loopback,
// on one connection and on 8 at once, in plain TCP and TLS. It reports
// messages per second of wall time.
func BenchmarkRoundTrip(b *testing.B) {
	p := newPKI(b)
	for _, mode := range []string{"tcp", "tls"} {
		for _, conns := range []int{1, 8} {
			b.Run(mode+"/conns="+strconv.Itoa(conns), func(b *testing.B) {
				s := &mllp.Server{Handler: ackHandler}
				var clientTLS *tls.Config
				if mode == "tls" {
					var err error
					if s.TLSConfig, err = mllp.ServerTLS(p.serverCert, p.serverKey, ""); err != nil {
						b.Fatal(err)
					}
					if clientTLS, err = mllp.ClientTLS(p.caFile, "", "", ""); err != nil {
						b.Fatal(err)
					}
				}
				addr := startServer(b, s)
				clients := make([]*mllp.Client, conns)
				for i := range clients {
					c, err := mllp.Dial(context.Background(), addr, clientTLS)
					if err != nil {
						b.Fatal(err)
					}
					defer c.Close()
					clients[i] = c
				}
				ctx := context.Background()
				b.SetBytes(int64(len(vxu)))
				b.ReportAllocs()
				b.ResetTimer()
				var next atomic.Int64
				var wg sync.WaitGroup
				for _, c := range clients {
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							if _, err := c.Send(ctx, vxu); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
