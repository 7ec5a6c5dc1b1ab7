package nvae

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nn"
	"github.com/nvaego/nvae/pkg/tensor"
)

// chanMult is the official CHANNEL_MULT.
const chanMult = 2

type layer interface {
	Forward(c *ag.Ctx, x *ag.Var) *ag.Var
}

// bnAct is BN followed by an activation (SyncBatchNormSwish, or BN → ELU);
// in eval mode one fused kernel.
type bnAct struct {
	bn  *nn.BatchNorm
	act backend.UnaryOp
}

func (l bnAct) Forward(c *ag.Ctx, x *ag.Var) *ag.Var { return l.bn.ForwardUnary(c, x, l.act) }

type seq []layer

// Forward applies the layers in turn; without gradients each intermediate
// is released once the next layer has consumed it (the input is the
// caller's and is kept).
func (s seq) Forward(c *ag.Ctx, x *ag.Var) *ag.Var {
	in := x
	for i := 0; i < len(s); i++ {
		l := s[i]
		var y *ag.Var
		if conv, bn, act, ok := convBN(s, i); ok && !c.GradEnabled() {
			// A convolution and the batch norm (and activation) after
			// it: one pass in eval mode (nn.Conv2D.ForwardBN).
			y = conv.ForwardBN(c, x, bn, act)
			i++
		} else if ba, ok := l.(bnAct); ok && x != in && !c.GradEnabled() {
			// x is this seq's own intermediate: normalise and activate
			// over its memory (saves a buffer and a write stream).
			y = ba.bn.ForwardUnaryInPlace(c, x, ba.act)
		} else {
			y = l.Forward(c, x)
		}
		if x != in {
			release(c, x, y)
		}
		x = y
	}
	return x
}

// convBN reports whether s[i] is a convolution followed by a batch norm,
// with the activation after it (backend.NoAct for a plain batch norm).
func convBN(s seq, i int) (conv *nn.Conv2D, bn *nn.BatchNorm, act backend.UnaryOp, ok bool) {
	conv, ok = s[i].(*nn.Conv2D)
	if !ok || i+1 >= len(s) {
		return nil, nil, 0, false
	}
	switch l := s[i+1].(type) {
	case *nn.BatchNorm:
		return conv, l, backend.NoAct, true
	case bnAct:
		return conv, l.bn, l.act, true
	}
	return nil, nil, 0, false
}

// release gives dead, an intermediate result no longer needed, back to the
// backend (no-grad mode only; see ag.Ctx.Release) unless it shares storage
// with one of the results kept.
func release(c *ag.Ctx, dead *ag.Var, keep ...*ag.Var) {
	if c.GradEnabled() || dead == nil || dead.Value == nil {
		return
	}
	for _, k := range keep {
		if k != nil && k.Value != nil && sharesStorage(dead.Value, k.Value) {
			return
		}
	}
	c.Release(dead)
}

// sharesStorage reports whether a and b may share memory (true for storage
// it cannot inspect).
func sharesStorage(a, b *tensor.Tensor) bool {
	if a == b {
		return true
	}
	switch sa := a.Storage().(type) {
	case tensor.HostF32:
		sb, ok := b.Storage().(tensor.HostF32)
		return !ok || len(sa) == 0 || len(sb) == 0 || unsafe.SliceData(sa) == unsafe.SliceData(sb)
	case tensor.HostF64:
		sb, ok := b.Storage().(tensor.HostF64)
		return !ok || len(sa) == 0 || len(sb) == 0 || unsafe.SliceData(sa) == unsafe.SliceData(sb)
	}
	return true
}

type fn func(c *ag.Ctx, x *ag.Var) *ag.Var

func (f fn) Forward(c *ag.Ctx, x *ag.Var) *ag.Var { return f(c, x) }

var (
	eluL      = fn((*ag.Ctx).ELU)
	upNearest = fn(func(c *ag.Ctx, x *ag.Var) *ag.Var { return c.Upsample2x(x, backend.Nearest) })
)

