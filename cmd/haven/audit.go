package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haven-registry/haven/internal/audit"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// The audit log's keys. Both live outside the database, so that someone who
// can only edit the database can neither recompute the chain nor sign a
// checkpoint:
//
//   - the checkpoint signing key, an Ed25519 seed kept in the data folder
//     wrapped under the vault (auditSigningKeyFile);
//   - the chain key, derived from the key ring's root key
//     (vault.DeriveKey), so that every process sharing a ring keys the one
//     log alike, and a ring renewed after `haven seal --shred` yields a new
//     one.
//
// A shred destroys both. The next start with a new ring then makes a new
// key generation: a new signing key, and the chain key of the new ring,
// whose epoch starts with its own entry in the log. The public half of every
// signing key, and the ID of every chain key with the entry where its epoch
// started, are appended to a plain file (auditPublicKeysFile), so that the
// old chain still verifies: old checkpoints against their public keys, the
// old epochs through the MACs of the new one.
const (
	auditSigningKeyFile = "audit-signing.key"
	auditPublicKeysFile = "audit-public-keys.jsonl"
	auditSigningKeyName = "audit-signing-key" // the vault blob's associated name
	auditChainPurpose   = "audit-chain-key"   // vault.DeriveKey purpose
	auditOrigin         = "haven"

	// auditCheckpointEvery is how often a server signs the head of the log
	// when it has moved: the crash window of docs/threat-model.md.
	auditCheckpointEvery = 2 * time.Second
	// auditCheckpointKeep is the spacing of the checkpoints a server keeps
	// in the database; the others are replaced by the next one (the export
	// keeps them all).
	auditCheckpointKeep = 10 * time.Minute
)

// auditKeyRecord is one line of the public-keys file: a checkpoint public
// key (PublicKey set) of the generation of chain key ChainKeyID, or the
// note that ChainKeyID's epoch started at entry EpochSeq.
type auditKeyRecord struct {
	Time       time.Time `json:"time"`
	ChainKeyID string    `json:"chain_key_id"`
	PublicKey  string    `json:"public_key,omitempty"`
	KeyID      string    `json:"key_id,omitempty"`
	EpochSeq   uint64    `json:"epoch_seq,omitempty"`
}

// auditKeyFile is the public-keys file as read.
type auditKeyFile struct {
	records []auditKeyRecord
}

func readAuditKeyFile(env *commandEnv) (*auditKeyFile, error) {
	data, err := os.ReadFile(filepath.Join(env.DataDir, auditPublicKeysFile))
	if errors.Is(err, os.ErrNotExist) {
		return &auditKeyFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit public keys: %w", err)
	}
	f := &auditKeyFile{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r auditKeyRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.ChainKeyID == "" {
			// A torn last line (a crash while appending) is skipped.
			continue
		}
		f.records = append(f.records, r)
	}
	return f, nil
}

// appendAuditKeyFile appends r to the public-keys file and syncs it.
func appendAuditKeyFile(env *commandEnv, r auditKeyRecord) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(env.DataDir, auditPublicKeysFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("audit public keys: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit public keys: %w", err)
	}
	return nil
}

// publicKeys returns every checkpoint public key recorded.
func (f *auditKeyFile) publicKeys() []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, r := range f.records {
		if pub, err := audit.ParsePublicKey(r.PublicKey); err == nil {
			out = append(out, pub)
		}
	}
	return out
}

func (f *auditKeyFile) hasKey(keyID string) bool {
	for _, r := range f.records {
		if r.KeyID == keyID && r.PublicKey != "" {
			return true
		}
	}
	return false
}

// currentChain returns the chain key ID of the newest signing key, "" if
// none is recorded.
func (f *auditKeyFile) currentChain() string {
	for i := len(f.records) - 1; i >= 0; i-- {
		if f.records[i].PublicKey != "" {
			return f.records[i].ChainKeyID
		}
	}
	return ""
}

// generations returns the chain keys in the order they appeared, each with
// the seq its epoch started at, where recorded.
func (f *auditKeyFile) generations() []audit.Generation {
	var out []audit.Generation
	idx := map[string]int{}
	for _, r := range f.records {
		i, ok := idx[r.ChainKeyID]
		if !ok {
			i = len(out)
			idx[r.ChainKeyID] = i
			out = append(out, audit.Generation{ChainKeyID: r.ChainKeyID})
		}
		if r.EpochSeq != 0 && out[i].Seq == 0 {
			out[i].Seq = r.EpochSeq
		}
	}
	return out
}

