package cert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/registry"
)

// SecretStore keeps the private keys. DirStore writes plain PEM files with
// mode 0600; a vault-backed store can wrap or replace it to encrypt them at
// rest. Names are simple file names such as "dsc.key.pem".
type SecretStore interface {
	// ReadSecret returns the secret called name. Returns ENOTFOUND if there
	// is none.
	ReadSecret(name string) ([]byte, error)
	// WriteSecret stores data under name, replacing any previous value.
	WriteSecret(name string, data []byte) error
}

// DirStore is a SecretStore (and certificate store) backed by one directory.
type DirStore string

// ReadSecret reads the file name in the directory.
func (d DirStore) ReadSecret(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(string(d), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, name, "no such key file; run haven keys init")
	}
	if err != nil {
		return nil, &registry.Error{Code: registry.EINTERNAL, Field: name, Message: "cannot read key file", Err: err}
	}
	return b, nil
}

// WriteSecret writes the file name with mode 0600, creating the directory
// with mode 0700 if needed. The file is written to a temporary name and
// renamed, so a crash never leaves half a key.
func (d DirStore) WriteSecret(name string, data []byte) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return &registry.Error{Code: registry.EINTERNAL, Field: name, Message: "cannot create keys folder", Err: err}
	}
	tmp, err := os.CreateTemp(string(d), "."+name+".tmp*")
	if err != nil {
		return &registry.Error{Code: registry.EINTERNAL, Field: name, Message: "cannot write key file", Err: err}
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(string(d), name))
	}
	if err == nil {
		err = syncDir(string(d))
	}
	if err != nil {
		return &registry.Error{Code: registry.EINTERNAL, Field: name, Message: "cannot write key file", Err: err}
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Key file names inside the keys folder.
const (
	FileCSCAKey  = "csca.key.pem"
	FileCSCACert = "csca.pem"
	FileDSCKey   = "dsc.key.pem"
	FileDSCCert  = "dsc.pem"
)

// Keys is Haven's issuing key material: a local CSCA, a document signer
// certificate issued by it, and the DSC's private key behind crypto.Signer.
// The CSCA private key is only needed to sign a new DSC and is not loaded.
type Keys struct {
	Signer crypto.Signer
	DSC    *x509.Certificate
	CSCA   *x509.Certificate
	// Retired holds earlier DSCs replaced by InitKeys with Force. Their
	// private keys are gone, but certificates they signed stay verifiable
	// until they expire, so they stay in the trust list.
	Retired []*x509.Certificate
	// Nodes holds the DSCs this CSCA signed for offline clinic nodes
	// (SignNodeDSC), which stay trusted until DistrustNode removes them.
	Nodes []*x509.Certificate
}

// TrustList returns a trust list holding this DSC, the retired DSCs and the
// node DSCs.
func (k *Keys) TrustList() *TrustList {
	certs := append([]*x509.Certificate{k.DSC}, k.Retired...)
	return NewTrustList(append(certs, k.Nodes...)...)
}

// retiredPrefix starts the file name of a retired DSC: retired-<kid hex>.pem.
const retiredPrefix = "retired-"

// KeyOptions controls InitKeys.
type KeyOptions struct {
	// Country is the ISO 3166-1 alpha-2 code put in both subjects (required).
	Country string
	// Organization names the operator (default "Haven").
	Organization string
	// Now is the start of validity (required: time is an input).
	Now time.Time
	// CSCAValidity and DSCValidity default to 10 and 2 years.
	CSCAValidity, DSCValidity time.Duration
	// Rand defaults to crypto/rand.
	Rand io.Reader
	// Force replaces existing keys. The old DSC is kept as a retired
	// certificate (for the trust list); the old private keys are overwritten.
	Force bool
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// InitKeys creates a P-256 CSCA and a P-256 DSC signed by it, with the DSC
// carrying the HCERT extended key usages for test, vaccination and recovery
// (HCERT spec A.4), and stores the private keys in secrets and the
// certificates (PEM) in dir. It refuses to replace existing keys with
// ECONFLICT unless opts.Force is set.
func InitKeys(dir string, secrets SecretStore, opts KeyOptions) (*Keys, error) {
	if !countryRE.MatchString(opts.Country) {
		return nil, registry.FieldErrorf(registry.EINVALID, "country", "country must be an ISO 3166-1 alpha-2 code such as \"KR\"")
	}
	if opts.Now.IsZero() {
		return nil, registry.FieldErrorf(registry.EINVALID, "now", "no start time given")
	}
	if old, err := os.ReadFile(filepath.Join(dir, FileDSCCert)); err == nil {
		if !opts.Force {
			return nil, registry.FieldErrorf(registry.ECONFLICT, FileDSCCert, "keys already exist in %s", dir)
		}
		cs, err := ParseCertificates(old)
		if err != nil {
			return nil, &registry.Error{Code: registry.EMALFORMED, Field: FileDSCCert, Message: "cannot read the DSC being replaced", Err: err}
		}
		if err := DirStore(dir).WriteSecret(fmt.Sprintf("%s%x.pem", retiredPrefix, KID(cs[0])), old); err != nil {
			return nil, err
		}
	}
	if opts.Organization == "" {
		opts.Organization = "Haven"
	}
	if opts.CSCAValidity == 0 {
		opts.CSCAValidity = 10 * 365 * 24 * time.Hour
	}
	if opts.DSCValidity == 0 {
		opts.DSCValidity = 2 * 365 * 24 * time.Hour
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	start := opts.Now.UTC().Truncate(time.Second)

	cscaKey, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "generating CSCA key: %v", err)
	}
	dscKey, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "generating DSC key: %v", err)
	}
	cscaSKI := subjectKeyID(&cscaKey.PublicKey)
	cscaTmpl := &x509.Certificate{
		SerialNumber:          randSerial(rnd),
		Subject:               pkix.Name{Country: []string{opts.Country}, Organization: []string{opts.Organization}, CommonName: opts.Organization + " CSCA"},
		NotBefore:             start,
		NotAfter:              start.Add(opts.CSCAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          cscaSKI,
	}
	cscaDER, err := x509.CreateCertificate(rnd, cscaTmpl, cscaTmpl, &cscaKey.PublicKey, cscaKey)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "creating CSCA certificate: %v", err)
	}
	csca, err := x509.ParseCertificate(cscaDER)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "parsing CSCA certificate: %v", err)
	}
	dscTmpl := &x509.Certificate{
		SerialNumber:          randSerial(rnd),
		Subject:               pkix.Name{Country: []string{opts.Country}, Organization: []string{opts.Organization}, CommonName: opts.Organization + " DSC"},
		NotBefore:             start,
		NotAfter:              start.Add(opts.DSCValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDTest, OIDVaccination, OIDRecovery},
		SubjectKeyId:          subjectKeyID(&dscKey.PublicKey),
		AuthorityKeyId:        cscaSKI,
		BasicConstraintsValid: true,
	}
	if dscTmpl.NotAfter.After(csca.NotAfter) {
		dscTmpl.NotAfter = csca.NotAfter
	}
	dscDER, err := x509.CreateCertificate(rnd, dscTmpl, csca, &dscKey.PublicKey, cscaKey)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "creating DSC certificate: %v", err)
	}
	dsc, err := x509.ParseCertificate(dscDER)
	if err != nil {
		return nil, registry.Errorf(registry.EINTERNAL, "parsing DSC certificate: %v", err)
	}
	for _, f := range []struct {
		name string
		key  *ecdsa.PrivateKey
	}{{FileCSCAKey, cscaKey}, {FileDSCKey, dscKey}} {
		der, err := x509.MarshalPKCS8PrivateKey(f.key)
		if err != nil {
			return nil, registry.Errorf(registry.EINTERNAL, "encoding %s: %v", f.name, err)
		}
		if err := secrets.WriteSecret(f.name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
	}
	certs := DirStore(dir)
	if err := certs.WriteSecret(FileCSCACert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cscaDER})); err != nil {
		return nil, err
	}
	if err := certs.WriteSecret(FileDSCCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dscDER})); err != nil {
		return nil, err
	}
	retired, err := loadRetired(dir)
	if err != nil {
		return nil, err
	}
	nodes, err := NodeDSCs(dir)
	if err != nil {
		return nil, err
	}
	return &Keys{Signer: dscKey, DSC: dsc, CSCA: csca, Retired: retired, Nodes: nodes}, nil
}

