package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSyncDiskFull: a node whose disk fills up refuses writes with
// disk_full (HTTP 507), writes nothing half, and once space is freed every
// acknowledged dose reaches the central exactly once. It mounts a small
// tmpfs, so it needs root: it is skipped otherwise, and fails in CI.
func TestSyncDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("TestSyncDiskFull mounts a tmpfs and must run as root in CI")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	w := newSyncWorld(t)
	mnt := filepath.Join(t.TempDir(), "disk")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	tok := w.central.cli("token", "create", "--role", "node", "--site", "YB-1")
	n := startNodeIn(w, tok, "YB-1", filepath.Join(mnt, "haven-data"))
	cards := n.registerMany(5)
	n.waitFor("sync", 15*time.Second, func() bool { return n.pending() == 0 })
	w.central.kill()

	// Fill the disk, leaving nothing.
	ballast := filepath.Join(mnt, "ballast")
	f, err := os.Create(ballast)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	f.Close()

	acked := map[string]bool{}
	var full []byte
	for i := 0; i < 5000 && full == nil; i++ {
		body := fmt.Sprintf(`{"product":"comirnaty","date":"2026-11-%02d","site":"YB-1","lot":"FULL%04d"}`, 1+i%28, i)
		status, out, err := n.staff.do("POST", "/api/v1/persons/"+cards[i%len(cards)]+"/vaccinations", "", body)
		switch {
		case err != nil:
			t.Fatalf("dose %d: %v", i, err)
		case status == 201:
			var v struct {
				ID string `json:"id"`
			}
			json.Unmarshal(out, &v)
			acked[v.ID] = true
		case status == 507:
			full = out
		default:
			t.Fatalf("dose %d on a full disk: %d %s; want 201 or 507", i, status, out)
		}
	}
	if full == nil {
		t.Fatal("the node never refused a write on a full disk")
	}
	if !strings.Contains(string(full), `"disk_full"`) || !strings.Contains(string(full), "disk is full") {
		t.Errorf("a full disk answered %s; want code disk_full and a clear message", full)
	}
	t.Logf("%d doses saved before the disk filled; then: %s", len(acked), strings.TrimSpace(string(full)))

	// Free the space: the node writes again, and nothing was half written.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	var v struct {
		ID string `json:"id"`
	}
	json.Unmarshal(n.staff.mustDo(t, "POST", "/api/v1/persons/"+cards[0]+"/vaccinations", "", `{"product":"comirnaty","date":"2026-11-30","site":"YB-1"}`, 201), &v)
	acked[v.ID] = true
	held := 0
	for _, c := range cards {
		vs, _ := n.record(c)["vaccinations"].([]any)
		held += len(vs)
	}
	if held != len(acked) {
		t.Errorf("the node holds %d doses; %d were acknowledged", held, len(acked))
	}
	w.central.start()
	w.waitCentral(t, acked, 30*time.Second, func() string { return n.logs.String() })
	w.exactlyOnce(t, acked)
}

// startNodeIn starts a node whose data folder is data (on a small disk).
func startNodeIn(w *syncWorld, tok, site, data string) *node {
	w.t.Helper()
	flags := []string{"--upstream", "https://" + w.central.addr, "--upstream-ca", w.tls.CertFile}
	n := &node{w: w, data: data, proc: &proc{t: w.t, bin: w.bin, addr: freeAddr(w.t), global: []string{"--data", data},
		serve: flags, env: []string{"HAVEN_UPSTREAM_TOKEN=" + tok}}}
	n.start()
	w.t.Cleanup(n.kill)
	n.admin = apiClient{base: "http://" + n.addr, token: n.cli("token", "create", "--role", "admin"), http: &http.Client{Timeout: 10 * time.Second}}
	n.waitFor("enrolment", 30*time.Second, func() bool {
		status, body, err := n.admin.do("GET", "/api/v1/sites", "", "")
		return err == nil && status == 200 && strings.Contains(string(body), site)
	})
	n.staff = apiClient{base: "http://" + n.addr, token: n.cli("token", "create", "--role", "vaccinator", "--site", site),
		http: &http.Client{Timeout: 10 * time.Second}}
	return n
}
