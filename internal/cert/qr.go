package cert

import (
	"bytes"
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/haven-registry/haven/internal/registry"
)

// QR renders "HC1:" text as a QR code with error correction level Q (25%,
// go-qrcode's High), as HCERT spec 4.2.2 recommends. Base45 text and the
// prefix use only the QR alphanumeric character set, so the encoder picks
// alphanumeric mode (ISO/IEC 18004 mode 2); only a long run of digits may be
// packed as a numeric segment inside the same symbol, which every QR reader
// decodes.
type QR struct {
	code *qrcode.QRCode
}

// NewQR encodes text. It refuses text outside the alphanumeric character set
// (so byte mode is never used) and text too long for a QR code.
func NewQR(text string) (*QR, error) {
	for i := 0; i < len(text); i++ {
		if strings.IndexByte(base45Alphabet, text[i]) < 0 {
			return nil, registry.FieldErrorf(registry.EINVALID, "qr", "character %q at offset %d is not in the QR alphanumeric set", text[i], i)
		}
	}
	q, err := qrcode.New(text, qrcode.High)
	if err != nil {
		return nil, registry.FieldErrorf(registry.ETOOLARGE, "qr", "%v", err)
	}
	return &QR{code: q}, nil
}

// Version is the QR version (1–40) chosen for the text.
func (q *QR) Version() int { return q.code.VersionNumber }

// Modules returns the symbol as rows of dark (true) and light modules,
// including the 4-module quiet zone.
func (q *QR) Modules() [][]bool { return q.code.Bitmap() }

// PNG renders the code as a PNG image of size×size pixels (size ≥ the module
// count; a negative size gives -size pixels per module).
func (q *QR) PNG(size int) ([]byte, error) {
	b, err := q.code.PNG(size)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "rendering PNG: %v", err)
	}
	return b, nil
}

// SVG renders the code as a scalable SVG image drawn from the module bitmap:
// one path of square modules (one unit each) on a white background, with
// crisp edges so that every module stays exactly square.
func (q *QR) SVG() []byte {
	bm := q.Modules()
	n := len(bm)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bm {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x, y, run, run)
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes()
}
