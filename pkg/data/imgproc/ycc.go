package imgproc

import "image"

// libjpeg's YCbCr->RGB tables (jdcolor.c, SCALEBITS = 16), so decoded
// JPEGs match what Pillow (libjpeg-turbo) produces for the same
// coefficients.
var crR, cbB, crG, cbG [256]int32

func init() {
	const half = 1 << 15
	fix := func(x float64) int32 { return int32(x*65536 + 0.5) }
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + half) >> 16
		cbB[i] = (fix(1.77200)*x + half) >> 16
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
}

func clamp255(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// fromYCbCr converts a decoded JPEG to RGB the way libjpeg(-turbo) does by
// default: chroma upsampled with "fancy" triangular filtering (jdsample.c
// h2v1/h2v2_fancy_upsample, edges replicated) and the fixed-point colour
// conversion above. It reports false for subsampling ratios it does not
// handle.
func fromYCbCr(m *image.YCbCr, out *RGB) bool {
	r := m.Rect
	w, h := r.Dx(), r.Dy()
	var cb, cr []uint8 // full-resolution chroma planes, w*h
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		cb, cr = make([]uint8, w*h), make([]uint8, w*h)
		for y := range h {
			o := m.COffset(r.Min.X, r.Min.Y+y)
			copy(cb[y*w:(y+1)*w], m.Cb[o:o+w])
			copy(cr[y*w:(y+1)*w], m.Cr[o:o+w])
		}
	case image.YCbCrSubsampleRatio420:
		if r.Min.X%2 != 0 || r.Min.Y%2 != 0 {
			return false
		}
		cb = upH2V2(m.Cb, m.CStride, m.COffset(r.Min.X, r.Min.Y), w, h)
		cr = upH2V2(m.Cr, m.CStride, m.COffset(r.Min.X, r.Min.Y), w, h)
	case image.YCbCrSubsampleRatio422:
		if r.Min.X%2 != 0 {
			return false
		}
		cb, cr = make([]uint8, w*h), make([]uint8, w*h)
		cw := (w + 1) / 2
		for y := range h {
			o := m.COffset(r.Min.X, r.Min.Y+y)
			upH2V1(m.Cb[o:o+cw], cb[y*w:(y+1)*w])
			upH2V1(m.Cr[o:o+cw], cr[y*w:(y+1)*w])
		}
	default:
		return false
	}
	p := out.Pix
	for y := range h {
		yrow := m.Y[m.YOffset(r.Min.X, r.Min.Y+y):]
		for x := range w {
			i := y*w + x
			yy := int32(yrow[x])
			b, c := cb[i], cr[i]
			p[3*i] = clamp255(yy + crR[c])
			p[3*i+1] = clamp255(yy + (cbG[b]+crG[c])>>16)
			p[3*i+2] = clamp255(yy + cbB[b])
		}
	}
	return true
}

// upH2V1 doubles a row horizontally with libjpeg's triangle filter.
func upH2V1(in []uint8, out []uint8) {
	n := len(in)
	full := make([]uint8, 2*n)
	if n == 1 {
		full[0], full[1] = in[0], in[0]
	} else {
		full[0] = in[0]
		full[1] = uint8((int(in[0])*3 + int(in[1]) + 2) >> 2)
		for i := 1; i < n-1; i++ {
			v := int(in[i]) * 3
			full[2*i] = uint8((v + int(in[i-1]) + 1) >> 2)
			full[2*i+1] = uint8((v + int(in[i+1]) + 2) >> 2)
		}
		full[2*n-2] = uint8((int(in[n-1])*3 + int(in[n-2]) + 1) >> 2)
		full[2*n-1] = in[n-1]
	}
	copy(out, full)
}

// upH2V2 doubles a chroma plane in both directions with libjpeg's
// h2v2_fancy_upsample: vertical 3:1 mix with the nearer neighbouring row
// (edge rows replicated), then horizontal 3:1 mix of the column sums.
func upH2V2(plane []uint8, stride, off, w, h int) []uint8 {
	cw, ch := (w+1)/2, (h+1)/2
	out := make([]uint8, w*h)
	row := make([]uint8, 2*cw)
	sums := make([]int, cw)
	for oy := range h {
		iy := oy / 2
		ny := iy - 1
		if oy%2 == 1 {
			ny = iy + 1
		}
		ny = max(0, min(ch-1, ny))
		r0 := plane[off+iy*stride:]
		r1 := plane[off+ny*stride:]
		for i := range cw {
			sums[i] = int(r0[i])*3 + int(r1[i])
		}
		if cw == 1 {
			row[0] = uint8((sums[0]*4 + 8) >> 4)
			row[1] = uint8((sums[0]*4 + 7) >> 4)
		} else {
			row[0] = uint8((sums[0]*4 + 8) >> 4)
			row[1] = uint8((sums[0]*3 + sums[1] + 7) >> 4)
			for i := 1; i < cw-1; i++ {
				row[2*i] = uint8((sums[i]*3 + sums[i-1] + 8) >> 4)
				row[2*i+1] = uint8((sums[i]*3 + sums[i+1] + 7) >> 4)
			}
			row[2*cw-2] = uint8((sums[cw-1]*3 + sums[cw-2] + 8) >> 4)
			row[2*cw-1] = uint8((sums[cw-1]*4 + 7) >> 4)
		}
		copy(out[oy*w:(oy+1)*w], row)
	}
	return out
}
