package cert_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/registry"
)

// nodeSecrets is a SecretStore in memory, standing in for the vault-backed
// store: a key that reaches the keys folder in the clear did not go through
// it.
type nodeSecrets map[string][]byte

func (s nodeSecrets) ReadSecret(name string) ([]byte, error) {
	b, ok := s[name]
	if !ok {
		return nil, registry.FieldErrorf(registry.ENOTFOUND, name, "no such secret")
	}
	return bytes.Clone(b), nil
}

func (s nodeSecrets) WriteSecret(name string, data []byte) error {
	s[name] = bytes.Clone(data)
	return nil
}

// nodeCentral initialises a central's keys with secrets kept in memory.
func nodeCentral(tb testing.TB, opts cert.KeyOptions) (string, nodeSecrets) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "central")
	sec := nodeSecrets{}
	if opts.Country == "" {
		opts.Country = "KR"
	}
	if opts.Organization == "" {
		opts.Organization = "Haven Test"
	}
	if opts.Now.IsZero() {
		opts.Now = t0
	}
	if _, err := cert.InitKeys(dir, sec, opts); err != nil {
		tb.Fatal(err)
	}
	return dir, sec
}

// nodeFiles lists the node-*.pem files in dir.
func nodeFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "node-*.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	return names
}

func nodeIssue(tb testing.TB, k *cert.Keys, at time.Time) string {
	tb.Helper()
	is := mustIssuer(tb, k)
	c, err := is.IssueCertificate(&cert.IssueRequest{Person: cert.Person{CardCode: "7KQM-X4TD-9HCA"}, Vaccination: vaccination()}, at)
	if err != nil {
		tb.Fatal(err)
	}
	return c.HC1
}

