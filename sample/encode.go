package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/imgutil"
	"github.com/nvaego/nvae/pkg/npz"
	"github.com/nvaego/nvae/pkg/nvae"
)

// --encode IMAGES writes latents.npz (see pkg/nvae/latents.go) and
// encode.png (rows of inputs, decoded means, decoded samples); --decode
// FILE.npz decodes the mean_kk (--latents sample: sample_kk) arrays of such
// a file, edited or interpolated as one likes, to decoded.png/decoded.npz.
func encodeImages(c *ag.Ctx, m *nvae.Model, o options, bs int, dir string, stdout io.Writer) error {
	size, err := nvae.InputSize(m.Cfg.Dataset)
	if err != nil {
		return err
	}
	ch := nvae.InputChannels(m.Cfg.Dataset)
	imgs, files, err := imgproc.LoadFitted(o.encode, ch, size)
	if err != nil {
		return err
	}
	n := len(files)
	out, grid, err := m.EncodeLatents(c, imgs, n, bs, o.seed)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "latents.npz")
	if err := npz.WriteNPZ(path, out); err != nil {
		return err
	}
	png := filepath.Join(dir, "encode.png")
	if err := imgutil.WritePNG(png, imgutil.Grid(grid, 3*n, ch, size, size, n)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "encoded %d images into %d latent groups: %s (mu_kk, sigma_kk, mean_kk, sample_kk, images); decoded back to %s (inputs, means, samples)\n", n, m.NumGroupsTotal(), path, png)
	return nil
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
	imgs, shape, err := m.DecodeLatentArrays(c, arrs, o.latents, bs)
	if err != nil {
		return fmt.Errorf("%s: %v", o.decode, err)
	}
	n := len(imgs) / (shape[0] * shape[1] * shape[2])
	png := filepath.Join(dir, "decoded.png")
	if err := imgutil.WritePNG(png, imgutil.Grid(imgs, n, shape[0], shape[1], shape[2], 0)); err != nil {
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
	walk, k, err := m.InterpolateLatents(arrs, o.latents, o.interpolate, o.frames)
	if errors.Is(err, nvae.ErrFewLatents) {
		return usageErr("--interpolate needs a latents file of at least 2 images")
	}
	if err != nil {
		return fmt.Errorf("%s: %v", o.decode, err)
	}
	imgs, shape, err := m.DecodeLatentArrays(c, walk, o.latents, bs)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "interpolation.gif")
	frames, err := imgutil.WriteGIF(path, imgs, len(imgs)/(shape[0]*shape[1]*shape[2]), shape[0], shape[1], shape[2])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d frames between %d encoded images (%s latents) to %s\n", frames, k, o.latents, path)
	return nil
}
