package policy

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"strings"
)

// glyphs is a 5×7 bitmap font for the characters a chart label needs.
// Lower-case letters are drawn as capitals.
var glyphs = map[rune][7]string{
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'B': {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."},
	'E': {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'H': {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'I': {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'J': {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
	'K': {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
	'L': {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
	'O': {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'P': {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
	'Q': {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'S': {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
	'T': {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
	'U': {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
	'V': {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
	'W': {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
	'X': {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
	'Y': {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
	'Z': {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
	'0': {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
	'1': {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
	'2': {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
	'3': {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
	'4': {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
	'5': {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
	'6': {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
	'7': {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
	'8': {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
	'9': {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	',': {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."},
	'%': {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	':': {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
	'/': {".....", "....#", "...#.", "..#..", ".#...", "#....", "....."},
	'_': {".....", ".....", ".....", ".....", ".....", ".....", "#####"},
	'>': {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
	'=': {".....", ".....", "#####", ".....", "#####", ".....", "....."},
	'+': {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
	'!': {"..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."},
}

const glyphScale = 2

// textWidth is the width in pixels of s drawn by drawText.
func textWidth(s string) int { return len([]rune(s)) * 6 * glyphScale }

// drawText draws s with its top-left corner at (x, y).
func drawText(img *image.RGBA, x, y int, s string, c color.Color) {
	for _, r := range strings.ToUpper(s) {
		g, ok := glyphs[r]
		if ok {
			for row, line := range g {
				for col, px := range line {
					if px == '#' {
						draw.Draw(img, image.Rect(x+col*glyphScale, y+row*glyphScale, x+(col+1)*glyphScale, y+(row+1)*glyphScale), image.NewUniform(c), image.Point{}, draw.Src)
					}
				}
			}
		}
		x += 6 * glyphScale
	}
}

func hexColor(s string) color.RGBA {
	var r, g, b uint8
	fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b)
	return color.RGBA{r, g, b, 255}
}

// WritePNG draws the same chart as WriteSVG as a PNG, with a built-in bitmap
// font (labels in capitals), for places where SVG is not accepted.
func (sim *Simulation) WritePNG(w io.Writer) error {
	const (
		left, barW, barH, gap, top = 170, 420, 22, 10, 100
		right                      = 300
	)
	n := len(sim.Summaries)
	width, height := left+barW+right, top+n*(barH+gap)+50
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	dark, grey, red := color.RGBA{0x22, 0x22, 0x22, 255}, color.RGBA{0x55, 0x55, 0x55, 255}, hexColor(outcomeColors[NotEligible])
	drawText(img, 10, 10, fmt.Sprintf("Who each jurisdiction leaves out: %s, %s", sim.Service, sim.AsOf), dark)
	drawText(img, 10, 32, fmt.Sprintf("Pack %s %s. Flagged above %.0f%% left out.", sim.Pack, shortHash(sim.PolicyVersion), sim.FlagAbove*100), grey)
	x := 10
	for _, o := range Outcomes {
		draw.Draw(img, image.Rect(x, 60, x+14, 74), image.NewUniform(hexColor(outcomeColors[o])), image.Point{}, draw.Src)
		drawText(img, x+20, 60, string(o), dark)
		x += 20 + textWidth(string(o)) + 24
	}
	for i, s := range sim.Summaries {
		y := top + i*(barH+gap)
		drawText(img, left-10-textWidth(s.Jurisdiction), y+4, s.Jurisdiction, dark)
		draw.Draw(img, image.Rect(left, y, left+barW, y+barH), image.NewUniform(color.RGBA{0xee, 0xee, 0xee, 255}), image.Point{}, draw.Src)
		off := 0.0
		for _, o := range Outcomes {
			v := s.ByOutcome[o]
			if v <= 0 || s.Population <= 0 {
				continue
			}
			wd := v / s.Population * barW
			x0, x1 := left+int(off+0.5), left+int(off+wd+0.5)
			if x1 == x0 {
				x1++ // keep a sliver visible
			}
			draw.Draw(img, image.Rect(x0, y, x1, y+barH), image.NewUniform(hexColor(outcomeColors[o])), image.Point{}, draw.Src)
			off += wd
		}
		txt := fmt.Sprintf("%.1f%% left out (%s)", s.Share*100, fmtCount(s.LeftOut))
		c := color.Color(dark)
		if s.Flagged {
			txt = "! " + txt
			c = red
			for _, r := range []image.Rectangle{
				image.Rect(left-2, y-2, left+barW+2, y), image.Rect(left-2, y+barH, left+barW+2, y+barH+2),
				image.Rect(left-2, y, left, y+barH), image.Rect(left+barW, y, left+barW+2, y+barH),
			} {
				draw.Draw(img, r, image.NewUniform(red), image.Point{}, draw.Src)
			}
		}
		drawText(img, left+barW+10, y+4, txt, c)
	}
	drawText(img, 10, top+n*(barH+gap)+15, fmt.Sprintf("Total: %s, %s left out (%.1f%%)", fmtCount(sim.Total.Population), fmtCount(sim.Total.LeftOut), sim.Total.Share*100), grey)
	return png.Encode(w, img)
}
