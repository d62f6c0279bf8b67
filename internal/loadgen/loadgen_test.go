package loadgen_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"
)

// TestRun drives a stand-in server in each mode and checks what is counted:
// acknowledged requests (messages, for batched VXUs), and errors for the
// answers that are not acknowledgements.
func TestRun(t *testing.T) {
	var vxuMessages atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Header.Get("Authorization") != "Bearer tok":
			w.WriteHeader(http.StatusUnauthorized)
		case r.URL.Path == "/api/v1/hl7":
			n := bytes.Count(body, []byte("MSH|"))
			vxuMessages.Add(int64(n))
			io.WriteString(w, strings.Repeat("MSH|^~\\&|X\rMSA|AA|1\r", n))
		case strings.HasSuffix(r.URL.Path, "/vaccinations"):
			if r.Header.Get("Idempotency-Key") == "" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusCreated)
		case r.URL.Path == "/fhir/r4/Immunization":
			io.WriteString(w, `{"resourceType":"Bundle"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	cards := []string{"AAAA-BBBB-CCCC", "DDDD-EEEE-FFFF", "GGGG-HHHH-JJJJ"}
	for _, tc := range []struct {
		mode  string
		batch int
		token string
		ok    bool
	}{
		{loadgen.Doses, 1, "tok", true},
		{loadgen.VXU, 1, "tok", true},
		{loadgen.VXU, 4, "tok", true},
		{loadgen.FHIR, 1, "tok", true},
		{loadgen.Doses, 1, "wrong", false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			vxuMessages.Store(0)
			lg := loadgen.New(srv.URL, tc.token, "YB-1", tc.mode, 4)
			defer lg.Close()
			lg.Batch, lg.Cards = tc.batch, cards
			res, err := lg.Run(context.Background(), cards, 4, 150*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				if res.OK != 0 || res.Errors == 0 {
					t.Errorf("refused requests counted: %+v", res)
				}
				return
			}
			if res.OK == 0 || res.Errors != 0 || res.PerSecond <= 0 || res.P99 < res.P50 {
				t.Fatalf("result = %+v", res)
			}
			if tc.mode == loadgen.VXU && int64(res.OK) > vxuMessages.Load() {
				t.Errorf("%d messages counted, the server saw %d", res.OK, vxuMessages.Load())
			}
			if tc.mode == loadgen.VXU && tc.batch > 1 && res.OK%tc.batch != 0 {
				t.Errorf("a batched run counted %d messages, not a multiple of %d", res.OK, tc.batch)
			}
		})
	}
}

// TestRunUnavailable checks that 503 answers (an overloaded server's
// refusals) are counted among the errors and apart, with their latencies.
func TestRunUnavailable(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 0:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 1:
			w.WriteHeader(http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()
	lg := loadgen.New(srv.URL, "tok", "YB-1", loadgen.Doses, 2)
	defer lg.Close()
	res, err := lg.Run(context.Background(), []string{"AAAA-BBBB-CCCC"}, 2, 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.Unavailable == 0 || res.Errors <= res.Unavailable {
		t.Fatalf("result = %+v: want successes, 503s, and other errors beside them", res)
	}
	if res.UnavailableP50 <= 0 || res.UnavailableP99 < res.UnavailableP50 || res.UnavailableMax < res.UnavailableP99 {
		t.Errorf("503 latencies: %+v", res)
	}
}
