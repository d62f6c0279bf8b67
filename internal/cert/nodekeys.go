package cert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/haven-registry/haven/internal/registry"
)

// Offline clinic nodes (ADR 0006, "Certificates offline") sign certificates
// with their own document signer certificate, issued by the central's CSCA so
// that the central's ordinary trust list verifies them:
//
//	node:    key, csr := NodeCSR(label, country)        // key stays on the node
//	central: dsc, csca := SignNodeDSC(dir, secrets, csr, label, now, validity)
//	node:    InstallNodeKeys(dir, secrets, key, dsc, csca)
//
// The central keeps each node DSC in its keys folder as node-<kid hex>.pem;
// LoadKeys puts them in Keys.Nodes and Keys.TrustList, until DistrustNode
// removes one.

// NodeDSCMaxValidity is the longest validity SignNodeDSC gives a node DSC.
const NodeDSCMaxValidity = 365 * 24 * time.Hour

// nodePrefix starts the file name of a node DSC: node-<kid hex>.pem.
const nodePrefix = "node-"

// nodeCNPrefix starts the common name of every node DSC.
const nodeCNPrefix = "Haven node "

// nodeFile is the file name of the node DSC with key identifier kid.
func nodeFile(kid []byte) string {
	return fmt.Sprintf("%s%x.pem", nodePrefix, kid)
}

// nodeCommonName checks label and returns "Haven node <label>". The label
// must be non-empty printable text without control characters, short enough
// for the 64-character limit of an X.509 common name.
func nodeCommonName(label string) (string, error) {
	cn := nodeCNPrefix + label
	switch {
	case strings.TrimSpace(label) == "":
		return "", registry.FieldErrorf(registry.EINVALID, "label", "no node label given")
	case !utf8.ValidString(label) || strings.IndexFunc(label, unicode.IsControl) >= 0:
		return "", registry.FieldErrorf(registry.EINVALID, "label", "node label must be printable text")
	case utf8.RuneCountInString(cn) > 64:
		return "", registry.FieldErrorf(registry.EINVALID, "label", "node label exceeds %d characters", 64-utf8.RuneCountInString(nodeCNPrefix))
	}
	return cn, nil
}

// NodeCSR creates, on an offline node, a fresh P-256 DSC key and a DER
// PKCS #10 certificate signing request for it, signed by that key, with
// subject CN "Haven node <label>" and C=country when country is not empty.
// The caller keeps the key (InstallNodeKeys stores it once the central has
// signed the request) and sends the request to the central (SignNodeDSC).
// Errors are *registry.Error naming "label" or "country".
func NodeCSR(label, country string) (*ecdsa.PrivateKey, []byte, error) {
	cn, err := nodeCommonName(label)
	if err != nil {
		return nil, nil, err
	}
	subject := pkix.Name{CommonName: cn}
	if country != "" {
		if !countryRE.MatchString(country) {
			return nil, nil, registry.FieldErrorf(registry.EINVALID, "country", "country must be an ISO 3166-1 alpha-2 code such as \"KR\"")
		}
		subject.Country = []string{country}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, registry.Errorf(registry.EINTERNAL, "generating node DSC key: %v", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, SignatureAlgorithm: x509.ECDSAWithSHA256}, key)
	if err != nil {
		return nil, nil, registry.Errorf(registry.EINTERNAL, "creating node CSR: %v", err)
	}
	return key, der, nil
}

// NodeClockAllowance is how far a node's DSC is backdated, for a node whose
// clock runs behind the central's.
const NodeClockAllowance = 72 * time.Hour

