package server_test

import (
	"context"
	"html"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/catalog"
	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/nodesync"
	"github.com/haven-registry/haven/internal/policy"
	"github.com/haven-registry/haven/internal/server"
	"github.com/haven-registry/haven/internal/sqlite"
	"github.com/haven-registry/haven/internal/syncwire"
	"github.com/haven-registry/haven/internal/vault"
	"github.com/haven-registry/haven/policies"
)

// newNodeWebEnv is newWebEnv for an offline clinic node: the same sites and
// tokens, on a service built with SyncConfig{Node: true}, which it returns
// so that the test can play the syncer's part.
func newNodeWebEnv(t *testing.T) (*webEnv, *clinic.Service) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.Migrate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	e := &webEnv{t: t, dir: dir, store: db, logs: &syncBuffer{}, now: time.Date(2021, 9, 17, 9, 0, 0, 0, time.UTC)}
	v, err := vault.NewEphemeral(vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.NewEngine(policies.FS())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := clinic.New(clinic.Deps{Logger: logger, Store: db, Vault: v, Keys: v, Catalog: catalog.Default(), Policy: engine,
		Schedule: "cn", Now: e.clock, Sync: &clinic.SyncConfig{Node: true, Upstream: "https://central.example:8443"}})
	srv := server.New(server.Deps{Logger: logger, Service: svc})
	e.handler = srv
	e.srv = httptest.NewServer(srv)
	t.Cleanup(func() { e.srv.Close(); db.Close() })
	e.seed(t, db)
	return e, svc
}

var syncLineRe = regexp.MustCompile(`<p class="syncline (sync-[a-z]+)" role="status">([^<]*)</p>`)

// syncLineOf returns the look and text of the page's sync line, or "" and
// "" when it has none.
func syncLineOf(t *testing.T, body string) (class, text string) {
	t.Helper()
	ms := syncLineRe.FindAllStringSubmatch(body, -1)
	switch len(ms) {
	case 0:
		if strings.Contains(body, "syncline") {
			t.Fatalf("a sync line not in the expected form:\n%.3000s", body)
		}
		return "", ""
	case 1:
		return ms[0][1], html.UnescapeString(ms[0][2])
	}
	t.Fatalf("%d sync lines on one page", len(ms))
	return "", ""
}

