package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/imgutil"
	"github.com/nvaego/nvae/pkg/npz"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

// --encode IMAGES writes latents.npz: for each latent group k (decoder
// order, 00 = z0) the posterior of a pass whose latents are all posterior
// means (mu_kk, sigma_kk; mean_kk is the latent the decoder received, after
// the normalizing flows, equal to mu_kk without them) and the latents of a
// pass that samples each posterior (sample_kk, seeded by --seed); plus the
// input images (images, float32 NCHW in [0,1]). It then decodes both sets
// back (encode.png: rows of inputs, decoded means, decoded samples).
// --decode FILE.npz decodes the mean_kk (or, with --latents sample, the
// sample_kk) arrays of such a file, edited or interpolated as one likes,
// to decoded.png and decoded.npz.

// encodeInputs reads an image file or a folder of images and fits each to
// the model's input: the size as is, 28x28 padded by 2 for the 32x32
// MNIST-type inputs, otherwise the shorter side resized (Pillow bilinear)
// and the centre cropped; grey inputs use Pillow's convert('L').
func encodeInputs(path string, c, size int) ([]float32, []string, error) {
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
		m, err := imgproc.Decode(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", f, err)
		}
		switch {
		case m.W == size && m.H == size:
		case size == 32 && c == 1 && m.W == 28 && m.H == 28:
			m = m.Pad(2)
		default:
			m = imgproc.ResizeShorter(m, size)
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
				chw[i] = imgproc.Unit[l]
			}
			chw = chw[:n]
		}
		out = append(out, chw...)
	}
	return out, files, nil
}

func latentKey(kind string, k int) string { return fmt.Sprintf("%s_%02d", kind, k) }

// appendHost appends a batch's values of one array.
func appendHost(c *ag.Ctx, dst []float32, v *ag.Var) []float32 {
	return append(dst, c.B.ToHost(v.Value).Float32s()...)
}

func encodeImages(c *ag.Ctx, m *nvae.Model, o options, bs int, dir string, stdout io.Writer) error {
	size, err := nvae.InputSize(m.Cfg.Dataset)
	if err != nil {
		return err
	}
	ch := nvae.InputChannels(m.Cfg.Dataset)
	imgs, files, err := encodeInputs(o.encode, ch, size)
	if err != nil {
		return err
	}
	n := len(files)
	per := ch * size * size
	g := m.NumGroupsTotal()
	arrays := map[string][]float32{}
	shapes := map[string][]int{}
	var inputs []float32
	noise := &nvae.PhiloxNoise{Seed: o.seed}
	for done := 0; done < n; done += bs {
		k := min(bs, n-done)
		h := tensor.FromFloat32([]int{k, ch, size, size}, imgs[done*per:(done+k)*per])
		x := c.Const(nvae.PreProcess(c, c.B.FromHost(h), m.Cfg.NumXBits))
		inputs = appendHost(c, inputs, x)
		mean := m.Encode(c, x, nvae.ZeroNoise{})
		smp := m.Encode(c, x, noise)
		for i := 0; i < g; i++ {
			for kind, v := range map[string]*ag.Var{"mu": mean.Mu[i], "sigma": mean.Sigma[i], "mean": mean.Z[i], "sample": smp.Z[i]} {
				key := latentKey(kind, i)
				arrays[key] = appendHost(c, arrays[key], v)
				shapes[key] = append([]int{n}, v.Shape()[1:]...)
			}
		}
	}
	out := map[string]npz.Array{"images": npz.FromFloat32([]int{n, ch, size, size}, inputs)}
	for key, v := range arrays {
		out[key] = npz.FromFloat32(shapes[key], v)
	}
	path := filepath.Join(dir, "latents.npz")
	if err := npz.WriteNPZ(path, out); err != nil {
		return err
	}
	// decode both sets back from the arrays just written
	var rows [][]float32
	rows = append(rows, inputs)
	var shape [3]int
	for _, kind := range []string{"mean", "sample"} {
		dec, sh, err := decodeArrays(c, m, out, kind, bs)
		if err != nil {
			return err
		}
		rows, shape = append(rows, dec), sh
	}
	if shape != [3]int{ch, size, size} {
		return fmt.Errorf("decoded images are %v, inputs %v", shape, [3]int{ch, size, size})
	}
	var grid []float32
	for _, r := range rows {
		grid = append(grid, r...)
	}
	png := filepath.Join(dir, "encode.png")
	if err := imgutil.WritePNG(png, imgutil.Grid(grid, 3*n, ch, size, size, n)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "encoded %d images into %d latent groups: %s (mu_kk, sigma_kk, mean_kk, sample_kk, images); decoded back to %s (inputs, means, samples)\n", n, g, path, png)
	return nil
}