// SignNodeDSC signs, on the central, a node's DSC with the CSCA. csrDER is a
// DER PKCS #10 request whose signature must verify and whose key must be
// P-256; its subject is ignored. The CSCA certificate is read from dir
// (FileCSCACert) and its private key from secrets (FileCSCAKey); the key is
// used for this one signature and not kept. The DSC is made as InitKeys
// makes the central's own: HCERT test, vaccination and recovery key usages,
// digital signature key usage, subject and authority key identifiers, with
// subject C and O copied from the CSCA and CN "Haven node <label>". It is
// valid from NodeClockAllowance before now (truncated to the second; never
// before the CSCA) until now plus validity, at most
// NodeDSCMaxValidity (also when validity <= 0) and never past the CSCA.
//
// The DSC is stored in dir as node-<kid hex>.pem, so LoadKeys trusts it
// (Keys.Nodes, Keys.TrustList) until DistrustNode. SignNodeDSC returns the
// DSC and the CSCA, both for the node's InstallNodeKeys. Errors are
// *registry.Error whose Field names the step: "label", "now", "csr" (bad
// request), "csca" (CSCA missing, unusable or expired) or the file written.
func SignNodeDSC(dir string, secrets SecretStore, csrDER []byte, label string, now time.Time, validity time.Duration) (dsc, csca *x509.Certificate, err error) {
	cn, err := nodeCommonName(label)
	if err != nil {
		return nil, nil, err
	}
	if now.IsZero() {
		return nil, nil, registry.FieldErrorf(registry.EINVALID, "now", "no start time given")
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, nil, &registry.Error{Code: registry.EMALFORMED, Field: "csr", Message: "not a PKCS #10 certificate signing request", Err: err}
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, nil, &registry.Error{Code: registry.EINVALID, Field: "csr", Message: "the request's signature does not verify", Err: err}
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, nil, registry.FieldErrorf(registry.EUNSUPPORTED, "csr", "the node DSC key must be ECDSA P-256, not %s", keyDesc(csr.PublicKey))
	}

	csca, err = loadCSCACert(dir)
	if err != nil {
		return nil, nil, err
	}
	start := now.UTC().Truncate(time.Second)
	switch {
	case !csca.IsCA || csca.KeyUsage&x509.KeyUsageCertSign == 0:
		return nil, nil, registry.FieldErrorf(registry.EINVALID, "csca", "the CSCA certificate may not sign certificates")
	case start.Before(csca.NotBefore):
		return nil, nil, registry.FieldErrorf(registry.EINVALID, "csca", "the CSCA is not valid before %s", csca.NotBefore.UTC().Format(time.RFC3339))
	case !start.Before(csca.NotAfter):
		return nil, nil, registry.FieldErrorf(registry.EINVALID, "csca", "the CSCA expired at %s", csca.NotAfter.UTC().Format(time.RFC3339))
	}
	if validity <= 0 || validity > NodeDSCMaxValidity {
		validity = NodeDSCMaxValidity
	}
	// A node's clock may run behind the central's by days: its DSC is
	// valid from NodeClockAllowance before now (never before the CSCA), so
	// that what it signs at once is not "issued before the DSC".
	notBefore := start.Add(-NodeClockAllowance)
	if notBefore.Before(csca.NotBefore) {
		notBefore = csca.NotBefore
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(rand.Reader),
		Subject:               pkix.Name{Country: csca.Subject.Country, Organization: csca.Subject.Organization, CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              start.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{OIDTest, OIDVaccination, OIDRecovery},
		SubjectKeyId:          subjectKeyID(pub),
		AuthorityKeyId:        csca.SubjectKeyId,
		BasicConstraintsValid: true,
	}
	if tmpl.NotAfter.After(csca.NotAfter) {
		tmpl.NotAfter = csca.NotAfter
	}

	der, err := signWithCSCA(secrets, csca, tmpl, pub)
	if err != nil {
		return nil, nil, err
	}
	dsc, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, registry.Errorf(registry.EINTERNAL, "parsing node DSC: %v", err)
	}
	if err := DirStore(dir).WriteSecret(nodeFile(KID(dsc)), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return nil, nil, err
	}
	return dsc, csca, nil
}

// loadCSCACert reads the CSCA certificate in dir; errors name "csca".
func loadCSCACert(dir string) (*x509.Certificate, error) {
	b, err := DirStore(dir).ReadSecret(FileCSCACert)
	if err != nil {
		return nil, &registry.Error{Code: registry.ErrorCode(err), Field: "csca", Message: FileCSCACert + ": " + registry.ErrorMessage(err), Err: err}
	}
	cs, err := ParseCertificates(b)
	if err != nil {
		return nil, &registry.Error{Code: registry.EMALFORMED, Field: "csca", Message: FileCSCACert + ": " + registry.ErrorMessage(err), Err: err}
	}
	return cs[0], nil
}

// signWithCSCA reads the CSCA private key from secrets, checks it matches
// csca, and signs tmpl for pub with it. The key lives only for this call:
// the buffers that held it are cleared before returning. Errors name "csca".
func signWithCSCA(secrets SecretStore, csca, tmpl *x509.Certificate, pub *ecdsa.PublicKey) ([]byte, error) {
	b, err := secrets.ReadSecret(FileCSCAKey)
	if err != nil {
		return nil, &registry.Error{Code: registry.ErrorCode(err), Field: "csca", Message: FileCSCAKey + ": " + registry.ErrorMessage(err), Err: err}
	}
	defer clear(b)
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, registry.FieldErrorf(registry.EMALFORMED, "csca", "%s is not a PEM file", FileCSCAKey)
	}
	defer clear(blk.Bytes)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, registry.FieldErrorf(registry.EMALFORMED, "csca", "%s is not a PKCS #8 private key", FileCSCAKey)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !publicKeysEqual(&key.PublicKey, csca.PublicKey) {
		return nil, registry.FieldErrorf(registry.EINVALID, "csca", "%s does not match the CSCA certificate", FileCSCAKey)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, csca, pub, key)
	if err != nil {
		return nil, &registry.Error{Code: registry.EINTERNAL, Field: "csca", Message: "cannot sign the node DSC", Err: err}
	}
	return der, nil
}

