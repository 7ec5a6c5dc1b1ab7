// Package nn holds layers whose parameters and buffers are named like the
// official NVAE state-dict keys, registered in the official module order.
package nn

import (
	"bytes"
	"fmt"
	"math"
	"unsafe"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/rng"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Store owns a model's parameters and buffers in registration order (the
// order of the official state dict), plus its conv and BN layers in
// named_modules() order (the spectral and BN regularisers run over them).
type Store struct {
	B     backend.Backend
	DType tensor.DType
	// Training selects batch statistics in BN layers.
	Training bool

	params   []*ag.Var
	byName   map[string]*ag.Var
	bufNames []string
	bufs     map[string]*tensor.Tensor
	keys     []string // params and buffers in registration order
	Convs    []*Conv2D
	BNs      []*BatchNorm
	init     *rng.Gen
	// Meta stores shapes only (no memory, no initialisation): for counting
	// the parameters of large configurations.
	Meta bool
	// Sync, when set (data-parallel runs of more than one rank), makes
	// training-mode batch norm synchronized across ranks (syncbn.go).
	Sync StatSync
}

// metaStorage is storage that records a size and holds nothing.
type metaStorage struct {
	n  int
	dt tensor.DType
}

func (m metaStorage) DType() tensor.DType { return m.dt }
func (m metaStorage) Len() int            { return m.n }
func (m metaStorage) OnHost() bool        { return false }

// NewMetaStore returns a store that records shapes without allocating.
func NewMetaStore(dt tensor.DType) *Store {
	s := NewStore(nil, dt, 0)
	s.Meta = true
	return s
}

// NewStore returns an empty store; seed drives parameter initialisation.
func NewStore(b backend.Backend, dt tensor.DType, seed uint64) *Store {
	return &Store{B: b, DType: dt, Training: true, byName: map[string]*ag.Var{}, bufs: map[string]*tensor.Tensor{}, init: rng.New(seed)}
}

// Params returns the parameters in registration order.
func (s *Store) Params() []*ag.Var { return s.params }

// Param looks a parameter up by its state-dict key.
func (s *Store) Param(name string) *ag.Var { return s.byName[name] }

// Keys returns parameter and buffer keys together in registration order
// (the official state-dict order, without weight_normalized aliases).
func (s *Store) Keys() []string { return s.keys }

// BufferNames returns buffer keys in registration order.
func (s *Store) BufferNames() []string { return s.bufNames }

// Buffer returns a buffer by key.
func (s *Store) Buffer(name string) *tensor.Tensor { return s.bufs[name] }

// SetBuffer replaces a buffer's value.
func (s *Store) SetBuffer(name string, t *tensor.Tensor) {
	if _, ok := s.bufs[name]; !ok {
		panic("nn: unknown buffer " + name)
	}
	s.bufs[name] = t
}

// NumParams counts parameter elements.
func (s *Store) NumParams() int {
	n := 0
	for _, p := range s.params {
		n += p.Value.Len()
	}
	return n
}

// ZeroGrad clears all parameter gradients.
func (s *Store) ZeroGrad() {
	for _, p := range s.params {
		p.ZeroGrad()
	}
}

// NewParam registers a parameter with host values v.
func (s *Store) NewParam(name string, shape []int, v []float64) *ag.Var {
	if _, dup := s.byName[name]; dup {
		panic("nn: duplicate parameter " + name)
	}
	s.keys = append(s.keys, name)
	if s.Meta {
		p := &ag.Var{Value: tensor.New(shape, metaStorage{tensor.Shape(shape).NumElements(), s.DType}), Name: name}
		s.params = append(s.params, p)
		s.byName[name] = p
		return p
	}
	t := tensor.FromFloat64(shape, v)
	if s.DType == tensor.Float32 {
		t = tensor.FromFloat32(shape, t.Float32s())
	}
	p := &ag.Var{}
	*p = *(&ag.Ctx{B: s.B}).Param(s.B.FromHost(t), name)
	s.params = append(s.params, p)
	s.byName[name] = p
	return p
}

// NewBuffer registers a buffer with host values v.
func (s *Store) NewBuffer(name string, shape []int, v []float64) {
	if _, dup := s.bufs[name]; dup {
		panic("nn: duplicate buffer " + name)
	}
	s.keys = append(s.keys, name)
	if s.Meta {
		s.bufNames = append(s.bufNames, name)
		s.bufs[name] = tensor.New(shape, metaStorage{tensor.Shape(shape).NumElements(), s.DType})
		return
	}
	t := tensor.FromFloat64(shape, v)
	if s.DType == tensor.Float32 {
		t = tensor.FromFloat32(shape, t.Float32s())
	}
	s.bufNames = append(s.bufNames, name)
	s.bufs[name] = s.B.FromHost(t)
}

// Uniform draws n values uniformly in [-bound, bound] from the init stream.
func (s *Store) Uniform(n int, bound float64) []float64 {
	if s.Meta {
		return nil
	}
	v := make([]float64, n)
	s.init.Uniform64(v)
	for i := range v {
		v[i] = (2*v[i] - 1) * bound
	}
	return v
}

// Fill returns n copies of x.
func Fill(n int, x float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = x
	}
	return v
}