// loadRetired reads the retired DSCs in dir, oldest file name first.
func loadRetired(dir string) ([]*x509.Certificate, error) {
	return loadCertFiles(dir, retiredPrefix, "retired DSC")
}

// loadCertFiles reads every certificate in the files <prefix>*.pem of dir,
// in file name order; what names them in errors. A missing dir holds none.
func loadCertFiles(dir, prefix, what string) ([]*x509.Certificate, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &registry.Error{Code: registry.EINTERNAL, Field: dir, Message: "cannot list the keys folder", Err: err}
	}
	var out []*x509.Certificate
	for _, e := range ents { // sorted by name
		if e.IsDir() || !strings.HasPrefix(e.Name(), prefix) || !strings.HasSuffix(e.Name(), ".pem") {
			continue
		}
		n := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, &registry.Error{Code: registry.EINTERNAL, Field: filepath.Base(n), Message: "cannot read " + what, Err: err}
		}
		cs, err := ParseCertificates(b)
		if err != nil {
			return nil, &registry.Error{Code: registry.EMALFORMED, Field: filepath.Base(n), Message: registry.ErrorMessage(err), Err: err}
		}
		out = append(out, cs...)
	}
	return out, nil
}

// LoadKeys reads the key material written by InitKeys (or, on an offline
// node, by InstallNodeKeys): certificates from dir, the DSC private key from
// secrets. It checks that the private key matches the DSC and that the DSC
// was issued by the CSCA. It never reads the CSCA private key. Retired and
// node DSCs in dir are loaded too.
func LoadKeys(dir string, secrets SecretStore) (*Keys, error) {
	certs := DirStore(dir)
	load := func(name string) (*x509.Certificate, error) {
		b, err := certs.ReadSecret(name)
		if err != nil {
			return nil, err
		}
		cs, err := ParseCertificates(b)
		if err != nil {
			return nil, &registry.Error{Code: registry.EMALFORMED, Field: name, Message: registry.ErrorMessage(err), Err: err}
		}
		return cs[0], nil
	}
	dsc, err := load(FileDSCCert)
	if err != nil {
		return nil, err
	}
	csca, err := load(FileCSCACert)
	if err != nil {
		return nil, err
	}
	if err := dsc.CheckSignatureFrom(csca); err != nil {
		return nil, registry.FieldErrorf(registry.EINVALID, FileDSCCert, "DSC is not signed by the CSCA: %v", err)
	}
	b, err := secrets.ReadSecret(FileDSCKey)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, registry.FieldErrorf(registry.EMALFORMED, FileDSCKey, "not a PEM file")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, registry.FieldErrorf(registry.EMALFORMED, FileDSCKey, "not a PKCS #8 private key")
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, registry.FieldErrorf(registry.EUNSUPPORTED, FileDSCKey, "key type %T cannot sign", k)
	}
	if !publicKeysEqual(signer.Public(), dsc.PublicKey) {
		return nil, registry.FieldErrorf(registry.EINVALID, FileDSCKey, "private key does not match the DSC")
	}
	retired, err := loadRetired(dir)
	if err != nil {
		return nil, err
	}
	nodes, err := NodeDSCs(dir)
	if err != nil {
		return nil, err
	}
	return &Keys{Signer: signer, DSC: dsc, CSCA: csca, Retired: retired, Nodes: nodes}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// subjectKeyID is the RFC 5280 method-1 key identifier: SHA-1 of the
// subject public key bits.
func subjectKeyID(pub *ecdsa.PublicKey) []byte {
	b, err := pub.Bytes()
	if err != nil {
		return nil
	}
	sum := sha1.Sum(b)
	return sum[:]
}

func randSerial(r io.Reader) *big.Int {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	n, err := rand.Int(r, limit)
	if err != nil {
		return big.NewInt(1)
	}
	return n.Add(n, big.NewInt(1))
}
