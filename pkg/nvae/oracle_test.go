package nvae_test

import (
	"os"
	"testing"

	"github.com/nvaego/nvae/internal/oracle"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	cudab "github.com/nvaego/nvae/pkg/backend/cuda"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

// gpuDevice is the GPU the oracle runs on besides the CPU: the emulated
// one, or the real one when NVAE_CUDA_DEVICE=cuda (gpu-check sets it).
func gpuDevice() string {
	if os.Getenv("NVAE_CUDA_DEVICE") == cu.DeviceReal {
		return cu.DeviceReal
	}
	return cu.DeviceEmulated
}

// TestOracle runs every case of NVAE_ORACLE_DIR on every backend, as
// subtests <backend>/<case>: on the CPU in float32 with the README's
// tolerances and in float64 at 1e-9; on the GPU (emulated, or real under
// gpu-check) in float32 with TF32 off, at the same float32 tolerances.
func TestOracle(t *testing.T) {
	paths := oracle.Cases(t)
	t.Run("cpu", func(t *testing.T) {
		for _, path := range paths {
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
	})
	dev := gpuDevice()
	t.Run(dev, func(t *testing.T) {
		b, err := cudab.Open(dev)
		if err != nil {
			t.Fatalf("open %s: %v", dev, err)
		}
		if err := b.SetTF32(false); err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			cs := oracle.Load(t, path)
			t.Run(cs.Name, func(t *testing.T) {
				cs.Run(t, cs.BuildModel(t, b, tensor.Float32), b, tensor.Float32, oracle.F32)
			})
		}
	})
}
