package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/nodesync"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/schedule"
	"github.com/haven-registry/haven/internal/server"
	"github.com/haven-registry/haven/policies"
)

// serveCommand implements "haven serve": it runs the HTTP server until ctx
// ends, then drains requests and closes the store so every acknowledged
// write is durable.
func serveCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	checkpointEvery := fs.Duration("checkpoint-every", auditCheckpointEvery, "how often to sign a checkpoint of the audit log while it grows: after a crash, at most the entries of this last interval lack one (docs/threat-model.md)")
	auditExport := fs.String("audit-export", env.Getenv("HAVEN_AUDIT_EXPORT"), auditExportHelp)
	policyDir := fs.String("policies", env.Getenv("HAVEN_POLICIES"), "folder of policy packs (env HAVEN_POLICIES); default: the bundled packs")
	statsEpsilon := fs.Float64("stats-epsilon", 0, "add two-sided geometric noise with this privacy parameter to the coverage tables (0: none; see docs/privacy.md)")
	var proxies prefixList
	fs.Var(&proxies, "trusted-proxy", "a proxy (CIDR, repeatable or comma-separated) whose X-Forwarded-For names the client, for rate limits and lockouts (env HAVEN_TRUSTED_PROXIES)")
	if v := env.Getenv("HAVEN_TRUSTED_PROXIES"); v != "" {
		if err := proxies.Set(v); err != nil {
			return fmt.Errorf("HAVEN_TRUSTED_PROXIES: %w", err)
		}
	}
	secureCookies := fs.Bool("secure-cookies", env.Getenv("HAVEN_SECURE_COOKIES") != "", "mark session cookies Secure even without TLS here: set it behind a TLS-terminating proxy (env HAVEN_SECURE_COOKIES)")
	trustFile := fs.String("trust", env.Getenv("HAVEN_TRUST_LIST"), "extra trust list (JSON, kid → DSC) for verifying certificates (env HAVEN_TRUST_LIST)")
	defaultReadLimit := 120
	if v := env.Getenv("HAVEN_READ_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("HAVEN_READ_LIMIT: want a positive whole number, got %q", v)
		}
		defaultReadLimit = n
	}
	readLimit := fs.Int("read-limit", defaultReadLimit, "person-level reads (lookups, forecasts, certificates, replayed writes) a minute per token; a client address may make twice as many, one card a quarter (env HAVEN_READ_LIMIT)")
	maxInFlight := fs.Int("max-in-flight", server.DefaultMaxInFlight, "requests served at once; beyond it Haven answers 503 with Retry-After at once rather than queueing (health, readiness and metrics are exempt)")
	scheduleName := fs.String("schedule", envOr(env.Getenv, "HAVEN_SCHEDULE", "who"), "schedule that evaluates recorded doses: cdc, who or cn (env HAVEN_SCHEDULE)")
	tlsCert := fs.String("tls-cert", env.Getenv("HAVEN_TLS_CERT"), "serve HTTPS with this certificate (PEM, with its chain) (env HAVEN_TLS_CERT)")
	tlsKey := fs.String("tls-key", env.Getenv("HAVEN_TLS_KEY"), "the private key (PEM) of --tls-cert (env HAVEN_TLS_KEY)")
	retention := fs.Duration("idempotency-retention", defaultIdempotencyRetention, "how long a write's Idempotency-Key is kept: a retry within it returns the first result; older keys are removed in the background")
	hl7Flags := addIISFlags(fs, env)
	nodeFlags := addSyncFlags(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := hl7Flags.check(); err != nil {
		return err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	var tlsConf *tls.Config
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		*secureCookies = true
	}
	if *retention < time.Hour {
		return fmt.Errorf("--idempotency-retention %s: want at least 1h", *retention)
	}
	if *maxInFlight < 1 {
		return fmt.Errorf("--max-in-flight: want a positive whole number, got %d", *maxInFlight)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level}))

	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := openVault(env)
	if err != nil {
		return err
	}
	// Retires the key epochs of erased persons and rotates old ones, even
	// while sealed (it reloads the ring); see docs/adr/0004-epoch-keys.md.
	rot := startKeyRotator(ctx, db, v, logger)
	go sweepIdempotency(ctx, db, env.Now, *retention, time.Minute, logger)
	// Keys the access log (before anything is appended) and loads the
	// checkpoint signer; see cmd/haven/audit.go.
	auditLog, err := startAudit(ctx, env, db, v, *auditExport)
	if err != nil {
		return err
	}
	loopDone := make(chan struct{})
	engine, err := loadPolicies(*policyDir)
	if err != nil {
		return err
	}
	// A node decides with the packs it last copied from its central.
	if *nodeFlags.upstream != "" && *policyDir == "" {
		copied, err := nodePolicies(env)
		if err != nil {
			return fmt.Errorf("the central's policy packs in the data folder: %w", err)
		}
		if copied != nil {
			engine = copied
		}
	}
	if _, err := schedule.Load(*scheduleName); err != nil {
		return fmt.Errorf("--schedule %s: %w", *scheduleName, err)
	}
	// Loading a policy is a policy change as far as the log is concerned:
	// which pack versions decided from now on.
	for _, p := range engine.Packs() {
		if err := db.AppendAudit(ctx, *cliAudit(env, "policy.load", "pack:"+p.Name+"@"+strings.TrimPrefix(p.Version, "sha256:"))); err != nil {
			return err
		}
	}
	deps := clinic.Deps{Logger: logger, Store: db, Vault: v, Keys: v, Catalog: catalog.Default(), Policy: engine,
		Schedule: *scheduleName, Now: env.Now, Stats: clinic.StatsNoise{Epsilon: *statsEpsilon}}
	if rot != nil {
		deps.AfterErase = rot.AfterErase
	}
	limits := clinic.ReadLimits(*readLimit)
	deps.Limits = &limits
	if v.Sealed() {
		fmt.Fprintln(env.Stdout, "Haven is sealed: it serves nothing until an administrator runs haven unlock.")
	} else if *statsEpsilon != 0 {
		if deps.Stats.Key, err = v.DeriveKey("stats-noise"); err != nil {
			return err
		}
	}
	if auditLog != nil {
		deps.AuditKey = auditLog.publicKey()
		go func() {
			checkpointLoop(ctx, auditLog, env.Now, *checkpointEvery, logger)
			close(loopDone)
		}()
	} else {
		close(loopDone)
	}
	if deps.Certs, err = certService(env, v, *trustFile); err != nil {
		return err
	}
	if deps.Certs.Issuer == nil && !v.Sealed() {
		fmt.Fprintln(env.Stdout, "No certificate signing keys yet: run haven keys init --country CC to issue certificates (no restart needed).")
	}
	deps.LoadCerts = func() (clinic.Certs, error) { return certService(env, v, *trustFile) }
	deps.ReportUpstream = *hl7Flags.upstream != ""
	syncCfg, upstream, err := nodeFlags.nodeConfig(env, v, logger)
	if err != nil {
		return err
	}
	var (
		svc    *clinic.Service
		syncer *nodesync.Syncer
	)
	syncOpts := nodeFlags.centralSync(env, v, syncCfg, *trustFile, &svc)
	if upstream != nil {
		syncCfg.InstallPolicies = installPolicies(env, upstream)
	} else {
		if ss, ok := db.(registry.SyncStore); ok {
			go sweepFollows(ctx, ss, env.Now, time.Hour, logger)
		}
		bundle, err := policyBundle(policyFS(*policyDir))
		if err != nil {
			return fmt.Errorf("policies: %w", err)
		}
		syncCfg.PolicyVersion, syncOpts.Policies = bundle.Version, bundle
	}
	if upstream != nil {
		syncCfg.Kick = func() {
			if syncer != nil {
				syncer.Kick()
			}
		}
	}
	deps.Sync = syncCfg
	svc = clinic.New(deps)
	// The central rests between nodes' pushes while people are served.
	var srv *server.Server
	syncOpts.Busy = func() bool { return srv.ServedWithin(time.Second) }
	srv = server.New(server.Deps{Logger: logger, Service: svc, SecureCookies: *secureCookies,
		TrustedProxies: proxies, MaxInFlight: *maxInFlight, HL7Facility: *hl7Flags.facility, Sync: syncOpts})
	// An idle clinic laptop gives a burst's memory back within seconds.
	go srv.TrimWhenIdle(ctx, 2*time.Second)
	syncDone := make(chan struct{})
	if upstream != nil {
		syncer = nodesync.NewSyncer(upstream, svc, nodesync.Options{Logger: logger, Now: env.Now,
			Busy: func() bool { return srv.ServedWithin(time.Second) }})
		go func() {
			defer close(syncDone)
			_ = syncer.Run(ctx)
		}()
		fmt.Fprintf(env.Stdout, "Clinic node: syncing with %s whenever it can be reached.\n", *nodeFlags.upstream)
	} else {
		close(syncDone)
	}
	defer func() { <-syncDone }()
	stopIIS, err := startIIS(ctx, hl7Flags, svc, logger, func(s string) { fmt.Fprintln(env.Stdout, s) })
	defer stopIIS(context.Background())
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", env.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		TLSConfig:         tlsConf,
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		// net/http's own messages can name the client's address; they go
		// through a filter that removes addresses before anything is written.
		ErrorLog: log.New(addrRedactor{env.Stderr}, "http: ", 0),
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	fmt.Fprintf(env.Stdout, "Haven listening on %s://%s (data: %s); the web app is at %s://%s/\n", scheme, ln.Addr(), storeName(env), scheme, ln.Addr())
	fmt.Fprintf(env.Stdout, "Create the first token with: haven token create --role admin   (from the source tree: go run ./cmd/haven token create --role admin)\n")
	errc := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			errc <- hs.ServeTLS(ln, "", "")
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err // the checkpoint loop ends with ctx; the store closes regardless
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdownCtx)
	<-loopDone // the last checkpoint is signed before the store closes
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// prefixList is a repeatable flag of CIDR prefixes (a bare address is a
// prefix of one address).
type prefixList []netip.Prefix