// TestNodeDSCRoundTrip follows ADR 0006: the node makes a key and CSR, the
// central signs a DSC with its CSCA, the node installs it and issues a
// certificate offline, and the central's ordinary trust list verifies it
// until the node is distrusted.
func TestNodeDSCRoundTrip(t *testing.T) {
	centralDir, centralSec := nodeCentral(t, cert.KeyOptions{})

	key, csr, err := cert.NodeCSR("Yanji 2", "KR")
	if err != nil {
		t.Fatal(err)
	}
	dsc, csca, err := cert.SignNodeDSC(centralDir, centralSec, csr, "Yanji 2", t0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if dsc.Subject.CommonName != "Haven node Yanji 2" || fmt.Sprint(dsc.Subject.Country, dsc.Subject.Organization) != "[KR] [Haven Test]" {
		t.Errorf("subject %v", dsc.Subject)
	}
	if len(dsc.UnknownExtKeyUsage) != 3 || dsc.KeyUsage != x509.KeyUsageDigitalSignature || dsc.IsCA {
		t.Errorf("EKUs %v key usage %v CA %v", dsc.UnknownExtKeyUsage, dsc.KeyUsage, dsc.IsCA)
	}
	if !bytes.Equal(dsc.AuthorityKeyId, csca.SubjectKeyId) || len(dsc.SubjectKeyId) == 0 {
		t.Errorf("AKI %x SKI %x, CSCA SKI %x", dsc.AuthorityKeyId, dsc.SubjectKeyId, csca.SubjectKeyId)
	}
	if !dsc.NotBefore.Equal(t0) || !dsc.NotAfter.Equal(t0.Add(cert.NodeDSCMaxValidity)) {
		t.Errorf("validity %v to %v", dsc.NotBefore, dsc.NotAfter)
	}
	if err := dsc.CheckSignatureFrom(csca); err != nil {
		t.Errorf("DSC not signed by the CSCA: %v", err)
	}
	want := filepath.Join(centralDir, fmt.Sprintf("node-%x.pem", cert.KID(dsc)))
	if got := nodeFiles(t, centralDir); len(got) != 1 || got[0] != want {
		t.Errorf("node files %v, want %s", got, want)
	}

	nodeDir := filepath.Join(t.TempDir(), "node")
	nodeSec := nodeSecrets{}
	if err := cert.InstallNodeKeys(nodeDir, nodeSec, key, dsc, csca); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cert.FileDSCKey, cert.FileCSCAKey} {
		if _, err := os.Stat(filepath.Join(nodeDir, f)); !os.IsNotExist(err) {
			t.Errorf("%s in the node's keys folder: %v", f, err)
		}
	}
	if _, ok := nodeSec[cert.FileCSCAKey]; ok || nodeSec[cert.FileDSCKey] == nil {
		t.Errorf("node secrets hold %v, want only %s", nodeSec, cert.FileDSCKey)
	}
	node, err := cert.LoadKeys(nodeDir, nodeSec)
	if err != nil {
		t.Fatal(err)
	}
	if !node.DSC.Equal(dsc) || !node.CSCA.Equal(csca) || len(node.Retired)+len(node.Nodes) != 0 {
		t.Fatalf("node keys: DSC %v CSCA %v retired %d nodes %d", node.DSC.Subject, node.CSCA.Subject, len(node.Retired), len(node.Nodes))
	}
	hc1 := nodeIssue(t, node, t0.Add(time.Minute))

	central, err := cert.LoadKeys(centralDir, centralSec)
	if err != nil {
		t.Fatal(err)
	}
	if len(central.Nodes) != 1 || !central.Nodes[0].Equal(dsc) {
		t.Fatalf("central Nodes = %d certificates", len(central.Nodes))
	}
	at := cert.VerifyOptions{At: t0.Add(time.Hour)}
	res := cert.NewVerifier(central.TrustList()).Verify(hc1, at)
	if !res.Valid {
		t.Fatalf("node certificate does not verify with the central's trust list: %s: %s", res.Failed, res.Reason)
	}
	for _, step := range cert.HCERTSteps {
		if ok, ran := res.Steps.Get(step); !ran || !ok {
			t.Errorf("step %s ran=%v ok=%v", step, ran, ok)
		}
	}
	if !bytes.Equal(res.KID, cert.KID(dsc)) || res.Issuer != "KR" {
		t.Errorf("kid %x iss %q", res.KID, res.Issuer)
	}
	if res := cert.NewVerifier(cert.NewTrustList(central.DSC)).Verify(hc1, at); res.Valid {
		t.Error("node certificate verifies with the central's DSC alone")
	}

	// Renewing the central's own keys keeps the node trusted.
	renewed, err := cert.InitKeys(centralDir, centralSec, cert.KeyOptions{Country: "KR", Now: t0.Add(time.Minute), Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(renewed.Nodes) != 1 || !cert.NewVerifier(renewed.TrustList()).Verify(hc1, at).Valid {
		t.Errorf("after InitKeys with Force: %d node DSCs", len(renewed.Nodes))
	}

	if err := cert.DistrustNode(centralDir, cert.KID(dsc)); err != nil {
		t.Fatal(err)
	}
	central, err = cert.LoadKeys(centralDir, centralSec)
	if err != nil {
		t.Fatal(err)
	}
	if len(central.Nodes) != 0 {
		t.Errorf("after DistrustNode: %d node DSCs", len(central.Nodes))
	}
	if res := cert.NewVerifier(central.TrustList()).Verify(hc1, at); res.Valid || res.Failed != cert.StepSignature {
		t.Errorf("distrusted node certificate: valid %v failed %q", res.Valid, res.Failed)
	}
	if err := cert.DistrustNode(centralDir, cert.KID(dsc)); registry.ErrorCode(err) != registry.ENOTFOUND || registry.ErrorField(err) != "kid" {
		t.Errorf("second DistrustNode: %v", err)
	}
	if err := cert.DistrustNode(centralDir, []byte("short")); registry.ErrorCode(err) != registry.EINVALID {
		t.Errorf("DistrustNode with a bad kid: %v", err)
	}
}

// nodeCSRFor makes a CSR signed by key.
func nodeCSRFor(tb testing.TB, key crypto.Signer) []byte {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "Haven node x"}}, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func TestSignNodeDSCRejects(t *testing.T) {
	centralDir, centralSec := nodeCentral(t, cert.KeyOptions{})
	otherDir, otherSec := nodeCentral(t, cert.KeyOptions{})
	_, good, err := cert.NodeCSR("a", "")
	if err != nil {
		t.Fatal(err)
	}
	badSig := bytes.Clone(good)
	badSig[len(badSig)-1] ^= 0x01
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		secrets cert.SecretStore
		csr     []byte
		label   string
		now     time.Time
		field   string
		code    string
	}{
		{"fail/bad-signature", centralDir, centralSec, badSig, "a", t0, "csr", registry.EINVALID},
		{"fail/p384-key", centralDir, centralSec, nodeCSRFor(t, p384), "a", t0, "csr", registry.EUNSUPPORTED},
		{"fail/rsa-key", centralDir, centralSec, nodeCSRFor(t, rsaKey), "a", t0, "csr", registry.EUNSUPPORTED},
		{"fail/ed25519-key", centralDir, centralSec, nodeCSRFor(t, edKey), "a", t0, "csr", registry.EUNSUPPORTED},
		{"fail/not-a-csr", centralDir, centralSec, []byte("not a csr"), "a", t0, "csr", registry.EMALFORMED},
		{"fail/no-label", centralDir, centralSec, good, " ", t0, "label", registry.EINVALID},
		{"fail/control-in-label", centralDir, centralSec, good, "a\nb", t0, "label", registry.EINVALID},
		{"fail/no-time", centralDir, centralSec, good, "a", time.Time{}, "now", registry.EINVALID},
		{"fail/no-csca-key", centralDir, nodeSecrets{}, good, "a", t0, "csca", registry.ENOTFOUND},
		{"fail/no-csca-certificate", t.TempDir(), centralSec, good, "a", t0, "csca", registry.ENOTFOUND},
		{"fail/another-csca-key", centralDir, otherSec, good, "a", t0, "csca", registry.EINVALID},
		{"fail/csca-expired", centralDir, centralSec, good, "a", t0.Add(10*365*24*time.Hour + time.Second), "csca", registry.EINVALID},
		{"fail/csca-not-yet-valid", centralDir, centralSec, good, "a", t0.Add(-time.Hour), "csca", registry.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsc, csca, err := cert.SignNodeDSC(tt.dir, tt.secrets, tt.csr, tt.label, tt.now, 0)
			if err == nil {
				t.Fatalf("signed %v", dsc.Subject)
			}
			if dsc != nil || csca != nil {
				t.Error("certificates returned with an error")
			}
			if registry.ErrorField(err) != tt.field || registry.ErrorCode(err) != tt.code {
				t.Errorf("err %v: field %q code %q, want %q %q", err, registry.ErrorField(err), registry.ErrorCode(err), tt.field, tt.code)
			}
		})
	}
	if n := len(nodeFiles(t, centralDir)) + len(nodeFiles(t, otherDir)); n != 0 {
		t.Errorf("%d node DSCs stored by refused requests", n)
	}
}

