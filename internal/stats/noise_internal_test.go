package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGeometricDistribution compares sampled frequencies with
// P(z) = (1-α)/(1+α)·α^|z|, α = e^(-ε), within five standard errors.
func TestGeometricDistribution(t *testing.T) {
	for _, eps := range []float64{0.1, 0.5, 1, 2.5} {
		s, d, err := Noise{Epsilon: eps}.rational()
		if err != nil {
			t.Fatal(err)
		}
		smp := &sampler{r: rand.NewChaCha8([32]byte{byte(eps * 10)})}
		const n = 200_000
		counts := map[int64]int{}
		var sum, sumSq float64
		for i := 0; i < n; i++ {
			z, err := smp.geometric2(uint64(s), uint64(d))
			if err != nil {
				t.Fatal(err)
			}
			counts[z]++
			sum += float64(z)
			sumSq += float64(z) * float64(z)
		}
		alpha := math.Exp(-eps)
		for z := int64(-3); z <= 3; z++ {
			p := (1 - alpha) / (1 + alpha) * math.Pow(alpha, math.Abs(float64(z)))
			want := p * n
			sd := math.Sqrt(n * p * (1 - p))
			if got := float64(counts[z]); math.Abs(got-want) > 5*sd+1 {
				t.Errorf("ε=%g: P(%d): %d of %d, want %.0f ± %.0f", eps, z, counts[z], n, want, 5*sd)
			}
		}
		variance := 2 * alpha / ((1 - alpha) * (1 - alpha))
		if mean := sum / n; math.Abs(mean) > 5*math.Sqrt(variance/n) {
			t.Errorf("ε=%g: mean %g, want 0", eps, mean)
		}
		if v := sumSq / n; math.Abs(v-variance) > 0.05*variance {
			t.Errorf("ε=%g: variance %g, want %g", eps, v, variance)
		}
	}
}

// TestBernoulliExp checks the exact Bernoulli(exp(-γ)) sampler the noise
// rests on, for γ below and above 1.
func TestBernoulliExp(t *testing.T) {
	smp := &sampler{r: rand.NewChaCha8([32]byte{7})}
	for _, g := range [][2]uint64{{0, 1}, {1, 4}, {1, 1}, {5, 2}, {3, 1}} {
		const n = 100_000
		hits := 0
		for i := 0; i < n; i++ {
			b, err := smp.bernExp(g[0], g[1])
			if err != nil {
				t.Fatal(err)
			}
			if b {
				hits++
			}
		}
		p := math.Exp(-float64(g[0]) / float64(g[1]))
		if sd := math.Sqrt(n * p * (1 - p)); math.Abs(float64(hits)-p*n) > 5*sd+1 {
			t.Errorf("Bernoulli(exp(-%d/%d)): %d of %d, want %.0f", g[0], g[1], hits, n, p*n)
		}
	}
}