func (l *prefixList) String() string {
	out := make([]string, len(*l))
	for i, p := range *l {
		out[i] = p.String()
	}
	return strings.Join(out, ",")
}

func (l *prefixList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		*l = append(*l, p.Masked())
	}
	return nil
}

// addrPattern matches IPv4 and IPv6 addresses, with or without a port.
var addrPattern = regexp.MustCompile(`\[?[0-9a-fA-F:]*:[0-9a-fA-F:.]+\]?(:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`)

// addrRedactor writes log output with client addresses replaced by [addr]:
// Haven keeps no address that could place a person at a clinic.
type addrRedactor struct{ w io.Writer }

func (a addrRedactor) Write(p []byte) (int, error) {
	if _, err := a.w.Write(addrPattern.ReplaceAll(p, []byte("[addr]"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// policyFS is the folder of packs dir, or the bundled packs when dir is
// empty.
func policyFS(dir string) fs.FS {
	if dir != "" {
		return os.DirFS(dir)
	}
	return policies.FS()
}

// loadPolicies loads the packs in dir, or the bundled ones when dir is empty.
func loadPolicies(dir string) (*policy.Engine, error) {
	engine, err := policy.NewEngine(policyFS(dir))
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	return engine, nil
}

// checkpointLoop signs the head of the audit log every interval while it
// grows, and once more when ctx ends, storing each checkpoint and exporting
// it (see serverAudit.checkpoint), so that a crash leaves at most the
// entries of the last interval without a signed checkpoint.
func checkpointLoop(ctx context.Context, a *serverAudit, now func() time.Time, every time.Duration, logger *slog.Logger) {
	defer a.close()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			// The store closes after serve returns; sign while it is open.
			if err := a.checkpoint(context.Background(), now()); err != nil {
				logger.Warn("audit checkpoint failed", "error", err.Error())
			}
			return
		}
		if err := a.checkpoint(ctx, now()); err != nil {
			logger.Warn("audit checkpoint failed", "error", err.Error())
		}
	}
}

// storeName describes the store without any password in a URL.
func storeName(env *commandEnv) string {
	if env.DB == "" {
		return env.DataDir
	}
	if len(env.DB) > 7 && env.DB[:7] == "sqlite:" {
		return env.DB
	}
	return "postgres"
}