// TestSignNodeDSCValidity checks that a node DSC lasts at most a year and
// never outlives the CSCA.
func TestSignNodeDSCValidity(t *testing.T) {
	const day = 24 * time.Hour
	centralDir, centralSec := nodeCentral(t, cert.KeyOptions{CSCAValidity: 400 * day})
	_, csr, err := cert.NodeCSR("a", "KR")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		now      time.Time
		validity time.Duration
		want     time.Duration
	}{
		{"ok/default-is-a-year", t0, 0, 365 * day},
		{"ok/shorter-as-asked", t0, 90 * day, 90 * day},
		{"ok/capped-at-a-year", t0, 2 * 365 * day, 365 * day},
		{"ok/capped-by-the-csca", t0.Add(300 * day), 365 * day, 100 * day},
		{"ok/now-truncated-to-the-second", t0.Add(time.Second / 2), 90 * day, 90 * day},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsc, csca, err := cert.SignNodeDSC(centralDir, centralSec, csr, "a", tt.now, tt.validity)
			if err != nil {
				t.Fatal(err)
			}
			// Backdated for a node whose clock runs behind, never before
			// the CSCA; the validity counts from now.
			start := tt.now.Truncate(time.Second)
			notBefore := start.Add(-cert.NodeClockAllowance)
			if notBefore.Before(csca.NotBefore) {
				notBefore = csca.NotBefore
			}
			if !dsc.NotBefore.Equal(notBefore) || dsc.NotAfter.Sub(start) != tt.want {
				t.Errorf("valid %v to %v (%v from now), want %v from %v, backdated to %v", dsc.NotBefore, dsc.NotAfter, dsc.NotAfter.Sub(start), tt.want, start, notBefore)
			}
			if dsc.NotAfter.After(csca.NotAfter) {
				t.Errorf("DSC outlives the CSCA: %v > %v", dsc.NotAfter, csca.NotAfter)
			}
		})
	}
	keys, err := cert.LoadKeys(centralDir, centralSec)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Nodes) != len(tests) || keys.TrustList().Len() != 1+len(tests) {
		t.Errorf("central trusts %d node DSCs, %d entries; want %d", len(keys.Nodes), keys.TrustList().Len(), len(tests))
	}
}

