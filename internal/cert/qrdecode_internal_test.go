package cert

import (
	"errors"
	"fmt"
)

// qrDecoded is what the test decoder reads from a symbol.
type qrDecoded struct {
	text  string
	modes []int // mode indicator of each segment
	level int   // format EC level bits (Q = 3)
	ver   int
}

// qrDecode reads a QR symbol (modules without quiet zone) independently of
// the encoder's data path: format information, unmasking, codeword
// extraction, de-interleaving, Reed-Solomon syndromes and segment parsing.
// It shares only the function-pattern layout with the encoder, which is
// validated by decoding go-qrcode's symbols as well.
func qrDecode(dark [][]bool) (*qrDecoded, error) {
	size := len(dark)
	ver := (size - 17) / 4
	if ver < 1 || ver > 40 || 17+4*ver != size {
		return nil, fmt.Errorf("bad size %d", size)
	}
	// Format information, first copy.
	bits := 0
	get := func(x, y int) int {
		if dark[y][x] {
			return 1
		}
		return 0
	}
	for i := 0; i <= 5; i++ {
		bits |= get(8, i) << i
	}
	bits |= get(8, 7) << 6
	bits |= get(8, 8) << 7
	bits |= get(7, 8) << 8
	for i := 9; i < 15; i++ {
		bits |= get(14-i, 8) << i
	}
	mask, level := -1, -1
	for lv := 0; lv < 4; lv++ {
		for mk := 0; mk < 8; mk++ {
			data := lv<<3 | mk
			rem := data
			for i := 0; i < 10; i++ {
				rem = rem<<1 ^ (rem>>9)*0x537
			}
			if (data<<10|rem)^0x5412 == bits {
				mask, level = mk, lv
			}
		}
	}
	if mask < 0 {
		return nil, errors.New("format information unreadable")
	}
	if level != qrFormatQ {
		return nil, fmt.Errorf("EC level bits %d, only Q is supported by this decoder", level)
	}
	m := newQRMatrix(ver) // function-pattern layout only
	var cw []byte
	n := 0
	forEachDataModule(size, m.function, func(x, y int) {
		if n%8 == 0 {
			cw = append(cw, 0)
		}
		v := dark[y][x] != maskBit(mask, x, y)
		if v {
			cw[n/8] |= 0x80 >> uint(n%8)
		}
		n++
	})
	raw := qrRawModules(ver) / 8
	cw = cw[:raw]
	nBlocks, ecc := eccQBlocks[ver], eccQPerBlock[ver]
	nShort := nBlocks - raw%nBlocks
	shortLen := raw / nBlocks
	blocks := make([][]byte, nBlocks)
	k := 0
	for i := 0; i <= shortLen-ecc; i++ {
		for j := range blocks {
			if i < shortLen-ecc || j >= nShort {
				blocks[j] = append(blocks[j], cw[k])
				k++
			}
		}
	}
	for i := 0; i < ecc; i++ {
		for j := range blocks {
			blocks[j] = append(blocks[j], cw[k])
			k++
		}
	}
	var data []byte
	for j, b := range blocks {
		// Syndromes: the codeword polynomial must vanish at α^0 … α^(ecc-1).
		for i := 0; i < ecc; i++ {
			var s byte
			for _, c := range b {
				s = gfMul(s, gfExp[i]) ^ c
			}
			if s != 0 {
				return nil, fmt.Errorf("block %d: Reed-Solomon syndrome %d is %d", j, i, s)
			}
		}
		data = append(data, b[:len(b)-ecc]...)
	}
	// Parse segments.
	pos := 0
	read := func(n int) (int, bool) {
		if pos+n > len(data)*8 {
			return 0, false
		}
		v := 0
		for i := 0; i < n; i++ {
			v = v<<1 | int(data[(pos+i)/8]>>(7-uint((pos+i)%8))&1)
		}
		pos += n
		return v, true
	}
	out := &qrDecoded{level: level, ver: ver}
	var text []byte
	for {
		mode, ok := read(4)
		if !ok || mode == 0 {
			break
		}
		out.modes = append(out.modes, mode)
		cbits := map[int][3]int{1: {10, 12, 14}, 2: {9, 11, 13}, 4: {8, 16, 16}}[mode]
		if cbits[0] == 0 {
			return nil, fmt.Errorf("unsupported mode %d", mode)
		}
		idx := 0
		if ver >= 10 {
			idx = 1
		}
		if ver >= 27 {
			idx = 2
		}
		count, _ := read(cbits[idx])
		switch mode {
		case 1:
			for count > 0 {
				nd := min(count, 3)
				v, _ := read([4]int{0, 4, 7, 10}[nd])
				text = append(text, fmt.Sprintf("%0*d", nd, v)...)
				count -= nd
			}
		case 2:
			for count >= 2 {
				v, _ := read(11)
				text = append(text, base45Alphabet[v/45], base45Alphabet[v%45])
				count -= 2
			}
			if count == 1 {
				v, _ := read(6)
				text = append(text, base45Alphabet[v])
			}
		case 4:
			for ; count > 0; count-- {
				v, _ := read(8)
				text = append(text, byte(v))
			}
		}
	}
	out.text = string(text)
	return out, nil
}
