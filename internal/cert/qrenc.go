package cert

// A QR code encoder (ISO/IEC 18004:2015) restricted to what HCERT needs: one
// alphanumeric segment (mode 2), error correction level Q. General-purpose
// encoders may switch to numeric mode for runs of digits; HCERT spec 4.2.2
// requires alphanumeric mode, so Haven encodes the whole text as a single
// alphanumeric segment.

import (
	"errors"
)

// eccQ holds, for versions 1 to 40 at level Q, the error correction
// codewords per block and the number of blocks.
var (
	eccQPerBlock = [41]int{-1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30}
	eccQBlocks   = [41]int{-1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68}
)

const qrFormatQ = 3 // EC level Q in the format information

// qrRawModules returns the number of data and EC bits a version holds (all
// modules minus function patterns, format and version information).
func qrRawModules(ver int) int {
	n := (16*ver+128)*ver + 64
	if ver >= 2 {
		na := ver/7 + 2
		n -= (25*na-10)*na - 55
		if ver >= 7 {
			n -= 36
		}
	}
	return n
}

// qrDataCodewords is the number of data codewords of a version at level Q.
func qrDataCodewords(ver int) int {
	return qrRawModules(ver)/8 - eccQPerBlock[ver]*eccQBlocks[ver]
}

func qrAlignPositions(ver int) []int {
	if ver == 1 {
		return nil
	}
	na := ver/7 + 2
	size := 17 + 4*ver
	step := 26
	if ver != 32 {
		step = (ver*4 + na*2 + 1) / (na*2 - 2) * 2
	}
	pos := make([]int, na)
	pos[0] = 6
	for i, p := na-1, size-7; i >= 1; i, p = i-1, p-step {
		pos[i] = p
	}
	return pos
}

// GF(256) with the QR polynomial x^8+x^4+x^3+x^2+1.
var gfExp, gfLog = func() (e [512]byte, l [256]byte) {
	x := 1
	for i := 0; i < 255; i++ {
		e[i] = byte(x)
		l[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11d
		}
	}
	for i := 255; i < 512; i++ {
		e[i] = e[i-255]
	}
	return
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// rsGenerator returns the coefficients (highest first, leading 1 omitted)
// of the product of (x - α^i) for i < degree.
func rsGenerator(degree int) []byte {
	g := make([]byte, degree)
	g[degree-1] = 1
	root := byte(1)
	for i := 0; i < degree; i++ {
		for j := 0; j < degree; j++ {
			g[j] = gfMul(g[j], root)
			if j+1 < degree {
				g[j] ^= g[j+1]
			}
		}
		root = gfMul(root, 2)
	}
	return g
}

func rsRemainder(data, gen []byte) []byte {
	rem := make([]byte, len(gen))
	for _, b := range data {
		f := b ^ rem[0]
		copy(rem, rem[1:])
		rem[len(rem)-1] = 0
		for i := range rem {
			rem[i] ^= gfMul(gen[i], f)
		}
	}
	return rem
}

type qrBits struct {
	b []byte
	n int
}

func (q *qrBits) put(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		if q.n%8 == 0 {
			q.b = append(q.b, 0)
		}
		if v>>uint(i)&1 != 0 {
			q.b[q.n/8] |= 0x80 >> uint(q.n%8)
		}
		q.n++
	}
}

func alnumCountBits(ver int) int {
	switch {
	case ver <= 9:
		return 9
	case ver <= 26:
		return 11
	}
	return 13
}