// newOp builds one official op (OPS table) under prefix name.
func newOp(s *nn.Store, name string, op Op, cin, cout, stride int) layer {
	up := stride == -1
	st := stride
	if up {
		st = 1
	}
	var l seq
	switch op.Kind {
	case OpBNSwishConv, OpBNELUConv, OpELUConv:
		switch op.Kind {
		case OpBNSwishConv:
			l = append(l, bnAct{s.NewBatchNorm(name+".bn_act", cin), backend.Swish})
		case OpBNELUConv:
			l = append(l, bnAct{s.NewBatchNorm(name+".bn.bn", cin), backend.ELU})
		default:
			l = append(l, eluL)
		}
		if up {
			l = append(l, upNearest)
		}
		l = append(l, s.NewConv2D(name+".conv_0", cin, cout, op.Kernel, nn.ConvOpts{Stride: st, Padding: op.Padding,
			Dilation: op.Dilation, Bias: true, WeightNorm: true, DataInit: op.Kind == OpELUConv}))
	case OpInvertedResidual:
		hidden := int(math.Round(float64(cin) * float64(op.Expansion)))
		groups := op.Groups
		if groups == 0 {
			groups = hidden
		}
		i := 0
		idx := func() string { s := fmt.Sprintf("%s.conv.%d", name, i); i++; return s }
		if up {
			l = append(l, upNearest)
			i++
		}
		l = append(l, s.NewBatchNorm(idx()+".bn", cin))
		p := idx()
		l = append(l, s.NewConv2D(p+".conv.0", cin, hidden, 1, nn.ConvOpts{}), bnAct{s.NewBatchNorm(p+".conv.1", hidden), backend.Swish})
		p = idx()
		pad := op.Dilation * (op.Kernel - 1) / 2
		l = append(l, s.NewConv2D(p+".conv.0", hidden, hidden, op.Kernel, nn.ConvOpts{Stride: st, Padding: pad, Dilation: op.Dilation, Groups: groups}),
			bnAct{s.NewBatchNorm(p+".conv.1", hidden), backend.Swish})
		l = append(l, s.NewConv2D(idx(), hidden, cout, 1, nn.ConvOpts{}))
		l = append(l, s.NewBatchNorm(idx()+".bn", cout))
	default:
		panic("nvae: unknown op kind")
	}
	return l
}

// factorizedReduce is Swish then four 1x1 stride-2 convs on shifted inputs.
type factorizedReduce struct{ convs [4]*nn.Conv2D }

func newFactorizedReduce(s *nn.Store, name string, cin, cout int) *factorizedReduce {
	f := &factorizedReduce{}
	for i := 0; i < 4; i++ {
		co := cout / 4
		if i == 3 {
			co = cout - 3*(cout/4)
		}
		f.convs[i] = s.NewConv2D(fmt.Sprintf("%s.conv_%d", name, i+1), cin, co, 1, nn.ConvOpts{Stride: 2, Bias: true, WeightNorm: true})
	}
	return f
}

func (f *factorizedReduce) Forward(c *ag.Ctx, x *ag.Var) *ag.Var {
	a := c.Swish(x)
	h, w := a.Dim(2), a.Dim(3)
	n, ch := a.Dim(0), a.Dim(1)
	a2 := c.Slice(a, []int{0, 0, 1, 1}, []int{n, ch, h - 1, w - 1})
	a3 := c.Slice(a, []int{0, 0, 0, 1}, []int{n, ch, h, w - 1})
	a4 := c.Slice(a, []int{0, 0, 1, 0}, []int{n, ch, h - 1, w})
	ys := []*ag.Var{f.convs[0].Forward(c, a), f.convs[1].Forward(c, a2), f.convs[2].Forward(c, a3), f.convs[3].Forward(c, a4)}
	out := c.Concat(1, ys...)
	for _, v := range append(ys, a, a2, a3, a4) {
		release(c, v, out)
	}
	return out
}

// se is squeeze-and-excitation.
type se struct{ l1, l2 *nn.Linear }

