package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/server"
)

// serveCommand implements "haven serve": it runs the HTTP server until ctx
// ends, then drains requests and closes the store so every acknowledged
// write is durable.
func serveCommand(ctx context.Context, env *commandEnv, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
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
	srv := server.New(server.Deps{Logger: logger, Store: db, Vault: v, Catalog: catalog.Default(), Now: env.Now})

	ln, err := net.Listen("tcp", env.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
	fmt.Fprintf(env.Stdout, "Haven listening on http://%s (data: %s)\n", ln.Addr(), storeName(env))
	fmt.Fprintf(env.Stdout, "Create the first token with: haven token create --role admin\n")
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
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
