package clinic

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/haven-registry/haven/internal/registry"
)

// reports returns the reports to queue for a vaccination recorded or marked
// entered in error in Haven: none when there is no upstream feed, or when
// the record came from another system.
func (s *Service) reports(v registry.Vaccination, deleted bool) []registry.Report {
	if !s.reportUpstream || v.SourceRef != "" {
		return nil
	}
	return []registry.Report{{PersonID: v.PersonID, RecordID: v.ID, Deleted: deleted, At: s.stamp()}}
}

// PendingReport is a queued report with what a message about it needs: the
// person's card code, the vaccination as it now stands and, only when the
// feed's profile asks for them, the person's demographics.
type PendingReport struct {
	Seq         int64
	Attempts    int
	Deleted     bool
	Card        registry.CardCode
	Vaccination registry.Vaccination
	// Demographics is set only when NextReports was asked for it.
	Demographics *registry.Demographics
}

// NextReports returns up to limit reports queued for the upstream feed,
// oldest first, each read from the record as it now stands. Reading one is
// an export of the record, so each is audited (report.send) before it is
// returned. A report whose person or record no longer exists (erased, or
// gone) is settled as sent and skipped. Only the operator (the feed inside
// the server) may call it.
func (s *Service) NextReports(ctx context.Context, a Actor, limit int, demographics bool) ([]PendingReport, error) {
	if err := s.begin(a, ActReportSend); err != nil {
		return nil, err
	}
	items, err := s.store.PendingReports(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]PendingReport, 0, len(items))
	for _, it := range items {
		r, err := s.pendingReport(ctx, it, demographics)
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			if err := s.store.SettleReport(ctx, it.Seq, registry.ReportOutcome{Sent: true, At: s.now()}); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		subject, err := s.subjectOf(it.Report.PersonID)
		if err != nil {
			return nil, err
		}
		if err := s.trace(ctx, a, ActReportSend, "report", subject); err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

func (s *Service) pendingReport(ctx context.Context, it registry.OutboxItem, demographics bool) (*PendingReport, error) {
	v, err := s.store.FindVaccination(ctx, it.Report.RecordID)
	if err != nil {
		return nil, err
	}
	if v.PersonID != it.Report.PersonID {
		return nil, registry.Errorf(registry.ENOTFOUND, "The record no longer belongs to the person.")
	}
	r := &PendingReport{Seq: it.Seq, Attempts: it.Attempts, Deleted: it.Report.Deleted, Card: it.Card, Vaccination: *v}
	if demographics {
		sp, err := s.findPerson(ctx, it.Card)
		if err != nil {
			return nil, err
		}
		rec, err := s.open(&registry.SealedRecord{Person: *sp})
		if err != nil {
			return nil, err
		}
		r.Demographics = &rec.Person.Demographics
	}
	return r, nil
}

// SettleReport records the outcome of sending the report seq: sent, rejected
// by the IIS (kept for the operator, not retried), or failed (retried).
// errText is shown to operators; it is cut to 500 bytes.
func (s *Service) SettleReport(ctx context.Context, a Actor, seq int64, sent, rejected bool, errText string) error {
	if err := s.begin(a, ActReportSend); err != nil {
		return err
	}
	errText = strings.ToValidUTF8(errText, "?")
	for len(errText) > 500 {
		_, size := utf8.DecodeLastRuneInString(errText)
		errText = errText[:len(errText)-size]
	}
	return s.store.SettleReport(ctx, seq, registry.ReportOutcome{Sent: sent, Failed: rejected, Error: errText, At: s.now()})
}

// Outbox is the state of the upstream feed for an administrator: counts,
// and the reports waiting or set aside (without card codes: an
// administrator needs the failure, not the person).
type Outbox struct {
	Status registry.OutboxStatus
	Items  []OutboxEntry
}

// OutboxEntry is one queued or failed report.
type OutboxEntry struct {
	Seq       int64
	RecordID  registry.ID
	Deleted   bool
	QueuedAt  string // RFC 3339
	Attempts  int
	LastError string
	Failed    bool
}

// ListOutbox returns the outbox of the upstream feed: its status and up to
// limit reports, oldest first.
func (s *Service) ListOutbox(ctx context.Context, a Actor, limit int) (*Outbox, error) {
	if err := s.begin(a, ActOutboxList); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	st, err := s.store.OutboxStatus(ctx)
	if err != nil {
		return nil, err
	}
	items, err := s.store.ListOutbox(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := &Outbox{Status: st, Items: make([]OutboxEntry, 0, len(items))}
	for _, it := range items {
		out.Items = append(out.Items, OutboxEntry{Seq: it.Seq, RecordID: it.Report.RecordID, Deleted: it.Report.Deleted,
			QueuedAt: it.QueuedAt.UTC().Format("2006-01-02T15:04:05Z"), Attempts: it.Attempts, LastError: it.LastError, Failed: it.Failed})
	}
	if err := s.trace(ctx, a, ActOutboxList, "admin", "outbox"); err != nil {
		return nil, err
	}
	return out, nil
}

// RetryReport puts a report the IIS rejected back in the queue, in its
// place (after the operator fixed the cause). Returns ENOTFOUND naming seq
// if there is no such report.
func (s *Service) RetryReport(ctx context.Context, a Actor, seq int64) error {
	if err := s.begin(a, ActOutboxRetry); err != nil {
		return err
	}
	if err := s.store.RetryReport(ctx, seq); err != nil {
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			return registry.FieldErrorf(registry.ENOTFOUND, "seq", "No report %d in the outbox.", seq)
		}
		return err
	}
	return s.trace(ctx, a, ActOutboxRetry, "admin", "outbox:"+strconv.FormatInt(seq, 10))
}