// ConvOpts configures a convolution layer.
type ConvOpts struct {
	Stride, Padding, Dilation, Groups int
	Bias                              bool
	// WeightNorm adds log_weight_norm (the official Conv2D default).
	WeightNorm bool
	// DataInit enables res_elu's data-dependent initialisation.
	DataInit bool
	// Mask (ARConv2d) multiplies the weight before weight normalisation.
	Mask []float64
	// WeightInitCoeff scales the initial log_weight_norm of masked convs.
	LogNormShift float64
}

// Conv2D is the official Conv2D / ARConv2d: a convolution with optional
// weight normalisation w_eff = exp(log_weight_norm)·w/(‖w‖+1e-5).
type Conv2D struct {
	Name           string
	W, Bias, LogWN *ag.Var
	Mask           *tensor.Tensor
	P              backend.ConvParams
	DataInit       bool
	InitDone       bool
	// Weight is the effective weight of the last forward (the spectral
	// regulariser's matrix).
	Weight *ag.Var
	store  *Store

	// cache holds the effective weight computed without gradients, with
	// copies of the values it came from: inference reuses it while they
	// are unchanged (compared in full, so in-place updates are seen).
	cache struct {
		w, lwn []byte
		mask   *tensor.Tensor
		weight *ag.Var
	}
}

// NewConv2D registers a conv layer under name (keys name.weight, name.bias,
// name.log_weight_norm in the official order).
func (s *Store) NewConv2D(name string, cin, cout, k int, o ConvOpts) *Conv2D {
	if o.Stride == 0 {
		o.Stride = 1
	}
	if o.Dilation == 0 {
		o.Dilation = 1
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	if cin%o.Groups != 0 || cout%o.Groups != 0 {
		panic(fmt.Sprintf("nn: conv %s: %d→%d channels with %d groups", name, cin, cout, o.Groups))
	}
	fanIn := cin / o.Groups * k * k
	bound := 1 / math.Sqrt(float64(fanIn))
	wshape := []int{cout, cin / o.Groups, k, k}
	w := s.Uniform(cout*fanIn, bound)
	m := &Conv2D{Name: name, P: backend.Conv(o.Stride, o.Padding, o.Dilation, o.Groups), DataInit: o.DataInit, store: s}
	m.W = s.NewParam(name+".weight", wshape, w)
	if o.Bias {
		m.Bias = s.NewParam(name+".bias", []int{cout}, s.Uniform(cout, bound))
	}
	if o.Mask != nil && !s.Meta {
		mt := tensor.FromFloat64(wshape, o.Mask)
		if s.DType == tensor.Float32 {
			mt = tensor.FromFloat32(wshape, mt.Float32s())
		}
		m.Mask = s.B.FromHost(mt)
	}
	if o.WeightNorm {
		lwn := make([]float64, cout)
		for i := 0; i < cout && !s.Meta; i++ {
			var ss float64
			for j := 0; j < fanIn; j++ {
				v := w[i*fanIn+j]
				if o.Mask != nil {
					v *= o.Mask[i*fanIn+j]
				}
				ss += v * v
			}
			lwn[i] = math.Log(math.Sqrt(ss)+1e-2) + o.LogNormShift
		}
		m.LogWN = s.NewParam(name+".log_weight_norm", []int{cout, 1, 1, 1}, lwn)
	}
	s.Convs = append(s.Convs, m)
	return m
}

// EffectiveWeight is the masked, weight-normalised kernel. Without
// gradients the result is cached and reused for as long as the weight,
// log_weight_norm and mask are unchanged (a byte-wise comparison with
// copies taken when it was computed, far cheaper than recomputing).
func (m *Conv2D) EffectiveWeight(c *ag.Ctx) *ag.Var {
	if m.LogWN == nil && m.Mask == nil {
		return m.W
	}
	if c.GradEnabled() {
		return m.effectiveWeight(c)
	}
	wb := hostBytes(m.W.Value)
	var lb []byte
	if m.LogWN != nil {
		lb = hostBytes(m.LogWN.Value)
	}
	ch := &m.cache
	if ch.weight != nil && ch.mask == m.Mask && wb != nil && (m.LogWN == nil || lb != nil) &&
		bytes.Equal(ch.w, wb) && bytes.Equal(ch.lwn, lb) {
		return ch.weight
	}
	w := m.effectiveWeight(c)
	if wb != nil && (m.LogWN == nil || lb != nil) {
		ch.w = append(ch.w[:0], wb...)
		ch.lwn = append(ch.lwn[:0], lb...)
		ch.mask, ch.weight = m.Mask, w
	}
	return w
}

// hostBytes is the raw memory of a host tensor (nil otherwise).
func hostBytes(t *tensor.Tensor) []byte {
	if t == nil {
		return nil
	}
	switch s := t.Storage().(type) {
	case tensor.HostF32:
		if len(s) > 0 {
			return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 4*len(s))
		}
	case tensor.HostF64:
		if len(s) > 0 {
			return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 8*len(s))
		}
	}
	return nil
}

