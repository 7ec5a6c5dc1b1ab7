package cpu_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/backend/backendtest"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestConformance runs the backend conformance suite on the CPU backend in
// both dtypes.
func TestConformance(t *testing.T) {
	t.Run("f32", func(t *testing.T) { backendtest.Run(t, cpu.New(), tensor.Float32) })
	t.Run("f64", func(t *testing.T) { backendtest.Run(t, cpu.New(), tensor.Float64) })
}

// brokenConv is the CPU backend with a convolution that is off by one part
// in a thousand: the conformance suite must fail its conv group, and only
// that group.
type brokenConv struct{ backend.Backend }

func (b brokenConv) Conv2D(x, w, bias *tensor.Tensor, p backend.ConvParams) *tensor.Tensor {
	y := b.Backend.Conv2D(x, w, bias, p)
	return b.Backend.Affine(y, 1.001, 0)
}

// TestConformanceBrokenOp is run by TestConformanceCatchesBrokenOp in a
// child process (it fails by design there); here it does nothing.
func TestConformanceBrokenOp(t *testing.T) {
	if os.Getenv("NVAE_BACKENDTEST_BROKEN") != "1" {
		return
	}
	backendtest.Run(t, brokenConv{cpu.New()}, tensor.Float32)
}

// TestConformanceCatchesBrokenOp checks that a wrong op fails its own
// subtest (not only the parent), while the other groups still pass.
func TestConformanceCatchesBrokenOp(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestConformanceBrokenOp$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "NVAE_BACKENDTEST_BROKEN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed a convolution that is 0.1%% off:\n%s", out)
	}
	for _, want := range []string{"--- FAIL: TestConformanceBrokenOp/conv ", "--- PASS: TestConformanceBrokenOp/matmul "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}