// decodeArrays decodes the <kind>_kk arrays of a latents file in batches.
func decodeArrays(c *ag.Ctx, m *nvae.Model, arrs map[string]npz.Array, kind string, bs int) ([]float32, [3]int, error) {
	g := m.NumGroupsTotal()
	vals := make([][]float32, g)
	shapes := make([][]int, g)
	for i := 0; i < g; i++ {
		a, ok := arrs[latentKey(kind, i)]
		if !ok {
			return nil, [3]int{}, fmt.Errorf("no array %s (the model has %d latent groups)", latentKey(kind, i), g)
		}
		v, err := a.Float32()
		if err != nil {
			return nil, [3]int{}, fmt.Errorf("%s: %v", latentKey(kind, i), err)
		}
		if len(a.Shape) != 4 || (i > 0 && a.Shape[0] != shapes[0][0]) {
			return nil, [3]int{}, fmt.Errorf("%s: shape %v: want [N, C, H, W] with the N of %s", latentKey(kind, i), a.Shape, latentKey(kind, 0))
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
		h := decodeImages(c, m, logits, nvae.ZeroNoise{}, 1, true)
		shape = [3]int{h.Dim(1), h.Dim(2), h.Dim(3)}
		out = append(out, h.Float32s()...)
	}
	return out, shape, nil
}

func decodeFile(c *ag.Ctx, m *nvae.Model, o options, bs int, dir string, stdout io.Writer) error {
	arrs, err := npz.ReadNPZ(o.decode)
	if err != nil {
		return err
	}
	if o.latents != "mean" && o.latents != "sample" {
		return usageErr("--latents: want mean or sample")
	}
	if o.interpolate > 0 {
		return interpolateLatents(c, m, o, arrs, bs, dir, stdout)
	}
	imgs, shape, err := decodeArrays(c, m, arrs, o.latents, bs)
	if err != nil {
		return fmt.Errorf("%s: %v", o.decode, err)
	}
	per := shape[0] * shape[1] * shape[2]
	n := len(imgs) / per
	png := filepath.Join(dir, "decoded.png")
	if err := imgutil.WritePNG(png, imgutil.Grid(imgs, n, shape[0], shape[1], shape[2], int(math.Ceil(math.Sqrt(float64(n)))))); err != nil {
		return err
	}
	if err := npz.WriteNPZ(filepath.Join(dir, "decoded.npz"), map[string]npz.Array{"samples": npz.FromFloat32([]int{n, shape[0], shape[1], shape[2]}, imgs)}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "decoded %d images from the %s latents of %s to %s and decoded.npz\n", n, o.latents, o.decode, png)
	return nil
}

// interpolateLatents walks between the first --interpolate images of a
// latents file: --frames linear steps between consecutive images in every
// group's latent at once (the posterior means by default), decoded to
// interpolation.gif. Interpolating between real images is what encoding
// them makes possible.
func interpolateLatents(c *ag.Ctx, m *nvae.Model, o options, arrs map[string]npz.Array, bs int, dir string, stdout io.Writer) error {
	g := m.NumGroupsTotal()
	frames := map[string]npz.Array{}
	var n, k, total int
	for i := 0; i < g; i++ {
		key := latentKey(o.latents, i)
		a, ok := arrs[key]
		if !ok || len(a.Shape) != 4 {
			return fmt.Errorf("%s: no [N, C, H, W] array %s", o.decode, key)
		}
		v, err := a.Float32()
		if err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
		n = a.Shape[0]
		k = min(max(o.interpolate, 2), n)
		if k < 2 {
			return usageErr("--interpolate needs a latents file of at least 2 images")
		}
		per := len(v) / n
		var out []float32
		total = 0
		for j := 0; j < k-1; j++ {
			for f := 0; f < o.frames; f++ {
				al := float32(f) / float32(o.frames)
				for e := 0; e < per; e++ {
					out = append(out, (1-al)*v[j*per+e]+al*v[(j+1)*per+e])
				}
				total++
			}
		}
		out = append(out, v[(k-1)*per:k*per]...)
		total++
		frames[key] = npz.FromFloat32(append([]int{total}, a.Shape[1:]...), out)
	}
	imgs, shape, err := decodeArrays(c, m, frames, o.latents, bs)
	if err != nil {
		return err
	}
	anim := &gif.GIF{}
	per := shape[0] * shape[1] * shape[2]
	for f := 0; f < len(imgs)/per; f++ {
		img := imgutil.Image(imgs, f, shape[0], shape[1], shape[2])
		pal := image.NewPaletted(img.Bounds(), palette.Plan9)
		draw.FloydSteinberg.Draw(pal, img.Bounds(), img, image.Point{})
		anim.Image = append(anim.Image, pal)
		anim.Delay = append(anim.Delay, 8)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		return err
	}
	path := filepath.Join(dir, "interpolation.gif")
	if err := imgutil.WriteFileAtomic(path, buf.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d frames between %d encoded images (%s latents) to %s\n", len(anim.Image), k, o.latents, path)
	return nil
}
