package web

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
)

// The sync line: on an offline clinic node, every page shown to a
// signed-in member of staff says in one short line how the node stands with
// the central: when it last synced or why it cannot, how many records wait
// to be sent, how many the central refused, and a clock far off the
// central's.

// syncSkewShown is how far the node's clock may be off the central's before
// the line says so.
const syncSkewShown = 300 // seconds

// syncLine is the line the layout shows: its text and its look (sync-ok,
// sync-warn or sync-bad).
type syncLine struct {
	Text  string
	Class string
}

// SyncLine is the page's sync line, or nil when there is none (not a node,
// or nobody signed in).
func (c *PageCtx) SyncLine() *syncLine { return c.syncLine }

// loadSyncLine sets the page's sync line from the service's sync status.
func (c *PageCtx) loadSyncLine(ctx context.Context) {
	c.syncLine = nil
	if c.sess == nil || c.app == nil || c.app.svc == nil || !c.app.svc.IsNode() {
		return
	}
	st := c.app.svc.PageSyncStatus(ctx)
	if st == nil {
		return
	}
	c.syncLine = c.syncLineOf(st, c.app.svc.Now())
}

// syncLineOf words st for the page's language at time now.
func (c *PageCtx) syncLineOf(st *clinic.SyncStatus, now time.Time) *syncLine {
	var parts []string
	class := "sync-ok"
	switch st.State {
	case "revoked":
		parts, class = append(parts, c.T("sync.revoked")), "sync-bad"
	case "refused":
		parts, class = append(parts, c.T("sync.refused")), "sync-bad"
	case "sealed":
		parts, class = append(parts, c.T("sync.sealed")), "sync-warn"
	case "disk_full":
		parts, class = append(parts, c.T("sync.disk_full")), "sync-bad"
	case "online":
		if st.LastContact.IsZero() {
			parts = append(parts, c.T("sync.connected"))
		} else {
			parts = append(parts, c.T("sync.synced", c.syncAgo(now.Sub(st.LastContact))))
		}
	default: // offline
		class = "sync-warn"
		parts = append(parts, c.syncError(st, now))
	}
	if st.Pending > 0 {
		parts = append(parts, c.T(plural("sync.pending", st.Pending), c.Num(st.Pending)))
	}
	if st.Failed > 0 {
		parts, class = append(parts, c.T(plural("sync.failed", st.Failed), c.Num(st.Failed))), "sync-bad"
	}
	if skew := st.ClockSkewSeconds; math.Abs(skew) > syncSkewShown {
		key := "sync.skew.ahead"
		if skew < 0 {
			key = "sync.skew.behind"
		}
		parts = append(parts, c.T(key, c.syncDuration(time.Duration(math.Abs(skew)*float64(time.Second)))))
		if class == "sync-ok" {
			class = "sync-warn"
		}
	}
	return &syncLine{Text: strings.Join(parts, " · "), Class: class}
}

// syncError says why an offline node is not syncing, from the last error's
// code.
func (c *PageCtx) syncError(st *clinic.SyncStatus, now time.Time) string {
	switch code := st.LastErrorCode; code {
	case "", "unreachable":
		if !st.OfflineSince.IsZero() {
			return c.T("sync.unreachable_since", c.syncWhen(st.OfflineSince, now))
		}
		if code == "" && st.LastError == "" {
			return c.T("sync.not_yet")
		}
		return c.T("sync.err.unreachable")
	case "tls", "unauthorized", "forbidden", "busy", "server", "protocol":
		return c.T("sync.err." + code)
	}
	return c.T("sync.err.other")
}

// plural picks key.one for 1 and key.other for any other count.
func plural(key string, n int64) string {
	if n == 1 {
		return key + ".one"
	}
	return key + ".other"
}

// syncAgo words how long ago something happened: just now, minutes, hours
// up to two days, then days.
func (c *PageCtx) syncAgo(d time.Duration) string {
	switch {
	case d < time.Minute:
		return c.T("sync.ago.now")
	case d < time.Hour:
		return c.T("sync.ago.min", c.Num(int64(d/time.Minute)))
	case d < 48*time.Hour:
		return c.T("sync.ago.hour", c.Num(int64(d/time.Hour)))
	}
	return c.T("sync.ago.day", c.Num(int64(d/(24*time.Hour))))
}

// syncDuration words a length of time: minutes, hours up to two days, then
// days.
func (c *PageCtx) syncDuration(d time.Duration) string {
	switch {
	case d < time.Hour:
		return c.T("sync.dur.min", c.Num(int64(d/time.Minute)))
	case d < 48*time.Hour:
		return c.T("sync.dur.hour", c.Num(int64(d/time.Hour)))
	}
	return c.T("sync.dur.day", c.Num(int64(d/(24*time.Hour))))
}

// syncWhen words a moment: its time of day (UTC, as every time in the web
// app) when it is today, otherwise its date and time.
func (c *PageCtx) syncWhen(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04") + " UTC"
	}
	return c.Date(t)
}
