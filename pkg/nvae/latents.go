package nvae

import (
	"errors"
	"fmt"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/npz"
	"github.com/nvaego/nvae/pkg/tensor"
)

// A latents file (as nvae-sample --encode writes it) holds, for each
// latent group k (decoder order, kk = 00 is z0), the posterior of a pass
// whose latents are all posterior means (mu_kk, sigma_kk; mean_kk is the
// latent the decoder received, after the normalizing flows, equal to mu_kk
// without them) and the latents of a pass that samples each posterior
// (sample_kk); plus the input images (images, float32 NCHW in [0,1]).

// LatentKey names the array of group k of one kind (mu, sigma, mean,
// sample) in a latents file: kind_kk.
func LatentKey(kind string, k int) string { return fmt.Sprintf("%s_%02d", kind, k) }

// ErrFewLatents: an interpolation needs a latents file of at least 2 images.
var ErrFewLatents = errors.New("an interpolation needs a latents file of at least 2 images")

// DecodeImages turns decoder output into images: the mean (useMean, or
// always for binary data, a Bernoulli), else a sample at temperature t.
func (m *Model) DecodeImages(c *ag.Ctx, logits *ag.Var, noise Noise, t float64, useMean bool) *tensor.Tensor {
	dec := m.DecoderOutput(c, logits)
	var img *ag.Var
	if _, ok := dec.(Bernoulli); ok || useMean {
		img = dec.Mean(c)
	}
	if img == nil {
		img = dec.Sample(c, noise, t)
	}
	return c.B.ToHost(img.Value)
}

// SampleImages draws n images from the prior in batches of bs at the
// per-group temperatures (the pixels at the last group's), seeded by seed,
// and returns them as NCHW values with their [C, H, W].
func (m *Model) SampleImages(c *ag.Ctx, n, bs int, temps []float64, seed uint64) ([]float32, [3]int) {
	t := temps[len(temps)-1]
	noise := &PhiloxNoise{Seed: seed}
	var out []float32
	var shape [3]int
	for done := 0; done < n; done += bs {
		k := min(bs, n-done)
		h := m.DecodeImages(c, m.SampleTemps(c, k, temps, noise), noise, t, false)
		shape = [3]int{h.Dim(1), h.Dim(2), h.Dim(3)}
		out = append(out, h.Float32s()...)
	}
	return out, shape
}

// InterpolatePrior decodes frames on great circles between k prior
// samples (frames steps between two) at the per-group temperatures,
// seeded by seed: the decoder's means, NCHW.
func (m *Model) InterpolatePrior(c *ag.Ctx, k, frames int, temps []float64, seed uint64) *tensor.Tensor {
	noise := NewSlerpNoise(seed, k, frames)
	logits := m.SampleTemps(c, noise.Frames(), temps, noise)
	return m.DecodeImages(c, logits, noise, temps[len(temps)-1], true)
}

// host returns a variable's values as float32.
func host(c *ag.Ctx, v *ag.Var) []float32 { return c.B.ToHost(v.Value).Float32s() }

// EncodeLatents encodes n input images (float32 NCHW in [0,1] of the
// model's input size) in batches of bs and returns the arrays of a latents
// file: the posterior means pass, the posterior samples pass (seeded by
// seed) and the images as the model saw them (reduced to num_x_bits). It
// decodes both sets back from those arrays: roundTrip holds the 3n images
// inputs, decoded means, decoded samples.
func (m *Model) EncodeLatents(c *ag.Ctx, imgs []float32, n, bs int, seed uint64) (arrs map[string]npz.Array, roundTrip []float32, err error) {
	size, err := InputSize(m.Cfg.Dataset)
	if err != nil {
		return nil, nil, err
	}
	ch := InputChannels(m.Cfg.Dataset)
	per, g := ch*size*size, m.NumGroupsTotal()
	arrays := map[string][]float32{}
	shapes := map[string][]int{}
	var inputs []float32
	noise := &PhiloxNoise{Seed: seed}
	for done := 0; done < n; done += bs {
		k := min(bs, n-done)
		h := tensor.FromFloat32([]int{k, ch, size, size}, imgs[done*per:(done+k)*per])
		x := c.Const(PreProcess(c, h, m.Cfg.NumXBits))
		inputs = append(inputs, host(c, x)...)
		mean := m.Encode(c, x, ZeroNoise{})
		smp := m.Encode(c, x, noise)
		for i := 0; i < g; i++ {
			for kind, v := range map[string]*ag.Var{"mu": mean.Mu[i], "sigma": mean.Sigma[i], "mean": mean.Z[i], "sample": smp.Z[i]} {
				key := LatentKey(kind, i)
				arrays[key] = append(arrays[key], host(c, v)...)
				shapes[key] = append([]int{n}, v.Shape()[1:]...)
			}
		}
	}
	out := map[string]npz.Array{"images": npz.FromFloat32([]int{n, ch, size, size}, inputs[:n*per:n*per])}
	for key, v := range arrays {
		out[key] = npz.FromFloat32(shapes[key], v)
	}
	for _, kind := range []string{"mean", "sample"} {
		dec, shape, err := m.DecodeLatentArrays(c, out, kind, bs)
		if err != nil {
			return nil, nil, err
		}
		if shape != [3]int{ch, size, size} {
			return nil, nil, fmt.Errorf("decoded images are %v, inputs %v", shape, [3]int{ch, size, size})
		}
		inputs = append(inputs, dec...)
	}
	return out, inputs, nil
}

