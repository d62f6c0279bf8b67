package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/haven-registry/haven/internal/cert/sdjwt"
)

// defaultReveal is what "haven cert present" discloses when --reveal is not
// given: that the holder is vaccinated, and until when; no name, no birth year.
const defaultReveal = sdjwt.ClaimVaccinated + "," + sdjwt.ClaimValidUntil

// certPresentCommand implements
//
//	haven cert present [--reveal NAME,…] [--index N] [--list]
//	                   [--holder-key FILE --aud AUD --nonce NONCE] [FILE | -]
//
// It reads SD-JWT credentials (one per line, as Haven issues a batch) from FILE
// or standard input, picks credential --index (0 by default; each credential
// should be presented only once), and prints a presentation that discloses
// only the claims named by --reveal. With --holder-key (a PEM EC P-256 private
// key file) it appends a key-binding JWT for the verifier's --aud and --nonce.
// With --list it prints the claims the credential can disclose instead.
func certPresentCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("cert present", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	reveal := fs.String("reveal", defaultReveal, "comma-separated claims to disclose (\"\" for none)")
	index := fs.Int("index", 0, "which credential of the batch to present (0-based)")
	list := fs.Bool("list", false, "list the claims the credential can disclose, and exit")
	keyFile := fs.String("holder-key", "", "PEM file with the holder's EC P-256 private key, for a key-binding JWT")
	aud := fs.String("aud", "", "the verifier's audience for the key-binding JWT")
	nonce := fs.String("nonce", "", "the verifier's nonce for the key-binding JWT")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: haven cert present [--reveal NAME,…] [--index N] [--list] [--holder-key FILE --aud AUD --nonce NONCE] [FILE | -]")
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) > 1 {
		return errors.New("cert present: give one credential file (or - for standard input)")
	}

	var in io.Reader = env.Stdin
	name := "standard input"
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("cert present: %w", err)
		}
		defer f.Close()
		in, name = f, pos[0]
	}
	const limit = sdjwt.MaxPresentationSize * sdjwt.MaxBatch
	data, err := io.ReadAll(io.LimitReader(in, limit+1))
	if err != nil {
		return fmt.Errorf("cert present: read %s: %w", name, err)
	}
	if len(data) > limit {
		return fmt.Errorf("cert present: %s is larger than %d bytes", name, limit)
	}
	var creds []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" {
			creds = append(creds, line)
		}
	}
	if len(creds) == 0 {
		return fmt.Errorf("cert present: %s holds no credential", name)
	}
	if *index < 0 || *index >= len(creds) {
		return fmt.Errorf("cert present: --index %d is out of range: %s holds %d credentials", *index, name, len(creds))
	}
	cred := creds[*index]

	if *list {
		names, err := sdjwt.Disclosable(cred)
		if err != nil {
			return fmt.Errorf("cert present: %s line %d: %w", name, *index+1, err)
		}
		for _, n := range names {
			fmt.Fprintln(env.Stdout, n)
		}
		return nil
	}

	opts := sdjwt.PresentOptions{Audience: *aud, Nonce: *nonce}
	if *keyFile != "" {
		if *aud == "" || *nonce == "" {
			return errors.New("cert present: --holder-key needs the verifier's --aud and --nonce")
		}
		if opts.HolderKey, err = readHolderKey(*keyFile); err != nil {
			return fmt.Errorf("cert present: --holder-key %s: %w", *keyFile, err)
		}
		opts.Now = env.Now()
	} else if *aud != "" || *nonce != "" {
		return errors.New("cert present: --aud and --nonce need --holder-key")
	}
	var names []string
	if *reveal != "" {
		names = strings.Split(*reveal, ",")
	}
	p, err := sdjwt.Present(cred, names, opts)
	if err != nil {
		return fmt.Errorf("cert present: %s line %d: %w", name, *index+1, err)
	}
	_, err = fmt.Fprintln(env.Stdout, p)
	return err
}

// readHolderKey reads a PEM EC P-256 private key ("EC PRIVATE KEY" or PKCS #8
// "PRIVATE KEY"). Error messages never include the key material.
func readHolderKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM file")
	}
	var key any
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, errors.New("cannot parse the private key")
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want an EC P-256 key", key)
	}
	return ec, nil
}
