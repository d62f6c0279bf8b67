package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/cert"
	"github.com/haven-registry/haven/internal/cert/sdjwt"
)

const certUsage = `usage: haven cert <command> [flags]

commands:
  issue    [--in FILE|-] [--format hc1|sd-jwt] [--at RFC3339] [--validity DURATION]
           [--qr-png FILE] [--qr-svg FILE] [--qr-size PIXELS] [--count N] [--json]
  verify   [--trust FILE | --dsc CERT…] [--at RFC3339 | --skip-time] [--json] (TEXT | -)
  present  (see haven cert present -h)

issue reads a JSON request describing the person and one event and signs it
with the keys in <data>/keys (create them with "haven keys init"):

  {"person": {"card_code": "7KQM-X4TD-9HCA",          required when there is no name
              "family_name": "…", "given_name": "…",  optional; transliterated to ICAO 9303
              "family_name_icao": "…", "given_name_icao": "…",  optional overrides (A-Z and <)
              "birth_date": "1980-05"},               YYYY, YYYY-MM, YYYY-MM-DD or empty
   "vaccination": {"product": "EU/1/20/1528",          EU DCC mp; holder (ma) and
                   "holder": "ORG-100030215",          prophylaxis (vp) default from the
                   "prophylaxis": "1119349007",        EU encoding instructions
                   "dose": 2, "series": 2, "date": "2021-05-01", "country": "KR"},
   "test": {"type": "LP6464-4" | "LP217198-3", "name": "…", "device": "1232",
            "sampled_at": "2021-05-01T08:00:00Z", "result": "260415000",
            "centre": "…", "country": "KR"},
   "certificate_id": "URN:UVCI:…"}                    optional; generated when absent

Give exactly one of "vaccination" and "test". A person without a name gets the
card code in the name fields. Verification is offline: it never uses the network.`

// certCommand implements "haven cert issue|verify|present".
func certCommand(ctx context.Context, env *commandEnv, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, certUsage)
		return errors.New("cert: missing command (issue, verify or present)")
	}
	switch args[0] {
	case "issue":
		return certIssue(env, args[1:])
	case "verify":
		return certVerify(env, args[1:])
	case "present":
		return certPresentCommand(ctx, env, args[1:])
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, certUsage)
		return nil
	}
	fmt.Fprintln(env.Stderr, certUsage)
	return fmt.Errorf("cert: unknown command %q", args[0])
}

// certKeysDir is where "haven keys init" keeps the issuing keys.
func certKeysDir(env *commandEnv) string { return filepath.Join(env.DataDir, "keys") }

// certParseArgs parses flags that may come before or after positional
// arguments and returns the positional ones.
func certParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// certReadInput reads a file, or standard input for "-" or "".
func certReadInput(env *commandEnv, name string) ([]byte, error) {
	if name == "" || name == "-" {
		return io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
	}
	return os.ReadFile(name)
}

func certParseAt(env *commandEnv, s string) (time.Time, error) {
	if s == "" {
		return env.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at must be an RFC 3339 time such as 2021-06-01T12:00:00Z")
	}
	return t, nil
}

