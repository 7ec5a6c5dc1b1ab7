package fid

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/fid/formula"
	"github.com/nvaego/nvae/pkg/par"
	"github.com/nvaego/nvae/pkg/safetensors"
	"github.com/nvaego/nvae/pkg/tensor"
	"github.com/nvaego/nvae/pkg/torchpt"
)

// InputSize is the side length every image is resized to before the
// network (pytorch-fid's resize_input, always applied).
const InputSize = 299

// Dims is the length of the pool3 feature vector.
const Dims = 2048

// DefaultBNEps is the BatchNorm epsilon of the FID Inception (torchvision's
// BasicConv2d uses eps=0.001).
const DefaultBNEps = 1e-3

// DefaultChunk is the number of images Features pushes through the network
// at once; larger batches are split so that memory stays bounded (about
// 70 MB of float32 activations per image at the widest layer).
const DefaultChunk = 16

// convUnit is torchvision's BasicConv2d (conv without bias, BatchNorm in
// eval mode, ReLU) with the BatchNorm folded into the convolution:
// w' = w·γ/√(var+eps), b' = β − mean·γ/√(var+eps). The fold is exact
// algebra; it changes the rounding of the result at the level of the
// working precision only.
type convUnit struct {
	w, b   *tensor.Tensor
	kh, kw int
}

// Inception is pytorch-fid's FID Inception-v3 up to the 2048-d pool3
// features (blocks 0-3 of InceptionV3 with the FIDInceptionA/C/E_1/E_2
// variants), in inference mode, on one backend and dtype.
type Inception struct {
	b     backend.Backend
	dt    tensor.DType
	eps   float64
	units map[string]*convUnit
	// Chunk is the largest number of images run through the network in
	// one pass (DefaultChunk when ≤ 0).
	Chunk int
}

// weight is one state-dict tensor converted to float64 host memory.
type weight struct {
	shape []int
	data  []float64
}

// unitSpec lists the 94 conv units: name, output and input channels, and
// the kernel size (kh, kw), in state-dict order.
type unitSpec struct {
	name            string
	out, in, kh, kw int
}

