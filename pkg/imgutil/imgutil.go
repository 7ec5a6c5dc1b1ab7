// Package imgutil turns NCHW batches in [0,1] into image grids and writes
// PNG and GIF files atomically.
package imgutil

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"math"
	"path/filepath"

	"github.com/nvaego/nvae/pkg/fsutil"
)

// ToByte maps [0,1] to 0..255 like torchvision (x·255 + 0.5, clamped).
func ToByte(v float32) uint8 {
	f := math.Floor(float64(v)*255 + 0.5)
	if f < 0 {
		return 0
	}
	if f > 255 {
		return 255
	}
	return uint8(f)
}

// Image converts image i of an NCHW batch (C = 1 or 3) to an image.Image.
func Image(x []float32, i, c, h, w int) image.Image {
	off := i * c * h * w
	if c == 1 {
		img := image.NewGray(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				img.Pix[y*img.Stride+xx] = ToByte(x[off+y*w+xx])
			}
		}
		return img
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			p := y*img.Stride + 4*xx
			for ch := 0; ch < 3; ch++ {
				img.Pix[p+ch] = ToByte(x[off+ch*h*w+y*w+xx])
			}
			img.Pix[p+3] = 255
		}
	}
	return img
}

// Grid tiles n images of an NCHW batch into rows of cols images with a
// 2-pixel border (like torchvision's make_grid).
func Grid(x []float32, n, c, h, w, cols int) *image.RGBA {
	ims := make([]image.Image, n)
	for i := range ims {
		ims[i] = Image(x, i, c, h, w)
	}
	return GridOf(ims, cols)
}

// GridOf tiles images of the first one's size into rows of cols images
// (cols ≤ 0: a square) on black with a 2-pixel border, like torchvision's
// make_grid.
func GridOf(ims []image.Image, cols int) *image.RGBA {
	n := len(ims)
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(n))))
	}
	rows := (n + cols - 1) / cols
	const pad = 2
	var w, h int
	if n > 0 {
		w, h = ims[0].Bounds().Dx(), ims[0].Bounds().Dy()
	}
	g := image.NewRGBA(image.Rect(0, 0, cols*(w+pad)+pad, rows*(h+pad)+pad))
	for i := range g.Pix {
		g.Pix[i] = 0
		if i%4 == 3 {
			g.Pix[i] = 255
		}
	}
	for i, img := range ims {
		b := img.Bounds()
		ox, oy := pad+(i%cols)*(w+pad), pad+(i/cols)*(h+pad)
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				g.Set(ox+xx, oy+y, color.RGBAModel.Convert(img.At(b.Min.X+xx, b.Min.Y+y)))
			}
		}
	}
	return g
}

// EncodePNG encodes an image as PNG bytes.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFileAtomic writes data to a temporary file beside path, fsyncs it
// and renames it into place.
func WriteFileAtomic(path string, data []byte) error {
	return fsutil.WriteFileAtomic(path, data, 0o644)
}

// WritePNG writes img to path atomically.
func WritePNG(path string, img image.Image) error {
	data, err := EncodePNG(img)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data)
}

// WriteGIF writes the n images of an NCHW batch as the frames of an
// animated GIF (Plan 9 palette, Floyd-Steinberg dithering, 80 ms a frame)
// to path atomically, and returns the number of frames.
func WriteGIF(path string, x []float32, n, c, h, w int) (int, error) {
	anim := &gif.GIF{}
	for f := 0; f < n; f++ {
		img := Image(x, f, c, h, w)
		pal := image.NewPaletted(img.Bounds(), palette.Plan9)
		draw.FloydSteinberg.Draw(pal, img.Bounds(), img, image.Point{})
		anim.Image = append(anim.Image, pal)
		anim.Delay = append(anim.Delay, 8)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		return 0, err
	}
	return len(anim.Image), WriteFileAtomic(path, buf.Bytes())
}

// PairRows interleaves two batches of n images of per values each for a
// grid of cols columns: each row of a above the same row of b, the last
// rows padded with black images.
func PairRows(a, b []float32, n, per, cols int) []float32 {
	var both []float32
	for r0 := 0; r0 < n; r0 += cols {
		r1 := min(r0+cols, n)
		pad := make([]float32, (cols-(r1-r0))*per)
		both = append(both, a[r0*per:r1*per]...)
		both = append(both, pad...)
		both = append(both, b[r0*per:r1*per]...)
		both = append(both, pad...)
	}
	return both
}

// WritePNGs writes each of the n images of an NCHW batch to its own PNG
// file in dir, named by pattern (a format with the image's index, e.g.
// "sample_%05d.png").
func WritePNGs(dir, pattern string, x []float32, n, c, h, w int) error {
	for i := 0; i < n; i++ {
		if err := WritePNG(filepath.Join(dir, fmt.Sprintf(pattern, i)), Image(x, i, c, h, w)); err != nil {
			return err
		}
	}
	return nil
}
