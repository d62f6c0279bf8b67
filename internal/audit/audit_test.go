package audit_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
)

var t0 = time.Date(2026, 11, 29, 8, 0, 0, 123456789, time.UTC)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := registry.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func testKey(t testing.TB, seed byte) ed25519.PrivateKey {
	t.Helper()
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func rec(i int) audit.Record {
	actions := []string{"person.read", "person.create", "vaccination.create", "test.create", "token.create"}
	return audit.Record{
		Actor:   fmt.Sprintf("tok-%d", i%7),
		Role:    "vaccinator",
		Action:  actions[i%len(actions)],
		Purpose: "dose",
		Subject: fmt.Sprintf("ps1_%032x", i*7919),
	}
}

// testChainKey returns a chain key made of seed.
func testChainKey(t testing.TB, seed byte) *audit.ChainKey {
	t.Helper()
	k, err := audit.NewChainKey(bytes.Repeat([]byte{seed}, audit.ChainKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// buildLog writes n entries, signing a checkpoint of every tenth. With a
// chain key, entry 1 starts the key's epoch and every entry carries a MAC,
// as the stores write them.
func buildLog(t testing.TB, n int, key ed25519.PrivateKey, chain *audit.ChainKey) (*memStore, []audit.Checkpoint) {
	t.Helper()
	signer, err := audit.NewSigner("haven.test/audit", key)
	if err != nil {
		t.Fatal(err)
	}
	m := &memStore{}
	ctx := context.Background()
	var last *audit.Entry
	for i := 0; i < n; i++ {
		r := rec(i)
		if chain != nil && i == 0 {
			r = audit.EpochRecord(chain)
		}
		e, err := audit.Next(last, r, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if chain != nil {
			chain.Seal(&e)
		}
		if err := m.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.Seq%10 == 0 {
			c, err := signer.Sign(e, t0)
			if err != nil {
				t.Fatal(err)
			}
			m.SaveCheckpoint(ctx, c)
		}
		last = &e
	}
	cps, err := m.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m, cps
}

func entries(t testing.TB, s audit.Store) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	if err := s.Scan(context.Background(), 1, func(e audit.Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// tableStore is a database table after someone edited it: Scan returns rows
// ordered by seq, as SELECT … ORDER BY seq would.
type tableStore struct{ rows []audit.Entry }

func (s *tableStore) Append(ctx context.Context, e audit.Entry) error {
	s.rows = append(s.rows, e)
	return nil
}

func (s *tableStore) Last(ctx context.Context) (audit.Entry, error) {
	if len(s.rows) == 0 {
		return audit.Entry{}, registry.Errorf(registry.ENOTFOUND, "empty")
	}
	return s.rows[len(s.rows)-1], nil
}

func (s *tableStore) Scan(ctx context.Context, from uint64, fn func(audit.Entry) error) error {
	rows := slices.Clone(s.rows)
	slices.SortStableFunc(rows, func(a, b audit.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, e := range rows {
		if e.Seq >= from {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func rehash(e *audit.Entry) { e.Hash = e.ComputeHash() }

func TestVerifyIntact(t *testing.T) {
	key := testKey(t, 1)
	m, cps := buildLog(t, 50, key, nil)
	if len(cps) != 5 {
		t.Fatalf("got %d checkpoints, want 5", len(cps))
	}
	rep, err := audit.Verify(context.Background(), m, cps, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Entries != 50 || rep.LastSeq != 50 || rep.Checkpoints != 5 || rep.Problem != nil {
		t.Fatalf("report = %+v", rep)
	}
	last, _ := m.Last(context.Background())
	if rep.LastHash != last.Hash {
		t.Fatal("LastHash is not the hash of the last entry")
	}
	empty, err := audit.Verify(context.Background(), &memStore{}, nil)
	if err != nil || !empty.OK || empty.Entries != 0 {
		t.Fatalf("empty log: %+v, %v", empty, err)
	}
}

// TestVerifyTampering edits the stored log in each way someone with the
// database could, and checks that Verify names the first bad entry.
//
// It runs on a plain hash chain (a log from before keying) and on a keyed
// one checked with its chain key; keyedSeq says where the keyed check
// places a problem differently, knowing from the MACs exactly which entries
// are still authentic.
func TestVerifyTampering(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		name := "plain"
		if keyed {
			name = "keyed"
		}
		t.Run(name, func(t *testing.T) { testVerifyTampering(t, keyed) })
	}
}

func testVerifyTampering(t *testing.T, keyed bool) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	var chain *audit.ChainKey
	if keyed {
		chain = testChainKey(t, 7)
	}
	m, cps := buildLog(t, 50, key, chain)
	orig := entries(t, m)
	// The MACs show that entries 21 to 24 are authentic.
	keyedSeq := map[string]uint64{"changed/chain-rehashed": 25}
	shift := func(rows []audit.Entry, from int, by int) {
		for i := from; i < len(rows); i++ {
			rows[i].Seq = uint64(int(rows[i].Seq) + by)
		}
	}
	tests := []struct {
		name    string
		tamper  func(rows []audit.Entry) []audit.Entry
		seq     uint64
		kind    string
		withCPs bool
	}{
		{"changed/field", func(r []audit.Entry) []audit.Entry { r[19].Actor = "tok-evil"; return r }, 20, audit.KindChanged, true},
		{"changed/subject", func(r []audit.Entry) []audit.Entry { r[19].Subject = ""; return r }, 20, audit.KindChanged, true},
		{"changed/time", func(r []audit.Entry) []audit.Entry { r[0].Time = r[0].Time.Add(time.Microsecond); return r }, 1, audit.KindChanged, true},
		{"changed/hash-recomputed", func(r []audit.Entry) []audit.Entry { r[19].Purpose = "other"; rehash(&r[19]); return r }, 20, audit.KindChanged, true},
		{"changed/prev-hash", func(r []audit.Entry) []audit.Entry { r[29].PrevHash[0] ^= 1; return r }, 30, audit.KindChanged, false},
		{"changed/chain-rehashed", func(r []audit.Entry) []audit.Entry {
			r[24].Action = "person.list"
			for i := 24; i < len(r); i++ {
				r[i].PrevHash = r[i-1].Hash
				rehash(&r[i])
			}
			return r
		}, 21, audit.KindRewritten, true},
		{"deleted/middle", func(r []audit.Entry) []audit.Entry { return slices.Delete(r, 19, 20) }, 20, audit.KindDeleted, true},
		{"deleted/several", func(r []audit.Entry) []audit.Entry { return slices.Delete(r, 19, 23) }, 20, audit.KindDeleted, true},
		{"deleted/first", func(r []audit.Entry) []audit.Entry { return r[1:] }, 1, audit.KindDeleted, true},
		{"deleted/renumbered", func(r []audit.Entry) []audit.Entry { r = slices.Delete(r, 19, 20); shift(r, 19, -1); return r }, 20, audit.KindDeleted, true},
		{"deleted/first-renumbered", func(r []audit.Entry) []audit.Entry { r = r[1:]; shift(r, 0, -1); return r }, 1, audit.KindDeleted, true},
		{"deleted/tail", func(r []audit.Entry) []audit.Entry { return r[:45] }, 46, audit.KindTruncated, true},
		{"deleted/everything", func(r []audit.Entry) []audit.Entry { return nil }, 1, audit.KindTruncated, true},
		{"reordered/adjacent", func(r []audit.Entry) []audit.Entry { r[19].Seq, r[20].Seq = r[20].Seq, r[19].Seq; return r }, 20, audit.KindReordered, true},
		{"reordered/far", func(r []audit.Entry) []audit.Entry { r[19].Seq, r[34].Seq = r[34].Seq, r[19].Seq; return r }, 20, audit.KindReordered, true},
		{"reordered/rotated", func(r []audit.Entry) []audit.Entry {
			// 20 21 22 → 21 22 20
			r[19].Seq, r[20].Seq, r[21].Seq = 22, 20, 21
			return r
		}, 20, audit.KindReordered, true},
		{"inserted/forged-renumbered", func(r []audit.Entry) []audit.Entry {
			forged, err := audit.Next(&r[18], audit.Record{Actor: "tok-0", Role: "admin", Action: "person.read"}, r[18].Time)
			if err != nil {
				t.Fatal(err)
			}
			shift(r, 19, 1)
			return slices.Insert(r, 19, forged)
		}, 20, audit.KindInserted, true},
		{"inserted/garbage-renumbered", func(r []audit.Entry) []audit.Entry {
			g := r[5]
			g.Seq, g.PrevHash, g.Actor = 20, r[18].Hash, "tok-x"
			shift(r, 19, 1)
			return slices.Insert(r, 19, g)
		}, 20, audit.KindInserted, true},
		{"inserted/duplicate", func(r []audit.Entry) []audit.Entry { return slices.Insert(r, 20, r[19]) }, 20, audit.KindInserted, true},
		{"inserted/forged-two", func(r []audit.Entry) []audit.Entry {
			a, _ := audit.Next(&r[9], rec(1), r[9].Time)
			b, _ := audit.Next(&a, rec(2), r[9].Time)
			shift(r, 10, 2)
			return slices.Insert(r, 10, a, b)
		}, 11, audit.KindInserted, true},
		{"inserted/garbage-at-end", func(r []audit.Entry) []audit.Entry {
			g := r[49]
			g.Seq, g.Actor = 51, "tok-x"
			return append(r, g)
		}, 51, audit.KindChanged, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := tt.tamper(slices.Clone(orig))
			var use []audit.Checkpoint
			if tt.withCPs {
				use = cps
			}
			opt := audit.Options{Checkpoints: use, Keys: []ed25519.PublicKey{pub}}
			seq := tt.seq
			if keyed {
				opt.ChainKeys = []*audit.ChainKey{chain}
				if ks, ok := keyedSeq[tt.name]; ok {
					seq = ks
				}
			}
			rep, err := audit.VerifyLog(context.Background(), &tableStore{rows: rows}, opt)
			wantCode(t, err, registry.EINVALID)
			if rep.OK || rep.Problem == nil {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			if rep.Problem.Seq != seq || rep.Problem.Kind != tt.kind {
				t.Fatalf("problem = %+v, want seq %d kind %s", *rep.Problem, seq, tt.kind)
			}
			if want := fmt.Sprintf("audit[seq=%d]", seq); registry.ErrorField(err) != want {
				t.Fatalf("error field = %q, want %q", registry.ErrorField(err), want)
			}
			if rep.Entries >= seq {
				t.Fatalf("report counts %d good entries past the bad one at %d", rep.Entries, seq)
			}
		})
	}
}

// TestVerifyNeedsCheckpoints shows the limit of a bare hash chain: a tail
// truncation or a full re-hash from some point on is invisible without
// checkpoints, and caught with them.
func TestVerifyNeedsCheckpoints(t *testing.T) {
	key := testKey(t, 1)
	m, cps := buildLog(t, 30, key, nil)
	rows := entries(t, m)[:25]
	if _, err := audit.Verify(context.Background(), &tableStore{rows: rows}, nil); err != nil {
		t.Fatalf("a truncated chain without checkpoints should still link: %v", err)
	}
	_, err := audit.Verify(context.Background(), &tableStore{rows: rows}, cps, key.Public().(ed25519.PublicKey))
	wantCode(t, err, registry.EINVALID)
}

func TestCheckpoints(t *testing.T) {
	key := testKey(t, 1)
	pub := key.Public().(ed25519.PublicKey)
	m, cps := buildLog(t, 20, key, nil)
	ctx := context.Background()

	var buf bytes.Buffer
	if err := audit.MarshalCheckpoints(&buf, cps); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != len(cps) {
		t.Fatalf("export is not one JSON object per line:\n%s", buf.String())
	}
	back, err := audit.ParseCheckpoints(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(cps) {
		t.Fatalf("round trip: %d checkpoints, want %d", len(back), len(cps))
	}
	for _, c := range back {
		if err := c.Verify(pub); err != nil {
			t.Fatalf("checkpoint %d after JSON round trip: %v", c.Seq, err)
		}
	}
	arr, _ := json.Marshal(cps)
	if got, err := audit.ParseCheckpoints(arr); err != nil || len(got) != len(cps) {
		t.Fatalf("JSON array: %d, %v", len(got), err)
	}

	// A forged or altered checkpoint is refused before the log is read.
	bad := back[0]
	bad.Seq++
	_, err = audit.Verify(ctx, m, []audit.Checkpoint{bad}, pub)
	wantCode(t, err, registry.EINVALID)
	// Stored checkpoints signed by a key the verifier does not know prove
	// nothing: they are skipped and counted. External ones must verify.
	other := testKey(t, 2)
	rep, err := audit.Verify(ctx, m, back, other.Public().(ed25519.PublicKey))
	if err != nil || rep.Skipped != len(back) || rep.Checkpoints != 0 {
		t.Fatalf("unknown-key checkpoints: %+v, %v", rep, err)
	}
	if rep, err := audit.Verify(ctx, m, back); err != nil || rep.Skipped != len(back) {
		t.Fatalf("checkpoints without keys: %+v, %v", rep, err)
	}
	_, err = audit.VerifyLog(ctx, m, audit.Options{External: back, Keys: []ed25519.PublicKey{other.Public().(ed25519.PublicKey)}})
	wantCode(t, err, registry.EINVALID)
	_, err = audit.VerifyLog(ctx, m, audit.Options{Checkpoints: []audit.Checkpoint{bad}, Keys: []ed25519.PublicKey{pub}})
	wantCode(t, err, registry.EINVALID)

	// Two validly signed checkpoints that disagree prove a fork.
	signer, _ := audit.NewSigner("haven.test/audit", key)
	forked, _ := signer.Sign(audit.Entry{Seq: back[0].Seq, Hash: audit.Hash{1}}, t0)
	_, err = audit.Verify(ctx, m, append(back, forked), pub)
	wantCode(t, err, registry.EINVALID)

	// Public key text form.
	s := audit.EncodePublicKey(pub)
	if k, err := audit.ParsePublicKey(s); err != nil || !k.Equal(pub) {
		t.Fatalf("ParsePublicKey(%q) = %v, %v", s, k, err)
	}
	_, err = audit.ParsePublicKey("ed25519:AAAA")
	wantCode(t, err, registry.EMALFORMED)

}

func TestParseCheckpointsMalformed(t *testing.T) {
	for _, in := range []string{
		`{"seq":1}`,
		`{"origin":"o","seq":1,"hash":"zz","time":"2026-01-01T00:00:00Z","key_id":"k","signature":"AA=="}`,
		`[{"seq":0}]`,
		`{"unknown":1}`,
		`not json`,
	} {
		if _, err := audit.ParseCheckpoints([]byte(in)); registry.ErrorCode(err) != registry.EMALFORMED {
			t.Errorf("ParseCheckpoints(%s) = %v, want EMALFORMED", in, err)
		}
	}
}

// TestHashEncoding recomputes an entry's hash from the encoding documented
// on appendEncoding, written out independently here.
func TestHashEncoding(t *testing.T) {
	prev := audit.Entry{Seq: 1, Hash: sha256.Sum256([]byte("prev"))}
	e, err := audit.Next(&prev, audit.Record{Actor: "tok-1", Role: "admin", Action: "token.create", Subject: "token:abc"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 2 || e.PrevHash != prev.Hash {
		t.Fatalf("Next = %+v", e)
	}
	if !e.Time.Equal(t0.Truncate(time.Microsecond)) || e.Time.Location() != time.UTC {
		t.Fatalf("time = %v, want %v in UTC", e.Time, t0.Truncate(time.Microsecond))
	}
	var b []byte
	b = append(b, "haven-audit/v1\x00"...)
	b = binary.BigEndian.AppendUint64(b, 2)
	b = binary.BigEndian.AppendUint64(b, uint64(t0.UnixMicro()))
	for _, s := range []string{"tok-1", "admin", "token.create", "", "token:abc"} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = append(b, prev.Hash[:]...)
	if want := audit.Hash(sha256.Sum256(b)); e.Hash != want {
		t.Fatalf("hash = %s, want %s", e.Hash, want)
	}
	// Moving a byte between adjacent fields changes the hash (length prefixes).
	a, _ := audit.Next(nil, audit.Record{Actor: "ab", Role: "c", Action: "x"}, t0)
	c, _ := audit.Next(nil, audit.Record{Actor: "a", Role: "bc", Action: "x"}, t0)
	if a.Hash == c.Hash {
		t.Fatal("field boundaries are not part of the hash")
	}
}

func TestRecordValidate(t *testing.T) {
	ok := audit.Record{Actor: "tok-1", Role: "vaccinator", Action: "person.read", Purpose: "dose", Subject: "ps1_0123456789abcdef0123456789abcdef"}
	tests := []struct {
		name  string
		edit  func(*audit.Record)
		field string
	}{
		{"ok", func(*audit.Record) {}, ""},
		{"fail/no-actor", func(r *audit.Record) { r.Actor = "" }, "actor"},
		{"fail/no-role", func(r *audit.Record) { r.Role = "" }, "role"},
		{"fail/no-action", func(r *audit.Record) { r.Action = "" }, "action"},
		{"fail/name-in-subject", func(r *audit.Record) { r.Subject = "Mirela Okonkwo" }, "subject"},
		{"fail/phone-in-purpose", func(r *audit.Record) { r.Purpose = "call +82 10 5555" }, "purpose"},
		{"fail/newline", func(r *audit.Record) { r.Action = "a\nb" }, "action"},
		{"fail/unicode", func(r *audit.Record) { r.Subject = "李" }, "subject"},
		{"fail/long", func(r *audit.Record) { r.Subject = strings.Repeat("a", audit.MaxFieldLen+1) }, "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.edit(&r)
			_, err := audit.Next(nil, r, t0)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, registry.EINVALID)
			if registry.ErrorField(err) != tt.field {
				t.Fatalf("field = %q, want %q", registry.ErrorField(err), tt.field)
			}
		})
	}
	_, err := audit.Next(nil, ok, time.Time{})
	wantCode(t, err, registry.EINVALID)
}

func TestSignerNeedsEd25519(t *testing.T) {
	_, err := audit.NewSigner("bad origin", testKey(t, 1))
	wantCode(t, err, registry.EINVALID)
	s, err := audit.NewSigner("haven.test/audit", testKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !s.PublicKey().Equal(testKey(t, 1).Public()) {
		t.Fatal("PublicKey is not the signer's")
	}
}

func FuzzParseCheckpoints(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	signer, _ := audit.NewSigner("haven.test/audit", key)
	c, _ := signer.Sign(audit.Entry{Seq: 3, Hash: audit.Hash{9}}, t0)
	var buf bytes.Buffer
	audit.MarshalCheckpoints(&buf, []audit.Checkpoint{c, c})
	f.Add(buf.Bytes())
	arr, _ := json.Marshal([]audit.Checkpoint{c})
	f.Add(arr)
	f.Add([]byte("[]"))
	f.Add([]byte("{}\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cps, err := audit.ParseCheckpoints(data)
		if err != nil {
			return
		}
		for _, c := range cps {
			if c.Seq == 0 || len(c.Signature) != ed25519.SignatureSize {
				t.Fatalf("accepted %+v", c)
			}
			c.Verify(key.Public().(ed25519.PublicKey))
		}
	})
}