func certIssue(env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("haven cert issue", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	in := fs.String("in", "-", "JSON request file (- for standard input)")
	format := fs.String("format", "hc1", "hc1 (EU DCC) or sd-jwt (minimal-disclosure credentials, vaccinations only)")
	at := fs.String("at", "", "issuing time, RFC 3339 (default now)")
	validity := fs.Duration("validity", 365*24*time.Hour, "how long the signature stays valid (capped at the DSC's expiry)")
	qrPNG := fs.String("qr-png", "", "write the QR code as PNG to this file")
	qrSVG := fs.String("qr-svg", "", "write the QR code as SVG to this file")
	qrSize := fs.Int("qr-size", 512, "PNG width and height in pixels")
	count := fs.Int("count", 10, "sd-jwt: number of single-use credentials in the batch")
	asJSON := fs.Bool("json", false, "print a JSON object instead of the bare text")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), certUsage); fs.PrintDefaults() }
	pos, err := certParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("cert issue: unexpected argument %q (give the request with --in)", pos[0])
	}
	now, err := certParseAt(env, *at)
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	raw, err := certReadInput(env, *in)
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	req, err := cert.ParseIssueRequest(raw)
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	keys, err := loadCertKeys(env)
	if err != nil {
		return fmt.Errorf("cert issue: keys: %w", err)
	}
	issuer, err := cert.NewIssuer(keys.Signer, keys.DSC, cert.IssuerOptions{Validity: *validity})
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	switch *format {
	case "hc1":
	case "sd-jwt":
		return certIssueSDJWT(env, issuer, keys, req, now, *validity, *count, *asJSON)
	default:
		return fmt.Errorf("cert issue: --format must be hc1 or sd-jwt")
	}
	c, err := issuer.IssueCertificate(req, now)
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	if *qrPNG != "" || *qrSVG != "" {
		q, err := cert.NewQR(c.HC1)
		if err != nil {
			return fmt.Errorf("cert issue: %w", err)
		}
		if *qrPNG != "" {
			png, err := q.PNG(*qrSize)
			if err != nil {
				return fmt.Errorf("cert issue: %w", err)
			}
			if err := os.WriteFile(*qrPNG, png, 0o600); err != nil {
				return fmt.Errorf("cert issue: %w", err)
			}
		}
		if *qrSVG != "" {
			if err := os.WriteFile(*qrSVG, q.SVG(), 0o600); err != nil {
				return fmt.Errorf("cert issue: %w", err)
			}
		}
	}
	if *asJSON {
		return certWriteJSON(env.Stdout, map[string]any{
			"hc1":        c.HC1,
			"kid":        base64.StdEncoding.EncodeToString(cert.KID(keys.DSC)),
			"iat":        c.IssuedAt.Format(time.RFC3339),
			"exp":        c.ExpiresAt.Format(time.RFC3339),
			"payload":    c.DCC,
			"qr_png":     *qrPNG,
			"qr_svg":     *qrSVG,
			"dcc_schema": cert.IssueVersion,
		})
	}
	_, err = fmt.Fprintln(env.Stdout, c.HC1)
	return err
}

// certSDJWTKID is the JWS key ID under which Haven's DSC key signs SD-JWTs: the
// HCERT kid in unpadded base64url.
func certSDJWTKID(kid []byte) string { return cert.SDJWTKID(kid) }

func certIssueSDJWT(env *commandEnv, issuer *cert.Issuer, keys *cert.Keys, req *cert.IssueRequest, now time.Time, validity time.Duration, count int, asJSON bool) error {
	// Build (and check) the same DCC as an HC1 would carry, then map it.
	d, err := issuer.BuildDCC(req)
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	if len(d.V) != 1 {
		return errors.New("cert issue: sd-jwt credentials state vaccinations only")
	}
	v := d.V[0]
	until := now.Add(validity)
	if until.After(keys.DSC.NotAfter) {
		until = keys.DSC.NotAfter
	}
	claims := sdjwt.Claims{
		Vaccinated: true,
		Doses:      int(v.Dn),
		LastDose:   v.Dt,
		Product:    v.Mp,
		ValidUntil: until.UTC().Format(time.DateOnly),
		CardCode:   req.Person.CardCode,
	}
	if name := strings.TrimSpace(strings.TrimSpace(d.Nam.Gn) + " " + strings.TrimSpace(d.Nam.Fn)); name != "" && (req.Person.FamilyName != "" || req.Person.GivenName != "") {
		claims.Name = name
	}
	if len(d.Dob) >= 4 {
		claims.BirthYear, _ = strconv.Atoi(d.Dob[:4])
	}
	creds, err := sdjwt.Issue(keys.Signer, certSDJWTKID(cert.KID(keys.DSC)), claims, sdjwt.IssueOptions{
		Now: now, Issuer: keys.DSC.Subject.Country[0], Count: count,
	})
	if err != nil {
		return fmt.Errorf("cert issue: %w", err)
	}
	if asJSON {
		return certWriteJSON(env.Stdout, map[string]any{"credentials": creds})
	}
	for _, c := range creds {
		if _, err := fmt.Fprintln(env.Stdout, c); err != nil {
			return err
		}
	}
	return nil
}

func certWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// certStringList is a repeatable string flag.
type certStringList []string

func (s *certStringList) String() string     { return strings.Join(*s, ",") }
func (s *certStringList) Set(v string) error { *s = append(*s, v); return nil }

