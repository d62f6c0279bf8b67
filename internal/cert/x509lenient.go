package cert

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"time"
)

// parseDER parses a DER certificate with crypto/x509 and, if that refuses
// it, with a lenient reader that takes only what verification needs (public
// key, validity, subject, extended key usages). Deployed DSCs exist that
// crypto/x509 rejects, notably ones with negative serial numbers (refused
// since Go 1.23); their trust comes from the trust list, not from their
// encoding. The certificate's own signature is never checked either way.
func parseDER(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil {
		return c, nil
	}
	if lc, lerr := parseLenient(der); lerr == nil {
		return lc, nil
	}
	return nil, err
}

type lenientTBS struct {
	Version    int `asn1:"optional,explicit,default:0,tag:0"`
	Serial     *big.Int
	SigAlg     asn1.RawValue
	Issuer     asn1.RawValue
	Validity   struct{ NotBefore, NotAfter time.Time }
	Subject    asn1.RawValue
	SPKI       asn1.RawValue
	IssuerUID  asn1.BitString   `asn1:"optional,tag:1"`
	SubjectUID asn1.BitString   `asn1:"optional,tag:2"`
	Extensions []pkix.Extension `asn1:"optional,explicit,tag:3"`
}

type lenientCert struct {
	TBS    lenientTBS
	SigAlg asn1.RawValue
	Sig    asn1.BitString
}

var oidEKU = asn1.ObjectIdentifier{2, 5, 29, 37}

func parseLenient(der []byte) (*x509.Certificate, error) {
	var lc lenientCert
	rest, err := asn1.Unmarshal(der, &lc)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("x509: trailing data")
	}
	pub, err := x509.ParsePKIXPublicKey(lc.TBS.SPKI.FullBytes)
	if err != nil {
		return nil, err
	}
	c := &x509.Certificate{
		Raw:          der,
		SerialNumber: lc.TBS.Serial,
		NotBefore:    lc.TBS.Validity.NotBefore,
		NotAfter:     lc.TBS.Validity.NotAfter,
		PublicKey:    pub,
		Version:      lc.TBS.Version + 1,
	}
	var subj pkix.RDNSequence
	if _, err := asn1.Unmarshal(lc.TBS.Subject.FullBytes, &subj); err == nil {
		c.Subject.FillFromRDNSequence(&subj)
	}
	for _, e := range lc.TBS.Extensions {
		if !e.Id.Equal(oidEKU) {
			continue
		}
		var oids []asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(e.Value, &oids); err != nil {
			return nil, err
		}
		c.UnknownExtKeyUsage = oids
	}
	return c, nil
}
