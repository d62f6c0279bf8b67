package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// goBench is the compiled test binary of one package, run for its
// benchmarks. Compiling once lets the rounds run the same binary.
type goBench struct {
	bin, dir string   // the binary, and the package folder it runs in (for testdata)
	names    []string // its benchmarks
}

// buildGoBench compiles the tests of pkg (a path like ./internal/cert/
// relative to the module root) into tmp and lists its benchmarks.
func buildGoBench(ctx context.Context, root, pkg, tmp string) (*goBench, error) {
	bin := filepath.Join(tmp, strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "_")+".test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = childEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go test -c %s: %w: %s", pkg, err, bytes.TrimSpace(out))
	}
	g := &goBench{bin: bin, dir: filepath.Join(root, pkg)}
	cmd = exec.CommandContext(ctx, bin, "-test.list", "^Benchmark")
	cmd.Dir = g.dir
	cmd.Env = childEnv()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -test.list: %w", pkg, err)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "Benchmark") {
			g.names = append(g.names, strings.TrimSpace(line))
		}
	}
	return g, nil
}

func (g *goBench) has(name string) bool { return slices.Contains(g.names, name) }

// run runs the named benchmarks once each, on one CPU (-test.cpu 1, as
// docs/benchmarks.md measures them) for benchtime, and returns their
// metrics by benchmark name and unit ("ns/op", "B/op", custom units).
func (g *goBench) run(ctx context.Context, benchtime time.Duration, names ...string) (map[string]map[string]float64, error) {
	pattern := "^(" + strings.Join(names, "|") + ")$"
	cmd := exec.CommandContext(ctx, g.bin, "-test.run", "^$", "-test.bench", pattern, "-test.benchmem",
		"-test.cpu", "1", "-test.benchtime", benchtime.String(), "-test.count", "1")
	cmd.Dir = g.dir
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", filepath.Base(g.bin), err, bytes.TrimSpace(out))
	}
	res := parseBench(out)
	for _, n := range names {
		if _, ok := res[n]; !ok {
			return nil, fmt.Errorf("%s: no result for %s in:\n%s", filepath.Base(g.bin), n, out)
		}
	}
	return res, nil
}

var benchLineRE = regexp.MustCompile(`^(Benchmark\S*?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parseBench reads the result lines of go test -bench output, such as
// "BenchmarkX-2   1000   1234 ns/op   56 B/op   7 allocs/op   1.3 ratio".
func parseBench(out []byte) map[string]map[string]float64 {
	res := map[string]map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLineRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				metrics[f[i+1]] = v
			}
		}
		if len(metrics) > 0 {
			res[m[1]] = metrics
		}
	}
	return res
}
