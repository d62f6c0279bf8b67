//go:build unix

package vault

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// lockRing takes an advisory lock on the ring's lock file (path + ".lock"):
// shared to read the ring, exclusive to rewrite it. Every process that shares
// one ring (several haven serve on one PostgreSQL database, pointed at one
// HAVEN_MASTER_KEY_FILE) serialises its changes through it, so that no
// process saves a ring that lacks an epoch key another process just added,
// and no reader sees a half-overwritten old ring. The lock file holds
// nothing. If it cannot be created (a read-only folder), reads go ahead
// without it and writes fail when the ring itself is written.
func lockRing(path string, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		if !exclusive || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return func() {}, nil
		}
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// stampOf identifies one version of the ring file: a rewrite renames a new
// file into place, so the inode changes even within one clock tick.
func stampOf(fi fs.FileInfo) fileStamp {
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return s
}
