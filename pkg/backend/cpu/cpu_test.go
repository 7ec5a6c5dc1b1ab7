package cpu_test

import (
	"testing"

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