// auditChainKey returns the chain key of the vault's key ring. Fails with
// ESEALED while the vault is sealed.
func auditChainKey(v *vault.Vault) (*audit.ChainKey, error) {
	raw, err := v.DeriveKey(auditChainPurpose)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	return audit.NewChainKey(raw)
}

// auditSigner returns the log's checkpoint signer for the vault's key ring,
// and records its public key in the public-keys file. The Ed25519 seed is
// kept in the data folder, encrypted under the vault; it is made on first
// use.
//
// If the seed no longer opens because the key ring was renewed after a
// shred (the ring's chain key differs from the one the current signing key
// was recorded with, or the vault reports the wrapping key destroyed), a
// new generation starts: the old file is kept aside as
// audit-signing.key.<chain key ID>.old (it opens again only if the old ring
// is restored) and a new seed is made. If it does not open under the very
// ring that made it, auditSigner refuses: that file was damaged or
// replaced, and making a new key would hide it.
func auditSigner(env *commandEnv, v *vault.Vault) (*audit.Signer, error) {
	chain, err := auditChainKey(v)
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	keys, err := readAuditKeyFile(env)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(env.DataDir, auditSigningKeyFile)
	blob, err := os.ReadFile(path)
	var seed []byte
	switch {
	case errors.Is(err, os.ErrNotExist):
		if seed, err = newAuditSeed(env, v, path); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("audit signing key: %w", err)
	default:
		seed, err = v.DecryptBlob(auditSigningKeyName, blob)
		if err != nil {
			if registry.ErrorCode(err) == registry.ESEALED {
				return nil, fmt.Errorf("audit signing key: %w", err)
			}
			old := keys.currentChain()
			renewed := (old != "" && old != chain.ID()) || registry.ErrorCode(err) == registry.ENOTFOUND
			if !renewed {
				return nil, fmt.Errorf("audit signing key %s does not open under this key ring, which made it: restore the file from a copy (a new key would hide a replaced or damaged one): %w", path, err)
			}
			if old == "" {
				old = "unknown"
			}
			if err := os.Rename(path, path+"."+old+".old"); err != nil {
				return nil, fmt.Errorf("audit signing key: keep the old key aside: %w", err)
			}
			if seed, err = newAuditSeed(env, v, path); err != nil {
				return nil, err
			}
			fmt.Fprintf(env.Stderr, "haven: the key ring was renewed: new audit keys (chain key %s after %s); the old public keys stay in %s\n",
				chain.ID(), old, auditPublicKeysFile)
		}
	}
	key := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	signer, err := audit.NewSigner(auditOrigin, key)
	if err != nil {
		return nil, err
	}
	if id := audit.KeyID(signer.PublicKey()); !keys.hasKey(id) {
		if err := appendAuditKeyFile(env, auditKeyRecord{Time: env.Now().UTC(), ChainKeyID: chain.ID(),
			PublicKey: audit.EncodePublicKey(signer.PublicKey()), KeyID: id}); err != nil {
			return nil, err
		}
	}
	return signer, nil
}

// newAuditSeed makes a signing seed and writes it, wrapped under the vault,
// to path (through a temporary file, so that a crash leaves the old file or
// the new one).
func newAuditSeed(env *commandEnv, v *vault.Vault, path string) ([]byte, error) {
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	enc, err := v.EncryptBlob(auditSigningKeyName, seed)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(env.DataDir, 0o700); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, enc, 0o600); err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	return seed, nil
}

// auditStore is a database that also holds the access log.
type auditStore interface {
	database
	audit.Store
	audit.CheckpointStore
}

// auditChainStore is an audit store that keys its log, joins its chains
// and prunes its checkpoints (sqlstore.Store).
type auditChainStore interface {
	SetAuditChain(key func() *audit.ChainKey)
	StartAuditEpoch(ctx context.Context, now time.Time) (uint64, error)
	AuditEpoch(ctx context.Context, keyID string) (uint64, error)
	DeleteCheckpoint(ctx context.Context, origin string, seq uint64) error
	// JoinAuditChains names the head of every chain that moved in chain 0
	// and returns chain 0's head: what a checkpoint signs.
	JoinAuditChains(ctx context.Context, now time.Time) (audit.Entry, error)
}

