//go:build !unix

package vault

import "io/fs"

// lockRing is a no-op where flock is not available: one process per ring.
func lockRing(path string, exclusive bool) (unlock func(), err error) {
	return func() {}, nil
}

func stampOf(fi fs.FileInfo) fileStamp {
	return fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}
