package fhir_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-registry/haven/internal/clinic"
	"github.com/haven-registry/haven/internal/server/fhir"
	"github.com/haven-registry/haven/internal/server/httpx"
)

// BenchmarkImmunizationSearch times GET /fhir/r4/Immunization?patient.identifier=
// for a person with 10 doses through the whole handler, without the network:
// the search's checks, the record read (SQLite, decryption of the person)
// with its durable audit append, and the searchset's encoding. It reports
// the p50 and p99 latency of one search (target: p99 ≤ 10 ms).
func BenchmarkImmunizationSearch(b *testing.B) {
	lim := clinic.ReadLimits(1 << 30) // the benchmark is one token reading one card
	f := newFixture(b, &lim)
	ctx := context.Background()
	vax := actors["vaccinator"]
	reg, err := f.svc.RegisterPerson(ctx, vax, clinic.PersonInput{BirthDate: "1980-04-02", Sex: "female"}, "")
	if err != nil {
		b.Fatal(err)
	}
	card := reg.Record.Person.CardCode
	first := time.Date(2020, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		in := clinic.VaccinationInput{Product: "coronavac", Date: first.AddDate(0, 0, 28*i).Format(time.DateOnly), Site: "YB-1", Lot: "L" + string(rune('A'+i))}
		if _, err := f.svc.RecordVaccination(ctx, vax, card, in, ""); err != nil {
			b.Fatal(err)
		}
	}
	target := "/fhir/r4/Immunization?patient.identifier=" + fhir.CardSystem + "|" + string(card)
	base := httptest.NewRequest("GET", target, nil)
	base = base.WithContext(httpx.WithActor(base.Context(), vax))
	lat := make([]time.Duration, 0, 1<<12)
	for b.Loop() {
		rec := httptest.NewRecorder()
		start := time.Now()
		f.mux.ServeHTTP(rec, base.Clone(base.Context()))
		lat = append(lat, time.Since(start))
		if rec.Code != 200 || strings.Count(rec.Body.String(), `"resourceType":"Immunization"`) != 10 {
			b.Fatalf("search answered %d: %s", rec.Code, rec.Body)
		}
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