// unitSpecs returns the conv units of the FID Inception-v3.
func unitSpecs() []unitSpec {
	var s []unitSpec
	add := func(name string, out, in, kh, kw int) {
		s = append(s, unitSpec{name, out, in, kh, kw})
	}
	add("Conv2d_1a_3x3", 32, 3, 3, 3)
	add("Conv2d_2a_3x3", 32, 32, 3, 3)
	add("Conv2d_2b_3x3", 64, 32, 3, 3)
	add("Conv2d_3b_1x1", 80, 64, 1, 1)
	add("Conv2d_4a_3x3", 192, 80, 3, 3)
	for _, a := range []struct {
		name   string
		in, pf int
	}{{"Mixed_5b", 192, 32}, {"Mixed_5c", 256, 64}, {"Mixed_5d", 288, 64}} {
		add(a.name+".branch1x1", 64, a.in, 1, 1)
		add(a.name+".branch5x5_1", 48, a.in, 1, 1)
		add(a.name+".branch5x5_2", 64, 48, 5, 5)
		add(a.name+".branch3x3dbl_1", 64, a.in, 1, 1)
		add(a.name+".branch3x3dbl_2", 96, 64, 3, 3)
		add(a.name+".branch3x3dbl_3", 96, 96, 3, 3)
		add(a.name+".branch_pool", a.pf, a.in, 1, 1)
	}
	add("Mixed_6a.branch3x3", 384, 288, 3, 3)
	add("Mixed_6a.branch3x3dbl_1", 64, 288, 1, 1)
	add("Mixed_6a.branch3x3dbl_2", 96, 64, 3, 3)
	add("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3)
	for _, c := range []struct {
		name string
		c7   int
	}{{"Mixed_6b", 128}, {"Mixed_6c", 160}, {"Mixed_6d", 160}, {"Mixed_6e", 192}} {
		add(c.name+".branch1x1", 192, 768, 1, 1)
		add(c.name+".branch7x7_1", c.c7, 768, 1, 1)
		add(c.name+".branch7x7_2", c.c7, c.c7, 1, 7)
		add(c.name+".branch7x7_3", 192, c.c7, 7, 1)
		add(c.name+".branch7x7dbl_1", c.c7, 768, 1, 1)
		add(c.name+".branch7x7dbl_2", c.c7, c.c7, 7, 1)
		add(c.name+".branch7x7dbl_3", c.c7, c.c7, 1, 7)
		add(c.name+".branch7x7dbl_4", c.c7, c.c7, 7, 1)
		add(c.name+".branch7x7dbl_5", 192, c.c7, 1, 7)
		add(c.name+".branch_pool", 192, 768, 1, 1)
	}
	add("Mixed_7a.branch3x3_1", 192, 768, 1, 1)
	add("Mixed_7a.branch3x3_2", 320, 192, 3, 3)
	add("Mixed_7a.branch7x7x3_1", 192, 768, 1, 1)
	add("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7)
	add("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1)
	add("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3)
	for _, e := range []struct {
		name string
		in   int
	}{{"Mixed_7b", 1280}, {"Mixed_7c", 2048}} {
		add(e.name+".branch1x1", 320, e.in, 1, 1)
		add(e.name+".branch3x3_1", 384, e.in, 1, 1)
		add(e.name+".branch3x3_2a", 384, 384, 1, 3)
		add(e.name+".branch3x3_2b", 384, 384, 3, 1)
		add(e.name+".branch3x3dbl_1", 448, e.in, 1, 1)
		add(e.name+".branch3x3dbl_2", 384, 448, 3, 3)
		add(e.name+".branch3x3dbl_3a", 384, 384, 1, 3)
		add(e.name+".branch3x3dbl_3b", 384, 384, 3, 1)
		add(e.name+".branch_pool", 192, e.in, 1, 1)
	}
	return s
}

// readWeights reads a state dict from a .safetensors file or a PyTorch
// .pth/.pt file (zip or legacy format). It returns the float tensors and the
// BatchNorm epsilon from the safetensors metadata ("bn_eps"), or 0 when the
// file does not say.
func readWeights(path string) (map[string]weight, float64, error) {
	if path == formula.Name {
		return formulaWeights(), DefaultBNEps, nil
	}
	out := map[string]weight{}
	var eps float64
	if strings.EqualFold(filepath.Ext(path), ".safetensors") {
		f, err := safetensors.ReadFile(path)
		if err != nil {
			return nil, 0, err
		}
		if s, ok := f.Metadata["bn_eps"]; ok {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v <= 0 {
				return nil, 0, fmt.Errorf("%s: metadata bn_eps %q is not a positive number", path, s)
			}
			eps = v
		}
		for name, t := range f.Tensors {
			if !t.DType.IsFloat() {
				continue
			}
			v, err := t.Float64()
			if err != nil {
				return nil, 0, fmt.Errorf("%s: tensor %s: %w", path, name, err)
			}
			out[name] = weight{t.Shape, v}
		}
		return out, eps, nil
	}
	ck, err := torchpt.Load(path)
	if err != nil {
		return nil, 0, err
	}
	for name, t := range ck.StateDict {
		switch t.DType {
		case "F32", "F64", "F16", "BF16":
		default:
			continue
		}
		v, err := t.Float64()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: tensor %s: %w", path, name, err)
		}
		out[name] = weight{t.Shape, v}
	}
	return out, eps, nil
}

// LoadInception reads the FID Inception weights (the official
// pt_inception-2015-12-05-6726825d.pth, or a .safetensors file with the
// same keys, or formula.Name for the offline test weights) and prepares the network on backend b in dtype dt. Every conv
// unit's conv.weight and bn.{weight,bias,running_mean,running_var} must be
// present with the expected shapes; other keys (fc.*, num_batches_tracked)
// are ignored. BatchNorm uses eps from the file's "bn_eps" metadata when
// present, else DefaultBNEps.
func LoadInception(path string, b backend.Backend, dt tensor.DType) (*Inception, error) {
	ws, eps, err := readWeights(path)
	if err != nil {
		return nil, err
	}
	if eps == 0 {
		eps = DefaultBNEps
	}
	m := &Inception{b: b, dt: dt, eps: eps, units: map[string]*convUnit{}}
	get := func(key string, shape ...int) ([]float64, error) {
		w, ok := ws[key]
		if !ok {
			return nil, fmt.Errorf("%s: missing tensor %s (not an FID Inception-v3 state dict?)", path, key)
		}
		if fmt.Sprint(w.shape) != fmt.Sprint(shape) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v, want %v", path, key, w.shape, shape)
		}
		return w.data, nil
	}
	for _, s := range unitSpecs() {
		w, err := get(s.name+".conv.weight", s.out, s.in, s.kh, s.kw)
		if err != nil {
			return nil, err
		}
		var bn [4][]float64
		for i, k := range []string{"weight", "bias", "running_mean", "running_var"} {
			if bn[i], err = get(s.name+".bn."+k, s.out); err != nil {
				return nil, err
			}
		}
		m.units[s.name] = m.fold(w, bn, s)
	}
	return m, nil
}

// fold builds a conv unit with the BatchNorm folded into weight and bias.
func (m *Inception) fold(w []float64, bn [4][]float64, s unitSpec) *convUnit {
	gamma, beta, mean, variance := bn[0], bn[1], bn[2], bn[3]
	per := s.in * s.kh * s.kw
	wf := make([]float64, len(w))
	bf := make([]float64, s.out)
	for o := 0; o < s.out; o++ {
		scale := gamma[o] / math.Sqrt(variance[o]+m.eps)
		for i := 0; i < per; i++ {
			wf[o*per+i] = w[o*per+i] * scale
		}
		bf[o] = beta[o] - mean[o]*scale
	}
	wt := tensor.FromFloat64([]int{s.out, s.in, s.kh, s.kw}, wf)
	bt := tensor.FromFloat64([]int{s.out}, bf)
	if m.dt == tensor.Float32 {
		wt = tensor.FromFloat32(wt.Shape(), wt.Float32s())
		bt = tensor.FromFloat32(bt.Shape(), bt.Float32s())
	}
	return &convUnit{w: m.b.FromHost(wt), b: m.b.FromHost(bt), kh: s.kh, kw: s.kw}
}

// Backend returns the backend the network runs on.
func (m *Inception) Backend() backend.Backend { return m.b }

// DType returns the working dtype of the network.
func (m *Inception) DType() tensor.DType { return m.dt }

// BNEps returns the BatchNorm epsilon in use.
func (m *Inception) BNEps() float64 { return m.eps }

// TapNames lists the names FeaturesWithTaps accepts, in network order:
// "resized" (the 299x299 image before 2x−1), every conv unit output (e.g.
// "Conv2d_1a_3x3", "Mixed_6b.branch7x7dbl_3"), "<block>.branch_pool@in"
// (the pooled tensor fed to each pool-branch conv of Mixed_5b-5d, 6b-6e,
// 7b, 7c), every Mixed block output, "maxpool1", "maxpool2" and "avgpool"
// ([N, 2048, 1, 1]).
func TapNames() []string {
	names := []string{"resized"}
	blockOf := func(n string) string { return strings.SplitN(n, ".", 2)[0] }
	specs := unitSpecs()
	for i, s := range specs {
		names = append(names, s.name)
		switch s.name {
		case "Conv2d_2b_3x3":
			names = append(names, "maxpool1")
		case "Conv2d_4a_3x3":
			names = append(names, "maxpool2")
		}
		if strings.HasSuffix(s.name, ".branch_pool") {
			names = append(names, blockOf(s.name)+".branch_pool@in")
		}
		if b := blockOf(s.name); strings.HasPrefix(b, "Mixed") && (i+1 == len(specs) || blockOf(specs[i+1].name) != b) {
			names = append(names, b)
		}
	}
	return append(names, "avgpool")
}

// Features returns the [N, 2048] pool3 features of the images x (NCHW, N
// images with 1 or 3 channels, any size, values in [0, 1]) in the
// network's dtype, on the host. One-channel images are repeated to RGB.
func (m *Inception) Features(x *tensor.Tensor) *tensor.Tensor {
	f, _ := m.FeaturesWithTaps(x, nil)
	return f
}

// FeaturesWithTaps is Features that also returns host copies of the named
// intermediate activations (see TapNames), each with the batch dimension
// of x. It panics on an unknown name or a malformed input.
func (m *Inception) FeaturesWithTaps(x *tensor.Tensor, names []string) (*tensor.Tensor, map[string]*tensor.Tensor) {
	if x.Rank() != 4 || (x.Dim(1) != 1 && x.Dim(1) != 3) || x.Dim(0) < 1 {
		panic(fmt.Sprintf("fid: Features needs NCHW images with 1 or 3 channels, got %v", x.Shape()))
	}
	want := map[string]bool{}
	known := map[string]bool{}
	for _, n := range TapNames() {
		known[n] = true
	}
	for _, n := range names {
		if !known[n] {
			panic(fmt.Sprintf("fid: unknown activation name %q", n))
		}
		want[n] = true
	}
	x = m.b.ToHost(x)
	n := x.Dim(0)
	chunk := m.Chunk
	if chunk <= 0 {
		chunk = DefaultChunk
	}
	per := x.Len() / n
	feats := tensor.Host(m.dt, n, Dims)
	taps := map[string][]*tensor.Tensor{}
	for lo := 0; lo < n; lo += chunk {
		hi := min(n, lo+chunk)
		part := sliceHost(x, lo*per, hi*per, hi-lo)
		tap := func(name string, t *tensor.Tensor) {
			if want[name] {
				taps[name] = append(taps[name], t)
			}
		}
		f := m.forward(part, tap)
		copyInto(feats, lo*Dims, m.b.ToHost(f))
	}
	out := map[string]*tensor.Tensor{}
	for name, parts := range taps {
		if len(parts) == 1 {
			out[name] = m.b.ToHost(parts[0])
		} else {
			out[name] = m.b.ToHost(m.b.Concat(0, parts))
		}
	}
	return feats, out
}

// sliceHost returns elements [lo, hi) of the host tensor x as a new tensor
// of k images with x's per-image shape (shared storage).
func sliceHost(x *tensor.Tensor, lo, hi, k int) *tensor.Tensor {
	sh := append([]int{k}, x.Shape()[1:]...)
	if x.DType() == tensor.Float64 {
		return tensor.FromFloat64(sh, x.F64()[lo:hi])
	}
	return tensor.FromFloat32(sh, x.F32()[lo:hi])
}

// copyInto copies the host tensor src into dst starting at element off.
func copyInto(dst *tensor.Tensor, off int, src *tensor.Tensor) {
	if dst.DType() == tensor.Float64 {
		copy(dst.F64()[off:], src.Float64s())
	} else {
		copy(dst.F32()[off:], src.Float32s())
	}
}

// forward runs preprocessing and the network on a host batch and returns the
// [N, 2048] features on the backend.
func (m *Inception) forward(x *tensor.Tensor, tap func(string, *tensor.Tensor)) *tensor.Tensor {
	b := m.b
	r := Resize(x, m.dt)
	rb := b.FromHost(r)
	tap("resized", rb)
	h := b.Affine(rb, 2, -1)

	unit := func(name string, x *tensor.Tensor, stride, padH, padW int) *tensor.Tensor {
		u := m.units[name]
		p := backend.ConvParams{StrideH: stride, StrideW: stride, PadH: padH, PadW: padW, DilationH: 1, DilationW: 1, Groups: 1}
		y := b.Unary(backend.ReLU, b.Conv2D(x, u.w, u.b, p))
		tap(name, y)
		return y
	}
	// same is a stride-1 unit with "same" padding for its (odd) kernel.
	same := func(name string, x *tensor.Tensor) *tensor.Tensor {
		u := m.units[name]
		return unit(name, x, 1, u.kh/2, u.kw/2)
	}
	cat := func(name string, xs ...*tensor.Tensor) *tensor.Tensor {
		y := b.Concat(1, xs)
		tap(name, y)
		return y
	}
	poolBranch := func(blk string, x *tensor.Tensor, maxPool bool) *tensor.Tensor {
		var p *tensor.Tensor
		if maxPool {
			p = b.MaxPool2D(x, 3, 1, 1)
		} else {
			p = b.AvgPool2D(x, 3, 1, 1, false)
		}
		tap(blk+".branch_pool@in", p)
		return same(blk+".branch_pool", p)
	}

	// Block 0.
	h = unit("Conv2d_1a_3x3", h, 2, 0, 0)
	h = unit("Conv2d_2a_3x3", h, 1, 0, 0)
	h = unit("Conv2d_2b_3x3", h, 1, 1, 1)
	h = b.MaxPool2D(h, 3, 2, 0)
	tap("maxpool1", h)
	// Block 1.
	h = unit("Conv2d_3b_1x1", h, 1, 0, 0)
	h = unit("Conv2d_4a_3x3", h, 1, 0, 0)
	h = b.MaxPool2D(h, 3, 2, 0)
	tap("maxpool2", h)
	// Block 2: FIDInceptionA x3, InceptionB, FIDInceptionC x4.
	for _, blk := range []string{"Mixed_5b", "Mixed_5c", "Mixed_5d"} {
		b1 := same(blk+".branch1x1", h)
		b5 := same(blk+".branch5x5_2", same(blk+".branch5x5_1", h))
		bd := same(blk+".branch3x3dbl_3", same(blk+".branch3x3dbl_2", same(blk+".branch3x3dbl_1", h)))
		bp := poolBranch(blk, h, false)
		h = cat(blk, b1, b5, bd, bp)
	}
	{
		const blk = "Mixed_6a"
		b3 := unit(blk+".branch3x3", h, 2, 0, 0)
		bd := same(blk+".branch3x3dbl_2", same(blk+".branch3x3dbl_1", h))
		bd = unit(blk+".branch3x3dbl_3", bd, 2, 0, 0)
		bp := b.MaxPool2D(h, 3, 2, 0)
		h = cat(blk, b3, bd, bp)
	}
	for _, blk := range []string{"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"} {
		b1 := same(blk+".branch1x1", h)
		b7 := h
		for _, s := range []string{"_1", "_2", "_3"} {
			b7 = same(blk+".branch7x7"+s, b7)
		}
		bd := h
		for _, s := range []string{"_1", "_2", "_3", "_4", "_5"} {
			bd = same(blk+".branch7x7dbl"+s, bd)
		}
		bp := poolBranch(blk, h, false)
		h = cat(blk, b1, b7, bd, bp)
	}
	// Block 3: InceptionD, FIDInceptionE_1, FIDInceptionE_2, average pool.
	{
		const blk = "Mixed_7a"
		b3 := unit(blk+".branch3x3_2", same(blk+".branch3x3_1", h), 2, 0, 0)
		b7 := same(blk+".branch7x7x3_3", same(blk+".branch7x7x3_2", same(blk+".branch7x7x3_1", h)))
		b7 = unit(blk+".branch7x7x3_4", b7, 2, 0, 0)
		bp := b.MaxPool2D(h, 3, 2, 0)
		h = cat(blk, b3, b7, bp)
	}
	for _, blk := range []string{"Mixed_7b", "Mixed_7c"} {
		b1 := same(blk+".branch1x1", h)
		t3 := same(blk+".branch3x3_1", h)
		b3a := same(blk+".branch3x3_2a", t3)
		b3b := same(blk+".branch3x3_2b", t3)
		td := same(blk+".branch3x3dbl_2", same(blk+".branch3x3dbl_1", h))
		bda := same(blk+".branch3x3dbl_3a", td)
		bdb := same(blk+".branch3x3dbl_3b", td)
		bp := poolBranch(blk, h, blk == "Mixed_7c")
		h = cat(blk, b1, b3a, b3b, bda, bdb, bp)
	}
	n, c, hh, ww := h.Dim(0), h.Dim(1), h.Dim(2), h.Dim(3)
	h = b.Affine(b.Sum(h, []int{2, 3}, true), 1/float64(hh*ww), 0)
	tap("avgpool", h)
	return h.Reshape(n, c)
}

// Resize converts a host batch of images (NCHW, 1 or 3 channels, values in
// [0, 1]) to dtype dt, repeats one channel to three, and resizes it to
// 299x299 exactly like pytorch-fid's F.interpolate(mode="bilinear",
// align_corners=False) on the CPU: the per-axis source coordinates and the
// fused multiply-adds of torch's kernel, in float64 or with the float32
// coordinate rounding of the float32 path (bit-for-bit in both dtypes).
// A 299-pixel axis is copied unchanged.
func Resize(x *tensor.Tensor, dt tensor.DType) *tensor.Tensor {
	if !x.OnHost() || x.Rank() != 4 {
		panic(fmt.Sprintf("fid: Resize needs a host NCHW tensor, got %v", x.Shape()))
	}
	n, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	if c != 1 && c != 3 {
		panic(fmt.Sprintf("fid: Resize needs 1 or 3 channels, got %v", x.Shape()))
	}
	if dt == tensor.Float64 {
		out := resizePlanes(x.Float64s(), n, c, h, w, axis64(h), axis64(w), math.FMA)
		return tensor.FromFloat64([]int{n, 3, InputSize, InputSize}, out)
	}
	out := resizePlanes(x.Float32s(), n, c, h, w, axis32(h), axis32(w), fma32)
	return tensor.FromFloat32([]int{n, 3, InputSize, InputSize}, out)
}

// resizePlanes resizes the n images of src (c = 1 or 3 channels of h x w)
// to 3 planes of InputSize² each with the given taps and fused
// multiply-add, one plane per task.
func resizePlanes[T float32 | float64](src []T, n, c, h, w int, ry, rx []tap[T], fma func(a, b, c T) T) []T {
	const S = InputSize
	planes := n * 3
	out := make([]T, planes*S*S)
	par.For(planes, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			img, ch := p/3, p%3
			if c == 1 {
				ch = 0
			}
			in := src[(img*c+ch)*h*w : (img*c+ch+1)*h*w]
			dst := out[p*S*S : (p+1)*S*S]
			for oy, ay := range ry {
				r0, r1 := in[ay.i0*w:(ay.i0+1)*w], in[ay.i1*w:(ay.i1+1)*w]
				row := dst[oy*S : (oy+1)*S]
				for ox, ax := range rx {
					t0 := fma(r0[ax.i0], ax.l0, r0[ax.i1]*ax.l1)
					t1 := fma(r1[ax.i0], ax.l0, r1[ax.i1]*ax.l1)
					row[ox] = fma(t0, ay.l0, t1*ay.l1)
				}
			}
		}
	})
	return out
}

