package syncwire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/syncwire"
)

// fuzzSeeds are NDJSON bodies, valid and not, for both fuzz targets.
var fuzzSeeds = []string{
	hdr + ev1 + ev2,
	hdr,
	"",
	"\n",
	hdr + "\n" + ev1,
	`{"format":"haven-sync/1","last":1}` + "\n" + `{"seq":1,"hlc":"1:0","k":"dose","payment":{"kind":"free"}}` + "\n",
	`{"format":"haven-sync/2"}` + "\n",
	`{"format":"haven-sync/1","x":1}` + "\n",
	hdr + `{"seq":1,"seq":2,"k":"dose"}` + "\n",
	hdr + "{\"seq\":1,\"k\":\"dose\",\"lot\":\"\xff\"}\n",
	hdr + `{"seq":2,"k":"dose"}` + "\n" + `{"seq":1,"k":"dose"}` + "\n",
	`{"after":10,"last":12,"more":true,"hlc":"5:0","now":"2026-12-05T10:00:00Z","sites":[{"code":"YB-1","name":"Y","jurisdiction":"XX","services":["vaccination"]}]}` + "\n" +
		`{"seq":11,"k":"person","id":"a","card":"K7QM-2XHD-9PWA","birth":"1990","sex":"female"}` + "\n" + `{"seq":12,"k":"unfollow","person":"a"}` + "\n",
	`{"after":0,"last":0}` + "\n",
	`{"after":-1,"last":0}` + "\n",
	"[]\n",
	"null\n",
	`{"format":"haven-sync/1","hlc":"99999999999999999999:0"}`,
}

// checkDecoded checks the decoder's contract on one input: an error is an
// *registry.Error with a code it documents; a success re-encodes to a body
// that decodes to the same value.
func checkDecoded[T any](t *testing.T, v *T, err error, encode func(*T) ([]byte, error), decode func([]byte) (*T, error)) {
	t.Helper()
	if err != nil {
		if v != nil {
			t.Fatalf("a value with error %v", err)
		}
		var e *registry.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is a %T, not an *registry.Error", err, err)
		}
		switch e.Code {
		case registry.EMALFORMED, registry.EINVALID, registry.EUNSUPPORTED, registry.ETOOLARGE:
		default:
			t.Fatalf("error code %s: %v", e.Code, err)
		}
		return
	}
	body, err := encode(v)
	if registry.ErrorCode(err) == registry.ETOOLARGE {
		return // escapes can make a re-encoding longer than the input
	}
	if err != nil {
		t.Fatalf("a decoded value does not encode: %v", err)
	}
	again, err := decode(body)
	if err != nil {
		t.Fatalf("a re-encoded value does not decode: %v", err)
	}
	if d := cmp.Diff(v, again, cmpopts.EquateEmpty()); d != "" { // "sites":[] comes back nil
		t.Fatalf("re-encoding changed the value (-first +second):\n%s", d)
	}
}

// FuzzDecodePush decodes any body, gzipped (gzipped false: as given, which
// exercises the gzip reader), and checks checkDecoded's contract.
func FuzzDecodePush(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), true)
	}
	f.Add(gz(hdr+ev1), false)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, false)
	f.Fuzz(func(t *testing.T, data []byte, gzipped bool) {
		if gzipped {
			data = gz(string(data))
		}
		b, err := syncwire.DecodePush(bytes.NewReader(data))
		checkDecoded(t, b, err,
			func(b *syncwire.Batch) ([]byte, error) { return syncwire.EncodePush(b, 1) },
			func(body []byte) (*syncwire.Batch, error) { return syncwire.DecodePush(bytes.NewReader(body)) })
	})
}

// FuzzDecodePull is FuzzDecodePush for pull pages.
func FuzzDecodePull(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), true)
	}
	page, err := syncwire.EncodePull(samplePage())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(page, false)
	f.Fuzz(func(t *testing.T, data []byte, gzipped bool) {
		if gzipped {
			data = gz(string(data))
		}
		p, err := syncwire.DecodePull(bytes.NewReader(data))
		checkDecoded(t, p, err, syncwire.EncodePull,
			func(body []byte) (*syncwire.PullPage, error) { return syncwire.DecodePull(bytes.NewReader(body)) })
	})
}
