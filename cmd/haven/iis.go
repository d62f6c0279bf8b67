package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/iis"
	"github.com/haven-registry/haven/internal/mllp"
)

// iisFlags are serve's flags for HL7 v2: the MLLP listener (inbound) and the
// upstream IIS feed (outbound).
type iisFlags struct {
	hl7Addr, hl7Cert, hl7Key, hl7ClientCA *string
	facility                              *string

	upstream, upstreamCA, upstreamPin, upstreamCert, upstreamKey *string
	profile, receiver                                            *string
	upstreamToken                                                string
}

func addIISFlags(fs *flag.FlagSet, env *commandEnv) *iisFlags {
	return &iisFlags{
		hl7Addr:     fs.String("hl7-addr", env.Getenv("HAVEN_HL7_ADDR"), "also accept HL7 v2 messages over MLLP at this address (env HAVEN_HL7_ADDR); each message carries a Haven token in MSH-8; needs --hl7-tls-cert and --hl7-tls-key unless the address is loopback"),
		hl7Cert:     fs.String("hl7-tls-cert", env.Getenv("HAVEN_HL7_TLS_CERT"), "TLS certificate (PEM) of the MLLP listener (env HAVEN_HL7_TLS_CERT)"),
		hl7Key:      fs.String("hl7-tls-key", env.Getenv("HAVEN_HL7_TLS_KEY"), "TLS private key (PEM) of the MLLP listener (env HAVEN_HL7_TLS_KEY)"),
		hl7ClientCA: fs.String("hl7-client-ca", env.Getenv("HAVEN_HL7_CLIENT_CA"), "require MLLP clients to present a certificate signed by one of these CAs (PEM) (env HAVEN_HL7_CLIENT_CA)"),
		facility:    fs.String("hl7-facility", envOr(env.Getenv, "HAVEN_HL7_FACILITY", "HAVEN"), "Haven's name in MSH-4 of the HL7 messages it writes (env HAVEN_HL7_FACILITY)"),

		upstream:      fs.String("iis-upstream", env.Getenv("HAVEN_IIS_UPSTREAM"), "report each recorded dose as an HL7 VXU to this IIS: https://host/path (bearer token from env HAVEN_IIS_TOKEN), mllp://host:port or mllps://host:port (env HAVEN_IIS_UPSTREAM)"),
		upstreamCA:    fs.String("iis-ca", env.Getenv("HAVEN_IIS_CA"), "CA certificates (PEM) that the IIS's TLS certificate must chain to (default: the system's) (env HAVEN_IIS_CA)"),
		upstreamPin:   fs.String("iis-pin", env.Getenv("HAVEN_IIS_PIN"), "SHA-256 of the IIS certificate's public key (hex), instead of a CA (env HAVEN_IIS_PIN)"),
		upstreamCert:  fs.String("iis-cert", env.Getenv("HAVEN_IIS_CERT"), "client certificate (PEM) to present to the IIS (env HAVEN_IIS_CERT)"),
		upstreamKey:   fs.String("iis-key", env.Getenv("HAVEN_IIS_KEY"), "client key (PEM) to present to the IIS (env HAVEN_IIS_KEY)"),
		profile:       fs.String("iis-profile", env.Getenv("HAVEN_IIS_PROFILE"), "person fields the IIS requires beyond the card code, comma-separated from PID-5,PID-7,PID-8,PID-13 (default: the card code only) (env HAVEN_IIS_PROFILE)"),
		receiver:      fs.String("iis-receiver", env.Getenv("HAVEN_IIS_RECEIVER"), "the IIS's name in MSH-5 and MSH-6 (env HAVEN_IIS_RECEIVER)"),
		upstreamToken: env.Getenv("HAVEN_IIS_TOKEN"),
	}
}

