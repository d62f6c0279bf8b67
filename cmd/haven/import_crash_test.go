package main

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // read the data folder's database as it is on disk
)

// TestImportKilledHalfway kills `haven import` with SIGKILL partway through
// a file and runs it again: the second run adds what the first did not,
// and nothing twice (issue 13).
func TestImportKilledHalfway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills an import; skipped with -short")
	}
	bin := havenBinary(t)
	data := t.TempDir()
	runCLI(t, bin, nil, "--data", data, "migrate")

	const persons, each = 2000, 3
	in := filepath.Join(t.TempDir(), "backlog.ndjson")
	var b strings.Builder
	for p := range persons {
		for d := range each {
			fmt.Fprintf(&b, `{"person":"P%d","birth_date":"2019-03-04","type":"vaccination","key":"P%d-%d","cvx":"03","date":"2020-%02d-10"}`+"\n",
				p, p, d, 3+d)
		}
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	count := func() (int, int) {
		t.Helper()
		db, err := sql.Open("sqlite", filepath.Join(data, "haven.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var np, nv int
		if err := db.QueryRow(`SELECT count(*) FROM persons`).Scan(&np); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT count(*) FROM vaccinations`).Scan(&nv); err != nil {
			t.Fatal(err)
		}
		return np, nv
	}

	// The first run is killed once it has written some, not all.
	cmd := exec.Command(bin, "--data", data, "import", in)
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, nv := count()
		if nv >= persons*each/10 {
			break
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("the import wrote %d doses in 60 s", nv)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	np, nv := count()
	if nv >= persons*each {
		t.Fatalf("the import finished (%d doses) before it was killed; the test needs a bigger file", nv)
	}
	t.Logf("killed after %d persons and %d doses of %d and %d", np, nv, persons, persons*each)

	out := runCLI(t, bin, nil, "--data", data, "import", in)
	if np, nv := count(); np != persons || nv != persons*each {
		t.Fatalf("after the re-run: %d persons and %d doses; want %d and %d exactly\n%s", np, nv, persons, persons*each, out)
	}
	// A third run adds nothing at all.
	runCLI(t, bin, nil, "--data", data, "import", in)
	if np, nv := count(); np != persons || nv != persons*each {
		t.Fatalf("after a third run: %d persons and %d doses; want %d and %d", np, nv, persons, persons*each)
	}
}