// qrEncodeAlnum returns the module matrix (no quiet zone) of text as a single
// alphanumeric segment at level Q in the smallest version that holds it.
func qrEncodeAlnum(text string) ([][]bool, int, error) {
	vals := make([]int, len(text))
	for i := 0; i < len(text); i++ {
		v := base45Index[text[i]]
		if v < 0 {
			return nil, 0, errors.New("character outside the QR alphanumeric set")
		}
		vals[i] = int(v)
	}
	ver := 0
	for v := 1; v <= 40; v++ {
		need := 4 + alnumCountBits(v) + 11*(len(text)/2) + 6*(len(text)%2)
		if len(text) < 1<<alnumCountBits(v) && need <= qrDataCodewords(v)*8 {
			ver = v
			break
		}
	}
	if ver == 0 {
		return nil, 0, errors.New("text too long for a QR code at level Q")
	}
	capBits := qrDataCodewords(ver) * 8
	var bb qrBits
	bb.put(0x2, 4)
	bb.put(uint32(len(text)), alnumCountBits(ver))
	for i := 0; i+1 < len(vals); i += 2 {
		bb.put(uint32(vals[i]*45+vals[i+1]), 11)
	}
	if len(vals)%2 == 1 {
		bb.put(uint32(vals[len(vals)-1]), 6)
	}
	bb.put(0, min(4, capBits-bb.n))
	bb.put(0, (8-bb.n%8)%8)
	for pad := byte(0xec); bb.n < capBits; pad ^= 0xec ^ 0x11 {
		bb.put(uint32(pad), 8)
	}
	codewords := interleaveQ(bb.b, ver)
	m := newQRMatrix(ver)
	m.drawData(codewords)
	best, bestPenalty := -1, 0
	for mask := 0; mask < 8; mask++ {
		m.applyMask(mask)
		m.drawFormat(mask)
		if p := m.penalty(); best < 0 || p < bestPenalty {
			best, bestPenalty = mask, p
		}
		m.applyMask(mask) // undo (XOR)
	}
	m.applyMask(best)
	m.drawFormat(best)
	return m.dark, ver, nil
}

// interleaveQ splits data into the level-Q blocks of ver, appends each
// block's Reed-Solomon codewords and interleaves them.
func interleaveQ(data []byte, ver int) []byte {
	nBlocks, ecc := eccQBlocks[ver], eccQPerBlock[ver]
	raw := qrRawModules(ver) / 8
	nShort := nBlocks - raw%nBlocks
	shortLen := raw / nBlocks // data + ecc of a short block
	gen := rsGenerator(ecc)
	blocks := make([][]byte, nBlocks)
	k := 0
	for i := range blocks {
		n := shortLen - ecc
		if i >= nShort {
			n++
		}
		d := data[k : k+n]
		k += n
		blocks[i] = append(append([]byte{}, d...), rsRemainder(d, gen)...)
	}
	out := make([]byte, 0, raw)
	for i := 0; i <= shortLen-ecc; i++ { // data codewords
		for j, b := range blocks {
			if i < shortLen-ecc || j >= nShort {
				out = append(out, b[i])
			}
		}
	}
	for i := 0; i < ecc; i++ { // EC codewords
		for j, b := range blocks {
			off := shortLen - ecc
			if j >= nShort {
				off++
			}
			out = append(out, b[off+i])
		}
	}
	return out
}

type qrMatrix struct {
	size     int
	dark     [][]bool
	function [][]bool
}

