package iis_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/hl7"
	"github.com/haven-registry/haven/internal/iis"
	"github.com/haven-registry/haven/internal/mllp"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/testenv"
)

// testTLS returns a server configuration with a throw-away self-signed
// certificate for 127.0.0.1, and a client configuration trusting it.
func testTLS(tb testing.TB) (server, client *tls.Config) {
	c := testenv.NewLoopbackTLS(tb)
	return &tls.Config{Certificates: []tls.Certificate{c.Cert}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: c.Pool, MinVersion: tls.VersionTLS12}
}

// TestMLLP sends VXUs over MLLP with TLS, the token in MSH-8.
func TestMLLP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, false)
	secret, tok, err := clinic.NewToken(registry.RoleVaccinator, []string{"YB-1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.CreateToken(ctx, tok, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	other, _, err := clinic.NewToken(registry.RoleVaccinator, []string{"YB-1"}, now) // never stored
	if err != nil {
		t.Fatal(err)
	}

	serverTLS, clientTLS := testTLS(t)
	srv := &mllp.Server{Handler: iis.MLLP{H: f.h}, TLSConfig: serverTLS,
		Logger: slog.New(slog.NewJSONHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, mllp.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
	c, err := mllp.Dial(ctx, l.Addr().String(), clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	withToken := func(ctl, token string) []byte {
		b := setField(sample(t, "vxu-administered.hl7"), "MSH", 1, 10, ctl)
		return setField(b, "MSH", 1, 8, token)
	}
	for _, tc := range []struct {
		name  string
		body  []byte
		ack   hl7.AckCode
		doses int // vaccinations stored after
	}{
		{"fail/no-token", withToken("M-1", ""), hl7.AR, 0},
		{"fail/unknown-token", withToken("M-2", other), hl7.AR, 0},
		{"fail/token-with-junk", withToken("M-3", secret+"x"), hl7.AR, 0},
		{"ok/token", withToken("M-4", secret), hl7.AA, 1},
		{"ok/token-resent", withToken("M-4", secret), hl7.AA, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reply, err := c.Send(ctx, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(reply, []byte(secret)) {
				t.Errorf("the reply echoes the token")
			}
			a := readAck(t, reply)
			if a.Code != tc.ack || a.ControlID != hl7Header(t, tc.body).ControlID {
				t.Fatalf("MSA = %s %s, want %s; errors %v", a.Code, a.ControlID, tc.ack, a.Errors)
			}
			if tc.ack == hl7.AR && !hasError(errorsOf(a, hl7.SeverityError), hl7.CodeInternal, "MSH^1^8") {
				t.Errorf("errors = %v, want 207 at MSH^1^8", a.Errors)
			}
			if tc.ack == hl7.AA {
				cardOf(t, a)
			}
			if n := f.count(t, "vaccinations"); n != tc.doses {
				t.Errorf("%d vaccinations stored, want %d", n, tc.doses)
			}
		})
	}
	// A query over the same connection, with the token.
	card := f.register(t, clinic.PersonInput{BirthDate: "1978"})
	q := setField(withCard(sample(t, "qbp-z34.hl7"), card), "MSH", 1, 8, secret)
	reply, err := c.Send(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if r := readRSP(t, reply); r.ack != "AA" || r.status != "OK" || r.card != string(card) {
		t.Errorf("query over MLLP: MSA %s QAK %s PID-3 %s\n%s", r.ack, r.status, r.card, show(reply))
	}

	log := f.log.Bytes()
	for _, s := range []string{secret, other, secret[len(secret)-12:]} {
		if bytes.Contains(log, []byte(s)) {
			t.Errorf("the log holds a token (%q)", s[:6])
		}
	}
	if !bytes.Contains(log, []byte("M-4")) {
		t.Errorf("the log has no line for the message M-4; the check above looked at nothing")
	}
}
