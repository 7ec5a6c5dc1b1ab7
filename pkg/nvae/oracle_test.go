package nvae_test

import (
	"testing"

	"github.com/nvaego/nvae/internal/oracle"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestOracle runs every case of NVAE_ORACLE_DIR on the CPU backend, in
// float32 with the README's tolerances and in float64 at 1e-9.
func TestOracle(t *testing.T) {
	for _, path := range oracle.Cases(t) {
		cs := oracle.Load(t, path)
		t.Run(cs.Name, func(t *testing.T) {
			for _, v := range []struct {
				name string
				dt   tensor.DType
				tol  oracle.Tolerances
			}{{"f32", tensor.Float32, oracle.F32}, {"f64", tensor.Float64, oracle.F64}} {
				t.Run(v.name, func(t *testing.T) {
					b := cpu.New()
					cs.Run(t, cs.BuildModel(t, b, v.dt), b, v.dt, v.tol)
				})
			}
		})
	}
}