// certLoadTrust builds the trust list for verification: --trust FILE, or --dsc
// certificates (a file with PEM/DER/base64 DER, or inline base64 DER), or by
// default the local DSC from <data>/keys.
func certLoadTrust(env *commandEnv, trustFile string, dscs []string) (*cert.TrustList, error) {
	switch {
	case trustFile != "" && len(dscs) > 0:
		return nil, errors.New("give either --trust or --dsc, not both")
	case trustFile != "":
		b, err := os.ReadFile(trustFile)
		if err != nil {
			return nil, err
		}
		return cert.ParseTrustList(b)
	case len(dscs) > 0:
		tl := cert.NewTrustList()
		for _, d := range dscs {
			b, err := os.ReadFile(d)
			if err != nil {
				if !errors.Is(err, os.ErrNotExist) {
					return nil, err
				}
				b = []byte(d) // inline base64 DER
			}
			cs, err := cert.ParseCertificates(b)
			if err != nil {
				return nil, fmt.Errorf("--dsc %s: %w", certShorten(d), err)
			}
			for _, c := range cs {
				tl.Add(c)
			}
		}
		return tl, nil
	}
	b, err := os.ReadFile(filepath.Join(certKeysDir(env), cert.FileDSCCert))
	if err != nil {
		return nil, errors.New("no trust given: use --trust FILE or --dsc CERT, or run haven keys init to trust the local DSC")
	}
	cs, err := cert.ParseCertificates(b)
	if err != nil {
		return nil, err
	}
	return cert.NewTrustList(cs...), nil
}

func certShorten(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

func certVerify(env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("haven cert verify", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	trustFile := fs.String("trust", "", "trust list JSON file (from haven keys trust-list)")
	var dscs certStringList
	fs.Var(&dscs, "dsc", "trusted document signer certificate: file (PEM, DER or base64 DER) or inline base64 DER; repeatable")
	at := fs.String("at", "", "verification time, RFC 3339 (default now)")
	skipTime := fs.Bool("skip-time", false, "skip the validity-period checks")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	requireKB := fs.Bool("require-key-binding", false, "sd-jwt: require a key-binding JWT from the holder's device")
	aud := fs.String("aud", "", "sd-jwt: audience the key-binding JWT must name")
	nonce := fs.String("nonce", "", "sd-jwt: nonce the key-binding JWT must carry")
	phrase := fs.String("check-phrase", "", "sd-jwt: the check phrase the holder said")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: haven cert verify [--trust FILE | --dsc CERT…] [--at RFC3339 | --skip-time] [--json] (TEXT | -)")
		fs.PrintDefaults()
	}
	pos, err := certParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("cert verify: give the certificate text, or - to read it from standard input")
	}
	if *skipTime && *at != "" {
		return errors.New("cert verify: give either --at or --skip-time")
	}
	text := pos[0]
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 1<<20))
		if err != nil {
			return fmt.Errorf("cert verify: %w", err)
		}
		text = string(b)
	}
	text = strings.TrimSpace(text)
	now, err := certParseAt(env, *at)
	if err != nil {
		return fmt.Errorf("cert verify: %w", err)
	}
	tl, err := certLoadTrust(env, *trustFile, dscs)
	if err != nil {
		return fmt.Errorf("cert verify: %w", err)
	}
	res := cert.NewVerifier(tl).VerifyAny(text, cert.VerifyOptions{
		At: now, SkipTime: *skipTime,
		RequireKeyBinding: *requireKB, Audience: *aud, Nonce: *nonce, CheckPhrase: *phrase,
	})
	if *asJSON {
		if err := certWriteJSON(env.Stdout, res); err != nil {
			return err
		}
	} else {
		certPrintVerify(env.Stdout, res)
	}
	if !res.Valid {
		return fmt.Errorf("cert verify: invalid %s: %s failed: %s", res.Format, res.Failed, res.Reason)
	}
	return nil
}

func certPrintVerify(w io.Writer, r *cert.VerifyResult) {
	status := "VALID"
	if !r.Valid {
		status = "INVALID"
	}
	fmt.Fprintf(w, "%s %s\n", status, r.Format)
	for _, s := range r.Steps {
		mark := "ok"
		if !s.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(w, "  %-12s %s\n", s.Step, mark)
	}
	if r.Failed != "" {
		fmt.Fprintf(w, "failed: %s: %s\n", r.Failed, r.Reason)
	}
	if r.Payload != nil {
		b, _ := json.Marshal(r.Payload)
		fmt.Fprintf(w, "payload: %s\n", b)
	}
	if len(r.Disclosed) > 0 {
		names := make([]string, 0, len(r.Disclosed))
		for k := range r.Disclosed {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "disclosed: %s\n", strings.Join(names, ", "))
	}
}
