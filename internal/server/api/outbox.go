package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

type outboxEntry struct {
	Seq       int64  `json:"seq"`
	RecordID  string `json:"record_id"`
	Deleted   bool   `json:"deleted,omitempty"`
	QueuedAt  string `json:"queued_at"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	Failed    bool   `json:"failed,omitempty"`
}

type outboxResponse struct {
	Pending   int64         `json:"pending"`
	Failed    int64         `json:"failed"`
	Oldest    *time.Time    `json:"oldest,omitempty"`
	LastError string        `json:"last_error,omitempty"`
	Reports   []outboxEntry `json:"reports"`
}

// OutboxList shows the upstream IIS feed's outbox (clinic ListOutbox):
// counts, and the reports waiting or rejected, with the IIS's errors.
func (h *API) OutboxList() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		limit := 100
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return registry.FieldErrorf(registry.EINVALID, "limit", "limit must be a number from 1 to 1000.")
			}
			limit = n
		}
		ob, err := h.svc.ListOutbox(r.Context(), a, limit)
		if err != nil {
			return err
		}
		Encode(w, http.StatusOK, OutboxBody(ob))
		return nil
	})
}

// OutboxBody is the JSON form of an outbox, which GET /api/v1/iis/outbox
// answers and haven iis status --json prints.
func OutboxBody(ob *clinic.Outbox) any {
	out := outboxResponse{Pending: ob.Status.Pending, Failed: ob.Status.Failed, LastError: ob.Status.LastError,
		Reports: make([]outboxEntry, 0, len(ob.Items))}
	if !ob.Status.Oldest.IsZero() {
		t := ob.Status.Oldest.UTC()
		out.Oldest = &t
	}
	for _, it := range ob.Items {
		out.Reports = append(out.Reports, outboxEntry{Seq: it.Seq, RecordID: it.RecordID.String(), Deleted: it.Deleted,
			QueuedAt: it.QueuedAt, Attempts: it.Attempts, LastError: it.LastError, Failed: it.Failed})
	}
	return out
}

// OutboxRetry puts a rejected report back in the queue (clinic RetryReport)
// and answers 204.
func (h *API) OutboxRetry() http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request, a clinic.Actor) error {
		seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
		if err != nil || seq < 1 {
			return registry.FieldErrorf(registry.EINVALID, "seq", "seq must be a report's number.")
		}
		if err := h.svc.RetryReport(r.Context(), a, seq); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
