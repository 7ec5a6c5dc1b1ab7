// Package ag is reverse-mode automatic differentiation over a backend.
//
// Every operation records, on its result, its inputs and a closure that maps
// the result's gradient to the inputs' gradients: a tape kept as a DAG.
// Backward(loss) walks it in reverse topological order. Gradients of leaves
// that require them accumulate in Var.Grad across calls (like PyTorch); call
// ZeroGrad between steps. In no-grad mode nothing is recorded.
package ag

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Var is a tensor in the autodiff graph.
type Var struct {
	Value *tensor.Tensor
	// Grad is the accumulated gradient of a leaf that requires it.
	Grad *tensor.Tensor
	// Name labels parameters (the official state-dict key) and debug output.
	Name string

	requiresGrad bool
	parents      []*Var
	back         func(g *tensor.Tensor) []*tensor.Tensor
	pending      *tensor.Tensor
}

// RequiresGrad reports whether gradients flow to this variable.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// IsLeaf reports whether v was created directly rather than by an op.
func (v *Var) IsLeaf() bool { return v.back == nil }

// Shape is the value's shape.
func (v *Var) Shape() tensor.Shape { return v.Value.Shape() }

// Dim is dimension i of the value (negative counts from the end).
func (v *Var) Dim(i int) int { return v.Value.Dim(i) }

// ZeroGrad drops the accumulated gradient.
func (v *Var) ZeroGrad() { v.Grad = nil }

// Ctx holds the backend, the working dtype and the grad mode.
type Ctx struct {
	B     backend.Backend
	DType tensor.DType
	grad  bool
	keep  bool // Release does nothing (KeepValues)
}

// New returns a context recording gradients.
func New(b backend.Backend, dt tensor.DType) *Ctx { return &Ctx{B: b, DType: dt, grad: true} }

// GradEnabled reports whether ops are recorded.
func (c *Ctx) GradEnabled() bool { return c.grad }

// SetGrad turns recording on or off and returns the previous setting.
func (c *Ctx) SetGrad(on bool) bool { old := c.grad; c.grad = on; return old }

// KeepValues turns Release off (on) or back on and returns the previous
// setting: for callers that hand the model's intermediates out (latents of
// an encoding, caller-owned inputs) instead of letting it recycle them.
func (c *Ctx) KeepValues(on bool) bool { old := c.keep; c.keep = on; return old }

// NoGrad runs fn with recording off.
func (c *Ctx) NoGrad(fn func()) {
	old := c.SetGrad(false)
	defer c.SetGrad(old)
	fn()
}

// Release gives the values of intermediate results back to the backend for
// reuse (backend.Releaser) when no gradients are recorded; with gradients
// it does nothing, since the tape may still read them. The caller promises
// that nothing uses these values, or tensors sharing their storage,
// afterwards. Value is set to nil so that a later use fails loudly.
// Parameters are never released.
func (c *Ctx) Release(vs ...*Var) {
	if c.grad || c.keep {
		return
	}
	r, ok := c.B.(backend.Releaser)
	if !ok {
		return
	}
	for _, v := range vs {
		if v == nil || v.Value == nil || v.requiresGrad {
			continue
		}
		r.Release(v.Value)
		v.Value = nil
	}
}

// Param wraps a tensor as a leaf that requires gradients.
func (c *Ctx) Param(t *tensor.Tensor, name string) *Var {
	return &Var{Value: t, Name: name, requiresGrad: true}
}

// Const wraps a tensor as a leaf without gradients.
func (c *Ctx) Const(t *tensor.Tensor) *Var { return &Var{Value: t} }

// Scalar is a constant scalar of the context's dtype.
func (c *Ctx) Scalar(v float64) *Var { return c.Const(c.B.Full(c.DType, v)) }

// Full is a constant tensor filled with v.
func (c *Ctx) Full(v float64, shape ...int) *Var { return c.Const(c.B.Full(c.DType, v, shape...)) }

// Detach returns v's value as a constant (stop-gradient).
func (c *Ctx) Detach(v *Var) *Var { return &Var{Value: v.Value, Name: v.Name} }

// node records an op result. back receives the output gradient and returns
// one gradient per parent (nil for parents that need none).
func (c *Ctx) node(value *tensor.Tensor, back func(g *tensor.Tensor) []*tensor.Tensor, parents ...*Var) *Var {
	v := &Var{Value: value}
	if !c.grad {
		return v
	}
	for _, p := range parents {
		if p != nil && p.requiresGrad {
			v.requiresGrad = true
			break
		}
	}
	if v.requiresGrad {
		v.parents = parents
		v.back = back
	}
	return v
}

// Custom records an op computed outside this package (e.g. synchronized
// batch norm, whose statistics come from other processes): back receives
// the output gradient and returns one gradient per parent (nil for parents
// that need none).
func (c *Ctx) Custom(value *tensor.Tensor, back func(g *tensor.Tensor) []*tensor.Tensor, parents ...*Var) *Var {
	return c.node(value, back, parents...)
}

// Backward computes gradients of the scalar loss with respect to every leaf
// that requires them, accumulating into their Grad.
func (c *Ctx) Backward(loss *Var) {
	if loss.Value.Len() != 1 {
		panic(fmt.Sprintf("ag: Backward needs a scalar loss, got shape %v", loss.Shape()))
	}
	c.BackwardWith(loss, c.B.Full(loss.Value.DType(), 1, loss.Shape()...))
}

// BackwardWith back-propagates the given output gradient from v.
func (c *Ctx) BackwardWith(v *Var, g *tensor.Tensor) {
	if !v.requiresGrad {
		return
	}
	order := topo(v)
	v.pending = g
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		g := n.pending
		n.pending = nil
		if g == nil {
			continue
		}
		if n.back == nil {
			if n.Grad == nil {
				n.Grad = c.B.Copy(g)
			} else {
				c.B.AddInto(n.Grad, g)
			}
			continue
		}
		grads := n.back(g)
		for j, p := range n.parents {
			if p == nil || !p.requiresGrad || grads[j] == nil {
				continue
			}
			gj := grads[j]
			if !gj.Shape().Equal(p.Shape()) {
				panic(fmt.Sprintf("ag: gradient shape %v for input of shape %v", gj.Shape(), p.Shape()))
			}
			if p.pending == nil {
				p.pending = gj
			} else {
				p.pending = c.B.Binary(backend.Add, p.pending, gj)
			}
		}
	}
}

// topo returns the nodes reachable from v that require grad, parents first.
func topo(v *Var) []*Var {
	var order []*Var
	seen := map[*Var]bool{v: true}
	type frame struct {
		v *Var
		i int
	}
	stack := []frame{{v, 0}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.i < len(f.v.parents) {
			p := f.v.parents[f.i]
			f.i++
			if p != nil && p.requiresGrad && !seen[p] {
				seen[p] = true
				stack = append(stack, frame{p, 0})
			}
			continue
		}
		order = append(order, f.v)
		stack = stack[:len(stack)-1]
	}
	return order
}
