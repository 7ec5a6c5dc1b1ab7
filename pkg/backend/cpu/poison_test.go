package cpu

import (
	"testing"

	"github.com/nvaego/nvae/pkg/backend/backendtest"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestConformanceDirtyOutputs runs the conformance suite with every output
// that a kernel promises to overwrite whole filled with NaN beforehand, as
// a recycled buffer could be: a kernel relying on zeroed memory fails.
func TestConformanceDirtyOutputs(t *testing.T) {
	poisonFull = true
	defer func() { poisonFull = false }()
	t.Run("f32", func(t *testing.T) { backendtest.Run(t, New(), tensor.Float32) })
	t.Run("f64", func(t *testing.T) { backendtest.Run(t, New(), tensor.Float64) })
}
