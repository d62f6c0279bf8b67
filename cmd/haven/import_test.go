package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/registry"
)

// importEnv is a data folder with one site (YB-1) and a command
// environment over it.
func importEnv(t *testing.T) *commandEnv {
	t.Helper()
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	env := &commandEnv{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
		DataDir: dir, Now: func() time.Time { return time.Date(2021, 10, 1, 9, 0, 0, 0, time.UTC) }}
	ctx := context.Background()
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateSite(ctx, registry.Site{Code: "YB-1", Name: "Yanji", Jurisdiction: "CN-JL-YB",
		Services: []string{registry.ServiceVaccination, registry.ServiceTesting}, CreatedAt: env.Now()}, registry.Write{}); err != nil {
		t.Fatal(err)
	}
	return env
}

// records reads the records of the persons named in a --cards file.
func importedRecords(t *testing.T, env *commandEnv, cardsPath string) map[string]*registry.Record {
	t.Helper()
	f, err := os.Open(cardsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := openReadyDatabase(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := openVault(env)
	if err != nil {
		t.Fatal(err)
	}
	svc := operatorService(env, db, v)
	out := map[string]*registry.Record{}
	for _, r := range rows[1:] {
		rec, err := svc.ReadRecord(ctx, clinic.Operator(), registry.CardCode(r[1]), "care")
		if err != nil {
			t.Fatalf("person %s (card %s): %v", r[0], r[1], err)
		}
		out[r[0]] = rec
	}
	return out
}

const importCSV = `person,given_name,family_name,birth_date,sex,type,key,product,cvx,mvx,date,site,lot,source,not_given,reason,kind,result
P1,민준,김,1985,male,vaccination,V1,coronavac,,,2021-05-01,YB-1,L1,administered,,,,
P1,민준,김,1985,male,vaccination,V2,,511,SNV,2021-06-01,,,historical-card,,,,
P1,,,,,test,T1,,,,2021-06-02,YB-1,,,,,pcr,negative
P2,丽,王,1978-04,female,vaccination,V3,,08,,2021-07-01,,,,true,PATOBJ,,
P2,丽,王,1978-04,female,vaccination,V4,coronavac,,,2021-13-01,YB-1,,administered,,,,
P3,,,,,vaccination,,coronavac,,,2021-07-01,YB-1,,administered,,,,
P3,,,,,vaccination,V6,,000,,2021-07-01,,,,,,,
P3,,,,,vaccination,V7,coronavac,,,2021-07-02,YB-1,,administered,,,,
P3,,,,,flu-shot,V8,,,,2021-07-03,,,,,,,
`

func TestImportCSV(t *testing.T) {
	env := importEnv(t)
	in := filepath.Join(t.TempDir(), "backlog.csv")
	if err := os.WriteFile(in, []byte(importCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	cards := filepath.Join(t.TempDir(), "cards.csv")
	err := importCommand(context.Background(), env, []string{"--cards", cards, in})
	if err == nil || !strings.Contains(err.Error(), "4 lines rejected") {
		t.Fatalf("import: %v, want 4 lines rejected\n%s", err, env.Stdout)
	}
	out := env.Stdout.(*bytes.Buffer).String()
	for _, want := range []string{"lines 9", "persons registered 3", "vaccinations recorded 4", "tests recorded 1", "rejected 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	rej, err := os.ReadFile(in + ".rejects.csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(rej)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows[1:] {
		got[r[0]] = r[1]
	}
	// Line numbers count the header as line 1.
	for line, field := range map[string]string{"6": "date", "7": "key", "8": "cvx", "10": "type"} {
		if got[line] != field {
			t.Errorf("reject of line %s names field %q, want %q (rejects: %v)", line, got[line], field, rows)
		}
	}

	recs := importedRecords(t, env, cards)
	p1 := recs["P1"]
	if p1 == nil || p1.Person.Demographics.GivenName != "민준" || p1.Person.Demographics.FamilyName != "김" {
		t.Fatalf("P1 = %+v", p1)
	}
	if len(p1.Vaccinations) != 2 || len(p1.Tests) != 1 || p1.Vaccinations[1].Source != registry.SourceHistoricalCard ||
		p1.Vaccinations[1].Product != "coronavac" {
		t.Errorf("P1's records: %+v %+v", p1.Vaccinations, p1.Tests)
	}
	p2 := recs["P2"]
	if p2 == nil || p2.Person.Demographics.GivenName != "丽" || len(p2.Vaccinations) != 1 ||
		p2.Vaccinations[0].Status != registry.StatusNotDone || p2.Vaccinations[0].StatusReason != registry.ReasonPatientObjection {
		t.Errorf("P2 = %+v", p2)
	}
	if p3 := recs["P3"]; p3 == nil || len(p3.Vaccinations) != 1 || p3.Vaccinations[0].Date.String() != "2021-07-02" {
		t.Errorf("P3 = %+v", p3)
	}

	// A re-run adds nothing twice: the persons are found again, the
	// records are already there.
	env.Stdout.(*bytes.Buffer).Reset()
	_ = importCommand(context.Background(), env, []string{in})
	out = env.Stdout.(*bytes.Buffer).String()
	for _, want := range []string{"persons registered 0, found 3", "vaccinations recorded 0", "tests recorded 0", "already imported 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("re-run summary lacks %q:\n%s", want, out)
		}
	}
	if again := importedRecords(t, env, cards); len(again["P1"].Vaccinations) != 2 || len(again["P1"].Tests) != 1 {
		t.Errorf("the re-run added records: %+v", again["P1"])
	}
}

func TestImportNDJSON(t *testing.T) {
	env := importEnv(t)
	in := filepath.Join(t.TempDir(), "export.ndjson")
	body := `{"person":"A","given_name":"Ji-woo","birth_date":"2019-03-04","type":"vaccination","key":"1","cvx":"03","date":"2020-03-10"}
{"person":"A","type":"vaccination","key":"2","cvx":"03","date":"2020-04-10"}
not json
{"person":"B","key":"3","cvx":"08","date":"2021-01-01","colour":"red"}
`
	if err := os.WriteFile(in, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cards := filepath.Join(t.TempDir(), "cards.csv")
	err := importCommand(context.Background(), env, []string{"--cards", cards, in})
	if err == nil || !strings.Contains(err.Error(), "2 lines rejected") {
		t.Fatalf("import: %v\n%s", err, env.Stdout)
	}
	recs := importedRecords(t, env, cards)
	a := recs["A"]
	if a == nil || len(a.Vaccinations) != 2 || a.Vaccinations[0].Product != "cvx-03" {
		t.Fatalf("A = %+v", a)
	}
}