// DecodeLatentArrays decodes the kind_kk arrays of a latents file in
// batches of bs to images (the decoder's means), NCHW with their [C, H, W].
func (m *Model) DecodeLatentArrays(c *ag.Ctx, arrs map[string]npz.Array, kind string, bs int) ([]float32, [3]int, error) {
	g := m.NumGroupsTotal()
	vals := make([][]float32, g)
	shapes := make([][]int, g)
	for i := 0; i < g; i++ {
		a, ok := arrs[LatentKey(kind, i)]
		if !ok {
			return nil, [3]int{}, fmt.Errorf("no array %s (the model has %d latent groups)", LatentKey(kind, i), g)
		}
		v, err := a.Float32()
		if err != nil {
			return nil, [3]int{}, fmt.Errorf("%s: %v", LatentKey(kind, i), err)
		}
		if len(a.Shape) != 4 || (i > 0 && a.Shape[0] != shapes[0][0]) {
			return nil, [3]int{}, fmt.Errorf("%s: shape %v: want [N, C, H, W] with the N of %s", LatentKey(kind, i), a.Shape, LatentKey(kind, 0))
		}
		vals[i], shapes[i] = v, a.Shape
	}
	n := shapes[0][0]
	var out []float32
	var shape [3]int
	for done := 0; done < n; done += bs {
		k := min(bs, n-done)
		z := make([]*ag.Var, g)
		for i := range z {
			per := len(vals[i]) / n
			sh := append([]int{k}, shapes[i][1:]...)
			h := tensor.FromFloat32(sh, vals[i][done*per:(done+k)*per])
			if c.DType == tensor.Float64 {
				h = tensor.FromFloat64(sh, h.Float64s())
			}
			z[i] = c.Const(c.B.FromHost(h))
		}
		logits, err := m.DecodeLatents(c, z)
		if err != nil {
			return nil, [3]int{}, err
		}
		h := m.DecodeImages(c, logits, ZeroNoise{}, 1, true)
		shape = [3]int{h.Dim(1), h.Dim(2), h.Dim(3)}
		out = append(out, h.Float32s()...)
	}
	return out, shape, nil
}

// InterpolateLatents walks between the first k (at least 2) images of a
// latents file: frames linear steps between consecutive images in every
// group's kind_kk latent at once, then the last image. It returns the
// frames as the kind_kk arrays of a latents file (for DecodeLatentArrays)
// and the number of images walked through; ErrFewLatents when the file
// holds fewer than 2.
func (m *Model) InterpolateLatents(arrs map[string]npz.Array, kind string, k, frames int) (map[string]npz.Array, int, error) {
	out := map[string]npz.Array{}
	for i := 0; i < m.NumGroupsTotal(); i++ {
		key := LatentKey(kind, i)
		a, ok := arrs[key]
		if !ok || len(a.Shape) != 4 {
			return nil, 0, fmt.Errorf("no [N, C, H, W] array %s", key)
		}
		v, err := a.Float32()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %v", key, err)
		}
		n := a.Shape[0]
		if k = min(max(k, 2), n); k < 2 {
			return nil, 0, ErrFewLatents
		}
		per := len(v) / n
		var walk []float32
		for j := 0; j < k-1; j++ {
			for f := 0; f < frames; f++ {
				al := float32(f) / float32(frames)
				for e := 0; e < per; e++ {
					walk = append(walk, (1-al)*v[j*per+e]+al*v[(j+1)*per+e])
				}
			}
		}
		walk = append(walk, v[(k-1)*per:k*per]...)
		out[key] = npz.FromFloat32(append([]int{(k-1)*frames + 1}, a.Shape[1:]...), walk)
	}
	return out, k, nil
}

// Reconstruct encodes a batch x (NCHW in [0,1]) with posterior means and
// decodes it: it returns the inputs as the model saw them (reduced to
// num_x_bits) and the decoder's means.
func (m *Model) Reconstruct(c *ag.Ctx, x *tensor.Tensor) (orig, rec []float32) {
	xv := c.Const(PreProcess(c, x, m.Cfg.NumXBits))
	out := m.Forward(c, xv, ZeroNoise{})
	return host(c, xv), m.DecodeImages(c, out.Logits, ZeroNoise{}, 1, true).Float32s()
}