// On a node, every page a signed-in member of staff sees carries one line
// on the link to the central, in the page's language, as the link changes.
func TestWebSyncLine(t *testing.T) {
	e, svc := newNodeWebEnv(t)
	ctx := context.Background()
	vac := e.browser(t)
	vac.signin(e.vaccinator)

	// Never synced, nothing waiting.
	p := vac.get("/clinic?lang=en")
	if class, text := syncLineOf(t, p.body); text != "Not synced with the central yet" || class != "sync-warn" {
		t.Fatalf("fresh node: %q (%s)", text, class)
	}

	// A person registered and a dose recorded: their events wait.
	card := vac.register(urlValues("given_name", "Kim", "family_name", "Min", "birth_date", "1980", "sex", "female"))
	vac.recordDose(card, "coronavac", "2021-09-01")
	st := svc.PageSyncStatus(ctx)
	if st == nil || st.Role != "node" || st.Pending < 2 {
		t.Fatalf("sync status after two writes: %+v", st)
	}
	want := func(path, lang, wantClass string, wantText ...string) {
		t.Helper()
		p := vac.get(path + "?lang=" + lang)
		if p.status != 200 {
			t.Fatalf("%s in %s: %d", path, lang, p.status)
		}
		class, text := syncLineOf(t, p.body)
		for _, w := range wantText {
			if !strings.Contains(text, w) {
				t.Errorf("%s in %s: sync line %q lacks %q", path, lang, text, w)
			}
		}
		if class != wantClass {
			t.Errorf("%s in %s: sync line %q is %s, want %s", path, lang, text, class, wantClass)
		}
		if strings.Contains(text, "⟦") {
			t.Errorf("%s in %s: sync line %q has a missing key", path, lang, text)
		}
	}
	n := strconv.FormatInt(st.Pending, 10)

	// Offline: the central cannot be reached since 09:00.
	contact := func(c nodesync.Contact) {
		t.Helper()
		if err := svc.SyncContact(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	contact(nodesync.Contact{State: nodesync.StateOffline, Direction: "hello", Error: "dial tcp: connection refused", Code: "unreachable"})
	want("/clinic", "en", "sync-warn", "Central unreachable since 09:00 UTC", n+" records waiting")
	want("/clinic", "ko", "sync-warn", "09:00 UTC부터 중앙 서버에 연결할 수 없음", "대기 중인 기록 "+n+"건")
	want("/clinic", "zh-Hans", "sync-warn", "自09:00 UTC起无法连接中心服务器", n+"条记录待同步")

	// Each failure has its own line.
	for code, texts := range map[string][3]string{
		"tls":          {"The central's certificate is not trusted", "중앙 서버의 인증서를 신뢰할 수 없음", "中心服务器的证书不受信任"},
		"unauthorized": {"The central does not accept this clinic's token", "토큰을 받지 않음", "不接受本诊所的令牌"},
		"forbidden":    {"The central refuses this clinic", "이 진료소를 거부함", "拒绝本诊所"},
		"busy":         {"The central is busy", "바쁨", "繁忙"},
		"server":       {"The central had an error", "오류", "出错"},
		"protocol":     {"update Haven", "Haven을 업데이트하세요", "请更新 Haven"},
		"no-such-code": {"haven sync status", "haven sync status", "haven sync status"},
	} {
		contact(nodesync.Contact{State: nodesync.StateOffline, Direction: "push", Error: "failed", Code: code})
		want("/clinic", "en", "sync-warn", texts[0], n+" records waiting")
		want("/clinic", "ko", "sync-warn", texts[1])
		want("/clinic", "zh-Hans", "sync-warn", texts[2])
	}

	// Online: synced some minutes ago.
	contact(nodesync.Contact{State: nodesync.StateOnline, Direction: "push"})
	want("/clinic", "en", "sync-ok", "Synced just now · "+n+" records waiting")
	e.advance(2*time.Minute + 10*time.Second)
	want("/clinic", "en", "sync-ok", "Synced 2 min ago · "+n+" records waiting")
	want("/clinic", "ko", "sync-ok", "2분 전 동기화됨")
	want("/clinic", "zh-Hans", "sync-ok", "2分钟前已同步")
	// Sessions end after 30 idle minutes: sign in again after three hours.
	e.advance(3 * time.Hour)
	vac.signin(e.vaccinator)
	want("/check", "en", "sync-ok", "Synced 3 h ago")

	// The node's clock runs two days ahead of the central's, then ten
	// minutes behind; a few seconds are not worth a word.
	contact(nodesync.Contact{State: nodesync.StateOnline, Direction: "hello", Skew: 2*86400 + 60, Measured: true})
	want("/clinic", "en", "sync-warn", "Clock 2 days ahead of the central")
	want("/clinic", "ko", "sync-warn", "시계가 중앙 서버보다 2일 빠름")
	want("/clinic", "zh-Hans", "sync-warn", "时钟比中心服务器快2天")
	contact(nodesync.Contact{State: nodesync.StateOnline, Direction: "hello", Skew: -600, Measured: true})
	want("/clinic", "en", "sync-warn", "Clock 10 min behind the central")
	want("/clinic", "ko", "sync-warn", "시계가 중앙 서버보다 10분 느림")
	want("/clinic", "zh-Hans", "sync-warn", "时钟比中心服务器慢10分钟")
	contact(nodesync.Contact{State: nodesync.StateOnline, Direction: "hello", Skew: 12, Measured: true})
	if _, text := syncLineOf(t, vac.get("/clinic?lang=en").body); strings.Contains(text, "Clock") {
		t.Errorf("a skew of 12 s is shown: %q", text)
	}

	// The central takes the first event and refuses the rest: nothing
	// waits, and the refused records are counted.
	b, err := svc.SyncBatch(ctx, 100)
	if err != nil || b == nil || len(b.Events) < 2 {
		t.Fatalf("sync batch: %v %+v", err, b)
	}
	var rejected []syncwire.Reject
	for _, ev := range b.Events[1:] {
		if len(rejected) == 0 || rejected[len(rejected)-1].Seq != ev.Seq {
			rejected = append(rejected, syncwire.Reject{Seq: ev.Seq, Code: "invalid", Field: "product", Message: "Unknown product."})
		}
	}
	if err := svc.SyncAcked(ctx, b, &syncwire.PushAnswer{AppliedSeq: b.Header.Last, Rejected: rejected}); err != nil {
		t.Fatal(err)
	}
	st = svc.PageSyncStatus(ctx)
	if st.Pending != 0 || st.Failed < 1 {
		t.Fatalf("after the push: %+v", st)
	}
	f := strconv.FormatInt(st.Failed, 10)
	record := " records refused by the central"
	if st.Failed == 1 {
		record = " record refused by the central"
	}
	want("/clinic", "en", "sync-bad", "Synced just now · "+f+record)
	want("/clinic", "ko", "sync-bad", "중앙 서버가 거부한 기록 "+f+"건")
	want("/clinic", "zh-Hans", "sync-bad", f+"条记录被中心服务器拒绝")
	if _, text := syncLineOf(t, vac.get("/clinic?lang=en").body); strings.Contains(text, "waiting") {
		t.Errorf("nothing waits, yet the line says so: %q", text)
	}

	// The node's token is revoked at the central; another clinic refuses.
	contact(nodesync.Contact{State: nodesync.StateRevoked, Direction: "push", Error: "401 token revoked", Code: "unauthorized"})
	want("/clinic", "en", "sync-bad", "Token revoked: re-enrol this clinic")
	want("/clinic", "ko", "sync-bad", "토큰이 폐기됨: 이 진료소를 다시 등록하세요")
	want("/clinic", "zh-Hans", "sync-bad", "令牌已吊销：请重新登记本诊所")
	contact(nodesync.Contact{State: nodesync.StateRefused, Direction: "hello", Error: "403", Code: "forbidden"})
	want("/clinic", "en", "sync-bad", "The central refuses this clinic: ask its administrator")
	contact(nodesync.Contact{State: nodesync.StateDiskFull, Direction: "pull", Error: "disk full", Code: "server"})
	want("/clinic", "en", "sync-bad", "Disk full")
	want("/clinic", "ko", "sync-bad", "디스크가 가득 참")
	want("/clinic", "zh-Hans", "sync-bad", "磁盘已满")

	// Every role sees it on its own pages; a visitor never does.
	for _, who := range []struct {
		token string
		paths []string
	}{
		{e.admin, []string{"/admin", "/check"}},
		{e.analyst, []string{"/program", "/program/coverage"}},
		{e.auditor, []string{"/audit"}},
	} {
		b := e.browser(t)
		b.signin(who.token)
		for _, path := range who.paths {
			for _, lang := range webLangs {
				p := b.get(path + "?lang=" + lang)
				if _, text := syncLineOf(t, p.body); text == "" {
					t.Errorf("%s in %s: no sync line (%d)", path, lang, p.status)
				}
			}
		}
	}
	anon := e.browser(t)
	for _, path := range []string{"/", "/signin", "/holder", "/verify"} {
		if _, text := syncLineOf(t, anon.get(path).body); text != "" {
			t.Errorf("a visitor sees the sync line on %s: %q", path, text)
		}
	}
	// Signed out, the line goes with the session.
	vac.post("/signout", urlValues())
	if _, text := syncLineOf(t, vac.get("/").body); text != "" {
		t.Errorf("the sync line outlives the session: %q", text)
	}
}

// A server that is not a node shows no sync line to anyone.
func TestWebSyncLineOnlyOnNodes(t *testing.T) {
	e := newWebEnv(t)
	for _, who := range []struct {
		token string
		paths []string
	}{
		{e.vaccinator, []string{"/clinic", "/check"}},
		{e.admin, []string{"/admin"}},
	} {
		b := e.browser(t)
		b.signin(who.token)
		for _, path := range who.paths {
			for _, lang := range webLangs {
				p := b.get(path + "?lang=" + lang)
				if p.status != 200 {
					t.Fatalf("%s in %s: %d", path, lang, p.status)
				}
				if strings.Contains(p.body, "syncline") {
					t.Errorf("%s in %s shows a sync line on a server that is not a node", path, lang)
				}
			}
		}
	}
}

// On a 360-pixel phone, the longest sync line wraps inside the page in
// every language, and nothing scrolls sideways.
func TestBrowserSyncLineAt360(t *testing.T) {
	e, svc := newNodeWebEnv(t)
	ctx := context.Background()
	vac := e.browser(t)
	vac.signin(e.vaccinator)
	vac.register(urlValues("given_name", "Kim", "family_name", "Min", "birth_date", "1980", "sex", "female"))
	if err := svc.SyncContact(ctx, nodesync.Contact{State: nodesync.StateOffline, Direction: "push", Error: "x", Code: "protocol",
		Skew: 3 * 86400, Measured: true}); err != nil {
		t.Fatal(err)
	}
	for _, lang := range webLangs {
		c := newChromeSized(t, e, lang, 360, 740)
		c.signin(e.vaccinator)
		c.open("/clinic?lang=" + lang)
		line := c.text(".syncline")
		if !strings.Contains(line, "Haven") || !strings.Contains(line, "·") {
			t.Errorf("%s: sync line %q", lang, line)
		}
		c.shot("sync-line-360-" + lang)
		width := c.eval(`String(document.documentElement.scrollWidth)`)
		if n, _ := strconv.Atoi(width); n > 360 {
			t.Errorf("/clinic with a sync line (%s) is %s px wide at 360", lang, width)
		}
		r := c.eval(`String(document.querySelector(".syncline").getBoundingClientRect().right)`)
		if f, _ := strconv.ParseFloat(r, 64); f > 360.5 {
			t.Errorf("%s: the sync line ends at %s px", lang, r)
		}
	}
}
