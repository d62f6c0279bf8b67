package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/nodesync"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/api"
	"github.com/haven-registry/haven/internal/syncwire"
	"github.com/haven-registry/haven/internal/vault"
)

// syncFlags are serve's flags for offline clinic nodes: a node names its
// central with --upstream; a central sets how it serves nodes.
type syncFlags struct {
	upstream, upstreamCA, upstreamPin, label *string
	concurrency                              *int
	shareBirthDate                           *bool
	token                                    string
}

func addSyncFlags(fs *flag.FlagSet, env *commandEnv) *syncFlags {
	host, _ := os.Hostname()
	return &syncFlags{
		upstream:       fs.String("upstream", env.Getenv("HAVEN_UPSTREAM"), "run as an offline clinic node of this central registry, https://host[:port] (env HAVEN_UPSTREAM); the node token comes from env HAVEN_UPSTREAM_TOKEN the first time and is kept, encrypted, in the data folder"),
		upstreamCA:     fs.String("upstream-ca", env.Getenv("HAVEN_UPSTREAM_CA"), "CA certificates (PEM) that the central's TLS certificate must chain to (default: the system's) (env HAVEN_UPSTREAM_CA)"),
		upstreamPin:    fs.String("upstream-pin", env.Getenv("HAVEN_UPSTREAM_PIN"), "SHA-256 of the central certificate's public key (hex), instead of a CA (env HAVEN_UPSTREAM_PIN)"),
		label:          fs.String("node-label", envOr(env.Getenv, "HAVEN_NODE_LABEL", host), "this node's name at the central and in its signing certificate (env HAVEN_NODE_LABEL)"),
		concurrency:    fs.Int("sync-concurrency", 2, "central: node pushes applied at once; beyond it a push is answered 503 with Retry-After"),
		shareBirthDate: fs.Bool("sync-share-birth-date", false, "central: keep the full birth dates of persons registered at nodes (default: the year only)"),
		token:          env.Getenv("HAVEN_UPSTREAM_TOKEN"),
	}
}

// upstreamTokenFile keeps a node's token, encrypted under the vault.
func upstreamTokenFile(env *commandEnv) string { return filepath.Join(env.DataDir, "upstream.token") }

// nodeToken returns the node token: from HAVEN_UPSTREAM_TOKEN, which is then
// kept (encrypted) for later starts, or from the kept file.
func nodeToken(env *commandEnv, v *vault.Vault, fromEnv string) (string, error) {
	if tok := strings.TrimSpace(fromEnv); tok != "" {
		blob, err := v.EncryptBlob("upstream-token", []byte(tok))
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(env.DataDir, 0o700); err != nil {
			return "", err
		}
		tmp := upstreamTokenFile(env) + ".tmp"
		if err := os.WriteFile(tmp, blob, 0o600); err != nil {
			return "", err
		}
		return tok, os.Rename(tmp, upstreamTokenFile(env))
	}
	blob, err := os.ReadFile(upstreamTokenFile(env))
	if errors.Is(err, os.ErrNotExist) {
		return "", errors.New("--upstream: no node token; set HAVEN_UPSTREAM_TOKEN to a token made at the central with: haven token create --role node --site SITE")
	}
	if err != nil {
		return "", err
	}
	tok, err := v.DecryptBlob("upstream-token", blob)
	return string(tok), err
}

// nodeConfig builds the clinic side of a node, and the client and syncer
// that carry it. It returns nil values when the server is not a node.
func (f *syncFlags) nodeConfig(env *commandEnv, v *vault.Vault, logger *slog.Logger) (*clinic.SyncConfig, *nodesync.Client, error) {
	if *f.upstream == "" {
		return &clinic.SyncConfig{ShareBirthDate: *f.shareBirthDate}, nil, nil
	}
	if v.Sealed() {
		return nil, nil, errors.New("--upstream: the vault is sealed; unlock it before starting a node (its token and records are encrypted)")
	}
	tok, err := nodeToken(env, v, f.token)
	if err != nil {
		return nil, nil, err
	}
	client, err := nodesync.NewClient(nodesync.Config{Upstream: *f.upstream, Token: tok, CAFile: *f.upstreamCA, Pin: *f.upstreamPin,
		Logger: logger, Now: env.Now})
	if err != nil {
		return nil, nil, err
	}
	secrets := vaultSecrets{dir: cert.DirStore(certKeysDir(env)), vault: v}
	cfg := &clinic.SyncConfig{Node: true, Upstream: *f.upstream, Label: *f.label,
		Lookup: func(ctx context.Context, card registry.CardCode, purpose string) (*syncwire.LookupAnswer, error) {
			ans, err := client.Lookup(ctx, string(card), purpose)
			var ne *nodesync.Error
			if errors.As(err, &ne) && ne.Status == 404 {
				return nil, registry.FieldErrorf(registry.ENOTFOUND, "card_code", "No person has this card code.")
			}
			return ans, err
		},
		NewCSR: func(label string) (*ecdsa.PrivateKey, []byte, error) { return cert.NodeCSR(label, "") },
		InstallDSC: func(key *ecdsa.PrivateKey, dscDER, cscaDER []byte) error {
			dsc, err := x509.ParseCertificate(dscDER)
			if err != nil {
				return fmt.Errorf("the central's DSC: %w", err)
			}
			csca, err := x509.ParseCertificate(cscaDER)
			if err != nil {
				return fmt.Errorf("the central's CSCA: %w", err)
			}
			if err := os.MkdirAll(certKeysDir(env), 0o700); err != nil {
				return err
			}
			return cert.InstallNodeKeys(certKeysDir(env), secrets, key, dsc, csca)
		},
	}
	return cfg, client, nil
}

// centralSync wires the central's side: signing node certificates with the
// CSCA, and the trust list served to nodes. svc is set once the service is
// made.
func (f *syncFlags) centralSync(env *commandEnv, v *vault.Vault, cfg *clinic.SyncConfig, trustFile string, svc **clinic.Service) api.SyncOptions {
	if cfg.Node {
		return api.SyncOptions{Concurrency: *f.concurrency}
	}
	secrets := vaultSecrets{dir: cert.DirStore(certKeysDir(env)), vault: v}
	cfg.SignCSR = func(csr []byte, label string) ([]byte, []byte, error) {
		dsc, csca, err := cert.SignNodeDSC(certKeysDir(env), secrets, csr, label, env.Now(), cert.NodeDSCMaxValidity)
		if err != nil {
			return nil, nil, err
		}
		// The central verifies the node's certificates from now on.
		if *svc != nil {
			if c, err := certService(env, v, trustFile); err == nil {
				(*svc).SetIssuer(c)
			}
		}
		return dsc.Raw, csca.Raw, nil
	}
	return api.SyncOptions{Concurrency: *f.concurrency, TrustList: func() ([]byte, error) {
		k, err := loadCertKeys(env)
		if err != nil {
			return nil, err
		}
		return k.TrustList().MarshalJSON()
	}}
}
