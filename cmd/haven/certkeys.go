package main

import (
	"fmt"
	"os"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/vault"
)

// vaultSecrets keeps the certificate signing keys in the keys folder,
// encrypted under the vault (each file is a vault blob named after the
// secret), so that a copied keys folder signs nothing without the KEK.
type vaultSecrets struct {
	dir   cert.SecretStore
	vault *vault.Vault
}

func (s vaultSecrets) ReadSecret(name string) ([]byte, error) {
	blob, err := s.dir.ReadSecret(name)
	if err != nil {
		return nil, err
	}
	return s.vault.DecryptBlob("cert-key/"+name, blob)
}

func (s vaultSecrets) WriteSecret(name string, data []byte) error {
	blob, err := s.vault.EncryptBlob("cert-key/"+name, data)
	if err != nil {
		return err
	}
	return s.dir.WriteSecret(name, blob)
}

// certSecrets returns the store for the certificate private keys: the keys
// folder, encrypted under the vault.
func certSecrets(env *commandEnv) (cert.SecretStore, error) {
	v, err := openVault(env)
	if err != nil {
		return nil, err
	}
	return vaultSecrets{dir: cert.DirStore(certKeysDir(env)), vault: v}, nil
}

// loadCertKeys loads the issuing keys made by "haven keys init".
func loadCertKeys(env *commandEnv) (*cert.Keys, error) {
	secrets, err := certSecrets(env)
	if err != nil {
		return nil, err
	}
	return cert.LoadKeys(certKeysDir(env), secrets)
}

// certService builds the server's issuer and verifier. Without keys the
// server still verifies against trustFile (if given) but does not issue.
func certService(env *commandEnv, v *vault.Vault, trustFile string) (clinic.Certs, error) {
	var c clinic.Certs
	tl := cert.NewTrustList()
	if !v.Sealed() {
		keys, err := cert.LoadKeys(certKeysDir(env), vaultSecrets{dir: cert.DirStore(certKeysDir(env)), vault: v})
		switch {
		case err == nil:
			if c.Issuer, err = cert.NewIssuer(keys.Signer, keys.DSC, cert.IssuerOptions{}); err != nil {
				return c, fmt.Errorf("certificate keys: %w", err)
			}
			tl = keys.TrustList()
			if len(keys.DSC.Subject.Country) > 0 {
				c.Country = keys.DSC.Subject.Country[0]
			}
		case registry.ErrorCode(err) != registry.ENOTFOUND && !os.IsNotExist(err):
			return c, fmt.Errorf("certificate keys: %w", err)
		}
	}
	if trustFile != "" {
		data, err := os.ReadFile(trustFile)
		if err != nil {
			return c, fmt.Errorf("trust list: %w", err)
		}
		extra, err := cert.ParseTrustList(data)
		if err != nil {
			return c, fmt.Errorf("trust list %s: %w", trustFile, err)
		}
		for _, e := range extra.Entries() {
			tl.AddWithKID(e.KID, e.Certificate)
		}
	}
	if cc := env.Getenv("HAVEN_COUNTRY"); cc != "" {
		c.Country = cc
	}
	c.Verifier = cert.NewVerifier(tl)
	return c, nil
}