// gate is the per-(sample, channel) factor [N, C] that SE multiplies x by.
func (m *se) gate(c *ag.Ctx, x *ag.Var) *ag.Var {
	s := c.Mean(x, []int{2, 3}, false)
	return c.Sigmoid(m.l2.Forward(c, c.ReLU(m.l1.Forward(c, s))))
}

// Cell is the official Cell: skip(x) + 0.1·SE(ops(x)).
type Cell struct {
	Name, Type string
	skip       layer
	ops        []layer
	// flat is the layers of all ops as one seq (nil unless every op is a
	// seq): without gradients a convolution ending one op then fuses with
	// the batch norm starting the next.
	flat seq
	se   *se
}

func newCell(s *nn.Store, name string, cin, cout int, cellType string, arch []string, useSE bool) *Cell {
	stride, err := CellStride(cellType)
	if err != nil {
		panic(err)
	}
	cell := &Cell{Name: name, Type: cellType}
	switch stride {
	case 2:
		cell.skip = newFactorizedReduce(s, name+".skip", cin, chanMult*cin)
	case -1:
		conv := s.NewConv2D(name+".skip.1", cin, cin/chanMult, 1, nn.ConvOpts{WeightNorm: true})
		cell.skip = seq{fn(func(c *ag.Ctx, x *ag.Var) *ag.Var { return c.Upsample2x(x, backend.BilinearAlign) }), conv}
	}
	for i, opName := range arch {
		op, err := ParseOp(opName)
		if err != nil {
			panic(err)
		}
		st, ci := 1, cout
		if i == 0 {
			st, ci = stride, cin
		}
		cell.ops = append(cell.ops, newOp(s, fmt.Sprintf("%s._ops.%d", name, i), op, ci, cout, st))
	}
	for _, op := range cell.ops {
		sq, ok := op.(seq)
		if !ok {
			cell.flat = nil
			break
		}
		cell.flat = append(cell.flat, sq...)
	}
	if useSE {
		hidden := max(cout/16, 4)
		cell.se = &se{s.NewLinear(name+".se.se.0", cout, hidden), s.NewLinear(name+".se.se.2", hidden, cout)}
	}
	return cell
}

// Forward applies the cell.
func (cell *Cell) Forward(c *ag.Ctx, x *ag.Var) *ag.Var {
	skip := x
	if cell.skip != nil {
		skip = cell.skip.Forward(c, x)
	}
	s := x
	next := func(y *ag.Var) {
		if s != x {
			release(c, s, y)
		}
		s = y
	}
	if cell.flat != nil && !c.GradEnabled() {
		next(cell.flat.Forward(c, s))
	} else {
		for _, op := range cell.ops {
			next(op.Forward(c, s))
		}
	}
	// skip + 0.1·SE(s): the gate multiply, the scaling and the sum in one
	// pass without gradients (GateScaleAdd rounds like the three ops).
	var gate *ag.Var
	if cell.se != nil {
		gate = cell.se.gate(c, s)
	}
	out := c.GateScaleAdd(skip, s, gate, 0.1)
	next(out)
	if skip != x {
		release(c, skip, out)
	}
	return out
}

// encCombiner is x1 + Conv1x1(x2).
type encCombiner struct {
	Name string
	conv *nn.Conv2D
}

func (e *encCombiner) Forward(c *ag.Ctx, x1, x2 *ag.Var) *ag.Var {
	y := e.conv.Forward(c, x2)
	out := c.Add(x1, y)
	release(c, y, out)
	return out
}

// decCombiner is Conv1x1(concat(x1, x2)).
type decCombiner struct {
	Name string
	conv *nn.Conv2D
}

func (d *decCombiner) Forward(c *ag.Ctx, x1, x2 *ag.Var) *ag.Var {
	cat := c.Concat(1, x1, x2)
	out := d.conv.Forward(c, cat)
	release(c, cat, out)
	return out
}

