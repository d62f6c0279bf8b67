package cert

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/haven-registry/haven/internal/registry"
)

// QR is an "HC1:" text rendered as a QR code: a single alphanumeric segment
// (ISO/IEC 18004 mode 2), as HCERT spec 4.2.2 requires, with error
// correction level Q (about 25%), as it recommends, in the smallest version
// that holds the text.
type QR struct {
	modules [][]bool // with the 4-module quiet zone
	version int
}

// QuietZone is the light border, in modules, around every symbol.
const QuietZone = 4

// NewQR encodes text. It refuses text outside the alphanumeric character set
// (so byte or numeric mode is never needed) and text too long for a QR code.
func NewQR(text string) (*QR, error) {
	dark, ver, err := qrEncodeAlnum(text)
	if err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, "qr", "%v", err)
	}
	n := len(dark) + 2*QuietZone
	mods := make([][]bool, n)
	for y := range mods {
		mods[y] = make([]bool, n)
		if y >= QuietZone && y < n-QuietZone {
			copy(mods[y][QuietZone:], dark[y-QuietZone])
		}
	}
	return &QR{modules: mods, version: ver}, nil
}

// Version is the QR version (1–40) chosen for the text.
func (q *QR) Version() int { return q.version }

// Modules returns the symbol as rows of dark (true) and light modules,
// including the quiet zone.
func (q *QR) Modules() [][]bool { return q.modules }

// PNG renders the code as a black-and-white PNG whose side is the largest
// multiple of the module count (quiet zone included) not above size, and at
// least one pixel per module, so that every module is an exact square.
func (q *QR) PNG(size int) ([]byte, error) {
	n := len(q.modules)
	scale := max(1, size/n)
	img := image.NewPaletted(image.Rect(0, 0, n*scale, n*scale), color.Palette{color.White, color.Black})
	for y, row := range q.modules {
		for x, on := range row {
			if !on {
				continue
			}
			for dy := 0; dy < scale; dy++ {
				off := img.PixOffset(x*scale, y*scale+dy)
				for dx := 0; dx < scale; dx++ {
					img.Pix[off+dx] = 1
				}
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "rendering PNG: %v", err)
	}
	return b.Bytes(), nil
}

// SVG renders the code as a scalable SVG image drawn from the module bitmap:
// one path of square modules (one unit each) on a white background, with
// crisp edges so that every module stays exactly square.
func (q *QR) SVG() []byte {
	bm := q.modules
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