// check validates the flags before anything starts.
func (f *iisFlags) check() error {
	if *f.hl7Addr != "" && (*f.hl7Cert == "") != (*f.hl7Key == "") {
		return errors.New("--hl7-tls-cert and --hl7-tls-key go together")
	}
	if *f.hl7Addr != "" && *f.hl7Cert == "" && !loopback(*f.hl7Addr) {
		return fmt.Errorf("--hl7-addr %s: MLLP carries tokens and personal data; give --hl7-tls-cert and --hl7-tls-key, or listen on a loopback address", *f.hl7Addr)
	}
	if *f.hl7ClientCA != "" && *f.hl7Cert == "" {
		return errors.New("--hl7-client-ca needs --hl7-tls-cert and --hl7-tls-key")
	}
	if _, err := f.iisProfile(); err != nil {
		return err
	}
	if *f.upstream != "" {
		u, err := url.Parse(*f.upstream)
		if err != nil || u.Host == "" {
			return fmt.Errorf("--iis-upstream %q: want https://host/path, mllp://host:port or mllps://host:port", *f.upstream)
		}
		switch u.Scheme {
		case "https", "mllps":
		case "http", "mllp":
			if !loopback(u.Host) {
				return fmt.Errorf("--iis-upstream %s: reports hold personal data; use https:// or mllps:// (plain only to a loopback address)", *f.upstream)
			}
		default:
			return fmt.Errorf("--iis-upstream %q: want https://host/path, mllp://host:port or mllps://host:port", *f.upstream)
		}
	}
	return nil
}

func (f *iisFlags) iisProfile() (hl7.Profile, error) {
	p := hl7.Profile{Name: *f.receiver}
	for _, field := range strings.Split(*f.profile, ",") {
		if field = strings.TrimSpace(field); field != "" {
			p.Fields = append(p.Fields, strings.ToUpper(field))
		}
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("--iis-profile: %w", err)
	}
	return p, nil
}

// loopback reports whether host[:port] names a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startIIS starts the MLLP listener and the upstream feed that the flags
// ask for. stop ends both, letting messages in flight finish.
func startIIS(ctx context.Context, f *iisFlags, svc *clinic.Service, logger *slog.Logger, out func(string)) (stop func(context.Context), err error) {
	var stops []func(context.Context)
	stop = func(ctx context.Context) {
		for _, s := range stops {
			s(ctx)
		}
	}
	if *f.hl7Addr != "" {
		srv := &mllp.Server{Handler: iis.MLLP{H: iis.NewHandler(svc, logger, *f.facility)}, Logger: logger}
		scheme := "mllp"
		if *f.hl7Cert != "" {
			if srv.TLSConfig, err = mllp.ServerTLS(*f.hl7Cert, *f.hl7Key, *f.hl7ClientCA); err != nil {
				return stop, fmt.Errorf("--hl7-tls-cert: %w", err)
			}
			scheme = "mllps"
		}
		ln, err := net.Listen("tcp", *f.hl7Addr)
		if err != nil {
			return stop, fmt.Errorf("--hl7-addr: %w", err)
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, mllp.ErrServerClosed) {
				logger.Error("mllp listener stopped", "error", err.Error())
			}
		}()
		out(fmt.Sprintf("HL7 v2 over MLLP at %s://%s", scheme, ln.Addr()))
		stops = append(stops, func(ctx context.Context) { _ = srv.Shutdown(ctx) })
	}
	if *f.upstream != "" {
		sender, closeSender, err := f.sender()
		if err != nil {
			return stop, err
		}
		prof, _ := f.iisProfile()
		feed := &iis.Feed{Service: svc, Sender: sender, Profile: prof, Logger: logger, Facility: *f.facility, Receiver: *f.receiver}
		fctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = feed.Run(fctx); close(done) }()
		out("Reporting recorded doses to " + redactURL(*f.upstream))
		stops = append(stops, func(context.Context) { cancel(); <-done; closeSender() })
	}
	return stop, nil
}

// sender builds the feed's transport from --iis-upstream.
func (f *iisFlags) sender() (iis.Sender, func(), error) {
	u, _ := url.Parse(*f.upstream)
	tlsConf, err := mllp.ClientTLS(*f.upstreamCA, *f.upstreamPin, *f.upstreamCert, *f.upstreamKey)
	if err != nil {
		return nil, nil, fmt.Errorf("--iis-ca/--iis-pin/--iis-cert: %w", err)
	}
	switch u.Scheme {
	case "mllp", "mllps":
		if u.Scheme == "mllp" {
			tlsConf = nil
		} else if tlsConf.ServerName == "" {
			tlsConf.ServerName = u.Hostname()
		}
		// Connected on first use: the IIS may be down when Haven starts.
		c := &mllp.Client{Addr: u.Host, TLSConfig: tlsConf}
		return &iis.MLLPSender{Client: c}, func() { _ = c.Close() }, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if u.Scheme == "https" {
		tr.TLSClientConfig = tlsConf
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return &iis.HTTPSender{URL: *f.upstream, Token: f.upstreamToken, Client: client}, tr.CloseIdleConnections, nil
}

// redactURL drops any user information from a URL for the console.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(the IIS)"
	}
	u.User = nil
	return u.String()
}