// ConvMask is the official create_conv_mask for an autoregressive conv:
// weight shape [cout, cin/groups, k, k]; see docs/model.md "Flows".
func ConvMask(k, cin, groups, cout int, zeroDiag, mirror bool) []float64 {
	m := (k - 1) / 2
	ci := cin / groups
	mask := Fill3(cout, ci, k)
	at := func(o, i, y, x int) *float64 { return &mask[((o*ci+i)*k+y)*k+x] }
	for o := 0; o < cout; o++ {
		for i := 0; i < ci; i++ {
			for y := 0; y < k; y++ {
				for x := 0; x < k; x++ {
					switch {
					case y > m, y == m && x > m:
						*at(o, i, y, x) = 0
					}
				}
			}
		}
	}
	// centre tap: channel mask
	if groups == 1 {
		for o := 0; o < cout; o++ {
			for i := 0; i < cin; i++ {
				var ok bool
				if cout >= cin {
					r := cout / cin
					if zeroDiag {
						ok = i < o/r
					} else {
						ok = i <= o/r
					}
				} else {
					r := cin / cout
					if zeroDiag {
						ok = i < o*r
					} else {
						ok = i < (o+1)*r
					}
				}
				v := 0.0
				if ok {
					v = 1
				}
				*at(o, i, m, m) = v
			}
		}
	} else if zeroDiag {
		for o := 0; o < cout; o++ {
			for i := 0; i < ci; i++ {
				*at(o, i, m, m) = 0
			}
		}
	}
	if mirror {
		out := make([]float64, len(mask))
		for o := 0; o < cout; o++ {
			for i := 0; i < ci; i++ {
				for y := 0; y < k; y++ {
					for x := 0; x < k; x++ {
						out[((o*ci+i)*k+y)*k+x] = *at(o, i, k-1-y, k-1-x)
					}
				}
			}
		}
		mask = out
	}
	return mask
}

// Fill3 returns cout·ci·k·k ones.
func Fill3(cout, ci, k int) []float64 { return nn.Fill(cout*ci*k*k, 1) }

// cellAR is one autoregressive flow cell: z ← z − mu(z).
type cellAR struct {
	conv1, conv2, mu *nn.Conv2D
}

func newCellAR(s *nn.Store, name string, numZ int, mirror bool) *cellAR {
	hidden := 6 * numZ
	return &cellAR{
		conv1: s.NewConv2D(name+".conv.convz.0", numZ, hidden, 3, nn.ConvOpts{Padding: 1, WeightNorm: true,
			Mask: ConvMask(3, numZ, 1, hidden, true, mirror)}),
		conv2: s.NewConv2D(name+".conv.convz.2", hidden, hidden, 5, nn.ConvOpts{Padding: 2, Groups: hidden, WeightNorm: true,
			Mask: ConvMask(5, hidden, hidden, hidden, false, mirror)}),
		mu: s.NewConv2D(name+".mu.conv_0", hidden, numZ, 1, nn.ConvOpts{Bias: true, WeightNorm: true,
			Mask: ConvMask(1, hidden, 1, numZ, false, mirror), LogNormShift: math.Log(0.1)}),
	}
}

func (a *cellAR) Forward(c *ag.Ctx, z *ag.Var) *ag.Var {
	// Without gradients each intermediate is released once consumed.
	step := func(x, y *ag.Var) *ag.Var { release(c, x, y); return y }
	h1 := a.conv1.Forward(c, z)
	h := step(h1, c.ELU(h1))
	h2 := step(h, a.conv2.Forward(c, h))
	h = step(h2, c.ELU(h2))
	e := step(h, c.ELU(h))
	mu := step(e, a.mu.Forward(c, e))
	return step(mu, c.Sub(z, mu))
}

// pairedCellAR is a cell and its mirrored twin; log-determinants are zero.
type pairedCellAR struct{ a, b *cellAR }

func (p *pairedCellAR) Forward(c *ag.Ctx, z *ag.Var) *ag.Var {
	mid := p.a.Forward(c, z)
	out := p.b.Forward(c, mid)
	release(c, mid, out)
	return out
}
