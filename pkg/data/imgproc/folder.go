package imgproc

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadFitted reads an image file or a folder of images (png, jpg, webp,
// bmp, gif; sorted by name) and fits each to a model input of c channels
// (1 or 3) and size x size pixels: the size as is, 28x28 padded by 2 for
// the 32x32 MNIST-type inputs, otherwise the shorter side resized (Pillow
// bilinear) and the centre cropped; grey inputs use Pillow's convert('L').
// It returns the images as float32 NCHW in [0,1] and their files.
func LoadFitted(path string, c, size int) ([]float32, []string, error) {
	var files []string
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if st.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range ents {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif":
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		sort.Strings(files)
	} else {
		files = []string{path}
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%s: no images (png, jpg, webp, bmp, gif)", path)
	}
	per := c * size * size
	out := make([]float32, 0, len(files)*per)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		m, err := Decode(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", f, err)
		}
		switch {
		case m.W == size && m.H == size:
		case size == 32 && c == 1 && m.W == 28 && m.H == 28:
			m = m.Pad(2)
		default:
			m = ResizeShorter(m, size)
			x0, y0 := (m.W-size)/2, (m.H-size)/2
			m = m.Crop(x0, y0, x0+size, y0+size)
		}
		chw := make([]float32, 3*size*size)
		m.ToCHW(chw)
		if c == 1 {
			n := size * size
			for i := 0; i < n; i++ {
				r, g, bl := m.Pix[3*i], m.Pix[3*i+1], m.Pix[3*i+2]
				l := (uint32(r)*19595 + uint32(g)*38470 + uint32(bl)*7471 + 0x8000) >> 16
				chw[i] = Unit[l]
			}
			chw = chw[:n]
		}
		out = append(out, chw...)
	}
	return out, files, nil
}
