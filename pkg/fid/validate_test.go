package fid

import (
	"math"
	"math/rand"
	"strings"
	"testing"
)

// TestValidateStats (issue 14.12): covariances of real features pass, even
// singular ones; negative-definite, indefinite, asymmetric and non-finite
// statistics are refused with a reason.
func TestValidateStats(t *testing.T) {
	const d, n = 16, 8 // fewer samples than dimensions: singular sigma
	rng := rand.New(rand.NewSource(1))
	x := make([]float64, n*d)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	mu, sigma := Stats(x, n, d)
	if err := ValidateStats(mu, sigma, d); err != nil {
		t.Fatalf("valid singular covariance refused: %v", err)
	}
	f32 := make([]float64, len(sigma)) // rounded through float32, as files often are
	for i, v := range sigma {
		f32[i] = float64(float32(v))
	}
	if err := ValidateStats(mu, f32, d); err != nil {
		t.Fatalf("float32-rounded covariance refused: %v", err)
	}
	neg := make([]float64, d*d)
	for i := range neg {
		neg[i] = -sigma[i]
	}
	indef := make([]float64, d*d)
	copy(indef, sigma)
	indef[0*d+1] += 10 * (sigma[0] + sigma[d+1])
	indef[1*d+0] = indef[0*d+1]
	asym := make([]float64, d*d)
	copy(asym, sigma)
	asym[2*d+3] += 0.5
	nan := make([]float64, d*d)
	copy(nan, sigma)
	nan[5] = math.NaN()
	muInf := append([]float64(nil), mu...)
	muInf[3] = math.Inf(1)
	for _, c := range []struct {
		name      string
		mu, sigma []float64
		want      string
	}{
		{"negative definite", mu, neg, "negative variance"},
		{"indefinite", mu, indef, "positive semi-definite"},
		{"asymmetric", mu, asym, "symmetric"},
		{"NaN sigma", mu, nan, "not finite"},
		{"Inf mu", muInf, sigma, "not finite"},
		{"wrong size", mu, sigma[:d], "entries"},
	} {
		err := ValidateStats(c.mu, c.sigma, d)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
