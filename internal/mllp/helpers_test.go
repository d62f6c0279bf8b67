package mllp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/mllp"
)

// pki is a throw-away CA with a server and a client certificate, written
// as PEM files.
type pki struct {
	caFile                string
	serverCert, serverKey string
	clientCert, clientKey string
	serverPin             string // SHA-256 of the server's SPKI, hex
	serverSPKI            []byte
	otherCAFile           string // a CA that signed nothing here
	otherCert, otherKey   string // a client certificate from otherCA
	clientSubjectCN       string
}

func newPKI(tb testing.TB) *pki {
	tb.Helper()
	dir := tb.TempDir()
	p := &pki{clientSubjectCN: "clinic-1"}
	ca, caKey := newCA(tb, "Haven test CA")
	p.caFile = writePEM(tb, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	other, otherKey := newCA(tb, "Other CA")
	p.otherCAFile = writePEM(tb, dir, "other-ca.pem", "CERTIFICATE", other.Raw)

	srv, srvKey := newLeaf(tb, ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.serverCert = writePEM(tb, dir, "server.pem", "CERTIFICATE", srv.Raw)
	p.serverKey = writeKey(tb, dir, "server-key.pem", srvKey)
	sum := sha256.Sum256(srv.RawSubjectPublicKeyInfo)
	p.serverPin = hex.EncodeToString(sum[:])
	p.serverSPKI = sum[:]

	cl, clKey := newLeaf(tb, ca, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: p.clientSubjectCN},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.clientCert = writePEM(tb, dir, "client.pem", "CERTIFICATE", cl.Raw)
	p.clientKey = writeKey(tb, dir, "client-key.pem", clKey)

	oc, ocKey := newLeaf(tb, other, otherKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "intruder"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.otherCert = writePEM(tb, dir, "other.pem", "CERTIFICATE", oc.Raw)
	p.otherKey = writeKey(tb, dir, "other-key.pem", ocKey)
	return p
}

func newCA(tb testing.TB, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key := mustKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key
}

func newLeaf(tb testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key := mustKey(tb)
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key
}

func mustKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func writeKey(tb testing.TB, dir, name string, key *ecdsa.PrivateKey) string {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return writePEM(tb, dir, name, "PRIVATE KEY", der)
}

func writePEM(tb testing.TB, dir, name, typ string, der []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// startServer serves s on a loopback port and returns its address. The
// server is shut down when the test ends, and Serve must then return
// ErrServerClosed.
func startServer(tb testing.TB, s *mllp.Server) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return serveOn(tb, s, l)
}

func serveOn(tb testing.TB, s *mllp.Server, l net.Listener) string {
	tb.Helper()
	if s.Logger == nil {
		s.Logger = quiet
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, mllp.ErrServerClosed) {
			tb.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// echo replies "ACK|" followed by the message.
var echo = mllp.HandlerFunc(func(_ context.Context, _ mllp.Peer, msg []byte) []byte {
	return append([]byte("ACK|"), msg...)
})

// quiet discards a server's log.
var quiet = slog.New(slog.DiscardHandler)

// logBuffer collects a server's log, for tests that check what is logged.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logger returns a debug-level logger writing to a new logBuffer.
func logger() (*slog.Logger, *logBuffer) {
	lb := new(logBuffer)
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	tb.Fatalf("timed out waiting for %s", what)
}

// frame returns msg framed.
func frame(msg string) []byte { return []byte("\x0b" + msg + "\x1c\r") }

// readFrame reads one reply frame from a raw connection.
func readFrame(tb testing.TB, r *mllp.Reader) string {
	tb.Helper()
	msg, err := r.Next()
	if err != nil {
		tb.Fatalf("reading reply: %v", err)
	}
	return string(msg)
}

// closedByServer reports whether the server closed c: a read sees EOF or
// a reset, not a timeout.
func closedByServer(c net.Conn, within time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(within))
	var b [64]byte
	for {
		_, err := c.Read(b[:])
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}
