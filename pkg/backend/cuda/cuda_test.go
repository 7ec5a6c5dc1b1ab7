package cuda

import (
	"os"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/backend/backendtest"
	cu "github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/tensor"
)

// The tests run on the emulated GPU unless NVAE_CUDA_DEVICE=cuda (the
// gpu-check folder's run.sh sets it on a GPU machine).
var device = cu.DeviceEmulated

func TestMain(m *testing.M) {
	if os.Getenv("NVAE_CUDA_DEVICE") == cu.DeviceReal {
		device = cu.DeviceReal
	}
	os.Exit(testenv.RunWithCUDACache(m))
}

func testBackend(t testing.TB) *Backend {
	t.Helper()
	b, err := Open(device)
	if err != nil {
		t.Fatalf("open %s: %v", device, err)
	}
	return b
}

// TestConformance runs the backend conformance suite (every op, forward
// and backward, against float64 references) in float32.
func TestConformance(t *testing.T) {
	backendtest.Run(t, testBackend(t), tensor.Float32)
}