// auditHead returns what a checkpoint signs: the head of chain 0 after a
// join of every other chain (docs/adr/0005), or the last entry of a store
// that keeps one chain.
func auditHead(ctx context.Context, db auditStore, now time.Time) (audit.Entry, error) {
	if cs, ok := db.(auditChainStore); ok {
		return cs.JoinAuditChains(ctx, now)
	}
	return db.Last(ctx)
}

func openAuditStore(ctx context.Context, env *commandEnv) (auditStore, error) {
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return nil, err
	}
	as, ok := db.(auditStore)
	if !ok {
		db.Close()
		return nil, errors.New("this database does not keep an audit log")
	}
	return as, nil
}

// signCheckpoint signs the head of the log (chain 0, after joining the
// other chains), if it moved since the last checkpoint, and stores the
// checkpoint.
func signCheckpoint(ctx context.Context, db auditStore, signer *audit.Signer, now time.Time) (*audit.Checkpoint, error) {
	head, err := auditHead(ctx, db, now)
	if err != nil {
		return nil, err
	}
	cps, err := db.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(cps); n > 0 && cps[n-1].Seq == head.Seq && cps[n-1].Hash == head.Hash {
		return &cps[n-1], nil
	}
	cp, err := signer.Sign(head, now)
	if err != nil {
		return nil, err
	}
	return &cp, db.SaveCheckpoint(ctx, cp)
}

// checkpointExport appends signed checkpoints, one JSON object a line, to a
// file or to standard output (for a log shipper), so that a copy lives
// where the database host cannot rewrite it.
type checkpointExport struct {
	w io.Writer
	f *os.File // nil for standard output
}

// openCheckpointExport opens dest: "" for none, "-" for standard output, or
// a file opened for appending (created with mode 0640).
func openCheckpointExport(env *commandEnv, dest string) (*checkpointExport, error) {
	switch dest {
	case "":
		return nil, nil
	case "-":
		return &checkpointExport{w: env.Stdout}, nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("audit export: %w", err)
	}
	return &checkpointExport{w: f, f: f}, nil
}

// write appends c as one line (one write call) and, for a file, syncs it.
func (x *checkpointExport) write(c audit.Checkpoint) error {
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := x.w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	if x.f != nil {
		if err := x.f.Sync(); err != nil {
			return fmt.Errorf("audit export: %w", err)
		}
	}
	return nil
}

func (x *checkpointExport) close() {
	if x != nil && x.f != nil {
		x.f.Close()
	}
}

// serverAudit keys and checkpoints the access log of a running server.
//
// The store asks chainKey for the chain key on every append. While the
// vault is sealed since start (passphrase mode), there is none and entries
// go in without a MAC; once it is unlocked they are keyed, and the first
// keyed entry covers the ones before it. A server that was open keeps its
// keys in memory when sealed: sealing protects the demographics, and the
// keys protect only the log's integrity.
//
// checkpoint, called every auditCheckpointEvery by checkpointLoop, signs the
// head when it moved, stores the checkpoint (keeping one per
// auditCheckpointKeep and the latest), and exports it.
type serverAudit struct {
	env    *commandEnv
	v      *vault.Vault
	db     auditStore
	keyed  auditChainStore // nil if the store cannot key its log
	export *checkpointExport

	chain   atomic.Pointer[audit.ChainKey]
	derived atomic.Int64 // when chain was last derived (Unix ns)

	mu          sync.Mutex // guards the fields below
	signer      *audit.Signer
	signerChain string          // the chain key ID signer belongs to
	recorded    map[string]bool // chain key IDs whose epoch start is in the public-keys file
	last        *audit.Checkpoint
	lastKept    bool      // last is one of the checkpoints kept in the database
	keptBucket  time.Time // the auditCheckpointKeep interval of the newest kept one
}

// startAudit keys the log of db (when it keeps one) and, if the vault is
// open, loads the signing key, starts the chain key's epoch and records it.
// It returns nil when db keeps no audit log. exportDest is where checkpoints
// are exported (see openCheckpointExport).
func startAudit(ctx context.Context, env *commandEnv, db database, v *vault.Vault, exportDest string) (*serverAudit, error) {
	as, ok := db.(auditStore)
	if !ok {
		return nil, nil
	}
	export, err := openCheckpointExport(env, exportDest)
	if err != nil {
		return nil, err
	}
	a := &serverAudit{env: env, v: v, db: as, export: export, recorded: map[string]bool{}}
	a.keyed, _ = db.(auditChainStore)
	if a.keyed != nil {
		a.keyed.SetAuditChain(a.chainKey)
	}
	if v.Sealed() {
		return a, nil
	}
	if _, err := a.currentSigner(); err != nil {
		export.close()
		return nil, err
	}
	if err := a.startEpoch(ctx); err != nil {
		export.close()
		return nil, err
	}
	return a, nil
}

