package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/haven-registry/haven/internal/registry"
)

// ringFormat names the key-ring file format. A reader refuses any other value.
const ringFormat = "haven-kek/1"

// maxRingFile bounds how much of a key-ring file is read: a ring holds a few
// KEK entries and at most maxEpochs epoch keys of about 180 bytes each, so
// anything larger is not a ring.
const maxRingFile = 8 << 20

// ringFile is the on-disk key ring: the key-encryption keys by version, the
// audit pseudonym root key wrapped under the current KEK, and the epoch keys
// (each wrapped under a KEK) with the one new data keys go to.
//
// An entry holds either a clear key (file mode: the file itself is the
// secret and must be mode 0600) or argon2id parameters plus a verifier
// (passphrase mode: the file holds no secret that opens data without the
// passphrase).
type ringFile struct {
	Format       string      `json:"format"`
	Current      uint8       `json:"current"`
	KEKs         []ringEntry `json:"keks"`
	PseudonymKey []byte      `json:"pseudonym_key"` // wrapped under a KEK of this ring
	Epochs       []ringEpoch `json:"epochs,omitempty"`
	Intake       string      `json:"intake,omitempty"` // epoch ID of the intake
	// AfterShred marks a ring made in place of a shredded one: keys from
	// before epochs that do not authenticate are reported destroyed.
	AfterShred bool `json:"after_shred,omitempty"`
}

type ringEntry struct {
	Version  uint8      `json:"version"`
	Key      []byte     `json:"key,omitempty"`      // file mode: the 32-byte KEK in clear
	Argon2id *KDFParams `json:"argon2id,omitempty"` // passphrase mode: how to derive the KEK
	Verifier []byte     `json:"verifier,omitempty"` // passphrase mode: HKDF(KEK, "verifier")
}

// KDFParams are the argon2id parameters of a passphrase-derived KEK (RFC 9106).
// Salt is random and stored in the ring file; the others set the cost.
type KDFParams struct {
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// DefaultKDF is the argon2id cost used for new passphrase entries when
// Options.KDF is zero: RFC 9106's second recommended option (t=3, 64 MiB),
// with 4 lanes. On two cores it takes about a quarter of a second.
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

func (p KDFParams) validate(field string) error {
	switch {
	case len(p.Salt) < 16 || len(p.Salt) > 64:
		return registry.FieldErrorf(registry.EINVALID, field+".salt", "salt must be 16 to 64 bytes")
	case p.Time < 1 || p.Time > 64:
		return registry.FieldErrorf(registry.EINVALID, field+".time", "time must be 1 to 64")
	case p.Threads < 1:
		return registry.FieldErrorf(registry.EINVALID, field+".threads", "threads must be 1 to 255")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 4<<20:
		return registry.FieldErrorf(registry.EINVALID, field+".memory_kib", "memory_kib must be between 8×threads and 4 GiB")
	}
	return nil
}

// parseRing decodes and checks a key-ring file. It never panics on input.
func parseRing(data []byte) (*ringFile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r ringFile
	if err := dec.Decode(&r); err != nil {
		return nil, registry.FieldErrorf(registry.EMALFORMED, "keyring", "cannot parse key ring: %v", err)
	}
	if dec.More() {
		return nil, registry.FieldErrorf(registry.EMALFORMED, "keyring", "trailing data after key ring")
	}
	if r.Format != ringFormat {
		return nil, registry.FieldErrorf(registry.EUNSUPPORTED, "keyring.format", "unknown key ring format %q (want %q)", r.Format, ringFormat)
	}
	if len(r.KEKs) == 0 || len(r.KEKs) > 255 {
		return nil, registry.FieldErrorf(registry.EINVALID, "keyring.keks", "key ring must hold 1 to 255 keys")
	}
	seen := map[uint8]bool{}
	for i, e := range r.KEKs {
		f := fmt.Sprintf("keyring.keks[%d]", i)
		if e.Version == 0 {
			return nil, registry.FieldErrorf(registry.EINVALID, f+".version", "version 0 is reserved")
		}
		if seen[e.Version] {
			return nil, registry.FieldErrorf(registry.EINVALID, f+".version", "duplicate version %d", e.Version)
		}
		seen[e.Version] = true
		switch {
		case e.Key != nil && e.Argon2id == nil && e.Verifier == nil:
			if len(e.Key) != KeySize {
				return nil, registry.FieldErrorf(registry.EINVALID, f+".key", "key must be %d bytes", KeySize)
			}
		case e.Key == nil && e.Argon2id != nil:
			if err := e.Argon2id.validate(f + ".argon2id"); err != nil {
				return nil, err
			}
			if len(e.Verifier) != KeySize {
				return nil, registry.FieldErrorf(registry.EINVALID, f+".verifier", "verifier must be %d bytes", KeySize)
			}
		default:
			return nil, registry.FieldErrorf(registry.EINVALID, f, "an entry holds either key, or argon2id and verifier")
		}
	}
	if !seen[r.Current] {
		return nil, registry.FieldErrorf(registry.EINVALID, "keyring.current", "current version %d is not in the ring", r.Current)
	}
	if len(r.PseudonymKey) != wrappedSize || !seen[r.PseudonymKey[0]] {
		return nil, registry.FieldErrorf(registry.EINVALID, "keyring.pseudonym_key", "pseudonym key must be a key wrapped under a KEK of the ring")
	}
	if len(r.Epochs) > maxEpochs {
		return nil, registry.FieldErrorf(registry.EINVALID, "keyring.epochs", "key ring holds more than %d epochs", maxEpochs)
	}
	epochs := map[string]bool{}
	for i, e := range r.Epochs {
		f := fmt.Sprintf("keyring.epochs[%d]", i)
		id, err := ParseEpochID(e.ID)
		if err != nil || id.String() != e.ID {
			return nil, registry.FieldErrorf(registry.EINVALID, f+".id", "epoch ID must be 16 lower-case hex digits, not all zero")
		}
		if epochs[e.ID] {
			return nil, registry.FieldErrorf(registry.EINVALID, f+".id", "duplicate epoch %s", e.ID)
		}
		epochs[e.ID] = true
		if len(e.Key) != wrappedSize || !seen[e.Key[0]] {
			return nil, registry.FieldErrorf(registry.EINVALID, f+".key", "epoch key must be a key wrapped under a KEK of the ring")
		}
	}
	if r.Intake != "" && !epochs[r.Intake] {
		return nil, registry.FieldErrorf(registry.EINVALID, "keyring.intake", "intake %q is not an epoch of the ring", r.Intake)
	}
	return &r, nil
}

// checkPrivate refuses a secret file that its group or others may read or
// write. On Windows, permission bits mean nothing and the check is skipped.
func checkPrivate(path string, info fs.FileInfo) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	if !info.Mode().IsRegular() {
		return registry.FieldErrorf(registry.EINVALID, path, "not a regular file")
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return registry.FieldErrorf(registry.EINVALID, path, "file mode %#o lets group or others read it; run chmod 600", perm)
	}
	return nil
}