func (m *Conv2D) effectiveWeight(c *ag.Ctx) *ag.Var {
	w := m.W
	if m.Mask != nil {
		w = c.Mul(w, c.Const(m.Mask))
	}
	if m.LogWN != nil {
		masked := w
		w = NormalizeWeight(c, m.LogWN, w)
		if masked != m.W {
			c.Release(masked)
		}
	}
	return w
}

// NormalizeWeight is exp(lwn)·w/(‖w‖+1e-5), norms over all but axis 0.
func NormalizeWeight(c *ag.Ctx, lwn, w *ag.Var) *ag.Var {
	sq := c.Square(w)
	norm := c.AddScalar(c.Sqrt(c.Sum(sq, []int{1, 2, 3}, true)), 1e-5)
	c.Release(sq) // without gradients only: the weight-sized temporaries
	d := c.Div(w, norm)
	out := c.Mul(c.Exp(lwn), d)
	c.Release(d)
	return out
}

// Forward convolves x, running the data-dependent init on first use.
func (m *Conv2D) Forward(c *ag.Ctx, x *ag.Var) *ag.Var {
	if m.DataInit && !m.InitDone {
		m.dataInit(c, x)
	}
	m.Weight = m.EffectiveWeight(c)
	return c.Conv2D(x, m.Weight, m.Bias, m.P)
}

// dataInit sets bias = -mean/(st+1e-5), log_weight_norm = -log(st+1e-5) with
// st = 5·std (unbiased) of the output of the unit-norm weight without bias.
func (m *Conv2D) dataInit(c *ag.Ctx, x *ag.Var) {
	c.NoGrad(func() {
		norm := c.AddScalar(c.Sqrt(c.Sum(c.Square(m.W), []int{1, 2, 3}, true)), 1e-5)
		w := c.Div(m.W, norm)
		out := c.Conv2D(c.Detach(x), w, nil, m.P)
		var mean, variance *ag.Var
		if m.store != nil && m.store.Sync != nil {
			mean, variance = m.syncMoments(c, out)
		} else {
			mean = c.Mean(out, []int{0, 2, 3}, true)
			n := out.Value.Len() / out.Dim(1)
			d := c.Sub(out, mean)
			variance = c.MulScalar(c.Sum(c.Square(d), []int{0, 2, 3}, false), 1/float64(n-1))
		}
		st := c.MulScalar(c.Sqrt(variance), 5)
		stEps := c.AddScalar(st, 1e-5)
		if m.Bias != nil {
			m.Bias.Value = c.Neg(c.Div(c.Reshape(mean, -1), stEps)).Value
		}
		m.LogWN.Value = c.Neg(c.Log(c.Reshape(stEps, -1, 1, 1, 1))).Value
	})
	m.InitDone = true
}

