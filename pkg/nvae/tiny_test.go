package nvae

import (
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// tinyModel builds a float64 model of the given official flags (seed 4) on
// the CPU in evaluation mode, with a context that records no gradients.
func tinyModel(t *testing.T, args string) (*Model, *ag.Ctx, *cpu.Backend) {
	t.Helper()
	cfg, err := ParseArgs(strings.Fields(args))
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	m, err := NewModel(cfg, b, tensor.Float64, 4)
	if err != nil {
		t.Fatal(err)
	}
	m.Store.Training = false
	c := ag.New(b, tensor.Float64)
	c.SetGrad(false)
	return m, c, b
}
