package server

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// metrics keeps request counts and latency histograms by route pattern and
// status, exposed in the Prometheus text format. Labels are route patterns,
// never paths, so no card code reaches the metrics.
type metrics struct {
	mu      sync.Mutex
	started time.Time
	series  map[metricKey]*histogram
	// rejectedOverload counts the requests refused because too many were
	// in flight (see limitInFlight).
	rejectedOverload atomic.Uint64
}

type metricKey struct {
	route  string
	status int
}

var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

type histogram struct {
	counts []uint64 // per bucket, cumulative at exposition time
	count  uint64
	sum    float64
}

func newMetrics() *metrics { return &metrics{started: time.Now(), series: map[metricKey]*histogram{}} }

func (m *metrics) observe(route string, status int, d time.Duration) {
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := metricKey{route, status}
	h := m.series[k]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		m.series[k] = h
	}
	for i, b := range latencyBuckets {
		if sec <= b {
			h.counts[i]++
			break
		}
	}
	h.count++
	h.sum += sec
}

func (m *metrics) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		keys := make([]metricKey, 0, len(m.series))
		for k := range m.series {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].route != keys[j].route {
				return keys[i].route < keys[j].route
			}
			return keys[i].status < keys[j].status
		})
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprintln(w, "# HELP haven_http_request_duration_seconds HTTP request latency by route pattern and status.")
		fmt.Fprintln(w, "# TYPE haven_http_request_duration_seconds histogram")
		for _, k := range keys {
			h := m.series[k]
			labels := fmt.Sprintf("route=%s,status=\"%d\"", strconv.Quote(k.route), k.status)
			var cum uint64
			for i, b := range latencyBuckets {
				cum += h.counts[i]
				fmt.Fprintf(w, "haven_http_request_duration_seconds_bucket{%s,le=\"%g\"} %d\n", labels, b, cum)
			}
			fmt.Fprintf(w, "haven_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", labels, h.count)
			fmt.Fprintf(w, "haven_http_request_duration_seconds_sum{%s} %g\n", labels, h.sum)
			fmt.Fprintf(w, "haven_http_request_duration_seconds_count{%s} %d\n", labels, h.count)
		}
		fmt.Fprintln(w, "# HELP haven_uptime_seconds Seconds since the server started.")
		fmt.Fprintln(w, "# TYPE haven_uptime_seconds gauge")
		fmt.Fprintf(w, "haven_uptime_seconds %g\n", time.Since(m.started).Seconds())
		fmt.Fprintln(w, "# HELP haven_http_rejected_overload_total Requests refused with 503 because too many were in flight.")
		fmt.Fprintln(w, "# TYPE haven_http_rejected_overload_total counter")
		fmt.Fprintf(w, "haven_http_rejected_overload_total %d\n", m.rejectedOverload.Load())
		m.mu.Unlock()
	})
}