// syncMoments is the data-dependent init's mean [1, C, 1, 1] and unbiased
// variance [C] over the first batches of all ranks (data-parallel runs:
// every rank then initialises alike, as one process on the whole batch).
func (m *Conv2D) syncMoments(c *ag.Ctx, out *ag.Var) (mean, variance *ag.Var) {
	mu, m2, n := globalMoments(c.B, m.store.Sync, out.Value)
	for i := range m2 {
		m2[i] /= n - 1
	}
	ch := len(mu)
	mk := func(shape []int, v []float64) *ag.Var {
		t := tensor.FromFloat64(shape, v)
		if out.Value.DType() == tensor.Float32 {
			t = tensor.FromFloat32(shape, t.Float32s())
		}
		return c.Const(c.B.FromHost(t))
	}
	return mk([]int{1, ch, 1, 1}, mu), mk([]int{ch}, m2)
}

// ForwardBN is bn(m.Forward(x)) followed by act (backend.NoAct: none). In
// eval mode, after the data-dependent init, it is one ag.Ctx.Conv2DAffine
// (one pass without gradients), rounding like the separate layers.
func (m *Conv2D) ForwardBN(c *ag.Ctx, x *ag.Var, bn *BatchNorm, act backend.UnaryOp) *ag.Var {
	if bn.store.Training || (m.DataInit && !m.InitDone) {
		y := m.Forward(c, x)
		if act == backend.NoAct {
			return bn.Forward(c, y)
		}
		return bn.ForwardUnary(c, y, act)
	}
	m.Weight = m.EffectiveWeight(c)
	scale, shift := bn.evalAffine(c)
	return c.Conv2DAffine(x, m.Weight, m.Bias, scale, shift, m.P, act)
}

// BatchNorm is BatchNorm2d with momentum 0.05 and eps 1e-5, the official
// setting; running_var is updated with the unbiased batch variance.
type BatchNorm struct {
	Name          string
	Gamma, Beta   *ag.Var
	Momentum, Eps float64
	store         *Store

	// cache holds the eval-mode scale and shift computed without
	// gradients, keyed by a copy of the bytes of weight, bias and the
	// running statistics they came from.
	cache struct {
		key          []byte
		scale, shift *ag.Var
	}
}

// NewBatchNorm registers weight, bias, running_mean, running_var,
// num_batches_tracked under name.
func (s *Store) NewBatchNorm(name string, ch int) *BatchNorm {
	m := &BatchNorm{Name: name, Momentum: 0.05, Eps: 1e-5, store: s}
	m.Gamma = s.NewParam(name+".weight", []int{ch}, Fill(ch, 1))
	m.Beta = s.NewParam(name+".bias", []int{ch}, Fill(ch, 0))
	s.NewBuffer(name+".running_mean", []int{ch}, Fill(ch, 0))
	s.NewBuffer(name+".running_var", []int{ch}, Fill(ch, 1))
	s.NewBuffer(name+".num_batches_tracked", []int{}, []float64{0})
	s.BNs = append(s.BNs, m)
	return m
}

// Forward normalises with batch statistics in training mode (updating the
// running statistics) or with the running statistics in eval mode.
func (m *BatchNorm) Forward(c *ag.Ctx, x *ag.Var) *ag.Var {
	s := m.store
	if s.Training && s.Sync != nil {
		return m.syncForward(c, x)
	}
	if s.Training {
		y, mean, variance := c.BatchNormTrain(x, m.Gamma, m.Beta, m.Eps)
		n := x.Value.Len() / x.Dim(1)
		m.updateRunning(mean.Value, s.B.Affine(variance.Value, float64(n)/float64(n-1), 0))
		return y
	}
	scale, shift := m.evalAffine(c)
	return c.ChannelAffine(x, scale, shift)
}

// updateRunning moves the running statistics towards a batch's mean and
// unbiased variance (momentum m.Momentum) and counts the batch, on the
// backend's tensors.
func (m *BatchNorm) updateRunning(mean, unbiased *tensor.Tensor) {
	s, b, mom := m.store, m.store.B, m.Momentum
	rmName, rvName, nbName := m.Name+".running_mean", m.Name+".running_var", m.Name+".num_batches_tracked"
	s.bufs[rmName] = b.Binary(backend.Add, b.Affine(s.bufs[rmName], 1-mom, 0), b.Affine(mean, mom, 0))
	s.bufs[rvName] = b.Binary(backend.Add, b.Affine(s.bufs[rvName], 1-mom, 0), b.Affine(unbiased, mom, 0))
	s.bufs[nbName] = b.Affine(s.bufs[nbName], 1, 1)
}

