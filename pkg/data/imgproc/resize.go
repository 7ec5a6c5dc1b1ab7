package imgproc

import "math"

// Resize scales m to w x h the way Pillow's Image.resize((w, h),
// Image.BILINEAR) does (libImaging/Resample.c): a separable triangle
// filter whose support widens with the downscaling factor (so it
// antialiases), coefficients normalised per output pixel and rounded to
// 22-bit fixed point, a horizontal pass then a vertical pass, each
// rounded and clipped to 8 bits. Same-size resizes return a copy.
func Resize(m *RGB, w, h int) *RGB {
	if w == m.W && h == m.H {
		return &RGB{W: w, H: h, Pix: append([]uint8(nil), m.Pix...)}
	}
	src := m
	if w != m.W {
		src = resizeH(src, w)
	}
	if h != m.H {
		src = resizeV(src, h)
	}
	return src
}

// ResizeShorter scales m so that its shorter side is size, keeping the
// aspect ratio as torchvision's Resize(int) does (the longer side becomes
// int(size * long / short)). An image whose shorter side already equals
// size is returned unchanged.
func ResizeShorter(m *RGB, size int) *RGB {
	w, h := m.W, m.H
	if (w <= h && w == size) || (h <= w && h == size) {
		return m
	}
	if w < h {
		return Resize(m, size, int(float64(size)*float64(h)/float64(w)))
	}
	return Resize(m, int(float64(size)*float64(w)/float64(h)), size)
}

const precisionBits = 32 - 8 - 2

// coeffs holds the fixed-point filter of one resampling pass.
type coeffs struct {
	ksize  int
	bounds []int // per output pixel: first input index, number of taps
	k      []int32
}

func bilinear(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// precompute follows Pillow's precompute_coeffs and
// normalize_coeffs_8bpc for the box [0, inSize).
func precompute(inSize, outSize int) coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := 1.0 * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, bounds: make([]int, 2*outSize), k: make([]int32, outSize*ksize)}
	kk := make([]float64, ksize)
	for xx := range outSize {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := range xmax {
			w := bilinear((float64(x+xmin) - center + 0.5) * ss)
			kk[x] = w
			ww += w
		}
		for x := range xmax {
			if ww != 0 {
				kk[x] /= ww
			}
			v := kk[x] * (1 << precisionBits)
			if kk[x] < 0 {
				c.k[xx*ksize+x] = int32(-0.5 + v)
			} else {
				c.k[xx*ksize+x] = int32(0.5 + v)
			}
		}
		c.bounds[2*xx], c.bounds[2*xx+1] = xmin, xmax
	}
	return c
}

func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

func resizeH(m *RGB, w int) *RGB {
	c := precompute(m.W, w)
	out := NewRGB(w, m.H)
	for y := range m.H {
		row := m.Pix[y*m.W*3 : (y+1)*m.W*3]
		o := out.Pix[y*w*3 : (y+1)*w*3]
		for xx := range w {
			xmin, n := c.bounds[2*xx], c.bounds[2*xx+1]
			k := c.k[xx*c.ksize : xx*c.ksize+n]
			s0, s1, s2 := int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1)), int32(1<<(precisionBits-1))
			p := row[xmin*3 : (xmin+n)*3]
			for x, kv := range k {
				s0 += int32(p[3*x]) * kv
				s1 += int32(p[3*x+1]) * kv
				s2 += int32(p[3*x+2]) * kv
			}
			o[3*xx], o[3*xx+1], o[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
	return out
}

func resizeV(m *RGB, h int) *RGB {
	c := precompute(m.H, h)
	out := NewRGB(m.W, h)
	stride := m.W * 3
	acc := make([]int32, stride)
	for yy := range h {
		ymin, n := c.bounds[2*yy], c.bounds[2*yy+1]
		k := c.k[yy*c.ksize : yy*c.ksize+n]
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		for y, kv := range k {
			row := m.Pix[(ymin+y)*stride : (ymin+y+1)*stride]
			for i, v := range row {
				acc[i] += int32(v) * kv
			}
		}
		o := out.Pix[yy*stride : (yy+1)*stride]
		for i, v := range acc {
			o[i] = clip8(v)
		}
	}
	return out
}
