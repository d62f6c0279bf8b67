package stats

import (
	"encoding/binary"
	"io"
	"math"

	"github.com/haven-registry/haven/internal/registry"
)

// epsilonScale is the denominator of ε: ε is used as round(ε·1000)/1000.
const epsilonScale = 1000

// Noise asks for discrete two-sided geometric noise on every interior cell
// before suppression.
//
// Epsilon (ε) is the privacy loss per record: for any two inputs that
// differ by one dose or one test (one unit in one cell), the probability of
// publishing any given table differs by at most a factor e^ε. The noise Z
// added to a count has P(Z = z) = (1-α)/(1+α) · α^|z| with α = e^(-ε), so its
// variance is 2α/(1-α)². Smaller ε means more noise and more privacy: ε =
// 0.5 gives a standard deviation of about 2.8, ε = 1 about 1.4, ε = 0.1
// about 14. Margins are sums of the noisy cells, negative counts become 0
// and suppression runs on the result: all of that is post-processing and
// costs no further privacy. A person with m doses in the period changes m
// cells, so their own loss is m·ε; publishing the same period again adds ε
// each time. Release each table once per period.
type Noise struct {
	Epsilon float64 `json:"epsilon"` // 0.001 to 20, used in steps of 0.001
}

func (n Noise) rational() (s, t int64, err error) {
	if math.IsNaN(n.Epsilon) || n.Epsilon < 0.001 || n.Epsilon > 20 {
		return 0, 0, registry.FieldErrorf(registry.EINVALID, "noise.epsilon", "epsilon must be between 0.001 and 20")
	}
	return int64(math.Round(n.Epsilon * epsilonScale)), epsilonScale, nil
}

// sampler draws exact discrete distributions from a byte source using only
// integer arithmetic (Canonne, Kamath and Steinke, "The Discrete Gaussian
// for Differential Privacy", 2020, algorithms 1 and 2), so no floating
// point rounding leaks through the noise.
type sampler struct {
	r   io.Reader
	buf [8]byte
}

// uniform returns a uniform integer in [0, n), n > 0, by rejection.
func (s *sampler) uniform(n uint64) (uint64, error) {
	limit := math.MaxUint64 - math.MaxUint64%n
	for {
		if _, err := io.ReadFull(s.r, s.buf[:]); err != nil {
			return 0, registry.Errorf(registry.EINTERNAL, "stats: no randomness: %v", err)
		}
		if x := binary.LittleEndian.Uint64(s.buf[:]); x < limit {
			return x % n, nil
		}
	}
}

// bernoulli returns true with probability num/den (0 ≤ num ≤ den, den > 0).
func (s *sampler) bernoulli(num, den uint64) (bool, error) {
	x, err := s.uniform(den)
	return x < num, err
}

// bernExp returns true with probability exp(-num/den).
func (s *sampler) bernExp(num, den uint64) (bool, error) {
	for num > den { // exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ-⌊γ⌋))
		b, err := s.bernExp01(1, 1)
		if err != nil || !b {
			return false, err
		}
		num -= den
	}
	return s.bernExp01(num, den)
}

// bernExp01 is bernExp for 0 ≤ num/den ≤ 1.
func (s *sampler) bernExp01(num, den uint64) (bool, error) {
	k := uint64(1)
	for {
		a, err := s.bernoulli(num, den*k)
		if err != nil {
			return false, err
		}
		if !a {
			break
		}
		k++
	}
	return k%2 == 1, nil
}

// geometric2 draws from the two-sided geometric (discrete Laplace)
// distribution P(z) ∝ exp(-|z|·num/den).
func (s *sampler) geometric2(num, den uint64) (int64, error) {
	for {
		u, err := s.uniform(den)
		if err != nil {
			return 0, err
		}
		d, err := s.bernExp(u, den)
		if err != nil {
			return 0, err
		}
		if !d {
			continue
		}
		var v uint64
		for {
			a, err := s.bernExp(1, 1)
			if err != nil {
				return 0, err
			}
			if !a {
				break
			}
			v++
		}
		y := int64((u + den*v) / num)
		neg, err := s.bernoulli(1, 2)
		if err != nil {
			return 0, err
		}
		if neg && y == 0 {
			continue
		}
		if neg {
			return -y, nil
		}
		return y, nil
	}
}
