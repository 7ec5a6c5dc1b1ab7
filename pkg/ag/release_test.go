package ag_test

import (
	"testing"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Release frees intermediates only without gradients, never parameters.
func TestRelease(t *testing.T) {
	b := cpu.New()
	c := ag.New(b, tensor.Float32)
	p := c.Param(b.Full(tensor.Float32, 1, 64, 64), "p")
	y := c.Exp(p)
	c.Release(y)
	if y.Value == nil {
		t.Fatal("Release with gradients on freed a value the tape needs")
	}
	c.SetGrad(false)
	z := c.Exp(p)
	c.Release(z, p, nil)
	if z.Value != nil {
		t.Fatal("Release without gradients kept the value")
	}
	if p.Value == nil {
		t.Fatal("Release freed a parameter")
	}
	c.Release(z) // twice: harmless
}