// readPrivate reads a small secret file after checking its mode.
func readPrivate(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &registry.Error{Code: registry.ENOTFOUND, Field: path, Message: "file does not exist", Err: err}
		}
		return nil, &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot open file", Err: err}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot stat file", Err: err}
	}
	if err := checkPrivate(path, info); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot read file", Err: err}
	}
	if int64(len(data)) > limit {
		return nil, registry.FieldErrorf(registry.ETOOLARGE, path, "file is larger than %d bytes", limit)
	}
	return data, nil
}

// writePrivate atomically replaces path with data, mode 0600: it writes a
// temporary file in the same folder, syncs it, renames it over path and
// syncs the folder. If exclusive is set it fails with ECONFLICT when path
// already exists.
func writePrivate(path string, data []byte, exclusive bool) error {
	if exclusive {
		if _, err := os.Lstat(path); err == nil {
			return registry.FieldErrorf(registry.ECONFLICT, path, "file already exists")
		}
	}
	dir := filepath.Dir(path)
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return &registry.Error{Code: registry.EINTERNAL, Field: path, Message: "no randomness", Err: err}
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%x.tmp", filepath.Base(path), suffix))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot create key file", Err: err}
	}
	fail := func(step string, err error) error {
		f.Close()
		os.Remove(tmp)
		return &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot write key file: " + step, Err: err}
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot write key file: close", Err: err}
	}
	if exclusive {
		// Link fails if path appeared meanwhile; rename would overwrite it.
		if err := os.Link(tmp, path); err != nil {
			os.Remove(tmp)
			if errors.Is(err, fs.ErrExist) {
				return registry.FieldErrorf(registry.ECONFLICT, path, "file already exists")
			}
			return &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot create key file", Err: err}
		}
		os.Remove(tmp)
	} else {
		// The old ring may hold keys that are being destroyed (a retired
		// KEK, an epoch key after an erasure): once the new file is in
		// place, overwrite the old one's blocks through a handle opened
		// before the rename, rather than just letting them go free.
		old, _ := os.OpenFile(path, os.O_WRONLY, 0)
		if err := os.Rename(tmp, path); err != nil {
			if old != nil {
				old.Close()
			}
			os.Remove(tmp)
			return &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot replace key file", Err: err}
		}
		if old != nil {
			overwrite(old)
			old.Close()
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: make the rename durable
		d.Close()
	}
	return nil
}

// overwrite writes random bytes, then zeros, over the whole of an open
// file, syncing after each pass.
func overwrite(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	buf := make([]byte, 4096)
	for pass := 0; pass < 2 && err == nil; pass++ {
		if _, err = f.Seek(0, io.SeekStart); err != nil {
			break
		}
		for left := size; left > 0 && err == nil; {
			n := min(left, int64(len(buf)))
			if pass == 0 {
				_, err = rand.Read(buf[:n])
			} else {
				clear(buf)
			}
			if err == nil {
				_, err = f.WriteAt(buf[:n], size-left)
			}
			left -= n
		}
		if err == nil {
			err = f.Sync()
		}
	}
	return err
}

// shredFile overwrites a file in place with random bytes, syncs, then
// removes it. On copy-on-write or journaling file systems and on flash
// storage the old blocks may survive; see the package documentation.
func shredFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot open key file to shred", Err: err}
	}
	err = overwrite(f)
	f.Close()
	if err != nil {
		return &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot overwrite key file", Err: err}
	}
	if err := os.Remove(path); err != nil {
		return &registry.Error{Code: registry.EUNAVAILABLE, Field: path, Message: "cannot remove key file", Err: err}
	}
	return nil
}

// ReadPassphraseFile reads a passphrase from a file such as the one named by
// HAVEN_PASSPHRASE_FILE. The file must not be readable by group or others.
// One trailing newline (LF or CRLF) is removed; an empty passphrase is
// refused with EINVALID.
func ReadPassphraseFile(path string) ([]byte, error) {
	data, err := readPrivate(path, 4096)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) == 0 {
		return nil, registry.FieldErrorf(registry.EINVALID, path, "passphrase is empty")
	}
	return data, nil
}
