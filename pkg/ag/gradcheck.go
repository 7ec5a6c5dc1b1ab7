package ag

import (
	"fmt"
	"math"

	"github.com/nvaego/nvae/pkg/tensor"
)

// GradCheckResult is the worst disagreement found by GradCheck.
type GradCheckResult struct {
	Input, Index      int
	Analytic, Numeric float64
	AbsErr, RelErr    float64
	Checked           int
}

func (r GradCheckResult) String() string {
	return fmt.Sprintf("worst at input %d element %d: analytic %.10g numeric %.10g abs err %.3g rel err %.3g (%d elements checked)",
		r.Input, r.Index, r.Analytic, r.Numeric, r.AbsErr, r.RelErr, r.Checked)
}

// GradCheck compares the analytic gradient of the scalar f(inputs) with
// five-point central differences (step h) for every element of every input. The inputs
// must be float64 host tensors and c a float64 context. The relative error of
// an element is |a-n| / max(|a|, |n|, floor): floor (e.g. 1e-3) keeps
// round-off in near-zero gradients from dominating.
func GradCheck(c *Ctx, f func(in []*Var) *Var, inputs []*tensor.Tensor, h, floor float64) GradCheckResult {
	vars := make([]*Var, len(inputs))
	for i, t := range inputs {
		vars[i] = c.Param(t, fmt.Sprintf("in%d", i))
	}
	loss := f(vars)
	c.Backward(loss)
	eval := func() float64 {
		var v float64
		c.NoGrad(func() {
			cs := make([]*Var, len(inputs))
			for i, t := range inputs {
				cs[i] = c.Const(t)
			}
			v = c.B.ToHost(f(cs).Value).At(0)
		})
		return v
	}
	var worst GradCheckResult
	worst.RelErr = -1
	for i, t := range inputs {
		data := t.F64()
		var grad []float64
		if vars[i].Grad != nil {
			grad = c.B.ToHost(vars[i].Grad).Float64s()
		} else {
			grad = make([]float64, len(data))
		}
		for j := range data {
			old := data[j]
			// five-point central stencil: truncation error O(h⁴)
			data[j] = old + 2*h
			fp2 := eval()
			data[j] = old + h
			fp := eval()
			data[j] = old - h
			fm := eval()
			data[j] = old - 2*h
			fm2 := eval()
			data[j] = old
			num := (fm2 - 8*fm + 8*fp - fp2) / (12 * h)
			a := grad[j]
			abs := math.Abs(a - num)
			rel := abs / math.Max(math.Max(math.Abs(a), math.Abs(num)), floor)
			if math.IsNaN(rel) {
				rel = math.Inf(1)
			}
			worst.Checked++
			if rel > worst.RelErr {
				worst = GradCheckResult{Input: i, Index: j, Analytic: a, Numeric: num, AbsErr: abs, RelErr: rel, Checked: worst.Checked}
			}
		}
	}
	return worst
}
