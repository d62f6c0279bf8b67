package mllp

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ServerTLS returns a server configuration with the certificate and key in
// the PEM files certFile and keyFile, and TLS 1.2 as the lowest version.
// If clientCAFile is not empty, clients must present a certificate that
// chains to one of the CA certificates in that PEM file
// (tls.RequireAndVerifyClientCert); a client without one is refused during
// the handshake. Otherwise no client certificate is asked for.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("mllp: server certificate: %w", err)
	}
	c := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if clientCAFile != "" {
		pool, err := loadPool(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("mllp: client CA: %w", err)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// ClientTLS returns a client configuration with TLS 1.2 as the lowest
// version. It verifies the server in one of three ways:
//
//   - caFile set, pinSHA256 empty: the server's chain must lead to a CA
//     certificate in the PEM file caFile, and name the host dialled.
//   - pinSHA256 set, caFile empty: the server's own certificate must hold
//     a public key whose SubjectPublicKeyInfo hashes, with SHA-256, to
//     the pin. Its chain, names and dates are not checked: the pin stands
//     for the key, as with SSH, and a new key needs a new pin.
//   - both: both checks.
//
// With neither, the system's roots are used. A pin is the hash written in
// hexadecimal (64 digits, colons allowed, as openssl prints it) or in
// standard base64 (44 characters, optionally after "sha256//", as curl's
// --pinnedpubkey takes it); several pins separated by commas allow a key
// to be rolled over. Compute one with
//
//	openssl x509 -in server.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256
//
// If certFile and keyFile are set, the client presents that certificate
// and key (PEM files) when the server asks for one.
func ClientTLS(caFile, pinSHA256, certFile, keyFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("mllp: server CA: %w", err)
		}
		c.RootCAs = pool
	}
	if pinSHA256 != "" {
		pins, err := parsePins(pinSHA256)
		if err != nil {
			return nil, err
		}
		// Without a CA the chain is not verified; the pin is. It
		// is checked in VerifyConnection, which unlike
		// VerifyPeerCertificate also runs on resumed sessions.
		c.InsecureSkipVerify = caFile == ""
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("mllp: server sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
			for _, p := range pins {
				if subtle.ConstantTimeCompare(sum[:], p) == 1 {
					return nil
				}
			}
			return fmt.Errorf("mllp: server key sha256 %x matches no pin", sum)
		}
	}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("mllp: client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	case certFile != "" || keyFile != "":
		return nil, errors.New("mllp: client certificate: need both a certificate and a key file")
	}
	return c, nil
}

// parsePins parses a comma-separated list of SHA-256 pins, each in
// hexadecimal or standard base64.
func parsePins(s string) ([][]byte, error) {
	var pins [][]byte
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		p = strings.TrimPrefix(p, "sha256//")
		var b []byte
		var err error
		if h := strings.ReplaceAll(p, ":", ""); len(h) == 2*sha256.Size {
			b, err = hex.DecodeString(h)
		} else if b, err = base64.StdEncoding.DecodeString(p); err != nil {
			b, err = base64.RawStdEncoding.DecodeString(p)
		}
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("mllp: pin %q is not a SHA-256 hash in hexadecimal or base64", p)
		}
		pins = append(pins, b)
	}
	return pins, nil
}

// loadPool reads the certificates of a PEM file into a pool.
func loadPool(name string) (*x509.CertPool, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate", name)
	}
	return pool, nil
}