func TestInstallNodeKeys(t *testing.T) {
	centralDir, centralSec := nodeCentral(t, cert.KeyOptions{})
	otherDir, otherSec := nodeCentral(t, cert.KeyOptions{})
	sign := func(dir string, sec cert.SecretStore) (*ecdsa.PrivateKey, *x509.Certificate, *x509.Certificate) {
		key, csr, err := cert.NodeCSR("a", "")
		if err != nil {
			t.Fatal(err)
		}
		dsc, csca, err := cert.SignNodeDSC(dir, sec, csr, "a", t0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return key, dsc, csca
	}
	key, dsc, csca := sign(centralDir, centralSec)
	otherKey, otherDSC, otherCSCA := sign(otherDir, otherSec)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		key             *ecdsa.PrivateKey
		dsc, csca       *x509.Certificate
		field, wantCode string
	}{
		{"fail/key-of-another-dsc", otherKey, dsc, csca, "key", registry.EINVALID},
		{"fail/p384-key", p384, dsc, csca, "key", registry.EUNSUPPORTED},
		{"fail/dsc-of-another-csca", otherKey, otherDSC, csca, "dsc", registry.EINVALID},
		{"fail/csca-did-not-issue", key, dsc, otherCSCA, "dsc", registry.EINVALID},
		{"fail/no-key", nil, dsc, csca, "key", registry.EINVALID},
		{"fail/no-dsc", key, nil, csca, "dsc", registry.EINVALID},
		{"fail/no-csca", key, dsc, nil, "csca", registry.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			sec := nodeSecrets{}
			err := cert.InstallNodeKeys(dir, sec, tt.key, tt.dsc, tt.csca)
			if registry.ErrorField(err) != tt.field || registry.ErrorCode(err) != tt.wantCode {
				t.Errorf("err %v, want field %q code %q", err, tt.field, tt.wantCode)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) || len(sec) != 0 {
				t.Errorf("refused install wrote something: %v, %d secrets", err, len(sec))
			}
		})
	}

	t.Run("ok/renewal-retires-the-old-dsc", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "node")
		sec := nodeSecrets{}
		if err := cert.InstallNodeKeys(dir, sec, key, dsc, csca); err != nil {
			t.Fatal(err)
		}
		old, err := cert.LoadKeys(dir, sec)
		if err != nil {
			t.Fatal(err)
		}
		hc1 := nodeIssue(t, old, t0.Add(time.Minute))
		key2, dsc2, _ := sign(centralDir, centralSec)
		if err := cert.InstallNodeKeys(dir, sec, key2, dsc2, csca); err != nil {
			t.Fatal(err)
		}
		// Installing the same DSC again retires nothing.
		if err := cert.InstallNodeKeys(dir, sec, key2, dsc2, csca); err != nil {
			t.Fatal(err)
		}
		k, err := cert.LoadKeys(dir, sec)
		if err != nil {
			t.Fatal(err)
		}
		if !k.DSC.Equal(dsc2) || len(k.Retired) != 1 || !k.Retired[0].Equal(dsc) {
			t.Fatalf("after renewal: DSC %x, %d retired", cert.KID(k.DSC), len(k.Retired))
		}
		if res := cert.NewVerifier(k.TrustList()).Verify(hc1, cert.VerifyOptions{At: t0.Add(time.Hour)}); !res.Valid {
			t.Errorf("certificate of the old DSC: %s: %s", res.Failed, res.Reason)
		}
	})
}

func TestNodeCSR(t *testing.T) {
	tests := []struct {
		name, label, country string
		field                string
	}{
		{"ok/with-country", "Yanji 2", "KR", ""},
		{"ok/without-country", "Yanji 2", "", ""},
		{"fail/bad-country", "Yanji 2", "Korea", "country"},
		{"fail/no-label", "", "KR", "label"},
		{"fail/label-too-long", string(bytes.Repeat([]byte("x"), 54)), "KR", "label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, der, err := cert.NodeCSR(tt.label, tt.country)
			if tt.field != "" {
				if registry.ErrorField(err) != tt.field || key != nil || der != nil {
					t.Fatalf("err %v, want field %q", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Error(err)
			}
			if csr.Subject.CommonName != "Haven node "+tt.label || len(csr.Subject.Country) != len(tt.country)/2 {
				t.Errorf("subject %v", csr.Subject)
			}
			if key.Curve != elliptic.P256() || !key.PublicKey.Equal(csr.PublicKey) {
				t.Error("CSR key is not the P-256 key returned")
			}
		})
	}
}