// chainKeyRecheck is how long serverAudit uses a chain key before deriving
// it from the vault again, to follow a key ring renewed in place. Deriving
// costs more than the rest of keying an entry.
const chainKeyRecheck = time.Second

// chainKey returns the chain key: the vault's while it is open, the last
// one known while it is sealed, nil if it never was open. It is called on
// every audited write, so it derives the key again only every
// chainKeyRecheck.
func (a *serverAudit) chainKey() *audit.ChainKey {
	cur := a.chain.Load()
	now := time.Now().UnixNano()
	if cur != nil && now-a.derived.Load() < int64(chainKeyRecheck) {
		return cur
	}
	raw, err := a.v.DeriveKey(auditChainPurpose)
	if err != nil {
		return cur
	}
	defer clear(raw)
	a.derived.Store(now)
	if cur != nil && cur.Is(raw) {
		return cur
	}
	k, err := audit.NewChainKey(raw)
	if err != nil {
		return cur
	}
	a.chain.Store(k)
	return k
}

// currentSigner returns the signer of the current chain key's generation,
// loading (or, after a renewal, making) it while the vault is open; nil if
// the vault was never open.
func (a *serverAudit) currentSigner() (*audit.Signer, error) {
	k := a.chainKey()
	a.mu.Lock()
	defer a.mu.Unlock()
	if k == nil || (a.signer != nil && a.signerChain == k.ID()) || a.v.Sealed() {
		return a.signer, nil
	}
	s, err := auditSigner(a.env, a.v)
	if err != nil {
		return a.signer, err
	}
	a.signer, a.signerChain = s, k.ID()
	return s, nil
}

// publicKey is the key the clinic service checks checkpoints with: the
// current signer's, or while sealed since start the newest one recorded.
func (a *serverAudit) publicKey() ed25519.PublicKey {
	a.mu.Lock()
	s := a.signer
	a.mu.Unlock()
	if s != nil {
		return s.PublicKey()
	}
	if f, err := readAuditKeyFile(a.env); err == nil {
		if keys := f.publicKeys(); len(keys) > 0 {
			return keys[len(keys)-1]
		}
	}
	return nil
}

// startEpoch makes sure the log is in the chain key's epoch and records
// where that epoch started in the public-keys file.
func (a *serverAudit) startEpoch(ctx context.Context) error {
	k := a.chainKey()
	if a.keyed == nil || k == nil {
		return nil
	}
	seq, err := a.keyed.StartAuditEpoch(ctx, a.env.Now())
	if err != nil {
		return err
	}
	return a.recordEpoch(k.ID(), seq)
}

func (a *serverAudit) recordEpoch(id string, seq uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.recorded[id] {
		return nil
	}
	f, err := readAuditKeyFile(a.env)
	if err != nil {
		return err
	}
	for _, g := range f.generations() {
		if g.ChainKeyID == id && g.Seq != 0 {
			a.recorded[id] = true
			return nil
		}
	}
	if err := appendAuditKeyFile(a.env, auditKeyRecord{Time: a.env.Now().UTC(), ChainKeyID: id, EpochSeq: seq}); err != nil {
		return err
	}
	a.recorded[id] = true
	return nil
}

// checkpoint signs, stores and exports a checkpoint of the head if the
// head moved since the last one. When the key ring was renewed while the
// server runs, it first starts the new chain key's epoch and signs that
// with the old key, so that the old key vouches for the change.
func (a *serverAudit) checkpoint(ctx context.Context, now time.Time) error {
	a.mu.Lock()
	old := a.signer
	a.mu.Unlock()
	signer, err := a.currentSigner()
	if err != nil {
		return err
	}
	if signer == nil {
		return nil // sealed since start: nothing to sign with yet
	}
	if signer != old {
		if err := a.startEpoch(ctx); err != nil {
			return err
		}
		if old != nil {
			if err := a.signHead(ctx, old, now); err != nil {
				return err
			}
		}
	} else if k := a.chain.Load(); k != nil && a.keyed != nil && !a.isRecorded(k.ID()) {
		// Sealed at start, so the epoch began with a request (in chain 0,
		// or in a writer's chain): start it in chain 0 if need be, and
		// record it.
		if seq, err := a.keyed.StartAuditEpoch(ctx, a.env.Now()); err == nil {
			if err := a.recordEpoch(k.ID(), seq); err != nil {
				return err
			}
		}
	}
	return a.signHead(ctx, signer, now)
}

