package train

import (
	"image"
	"math"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/imgutil"
	"github.com/nvaego/nvae/pkg/nvae"
)

// tbByte converts [0,1] to a byte the way tensorboardX's image summary
// does: (x·255).clip(0, 255).astype(uint8), truncating.
func tbByte(v float32) uint8 {
	f := float64(v) * 255
	switch {
	case !(f > 0): // also NaN
		return 0
	case f >= 255:
		return 255
	}
	return uint8(f)
}

// tileImage is the official utils.tile_image: n·n images of an NCHW batch
// as an n×n mosaic with no padding, as tensorboardX stores it (grey
// repeated to RGB). Returns the image and its width.
func tileImage(x []float32, n, c, h, w int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, n*w, n*h))
	for i := 0; i < n*n; i++ {
		off := i * c * h * w
		ox, oy := (i%n)*w, (i/n)*h
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				p := (oy+y)*img.Stride + 4*(ox+xx)
				for ch := 0; ch < 3; ch++ {
					sc := ch
					if c == 1 {
						sc = 0
					}
					img.Pix[p+ch] = tbByte(x[off+sc*h*w+y*w+xx])
				}
				img.Pix[p+3] = 255
			}
		}
	}
	return img
}

// sideBySide is torch.cat((a, b), dim=2) of two CHW images: a left of b.
func sideBySide(a, b *image.RGBA) *image.RGBA {
	wa, h := a.Bounds().Dx(), a.Bounds().Dy()
	out := image.NewRGBA(image.Rect(0, 0, wa+b.Bounds().Dx(), h))
	for y := 0; y < h; y++ {
		copy(out.Pix[y*out.Stride:], a.Pix[y*a.Stride:y*a.Stride+4*wa])
		copy(out.Pix[y*out.Stride+4*wa:], b.Pix[y*b.Stride:y*b.Stride+4*b.Bounds().Dx()])
	}
	return out
}

// tbImage writes img as an RGB PNG image summary (colourspace 3, as
// tensorboardX writes) and returns the PNG.
func (r *runner) tbImage(tag string, img *image.RGBA, step int64) ([]byte, error) {
	png, err := imgutil.EncodePNG(img) // opaque RGBA encodes as RGB
	if err != nil {
		return nil, err
	}
	if r.tbw != nil { // a write error is kept by events and ends the run
		r.tbw.Image(tag, png, img.Bounds().Dy(), img.Bounds().Dx(), 3, step)
	}
	return png, nil
}

// reconstruction logs the official 'reconstruction' image: the first n·n
// inputs (n = ⌊√B⌋) tiled, beside the tiled outputs (the Bernoulli mean,
// or a sample of the decoder at t = 1).
func (r *runner) reconstruction(tr *nvae.TrainResult) {
	c := r.c
	if r.lastX == nil {
		return
	}
	var out *ag.Var
	c.NoGrad(func() {
		dec := r.m.DecoderOutput(c, tr.Out.Logits)
		if _, ok := dec.(nvae.Bernoulli); ok {
			out = dec.Mean(c)
		} else {
			out = dec.Sample(c, &nvae.PhiloxNoise{Seed: r.st.NoiseSeed ^ 0xabc}, 1)
		}
	})
	h := c.B.ToHost(out.Value)
	x := c.B.ToHost(r.lastX.Value)
	n := int(math.Floor(math.Sqrt(float64(h.Dim(0)))))
	in := tileImage(x.Float32s(), n, x.Dim(1), x.Dim(2), x.Dim(3))
	o := tileImage(h.Float32s(), n, h.Dim(1), h.Dim(2), h.Dim(3))
	r.tbImage("reconstruction", sideBySide(in, o), int64(r.st.GlobalStep))
}

// finalValEvents writes the val/* scalars of the final validation at step
// epoch+1 (epoch: the last epoch of the loop), as train.py does after its
// loop.
func (r *runner) finalValEvents(negLogP, nelbo float64) {
	step := int64(r.st.Epoch)
	if r.st.StepInEpoch > 0 { // stopped inside an epoch (--max_steps/--max_minutes)
		step++
	}
	r.tbw.Scalar("val/neg_log_p", negLogP, step)
	r.tbw.Scalar("val/nelbo", nelbo, step)
	r.tbw.Scalar("val/bpd_log_p", negLogP*r.bpd, step)
	r.tbw.Scalar("val/bpd_elbo", nelbo*r.bpd, step)
}
