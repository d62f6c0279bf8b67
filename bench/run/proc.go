package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/haven-registry/haven/internal/loadgen"
)

// proc is a server process started by the tool: haven serve or the floor.
type proc struct {
	cmd  *exec.Cmd
	base string     // http://ADDR (or https://ADDR) it listens on
	log  string     // file holding its standard error
	done chan error // receives Wait's result, then is closed
}

var listeningRE = regexp.MustCompile(`listening on (https?://\S+)`)

// startProc starts name with args and env, its standard error going to
// logPath, and waits until it prints "listening on http://ADDR" (or
// https://ADDR). The
// caller must call stop.
func startProc(ctx context.Context, name string, args, env []string, logPath string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stderr = logf
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, out)
		p.done <- cmd.Wait()
		close(p.done)
	}()
	select {
	case base := <-addrc:
		p.base = base
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("%s exited before listening (%v): %s", filepath.Base(name), err, tail(logPath))
	case <-time.After(2 * time.Minute):
		p.stop()
		return nil, fmt.Errorf("%s did not listen within 2 minutes: %s", filepath.Base(name), tail(logPath))
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop asks the process to end (SIGTERM: haven serve drains its requests
// and closes its store) and kills it if it has not after 30 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// rss returns the resident set size of the process (VmRSS), in bytes.
func (p *proc) rss() (int64, error) {
	m, err := p.memory()
	return m.rss, err
}

// memory is what /proc/PID/status says of a process's resident memory, in
// bytes: VmRSS, and its anonymous (heap, stacks) and file-backed (the
// binary, mapped files) parts.
type memory struct {
	rss, anon, file int64
}

// memory reads the process's resident memory from /proc/PID/status.
func (p *proc) memory() (memory, error) {
	var m memory
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return m, err
	}
	found := false
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst, found = &m.rss, true
		case "RssAnon":
			dst = &m.anon
		case "RssFile":
			dst = &m.file
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc/PID/status: %s: %w", k, err)
		}
		*dst = kb << 10
	}
	if !found {
		return m, errors.New("no VmRSS in /proc/PID/status")
	}
	return m, nil
}

// samplePeakRSS reads the process's VmRSS every 100 ms, from now until the
// function it returns is called; that function returns the largest value
// read (0 if none could be).
func (p *proc) samplePeakRSS(ctx context.Context) func() int64 {
	ctx, cancel := context.WithCancel(ctx)
	peakc := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := p.rss(); err == nil {
				peak = max(peak, v)
			}
			select {
			case <-ctx.Done():
				peakc <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		cancel()
		return <-peakc
	}
}

// tail returns the end of a log file, for an error message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	b = bytes.TrimSpace(b)
	if len(b) > 800 {
		b = b[len(b)-800:]
	}
	if len(b) == 0 {
		return "(nothing on standard error)"
	}
	return string(b)
}

// childEnv is the environment of the processes the tool starts: its own,
// without HAVEN_* variables, so that only the flags given here configure
// Haven.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HAVEN_") {
			env = append(env, kv)
		}
	}
	return env
}

// havenServer is a haven serve process on a fresh data folder (and, for
// PostgreSQL, a fresh database), with a site and a vaccinator token.
type havenServer struct {
	*proc
	bin, data, db string
	token, site   string
}

// startHaven runs haven serve on a loopback port with data folder data
// and database db ("" for SQLite in the data folder), plus serveArgs; it
// creates an admin token, a site through the API and a vaccinator token
// for it.
func startHaven(ctx context.Context, bin, data, db string, serveArgs ...string) (*havenServer, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	h := &havenServer{bin: bin, data: data, db: db, site: "BENCH-1"}
	args := append(h.globalArgs(), "--addr", "127.0.0.1:0", "serve", "--log-level", "error")
	p, err := startProc(ctx, bin, append(args, serveArgs...), childEnv(), data+".log")
	if err != nil {
		return nil, err
	}
	h.proc = p
	if err := h.setup(ctx); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

func (h *havenServer) globalArgs() []string {
	args := []string{"--data", h.data}
	if h.db != "" {
		args = append(args, "--db", h.db)
	}
	return args
}

// cli runs a haven command on the server's store and returns its
// standard output, trimmed.
func (h *havenServer) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.bin, append(h.globalArgs(), args...)...)
	cmd.Env = childEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("haven %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(bytes.TrimSpace(out)), nil
}

func (h *havenServer) setup(ctx context.Context) error {
	if err := waitReady(ctx, h.base+"/readyz"); err != nil {
		return fmt.Errorf("haven serve: %w: %s", err, tail(h.log))
	}
	admin, err := h.cli(ctx, "token", "create", "--role", "admin", "--label", "bench/run")
	if err != nil {
		return err
	}
	site, _ := json.Marshal(map[string]any{"code": h.site, "name": "Benchmark site", "jurisdiction": "KR", "services": []string{"vaccination"}})
	lg := loadgen.New(h.base, admin, h.site, loadgen.Doses, 1)
	defer lg.Close()
	status, body, err := lg.Do(ctx, "POST", "/api/v1/sites", "application/json", "", site)
	if err != nil {
		return fmt.Errorf("create a site: %w", err)
	}
	if status != http.StatusCreated {
		return fmt.Errorf("create a site: %d %s", status, body)
	}
	h.token, err = h.cli(ctx, "token", "create", "--role", "vaccinator", "--site", h.site, "--label", "bench/run")
	return err
}

// waitReady polls url until it answers 200.
func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, res.Status)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after a minute: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startFloor runs this tool's own binary as the HTTP floor server (see
// serveFloor), answering FHIR searches with fhirBytes bytes.
func startFloor(ctx context.Context, logPath string, fhirBytes int) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p, err := startProc(ctx, self, []string{floorCommand, "--fhir-bytes", strconv.Itoa(fhirBytes)}, childEnv(), logPath)
	if err != nil {
		return nil, fmt.Errorf("floor server: %w", err)
	}
	return p, nil
}
