package cert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"
)

// TestNegativeSerialDSC checks that a DSC with a negative serial number,
// which crypto/x509 refuses, still yields its key, validity and EKUs.
func TestNegativeSerialDSC(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	nb := time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x55), Subject: pkix.Name{Country: []string{"XK"}, CommonName: "DSC"},
		NotBefore: nb, NotAfter: nb.AddDate(2, 0, 0), UnknownExtKeyUsage: []asn1.ObjectIdentifier{OIDVaccination},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(der, []byte{0x02, 0x01, 0x55})
	if i < 0 {
		t.Fatal("serial not found")
	}
	der[i+2] = 0xd5 // now negative
	if _, err := x509.ParseCertificate(der); err == nil {
		t.Skip("crypto/x509 accepts negative serials here; nothing to test")
	}
	cs, err := ParseCertificates(der)
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if !k.PublicKey.Equal(c.PublicKey) || !c.NotBefore.Equal(nb) || c.SerialNumber.Sign() >= 0 {
		t.Errorf("parsed %+v", c)
	}
	if len(c.UnknownExtKeyUsage) != 1 || !c.UnknownExtKeyUsage[0].Equal(OIDVaccination) || c.Subject.Country[0] != "XK" {
		t.Errorf("EKU %v subject %v", c.UnknownExtKeyUsage, c.Subject)
	}
	if _, err := ParseCertificates([]byte("garbage that is not a certificate")); err == nil {
		t.Error("garbage accepted")
	}
}