func newQRMatrix(ver int) *qrMatrix {
	size := 17 + 4*ver
	m := &qrMatrix{size: size, dark: make([][]bool, size), function: make([][]bool, size)}
	for y := range m.dark {
		m.dark[y] = make([]bool, size)
		m.function[y] = make([]bool, size)
	}
	for i := 0; i < size; i++ { // timing patterns
		m.set(6, i, i%2 == 0)
		m.set(i, 6, i%2 == 0)
	}
	m.finder(3, 3)
	m.finder(size-4, 3)
	m.finder(3, size-4)
	al := qrAlignPositions(ver)
	for i, ax := range al {
		for j, ay := range al {
			if (i == 0 && j == 0) || (i == 0 && j == len(al)-1) || (i == len(al)-1 && j == 0) {
				continue // overlaps a finder
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					m.set(ax+dx, ay+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	m.drawFormat(0) // reserve the format areas (and the dark module)
	if ver >= 7 {
		rem := ver
		for i := 0; i < 12; i++ {
			rem = rem<<1 ^ (rem>>11)*0x1f25
		}
		bits := ver<<12 | rem
		for i := 0; i < 18; i++ {
			on := bits>>i&1 != 0
			a, b := size-11+i%3, i/3
			m.set(a, b, on)
			m.set(b, a, on)
		}
	}
	return m
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func (m *qrMatrix) set(x, y int, on bool) {
	m.dark[y][x] = on
	m.function[y][x] = true
}

func (m *qrMatrix) finder(cx, cy int) {
	for dy := -4; dy <= 4; dy++ {
		for dx := -4; dx <= 4; dx++ {
			x, y := cx+dx, cy+dy
			if x < 0 || y < 0 || x >= m.size || y >= m.size {
				continue
			}
			d := max(abs(dx), abs(dy))
			m.set(x, y, d != 2 && d != 4)
		}
	}
}

// formatBits returns the 15-bit format information for level Q and mask.
func formatBits(mask int) int {
	data := qrFormatQ<<3 | mask
	rem := data
	for i := 0; i < 10; i++ {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	return (data<<10 | rem) ^ 0x5412
}

func (m *qrMatrix) drawFormat(mask int) {
	bits := formatBits(mask)
	bit := func(i int) bool { return bits>>i&1 != 0 }
	for i := 0; i <= 5; i++ {
		m.set(8, i, bit(i))
	}
	m.set(8, 7, bit(6))
	m.set(8, 8, bit(7))
	m.set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		m.set(14-i, 8, bit(i))
	}
	for i := 0; i < 8; i++ {
		m.set(m.size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		m.set(8, m.size-15+i, bit(i))
	}
	m.set(8, m.size-8, true) // the dark module
}

// forEachDataModule calls f for every non-function module in placement order
// (two-column zigzag from the bottom right, skipping the timing column).
func forEachDataModule(size int, function [][]bool, f func(x, y int)) {
	for right := size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for vert := 0; vert < size; vert++ {
			for j := 0; j < 2; j++ {
				x := right - j
				upward := (right+1)&2 == 0
				y := vert
				if upward {
					y = size - 1 - vert
				}
				if !function[y][x] {
					f(x, y)
				}
			}
		}
	}
}

func (m *qrMatrix) drawData(codewords []byte) {
	i := 0
	forEachDataModule(m.size, m.function, func(x, y int) {
		if i < len(codewords)*8 {
			m.dark[y][x] = codewords[i/8]>>(7-uint(i%8))&1 != 0
		}
		i++ // remainder bits stay light
	})
}

func maskBit(mask, x, y int) bool {
	switch mask {
	case 0:
		return (x+y)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (x+y)%3 == 0
	case 4:
		return (x/3+y/2)%2 == 0
	case 5:
		return x*y%2+x*y%3 == 0
	case 6:
		return (x*y%2+x*y%3)%2 == 0
	}
	return ((x+y)%2+x*y%3)%2 == 0
}

func (m *qrMatrix) applyMask(mask int) {
	for y := 0; y < m.size; y++ {
		for x := 0; x < m.size; x++ {
			if !m.function[y][x] && maskBit(mask, x, y) {
				m.dark[y][x] = !m.dark[y][x]
			}
		}
	}
}

// penalty scores the matrix by the four rules of ISO/IEC 18004 7.8.3.
func (m *qrMatrix) penalty() int {
	n := m.size
	at := func(x, y int, rows bool) bool {
		if rows {
			return m.dark[y][x]
		}
		return m.dark[x][y]
	}
	p := 0
	for _, rows := range []bool{true, false} {
		for a := 0; a < n; a++ {
			run := 0
			var prev bool
			for b := 0; b < n; b++ {
				c := at(b, a, rows)
				if b > 0 && c == prev {
					run++
				} else {
					if run >= 5 {
						p += 3 + run - 5
					}
					run = 1
				}
				prev = c
				// Rule 3: 1:1:3:1:1 finder-like pattern with 4 light modules on one side.
				if b >= 10 {
					pat := [11]bool{true, false, true, true, true, false, true, false, false, false, false}
					fwd, rev := true, true
					for k := 0; k < 11; k++ {
						v := at(b-10+k, a, rows)
						if v != pat[k] {
							fwd = false
						}
						if v != pat[10-k] {
							rev = false
						}
					}
					if fwd {
						p += 40
					}
					if rev {
						p += 40
					}
				}
			}
			if run >= 5 {
				p += 3 + run - 5
			}
		}
	}
	dark := 0
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			c := m.dark[y][x]
			if c {
				dark++
			}
			if x+1 < n && y+1 < n && c == m.dark[y][x+1] && c == m.dark[y+1][x] && c == m.dark[y+1][x+1] {
				p += 3
			}
		}
	}
	total := n * n
	k := (abs(dark*20-total*10)+total-1)/total - 1
	if k > 0 {
		p += k * 10
	}
	return p
}
