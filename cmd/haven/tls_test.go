package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/testenv"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certPath, keyPath string, pool *x509.CertPool) {
	c := testenv.NewLoopbackTLS(t)
	return c.CertFile, c.KeyFile, c.Pool
}

// TestServeTLS: with --tls-cert and --tls-key, haven serve speaks HTTPS only
// (TLS 1.2 or later), and a plain HTTP request gets no API answer.
func TestServeTLS(t *testing.T) {
	certPath, keyPath, pool := selfSigned(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out strings.Builder
	sw := &syncWriter{w: &out}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"haven", "--data", t.TempDir(), "--addr", addr, "serve", "--log-level", "error",
			"--tls-cert", certPath, "--tls-key", keyPath}, func(string) string { return "" }, strings.NewReader(""), sw, io.Discard)
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := client.Get("https://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
				t.Fatalf("healthz over TLS: %d %+v", res.StatusCode, res.TLS)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("haven serve exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haven serve did not start over TLS: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz"); err == nil {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP got an answer from the TLS server: %d %s", res.StatusCode, body)
		}
	}
	old := &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}
	if _, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: old}, Timeout: 5 * time.Second}).Get("https://" + addr + "/healthz"); err == nil {
		t.Error("TLS 1.1 was accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("haven serve: %v", err)
	}
	sw.mu.Lock()
	got := out.String()
	sw.mu.Unlock()
	if !strings.Contains(got, "https://"+addr) {
		t.Errorf("the console does not say https: %q", got)
	}
}

func TestServeTLSFlagsGoTogether(t *testing.T) {
	certPath, _, _ := selfSigned(t)
	res := cliRun(t, nil, "--data", t.TempDir(), "serve", "--tls-cert", certPath)
	if res.err == nil || !strings.Contains(res.err.Error(), "--tls-key") {
		t.Errorf("serve with --tls-cert alone: %v", res.err)
	}
}

// syncWriter lets a test read what a goroutine writes.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
