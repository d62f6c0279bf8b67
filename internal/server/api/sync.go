package api

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
	"github.com/haven-registry/haven/internal/server/httpx"
	"github.com/haven-registry/haven/internal/syncwire"
)

// The sync routes between offline clinic nodes and the central
// (docs/adr/0006-offline-clinic-nodes.md). They decode, call one clinic
// action and encode, as every route does.

// SyncOptions configure the central's sync routes.
type SyncOptions struct {
	// Concurrency bounds the pushes applied at once across all nodes;
	// beyond it a push is answered 503 with a jittered Retry-After, so a
	// large backlog never starves live traffic. 0 means 2.
	Concurrency int
	// TrustList returns the central's trust list (JSON), which verifiers
	// and nodes load; nil answers 503.
	TrustList func() ([]byte, error)
	// Policies is the central's policy packs as nodes copy them; nil
	// answers 503.
	Policies *syncwire.PolicyBundle
	// Busy reports whether people are being served here (not nodes'
	// sync). While they are, a push is answered only after a rest of nine
	// times its apply, so that nodes' backlogs take at most a tenth of the
	// central (nil: never busy).
	Busy func() bool
}

// SetSync configures the sync routes.
func (h *API) SetSync(o SyncOptions) {
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	h.syncOpts = o
	h.pushSlots = make(chan struct{}, o.Concurrency)
}

// SyncHello enrols a node or renews its enrolment (clinic Hello).
func (h *API) SyncHello() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		in, err := decodeBody[syncwire.Hello](w, r)
		if err != nil {
			return err
		}
		ans, err := h.svc.Hello(r.Context(), a, in)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, ans)
		return nil
	})
}

// SyncPush applies a node's gzipped NDJSON batch (clinic ApplyPush).
func (h *API) SyncPush() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		if !strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "gzip") {
			return registry.FieldErrorf(registry.EUNSUPPORTED, "Content-Encoding", "A push is gzipped NDJSON (Content-Encoding: gzip).")
		}
		if h.pushSlots == nil {
			h.SetSync(SyncOptions{})
		}
		select {
		case h.pushSlots <- struct{}{}:
			defer func() { <-h.pushSlots }()
		default:
			// Busy applying other nodes' backlogs: come back soon, at a
			// random moment so that waiting nodes do not return together.
			w.Header().Set("Retry-After", strconv.Itoa(1+rand.IntN(3)))
			return registry.Errorf(registry.EUNAVAILABLE, "The central is applying other clinics' records; this push will be retried.")
		}
		body := http.MaxBytesReader(w, r.Body, syncwire.MaxCompressed)
		batch, err := syncwire.DecodePush(body)
		if err != nil {
			return err
		}
		started := time.Now()
		ans, err := h.svc.ApplyPush(r.Context(), a, batch)
		if err != nil {
			return err
		}
		if h.syncOpts.Busy != nil && h.syncOpts.Busy() {
			select {
			case <-r.Context().Done():
			case <-time.After(min(9*time.Since(started), 5*time.Second)):
			}
		}
		Encode(w, http.StatusOK, ans)
		return nil
	})
}

// SyncPull answers the next page of a node's feed as gzipped NDJSON (clinic
// Pull).
func (h *API) SyncPull() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		q := r.URL.Query()
		after, err := intParam(q.Get("after"), "after")
		if err != nil {
			return err
		}
		limit, err := intParam(q.Get("limit"), "limit")
		if err != nil {
			return err
		}
		page, err := h.svc.Pull(r.Context(), a, q.Get("node"), after, int(limit))
		if err != nil {
			return err
		}
		body, err := syncwire.EncodePull(page)
		if err != nil {
			// The central built a page it cannot send: its fault, not the
			// node's request.
			return &registry.Error{Code: registry.EINTERNAL, Message: "The central could not encode this page.", Err: err}
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return nil
	})
}

func intParam(v, name string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, registry.FieldErrorf(registry.EINVALID, name, "%s must be a whole number, 0 or more.", name)
	}
	return n, nil
}

// SyncLookup answers a node's lookup of a card registered elsewhere
// (clinic LookupForNode).
func (h *API) SyncLookup() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		card, err := httpx.CardFrom(r)
		if err != nil {
			return err
		}
		ans, err := h.svc.LookupForNode(r.Context(), a, r.URL.Query().Get("node"), card, r.URL.Query().Get("purpose"))
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, ans)
		return nil
	})
}

// SyncTrust answers the central's trust list, node signers included.
func (h *API) SyncTrust() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		if err := h.svc.SyncReferenceAllowed(a); err != nil {
			return err
		}
		if h.syncOpts.TrustList == nil {
			return registry.Errorf(registry.EUNAVAILABLE, "This central has no certificate keys.")
		}
		b, err := h.syncOpts.TrustList()
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(b)
		return nil
	})
}

// SyncPolicies answers the central's policy packs, for a node to copy.
func (h *API) SyncPolicies() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		if err := h.svc.SyncReferenceAllowed(a); err != nil {
			return err
		}
		if h.syncOpts.Policies == nil {
			return registry.Errorf(registry.EUNAVAILABLE, "This central has no policy packs to copy.")
		}
		Encode(w, http.StatusOK, h.syncOpts.Policies)
		return nil
	})
}

// SyncStatus shows the state of sync (clinic SyncStatus).
func (h *API) SyncStatus() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		st, err := h.svc.SyncStatus(r.Context(), a)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, st)
		return nil
	})
}

// SyncRetry queues a refused person's events again (clinic RetrySync).
func (h *API) SyncRetry() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
		if err != nil || seq < 0 {
			return registry.FieldErrorf(registry.EINVALID, "seq", "seq must be a failed event's number (0: all).")
		}
		n, err := h.svc.RetrySync(r.Context(), a, seq)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, map[string]int{"requeued": n})
		return nil
	})
}
