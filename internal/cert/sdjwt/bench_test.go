package sdjwt_test

import (
	"crypto"
	"testing"

	"github.com/haven-registry/haven/internal/cert/sdjwt"
)

func BenchmarkIssue(b *testing.B) {
	opts := sdjwt.IssueOptions{Now: now}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdjwt.Issue(issuerSK, testKid, fullClaims, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPresent(b *testing.B) {
	cred := issue(b, fullClaims, sdjwt.IssueOptions{})[0]
	reveal := []string{sdjwt.ClaimVaccinated, sdjwt.ClaimValidUntil}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdjwt.Present(cred, reveal, sdjwt.PresentOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	cred := issue(b, fullClaims, sdjwt.IssueOptions{})[0]
	p := present(b, cred, []string{sdjwt.ClaimVaccinated, sdjwt.ClaimValidUntil}, sdjwt.PresentOptions{})
	opts := sdjwt.VerifyOptions{Now: now}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdjwt.Verify(p, trusted, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyKeyBinding(b *testing.B) {
	holder := mustKey()
	cred := issue(b, fullClaims, sdjwt.IssueOptions{HolderKeys: []crypto.PublicKey{holder.Public()}})[0]
	p := present(b, cred, []string{sdjwt.ClaimVaccinated, sdjwt.ClaimValidUntil},
		sdjwt.PresentOptions{HolderKey: holder, Audience: "https://v.example", Nonce: "n", Now: now})
	opts := sdjwt.VerifyOptions{Now: now, RequireKeyBinding: true, Audience: "https://v.example", Nonce: "n"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdjwt.Verify(p, trusted, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCheckPhrase(b *testing.B) {
	cred := issue(b, fullClaims, sdjwt.IssueOptions{CheckPhrase: "7KQM-4XRD"})[0]
	p := present(b, cred, []string{sdjwt.ClaimVaccinated, sdjwt.ClaimCheckPhrase}, sdjwt.PresentOptions{})
	opts := sdjwt.VerifyOptions{Now: now, CheckPhrase: "7KQM-4XRD"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdjwt.Verify(p, trusted, opts); err != nil {
			b.Fatal(err)
		}
	}
}