// syncForward is the training forward of a synchronized batch norm: the
// running statistics move with the global batch statistics (the unbiased
// variance uses the global count), as torch.nn.SyncBatchNorm does.
func (m *BatchNorm) syncForward(c *ag.Ctx, x *ag.Var) *ag.Var {
	s := m.store
	if y := m.syncForwardDevice(c, x); y != nil { // statistics on the device (syncbn.go)
		return y
	}
	rmName, rvName, nbName := m.Name+".running_mean", m.Name+".running_var", m.Name+".num_batches_tracked"
	y, mean, variance, n := syncBatchNormTrain(c, s.Sync, x, m.Gamma, m.Beta, m.Eps)
	rm := s.B.ToHost(s.bufs[rmName]).Float64s()
	rv := s.B.ToHost(s.bufs[rvName]).Float64s()
	mom := m.Momentum
	for i := range rm {
		rm[i] = (1-mom)*rm[i] + mom*mean[i]
		rv[i] = (1-mom)*rv[i] + mom*variance[i]*n/(n-1)
	}
	shape := s.bufs[rmName].Shape()
	toDev := func(v []float64) *tensor.Tensor {
		t := tensor.FromFloat64(shape, v)
		if s.DType == tensor.Float32 {
			t = tensor.FromFloat32(shape, t.Float32s())
		}
		return s.B.FromHost(t)
	}
	s.bufs[rmName], s.bufs[rvName] = toDev(rm), toDev(rv)
	s.bufs[nbName] = s.B.Affine(s.bufs[nbName], 1, 1)
	return y
}

// evalAffine is the per-channel scale and shift of eval mode. Without
// gradients, on host tensors, the result is reused for as long as the
// weight, bias and running statistics are unchanged (compared in full).
func (m *BatchNorm) evalAffine(c *ag.Ctx) (scale, shift *ag.Var) {
	rmT, rvT := m.store.bufs[m.Name+".running_mean"], m.store.bufs[m.Name+".running_var"]
	var key []byte
	if !c.GradEnabled() {
		for _, t := range []*tensor.Tensor{m.Gamma.Value, m.Beta.Value, rmT, rvT} {
			b := hostBytes(t)
			if b == nil {
				key = nil
				break
			}
			key = append(key, b...)
		}
		if key != nil && m.cache.scale != nil && bytes.Equal(key, m.cache.key) {
			return m.cache.scale, m.cache.shift
		}
	}
	rm, rv := c.Const(rmT), c.Const(rvT)
	scale = c.Div(m.Gamma, c.Sqrt(c.AddScalar(rv, m.Eps)))
	shift = c.Sub(m.Beta, c.Mul(rm, scale))
	if key != nil {
		m.cache.key, m.cache.scale, m.cache.shift = key, scale, shift
	}
	return scale, shift
}

// ForwardUnaryInPlace is ForwardUnary that, in eval mode without
// gradients, computes over x's memory: x must be an intermediate nothing
// else reads (see ag.Ctx.ChannelAffineUnaryInPlace).
func (m *BatchNorm) ForwardUnaryInPlace(c *ag.Ctx, x *ag.Var, op backend.UnaryOp) *ag.Var {
	if m.store.Training {
		return c.Unary(op, m.Forward(c, x))
	}
	scale, shift := m.evalAffine(c)
	return c.ChannelAffineUnaryInPlace(x, scale, shift, op)
}

// ForwardUnary is op(Forward(x)); in eval mode the normalisation and the
// activation run as one kernel (ag.Ctx.ChannelAffineUnary).
func (m *BatchNorm) ForwardUnary(c *ag.Ctx, x *ag.Var, op backend.UnaryOp) *ag.Var {
	if m.store.Training {
		return c.Unary(op, m.Forward(c, x))
	}
	scale, shift := m.evalAffine(c)
	return c.ChannelAffineUnary(x, scale, shift, op)
}

// Linear is x·Wᵀ + b with PyTorch's default init.
type Linear struct{ W, B *ag.Var }

// NewLinear registers name.weight [out, in] and name.bias [out].
func (s *Store) NewLinear(name string, in, out int) *Linear {
	bound := 1 / math.Sqrt(float64(in))
	return &Linear{
		W: s.NewParam(name+".weight", []int{out, in}, s.Uniform(out*in, bound)),
		B: s.NewParam(name+".bias", []int{out}, s.Uniform(out, bound)),
	}
}

// Forward applies the layer to x [N, in].
func (l *Linear) Forward(c *ag.Ctx, x *ag.Var) *ag.Var { return c.Linear(x, l.W, l.B) }
