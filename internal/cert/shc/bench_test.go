package shc_test

import (
	"path/filepath"
	"testing"

	"github.com/haven-registry/haven/internal/cert/shc"
)

func BenchmarkVerifyQR(b *testing.B) {
	root := shcDir(b)
	qr := read(b, filepath.Join(root, "examples", "example-00-f-qr-code-numeric-value-0.txt"))
	dir := exampleDirectory(b, root)
	opts := shc.Options{Now: at}
	b.ReportAllocs()
	for b.Loop() {
		if res := shc.Verify([]string{qr}, dir, opts); !res.Valid {
			b.Fatal(res.Issues)
		}
	}
}
