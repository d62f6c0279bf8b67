package cert

import (
	"bytes"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"image/png"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

func stripQuietZone(bm [][]bool) [][]bool {
	n := len(bm) - 8
	out := make([][]bool, n)
	for y := range out {
		out[y] = bm[y+4][4 : 4+n]
	}
	return out
}

func qrSamples(t *testing.T) []string {
	samples := []string{
		"HC1:",
		"A",
		"HC1:0123456789012345678901234567890123456789", // a long digit run
		"HC1:NCFOXN%TS3DHMRG2FUPNR9/MPV45NL-AH%TAIOOW%IHOT$E08WAWN0%W0AT4V22F/8X*G3M9JUPY0BX/KR96R/S09T./0LWTKD33236J3TA3M*4VV2 73-E3ND3DAJ-43%*48YIB73A*G3W19UEBY5:PI0EGSP4*2D$43B+2SEB7:I/2DY73CIBC:G 7376BXBJBAJ UNFMJCRN0H3PQN*E33H3OA70M3FMJIJN523S+0B/S7-SN2H N37J3JFTULJ5CB3ZCIATULV:SNS8F-67N%21Q21$48X2+36D-I/2DBAJDAJCNB-43SZ4RZ4E%5B/9OK53:UCT16DEZIE IE9.M CVCT1+9V*QERU1MK93P5 U02Y9.G9/G9F:QQ28R3U6/V.*NT*QM.SY$N-P1S29 34S0BYBRC.UYS1U%O6QKN*Q5-QFRMLNKNM8JI0EUGP$I/XK$M8-L9KDI:ZH2E4UR8 I185JTT3QFWDHK1QV+/UU-OJ1Q 7SP:8M1NWQTP3D/OADSM8BDHBN +0O7WNV7HJS%6G8WJP6GDZPXU8GY8U$I%0N%NST0GX-Q/$OMPG",
	}
	for _, n := range []int{10, 100, 300, 700, 1200, 1600} {
		b := make([]byte, n)
		rand.Read(b)
		samples = append(samples, Prefix+Base45Encode(b))
	}
	return samples
}

// TestQRAlphanumericQ checks that every symbol decodes back to its text as a
// single alphanumeric segment at level Q, and cross-checks the test decoder
// on go-qrcode's independent symbols.
func TestQRAlphanumericQ(t *testing.T) {
	for _, s := range qrSamples(t) {
		q, err := NewQR(s)
		if err != nil {
			t.Fatalf("NewQR(%.20q…): %v", s, err)
		}
		d, err := qrDecode(stripQuietZone(q.Modules()))
		if err != nil {
			t.Fatalf("decode own symbol of %d chars (v%d): %v", len(s), q.Version(), err)
		}
		if d.text != s || len(d.modes) != 1 || d.modes[0] != 2 || d.level != qrFormatQ {
			t.Errorf("%d chars: decoded %d chars, modes %v, level %d", len(s), len(d.text), d.modes, d.level)
		}
		// Independent encoder: go-qrcode at level Q ("High").
		ref, err := qrcode.New(s, qrcode.High)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := qrDecode(stripQuietZone(ref.Bitmap()))
		if err != nil {
			t.Fatalf("decode go-qrcode symbol of %d chars: %v", len(s), err)
		}
		if rd.text != s {
			t.Errorf("go-qrcode symbol decodes to %.30q", rd.text)
		}
		if len(rd.modes) == 1 && rd.ver != q.Version() {
			t.Errorf("%d chars: version %d, go-qrcode (single segment) %d", len(s), q.Version(), rd.ver)
		}
		if strings.Contains(s, "0123456789012") {
			t.Logf("digit run: Haven uses modes %v, go-qrcode %v (1 = numeric, 2 = alphanumeric)", d.modes, rd.modes)
		}
	}
	if _, err := NewQR("HC1:abc"); err == nil {
		t.Error("lower case accepted")
	}
	if _, err := NewQR(strings.Repeat("A", 2421)); err == nil {
		t.Error("2421 characters exceed version 40 at level Q but were accepted")
	}
	if _, err := NewQR(strings.Repeat("A", 2420)); err != nil {
		t.Errorf("2420 characters fit version 40 at level Q: %v", err)
	}
}

func TestQRSizes(t *testing.T) {
	// Total codewords per version (ISO/IEC 18004 table 9) for a few versions.
	for ver, total := range map[int]int{1: 26, 2: 44, 7: 196, 10: 346, 14: 581, 27: 1828, 32: 2465, 40: 3706} {
		if got := qrRawModules(ver) / 8; got != total {
			t.Errorf("version %d: %d codewords, want %d", ver, got, total)
		}
	}
	// Data codewords at level Q (table 9).
	for ver, data := range map[int]int{1: 13, 5: 62, 10: 154, 20: 485, 40: 1666} {
		if got := qrDataCodewords(ver); got != data {
			t.Errorf("version %d: %d data codewords at Q, want %d", ver, got, data)
		}
	}
}

// FuzzQR checks that every accepted text round-trips through the encoder and
// the test decoder as one alphanumeric segment.
func FuzzQR(f *testing.F) {
	for _, s := range []string{"HC1:", "A", "0000000000000000", "HC1: $%*+-./:", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := NewQR(s)
		if err != nil {
			return
		}
		d, err := qrDecode(stripQuietZone(q.Modules()))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if d.text != s || len(d.modes) != 1 || d.modes[0] != 2 {
			t.Fatalf("decoded %q modes %v", d.text, d.modes)
		}
	})
}

func TestQRRender(t *testing.T) {
	q, err := NewQR("HC1:6BFOXN%TS3DH")
	if err != nil {
		t.Fatal(err)
	}
	n := len(q.Modules())
	if n != 17+4*q.Version()+2*QuietZone {
		t.Fatalf("%d modules for version %d", n, q.Version())
	}
	b, err := q.PNG(300)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	scale := 300 / n
	if img.Bounds().Dx() != n*scale || img.Bounds().Dy() != n*scale {
		t.Errorf("PNG %v, want %d px square", img.Bounds(), n*scale)
	}
	// Every module is a uniform square of the right colour.
	for y, row := range q.Modules() {
		for x, on := range row {
			r, _, _, _ := img.At(x*scale+scale/2, y*scale+scale/2).RGBA()
			if (r == 0) != on {
				t.Fatalf("module (%d,%d) dark=%v but pixel r=%d", x, y, on, r)
			}
		}
	}
	svg := string(q.SVG())
	if !strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `) || !strings.HasSuffix(svg, `"/></svg>`) {
		t.Errorf("SVG %.80s…", svg)
	}
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Errorf("SVG is not well-formed XML: %v", err)
	}
	// The SVG paints exactly the dark modules: count unit squares in the path.
	dark := 0
	for _, row := range q.Modules() {
		for _, on := range row {
			if on {
				dark++
			}
		}
	}
	painted := 0
	for _, seg := range strings.Split(svg, "M")[1:] {
		var x, y, w int
		if _, err := fmt.Sscanf(seg, "%d %dh%d", &x, &y, &w); err != nil {
			t.Fatalf("path segment %q: %v", seg, err)
		}
		painted += w
	}
	if painted != dark {
		t.Errorf("SVG paints %d modules, symbol has %d dark", painted, dark)
	}
}