// NodeDSCs returns the node DSCs stored in dir by SignNodeDSC, in file name
// order; none if dir does not exist.
func NodeDSCs(dir string) ([]*x509.Certificate, error) {
	return loadCertFiles(dir, nodePrefix, "node DSC")
}

// DistrustNode removes from dir the node DSC whose HCERT key identifier is
// kid, so that the next LoadKeys no longer trusts it. Trust lists already
// built keep it until rebuilt. It returns ENOTFOUND (Field "kid") if dir
// holds no such node DSC.
func DistrustNode(dir string, kid []byte) error {
	if len(kid) != KIDSize {
		return registry.FieldErrorf(registry.EINVALID, "kid", "a key identifier has %d bytes, not %d", KIDSize, len(kid))
	}
	name := nodeFile(kid)
	err := os.Remove(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return registry.FieldErrorf(registry.ENOTFOUND, "kid", "no node DSC with kid %x", kid)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return &registry.Error{Code: registry.EINTERNAL, Field: name, Message: "cannot remove node DSC", Err: err}
	}
	return nil
}

// InstallNodeKeys stores, on an offline node, the DSC key made by NodeCSR
// and the DSC and CSCA returned by SignNodeDSC: the key as PKCS #8 PEM
// through secrets under FileDSCKey (as InitKeys does), the certificates in
// dir as FileDSCCert and FileCSCACert. A later LoadKeys(dir, secrets) then
// returns the node's Keys, ready for NewIssuer; the node holds no CSCA key.
// It first checks that key is P-256 and matches dsc and that csca issued
// dsc, and writes nothing otherwise (EINVALID or EUNSUPPORTED naming "key",
// "dsc" or "csca"). A different DSC already in dir is kept as a retired
// DSC (as InitKeys with Force does) unless it cannot be parsed.
func InstallNodeKeys(dir string, secrets SecretStore, key *ecdsa.PrivateKey, dsc, csca *x509.Certificate) error {
	switch {
	case key == nil:
		return registry.FieldErrorf(registry.EINVALID, "key", "no node DSC key given")
	case dsc == nil:
		return registry.FieldErrorf(registry.EINVALID, "dsc", "no node DSC given")
	case csca == nil:
		return registry.FieldErrorf(registry.EINVALID, "csca", "no CSCA certificate given")
	case key.Curve != elliptic.P256():
		return registry.FieldErrorf(registry.EUNSUPPORTED, "key", "the node DSC key must be ECDSA P-256")
	case !publicKeysEqual(&key.PublicKey, dsc.PublicKey):
		return registry.FieldErrorf(registry.EINVALID, "key", "the key does not match the DSC")
	}
	if err := dsc.CheckSignatureFrom(csca); err != nil {
		return &registry.Error{Code: registry.EINVALID, Field: "dsc", Message: "the DSC was not issued by the CSCA", Err: err}
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return registry.Errorf(registry.EINTERNAL, "encoding %s: %v", FileDSCKey, err)
	}
	defer clear(keyDER)
	certs := DirStore(dir)
	if old, err := os.ReadFile(filepath.Join(dir, FileDSCCert)); err == nil {
		if cs, err := ParseCertificates(old); err == nil && !cs[0].Equal(dsc) {
			if err := certs.WriteSecret(fmt.Sprintf("%s%x.pem", retiredPrefix, KID(cs[0])), old); err != nil {
				return err
			}
		}
	}
	// The DSC goes last: an interrupted install leaves a DSC that fails
	// LoadKeys' checks (not issued by the CSCA, or not matching the key)
	// rather than one that signs with the wrong key.
	if err := certs.WriteSecret(FileCSCACert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: csca.Raw})); err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	defer clear(keyPEM)
	if err := secrets.WriteSecret(FileDSCKey, keyPEM); err != nil {
		return err
	}
	return certs.WriteSecret(FileDSCCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dsc.Raw}))
}
