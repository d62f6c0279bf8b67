package vault

import (
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// shredMarkerSuffix names the file left beside a shredded ring. It holds no
// secret: only the time of the shred.
const shredMarkerSuffix = ".shredded"

// ErrShredded is wrapped by the error Create and CreateWithPassphrase return
// where a ring was shredded and Options.AfterShred is not set.
var ErrShredded = errors.New("vault: the key ring was shredded")

type shredMarker struct {
	Format     string    `json:"format"`
	ShreddedAt time.Time `json:"shredded_at"`
}

// ShredRing destroys the key ring at path without opening it, so it works
// on a stopped server and on a ring whose passphrase nobody has: it first
// writes a shred marker (path + ".shredded", holding only the time), then
// overwrites the ring with random bytes and zeros, removes it and its lock
// file. The marker makes every later Create refuse unless
// Options.AfterShred is set, so that no process replaces the shredded key
// with a new one by accident, and makes processes still running on the ring
// seal themselves (see Refresh). A missing ring is not an error: shredding
// twice is harmless. See Shred for what survives on some file systems.
func ShredRing(path string) error {
	if path == "" {
		return nil
	}
	data, _ := json.Marshal(shredMarker{Format: "haven-shredded/1", ShreddedAt: time.Now().UTC().Truncate(time.Second)})
	if err := writePrivate(path+shredMarkerSuffix, append(data, '\n'), false); err != nil {
		return err
	}
	unlock, err := lockRing(path, true)
	if err != nil {
		unlock = func() {} // shred anyway: this is the emergency path
	}
	err = shredFile(path)
	unlock()
	os.Remove(path + ".lock")
	return err
}

// Shredded reports whether the ring at path was shredded (a shred marker is
// beside it) and when. A ring made afterwards with Options.AfterShred
// removes the marker.
func Shredded(path string) (time.Time, bool) {
	data, err := os.ReadFile(path + shredMarkerSuffix)
	if err != nil {
		return time.Time{}, false
	}
	var m shredMarker
	json.Unmarshal(data, &m)
	return m.ShreddedAt, true
}

func checkShredded(path string, opts Options) error {
	if path == "" || opts.AfterShred {
		return nil
	}
	if at, ok := Shredded(path); ok {
		return &registry.Error{Code: registry.ECONFLICT, Field: path, Err: ErrShredded,
			Message: "the key ring was shredded at " + at.Format(time.RFC3339) + ": the demographics sealed under it are gone for good. " +
				"A new master key is made only on purpose: run haven vault init-master --after-shred"}
	}
	return nil
}