// tap is one output coordinate's source indices and weights.
type tap[T float32 | float64] struct {
	i0, i1 int
	l0, l1 T
}

type (
	tap64 = tap[float64]
	tap32 = tap[float32]
)

// axis64 returns the float64 source coordinates for resizing an axis of
// length n to InputSize.
func axis64(n int) []tap64 {
	t := make([]tap64, InputSize)
	for j := range t {
		if n == InputSize {
			t[j] = tap64{j, j, 1, 0}
			continue
		}
		src := math.FMA(float64(n)/InputSize, float64(j)+0.5, -0.5)
		i0, l1 := srcIndex(src, n)
		t[j] = tap64{i0, min(i0+1, n-1), 1 - l1, l1}
	}
	return t
}

// axis32 is axis64 for the float32 path: the scale is rounded to float32
// and the weights are float32.
func axis32(n int) []tap32 {
	t := make([]tap32, InputSize)
	for j := range t {
		if n == InputSize {
			t[j] = tap32{j, j, 1, 0}
			continue
		}
		scale := float32(n) / float32(InputSize)
		src := math.FMA(float64(scale), float64(j)+0.5, -0.5)
		i0, l1 := srcIndex(src, n)
		l := float32(l1)
		t[j] = tap32{i0, min(i0+1, n-1), 1 - l, l}
	}
	return t
}

// srcIndex clamps a negative source coordinate to 0 and splits it into the
// integer index and the fractional weight of the next pixel.
func srcIndex(src float64, n int) (int, float64) {
	if src < 0 {
		src = 0
	}
	i0 := int(math.Floor(src))
	if i0 > n-1 {
		i0 = n - 1
	}
	return i0, src - float64(i0)
}
