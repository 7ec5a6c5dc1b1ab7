package nvae

import (
	"math"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/tensor"
)

// SlerpNoise hands out, for every normal draw of a sampling pass, frames
// that walk on great circles between the draws of consecutive anchors, so
// each frame keeps unit variance (nvae-sample --interpolate).
type SlerpNoise struct {
	anchors []*PhiloxNoise
	alphas  []float64 // per frame: anchor index + fraction
	uniform *PhiloxNoise
}

// NewSlerpNoise walks through k anchors drawn from seed with frames frames
// between consecutive ones and the last anchor at the end.
func NewSlerpNoise(seed uint64, k, frames int) *SlerpNoise {
	s := &SlerpNoise{uniform: &PhiloxNoise{Seed: seed ^ 0x1f}}
	for i := 0; i < k; i++ {
		s.anchors = append(s.anchors, &PhiloxNoise{Seed: seed*1000 + uint64(i)})
	}
	for i := 0; i < k-1; i++ {
		for f := 0; f < frames; f++ {
			s.alphas = append(s.alphas, float64(i)+float64(f)/float64(frames))
		}
	}
	s.alphas = append(s.alphas, float64(k-1))
	return s
}

// Frames is the number of frames (the batch size of the sampling pass).
func (s *SlerpNoise) Frames() int { return len(s.alphas) }

// Normal returns the frames of one draw.
func (s *SlerpNoise) Normal(c *ag.Ctx, shape ...int) *tensor.Tensor {
	per := shape[1:]
	eps := make([]*tensor.Tensor, len(s.anchors))
	for i, a := range s.anchors {
		eps[i] = c.B.ToHost(a.Normal(c, append([]int{1}, per...)...))
	}
	n := tensor.Shape(per).NumElements()
	out := tensor.Host(tensor.Float32, shape...)
	o := out.F32()
	for f, al := range s.alphas {
		i := int(al)
		j := min(i+1, len(eps)-1)
		th := (al - float64(i)) * math.Pi / 2
		a, b := float32(math.Cos(th)), float32(math.Sin(th))
		e1, e2 := eps[i].F32(), eps[j].F32()
		for k := 0; k < n; k++ {
			o[f*n+k] = a*e1[k] + b*e2[k]
		}
	}
	return c.B.FromHost(out)
}

// Uniform draws from its own stream.
func (s *SlerpNoise) Uniform(c *ag.Ctx, shape ...int) *tensor.Tensor {
	return s.uniform.Uniform(c, shape...)
}

// ZeroNoise makes every latent its posterior (or prior) mean.
type ZeroNoise struct{}

// Normal returns zeros.
func (ZeroNoise) Normal(c *ag.Ctx, shape ...int) *tensor.Tensor { return c.B.Zeros(c.DType, shape...) }

// Uniform returns one half.
func (ZeroNoise) Uniform(c *ag.Ctx, shape ...int) *tensor.Tensor {
	return c.B.Full(c.DType, 0.5, shape...)
}