func (a *serverAudit) isRecorded(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.recorded[id]
}

func (a *serverAudit) signHead(ctx context.Context, signer *audit.Signer, now time.Time) error {
	head, err := auditHead(ctx, a.db, now)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last != nil && a.last.Seq == head.Seq && a.last.Hash == head.Hash && a.last.KeyID == audit.KeyID(signer.PublicKey()) {
		return nil
	}
	cp, err := signer.Sign(head, now)
	if err != nil {
		return err
	}
	// The database first, then the export: an exported checkpoint is
	// always in the database too, unless someone removed it.
	if err := a.db.SaveCheckpoint(ctx, cp); err != nil {
		return err
	}
	bucket := cp.Time.Truncate(auditCheckpointKeep)
	if a.last != nil && !a.lastKept && a.keyed != nil && a.last.Seq != cp.Seq {
		if err := a.keyed.DeleteCheckpoint(ctx, a.last.Origin, a.last.Seq); err != nil {
			return err
		}
	}
	a.lastKept = !bucket.Equal(a.keptBucket)
	if a.lastKept {
		a.keptBucket = bucket
	}
	a.last = &cp
	if a.export != nil {
		return a.export.write(cp)
	}
	return nil
}

func (a *serverAudit) close() { a.export.close() }

// auditKeysForVerify gathers what `haven audit verify` checks the log
// against, from the data folder, without writing anything: the recorded
// public keys (or those given with --key), and the chain key when the
// vault opens and the public-keys file records it.
func auditKeysForVerify(env *commandEnv, given []string) (audit.Options, []string, error) {
	var (
		opt   audit.Options
		warns []string
	)
	f, err := readAuditKeyFile(env)
	if err != nil {
		return opt, nil, err
	}
	opt.Generations = f.generations()
	for _, k := range given {
		pub, err := audit.ParsePublicKey(k)
		if err != nil {
			return opt, nil, fmt.Errorf("--key: %w", err)
		}
		opt.Keys = append(opt.Keys, pub)
	}
	ringPath := env.Getenv("HAVEN_MASTER_KEY_FILE")
	if ringPath == "" {
		ringPath = filepath.Join(env.DataDir, "master.key")
	}
	var v *vault.Vault
	if _, err := os.Stat(ringPath); err != nil {
		warns = append(warns, "no key ring: MACs were not checked")
	} else {
		if v, err = openVault(env); err != nil {
			warns = append(warns, fmt.Sprintf("the key ring does not open (%v): MACs and the signing key were not checked", err))
			v = nil
		}
	}
	if len(given) == 0 {
		opt.Keys = f.publicKeys()
		if v != nil && !v.Sealed() {
			// An installation from before the public-keys file: its key.
			if blob, err := os.ReadFile(filepath.Join(env.DataDir, auditSigningKeyFile)); err == nil {
				if seed, err := v.DecryptBlob(auditSigningKeyName, blob); err == nil {
					opt.Keys = append(opt.Keys, ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
					clear(seed)
				}
			}
		}
	}
	switch {
	case v == nil:
	case v.Sealed():
		warns = append(warns, "the vault is sealed (set HAVEN_PASSPHRASE_FILE): MACs were not checked")
	default:
		k, err := auditChainKey(v)
		if err != nil {
			return opt, nil, err
		}
		known := false
		for _, g := range opt.Generations {
			known = known || g.ChainKeyID == k.ID()
		}
		if known {
			opt.ChainKeys = []*audit.ChainKey{k}
		} else {
			warns = append(warns, fmt.Sprintf("this key ring's chain key %s is not recorded in %s (no server has run with it yet): MACs were not checked", k.ID(), auditPublicKeysFile))
		}
	}
	return opt, warns, nil
}

// auditCommand implements "haven audit verify|checkpoint|checkpoints|key".
func auditCommand(ctx context.Context, env *commandEnv, args []string) error {
	usage := errors.New("usage: haven audit verify [--checkpoints FILE] [--key PUB]… [--json] | checkpoint | checkpoints | key")
	if len(args) == 0 {
		return usage
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	export := env.Getenv("HAVEN_AUDIT_EXPORT")
	defaultCPs := ""
	if export != "-" {
		defaultCPs = export
	}
	cpFile := fs.String("checkpoints", defaultCPs, "JSON Lines file of checkpoints kept outside the database (haven serve --audit-export); default $HAVEN_AUDIT_EXPORT")
	var keys siteList
	fs.Var(&keys, "key", "trusted checkpoint public key (ed25519:BASE64), repeatable; default: every key in "+auditPublicKeysFile)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, err := openAuditStore(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "verify":
		opt, warns, err := auditKeysForVerify(env, keys)
		if err != nil {
			return err
		}
		if opt.Checkpoints, err = db.Checkpoints(ctx); err != nil {
			return err
		}
		if *cpFile != "" {
			data, err := os.ReadFile(*cpFile)
			if err != nil {
				return fmt.Errorf("--checkpoints: %w", err)
			}
			if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) && len(bytes.TrimSpace(data[i+1:])) > 0 {
				// A crash while appending leaves at most one torn line.
				data = data[:i+1]
				warns = append(warns, fmt.Sprintf("%s: an incomplete last line (a crash while writing it) was skipped", *cpFile))
			}
			if opt.External, err = audit.ParseCheckpoints(data); err != nil {
				return fmt.Errorf("--checkpoints %s: %w", *cpFile, err)
			}
		} else {
			warns = append(warns, "no external checkpoints (--checkpoints FILE, kept where the database host cannot rewrite them): entries cut off the end of the log, with the checkpoints table, cannot be detected")
		}
		rep, verr := audit.VerifyLog(ctx, db, opt)
		rep.Warnings = append(warns, rep.Warnings...)
		if *asJSON {
			json.NewEncoder(env.Stdout).Encode(rep)
		} else {
			for _, w := range rep.Warnings {
				fmt.Fprintln(env.Stderr, "warning:", w)
			}
			if verr == nil {
				keyed := "not keyed"
				if rep.KeyedFrom != 0 {
					keyed = fmt.Sprintf("keyed from entry %d, %d MACs checked", rep.KeyedFrom, rep.MACs)
				} else if rep.MACs != 0 {
					keyed = fmt.Sprintf("%d MACs checked", rep.MACs)
				}
				chains := ""
				if n := len(rep.Chains); n > 0 {
					chains = fmt.Sprintf(" in chain 0 and %d writers' chains joined to it", n)
				}
				fmt.Fprintf(env.Stdout, "audit log OK: %d entries%s (%s), %d checkpoints (%d external), head %s\n",
					rep.Entries, chains, keyed, rep.Checkpoints, rep.External, rep.LastHash)
			}
		}
		if verr != nil {
			if p := rep.Problem; p != nil {
				at := fmt.Sprintf("entry %d", p.Seq)
				if p.Chain != 0 {
					at = fmt.Sprintf("entry %d of chain %d", p.Seq, p.Chain)
				}
				return fmt.Errorf("audit log bad at %s (%s): %s", at, p.Kind, p.Detail)
			}
			return verr
		}
		return nil
	case "checkpoint", "key":
		v, err := openVault(env)
		if err != nil {
			return err
		}
		signer, err := auditSigner(env, v)
		if err != nil {
			return err
		}
		if args[0] == "key" {
			fmt.Fprintln(env.Stdout, audit.EncodePublicKey(signer.PublicKey()))
			return nil
		}
		if cs, ok := db.(auditChainStore); ok {
			// The join this checkpoint writes is keyed like a server's.
			k, err := auditChainKey(v)
			if err != nil {
				return err
			}
			cs.SetAuditChain(func() *audit.ChainKey { return k })
		}
		cp, err := signCheckpoint(ctx, db, signer, env.Now())
		if err != nil {
			return err
		}
		if export != "" && export != "-" {
			x, err := openCheckpointExport(env, export)
			if err != nil {
				return err
			}
			defer x.close()
			if err := x.write(*cp); err != nil {
				return err
			}
		}
		return audit.MarshalCheckpoints(env.Stdout, []audit.Checkpoint{*cp})
	case "checkpoints":
		cps, err := db.Checkpoints(ctx)
		if err != nil {
			return err
		}
		return audit.MarshalCheckpoints(env.Stdout, cps)
	}
	return usage
}

// auditExportHelp is the help text of haven serve --audit-export.
const auditExportHelp = "append every signed audit checkpoint (every 2s while the log grows) to FILE as JSON Lines, " +
	"or to standard output with -, for a place the database host cannot rewrite (env HAVEN_AUDIT_EXPORT)"
