package cert_test

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert"
)

func FuzzBase45(f *testing.F) {
	for _, s := range []string{"", "BB8", "%69 VD92EX0", "GGW", "ZZZ", "A", "HC1:6BF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := cert.Base45Decode(s)
		if err != nil {
			return
		}
		if back := cert.Base45Encode(b); back != s {
			t.Fatalf("Base45Encode(Base45Decode(%q)) = %q", s, back)
		}
		if again, err := cert.Base45Decode(cert.Base45Encode([]byte(s))); err != nil || string(again) != s {
			t.Fatalf("round trip of %q: %q, %v", s, again, err)
		}
	})
}

func FuzzDecompress(f *testing.F) {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write([]byte("\xd2\x84\x43\xa1\x01\x26\xa0\x41\xa0\x40"))
	w.Close()
	f.Add(z.Bytes())
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := cert.Decompress(b)
		if err == nil && len(out) > cert.MaxCWTSize {
			t.Fatalf("Decompress returned %d bytes", len(out))
		}
	})
}

// fuzzSeeds returns raw COSE messages: a valid one and a few variants.
func fuzzSeeds(f *testing.F) (hc1 string, trust *cert.TrustList, raws [][]byte) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dsc := selfSigned(f, ec)
	iat, exp := t0.Add(-time.Hour).Unix(), t0.Add(time.Hour).Unix()
	c := cose{key: ec, prot: map[any]any{1: -7, 4: cert.KID(dsc)}, claims: claimsAt(iat, exp, validDCC()), tags: []uint64{18}}
	raw := c.build(f)
	c2 := c
	c2.tags = []uint64{61, 18}
	c2.unpro = map[any]any{4: []byte("12345678")}
	c3 := c
	c3.claims = claimsAt(1.5, 2.5, map[string]any{"ver": "1.0.0", "t": []any{map[string]any{"sc": "x"}}})
	return hc1Of(raw), cert.NewTrustList(dsc), [][]byte{raw, c2.build(f), c3.build(f), {0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40}}
}

func FuzzParseCOSE(f *testing.F) {
	_, _, raws := fuzzSeeds(f)
	for _, r := range raws {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := cert.ParseCOSE(b)
		if err != nil {
			return
		}
		// Every later step must cope with whatever parsed.
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		dsc := selfSigned(t, ec, cert.OIDTest)
		_, _ = h.VerifySignature(cert.NewTrustList(dsc))
		_ = h.CheckTime(dsc, t0)
		_ = h.CheckKeyUsage(dsc)
		_ = h.CheckSchema()
		_ = h.CheckValueSets()
		_, _ = h.PayloadJSON()
	})
}

func FuzzVerify(f *testing.F) {
	hc1, trust, raws := fuzzSeeds(f)
	f.Add(hc1)
	for _, r := range raws {
		f.Add(hc1Of(r))
	}
	f.Add("HC1:")
	f.Add("HC1:NCFOXN%TS3DHMRG2FUPNR9/MPV45NL")
	v := cert.NewVerifier(trust)
	f.Fuzz(func(t *testing.T, s string) {
		res := v.Verify(s, cert.VerifyOptions{At: t0})
		if res.Valid {
			if res.Failed != "" || res.Err() != nil {
				t.Fatalf("valid result with failure %q", res.Failed)
			}
			for _, st := range res.Steps {
				if !st.OK {
					t.Fatalf("valid result with failed step %s", st.Step)
				}
			}
		} else if res.Failed == "" || res.Err() == nil {
			t.Fatalf("invalid result without a failed step: %+v", res)
		}
		if !strings.HasPrefix(s, "HC1:") && res.Failed != cert.StepUnprefix {
			t.Fatalf("no prefix, but failed at %q", res.Failed)
		}
	})
}
