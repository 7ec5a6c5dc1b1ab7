// Package imgproc holds the 8-bit RGB image operations of the data
// pipeline: decoding any supported format to packed RGB, cropping,
// flipping, and a resize that reproduces Pillow's Image.resize with
// BILINEAR (what torchvision's transforms.Resize does on PIL images).
package imgproc

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // register GIF
	"image/jpeg"
	"image/png"
	"io"

	_ "golang.org/x/image/bmp"  // register BMP
	_ "golang.org/x/image/webp" // register WebP (LSUN)
)

// RGB is an 8-bit RGB image stored row-major as H x W x 3 (HWC).
type RGB struct {
	W, H int
	Pix  []uint8
}

// NewRGB allocates a black w x h image.
func NewRGB(w, h int) *RGB { return &RGB{W: w, H: h, Pix: make([]uint8, w*h*3)} }

// FromRaw wraps raw HWC bytes of a size x size RGB image, the layout of
// raw NVAE LMDB values; it checks the length.
func FromRaw(b []byte) (*RGB, error) {
	if len(b)%3 != 0 {
		return nil, fmt.Errorf("raw image of %d bytes is not a multiple of 3", len(b))
	}
	s := isqrt(len(b) / 3)
	if s*s*3 != len(b) || s == 0 {
		return nil, fmt.Errorf("raw image of %d bytes is not a square RGB image", len(b))
	}
	return &RGB{W: s, H: s, Pix: b}, nil
}

func isqrt(n int) int {
	if n <= 0 {
		return 0
	}
	x := 1
	for x*x <= n {
		x++
	}
	return x - 1
}

// Decode decodes an encoded image (JPEG, PNG, WebP, GIF, BMP) to RGB.
// Alpha is dropped without compositing, like PIL's convert('RGB'). JPEG
// goes through libjpeg-turbo when available (jpeg.go).
func Decode(b []byte) (*RGB, error) {
	if isJPEG(b) {
		if m, ok, err := decodeJPEG(b); ok {
			return m, err
		}
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return FromImage(img), nil
}

// DecodeConfig returns the format and size of an encoded image.
func DecodeConfig(b []byte) (image.Config, string, error) {
	return image.DecodeConfig(bytes.NewReader(b))
}

// FromImage converts any image.Image to RGB.
func FromImage(img image.Image) *RGB {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	out := NewRGB(w, h)
	p := out.Pix
	switch m := img.(type) {
	case *image.YCbCr:
		if fromYCbCr(m, out) {
			return out
		}
		for y := range h {
			o := y * w * 3
			for x := range w {
				c := m.YCbCrAt(r.Min.X+x, r.Min.Y+y)
				rr, gg, bb := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
				p[o], p[o+1], p[o+2] = rr, gg, bb
				o += 3
			}
		}
	case *image.NRGBA:
		for y := range h {
			s := m.Pix[(y)*m.Stride:]
			o := y * w * 3
			for x := range w {
				p[o], p[o+1], p[o+2] = s[4*x], s[4*x+1], s[4*x+2]
				o += 3
			}
		}
	case *image.RGBA:
		for y := range h {
			s := m.Pix[(y)*m.Stride:]
			o := y * w * 3
			for x := range w {
				p[o], p[o+1], p[o+2] = s[4*x], s[4*x+1], s[4*x+2]
				o += 3
			}
		}
	case *image.Gray:
		for y := range h {
			s := m.Pix[y*m.Stride:]
			o := y * w * 3
			for x := range w {
				v := s[x]
				p[o], p[o+1], p[o+2] = v, v, v
				o += 3
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, len(m.Palette))
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := range h {
			s := m.Pix[y*m.Stride:]
			o := y * w * 3
			for x := range w {
				c := pal[s[x]]
				p[o], p[o+1], p[o+2] = c[0], c[1], c[2]
				o += 3
			}
		}
	default:
		o := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				p[o], p[o+1], p[o+2] = c.R, c.G, c.B
				o += 3
			}
		}
	}
	return out
}

// Crop returns the region [x0,x1) x [y0,y1) as a new image, like PIL's
// Image.crop: parts outside the source are black.
func (m *RGB) Crop(x0, y0, x1, y1 int) *RGB {
	out := NewRGB(x1-x0, y1-y0)
	for y := y0; y < y1; y++ {
		if y < 0 || y >= m.H {
			continue
		}
		for x := x0; x < x1; x++ {
			if x < 0 || x >= m.W {
				continue
			}
			copy(out.Pix[((y-y0)*out.W+(x-x0))*3:][:3], m.Pix[(y*m.W+x)*3:])
		}
	}
	return out
}

// FlipH mirrors the image left-right in place.
func (m *RGB) FlipH() {
	for y := range m.H {
		row := m.Pix[y*m.W*3 : (y+1)*m.W*3]
		for i, j := 0, m.W-1; i < j; i, j = i+1, j-1 {
			a, b := row[i*3:i*3+3], row[j*3:j*3+3]
			a[0], b[0] = b[0], a[0]
			a[1], b[1] = b[1], a[1]
			a[2], b[2] = b[2], a[2]
		}
	}
}

// Pad returns the image with p black pixels added on every side
// (torchvision's transforms.Pad with constant fill 0).
func (m *RGB) Pad(p int) *RGB { return m.Crop(-p, -p, m.W+p, m.H+p) }

// ToCHW writes the image to dst (len 3*H*W) as planar float32 in [0,1]
// (torchvision's ToTensor).
func (m *RGB) ToCHW(dst []float32) {
	n := m.W * m.H
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:3*n]
	for i := range n {
		r[i] = Unit[m.Pix[3*i]]
		g[i] = Unit[m.Pix[3*i+1]]
		b[i] = Unit[m.Pix[3*i+2]]
	}
}

// Unit maps a byte v to float32(v)/255, computed by division as
// torchvision's ToTensor does (so 51 maps to exactly 0.2f).
var Unit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

// Image returns an image.NRGBA copy for encoding.
func (m *RGB) Image() *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	for i := range m.W * m.H {
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2], 255
	}
	return out
}

// EncodePNG writes the image as PNG.
func (m *RGB) EncodePNG(w io.Writer) error { return png.Encode(w, m.Image()) }

// EncodeJPEG writes the image as JPEG with the given quality.
func (m *RGB) EncodeJPEG(w io.Writer, quality int) error {
	return jpeg.Encode(w, m.Image(), &jpeg.Options{Quality: quality})
}
