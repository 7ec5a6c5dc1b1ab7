// Command nvae-sample draws images from a trained NVAE: PNG grids and single
// images at a temperature, optionally after the official BN re-adjustment
// (cached next to the checkpoint), latent-space interpolation GIFs, and
// reconstructions of dataset images.
package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/pkg/fsutil"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/device"
	"github.com/nvaego/nvae/pkg/imgutil"
	"github.com/nvaego/nvae/pkg/npz"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

func main() {
	device.TuneGCForInference()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	checkpoint, out, dataDir     string
	dev                          *device.Choice
	tempSpec                     string
	weights, usedWeights         string
	temps                        []float64 // per latent group
	n, batch                     int
	individual, npzOut           bool
	readjust                     bool
	readjustIters, readjustBatch int
	interpolate, frames          int
	reconstruct                  bool
	encode, decode, latents      string
	seed                         uint64
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("nvae-sample")
	var o options
	fs.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint.nvae or official checkpoint.pt (required)")
	fs.StringVar(&o.weights, "weights", "auto", "weights of a checkpoint.nvae: auto (its EMA of the weights when it has one, else the trained weights), ema or raw")
	fs.StringVar(&o.tempSpec, "temp", "0.7", "sampling temperature: one value, one per latent group (0.8,0.7,...), or a linear schedule FIRST:LAST over the groups")
	fs.IntVar(&o.n, "num_samples", 64, "number of samples")
	fs.IntVar(&o.batch, "batch_size", 0, "samples per forward pass (0: the checkpoint's batch size)")
	fs.StringVar(&o.out, "out", "", "output directory (default: beside the checkpoint)")
	fs.BoolVar(&o.individual, "individual", false, "also write one PNG per sample")
	fs.BoolVar(&o.npzOut, "npz", false, "also write samples.npz (key samples: float32 [N,C,H,W] in [0,1])")
	fs.BoolVar(&o.readjust, "readjust_bn", false, "re-adjust BN statistics by sampling in training mode (official: 500 batches of 36); cached next to the checkpoint per temperature (in --out when the checkpoint's folder is read-only)")
	fs.IntVar(&o.readjustIters, "readjust_iters", 500, "sampling batches of the BN re-adjustment")
	fs.IntVar(&o.readjustBatch, "readjust_batch", 36, "batch size of the BN re-adjustment")
	fs.IntVar(&o.interpolate, "interpolate", 0, "write interpolation.gif walking through latent space between K samples (with --decode: between the first K encoded images)")
	fs.IntVar(&o.frames, "frames", 16, "frames between two samples of --interpolate")
	fs.BoolVar(&o.reconstruct, "reconstruct", false, "encode --data images (posterior means) and decode; writes a side-by-side grid")
	fs.StringVar(&o.encode, "encode", "", "encode an image file or a folder of images: latents.npz with each group's posterior means and samples, decoded back to encode.png")
	fs.StringVar(&o.decode, "decode", "", "decode the latents of a latents.npz (as --encode writes it) to decoded.png and decoded.npz")
	fs.StringVar(&o.latents, "latents", "mean", "which latents --decode uses: mean or sample")
	fs.StringVar(&o.dataDir, "data", "", "dataset directory for --reconstruct (default: the checkpoint's)")
	o.dev = device.Flags(fs)
	fs.Uint64Var(&o.seed, "seed", 1, "sampling seed")
	if err := cli.Parse(fs, args, stdout, "usage: nvae-sample --checkpoint C [--temp 0.7 | T1,T2,... | FIRST:LAST] [--readjust_bn] [--num_samples N] [--out DIR] [--individual] [--npz] [--interpolate K] [--reconstruct --data D] [--encode IMAGES] [--decode latents.npz]"+"\n"); err != nil {
		return cli.Exit(stderr, "nvae-sample", err)
	}
	return cli.Exit(stderr, "nvae-sample", sampleMain(o, stdout, stderr))
}

// usageErr is a usage error (exit status 2), reported as "usage: ...".
func usageErr(format string, a ...any) error { return cli.Usagef("usage: "+format, a...) }

func sampleMain(o options, stdout, stderr io.Writer) error {
	if o.checkpoint == "" {
		return usageErr("--checkpoint is required")
	}
	if o.n < 1 || o.interpolate < 0 || o.frames < 1 {
		return usageErr("--num_samples ≥ 1, --interpolate ≥ 0 and --frames ≥ 1 are required")
	}
	b, err := o.dev.Open()
	if err != nil {
		return usageErr("%v", err)
	}
	m, used, err := ckpt.LoadAnyWeights(o.checkpoint, b, tensor.Float32, o.weights)
	if err != nil {
		return err
	}
	o.usedWeights = used
	if o.temps, err = nvae.ParseTemps(o.tempSpec, m.NumGroupsTotal()); err != nil {
		return usageErr("--temp: %v", err)
	}
	dir := o.out
	if dir == "" {
		dir = filepath.Dir(o.checkpoint)
	}
	if err := fsutil.CheckWritable(dir); err != nil { // before the work, not after
		return fmt.Errorf("%v (choose another with --out)", err)
	}
	fmt.Fprintf(stderr, "nvae-sample: %s weights\n", used)
	fsutil.RemoveStaleTemps(dir, []string{"samples_*.png", "sample_*.png", "interpolation.gif", "reconstruction.png", "samples.npz"}, fsutil.StaleAge)
	bs := o.batch
	if bs <= 0 {
		bs = m.Cfg.BatchSize
	}
	c := ag.New(b, tensor.Float32)
	c.SetGrad(false)
	m.Store.Training = false
	if o.readjust {
		cached, err := m.ReadjustBNCached(c, o.bnCache(dir), stderr)
		if err != nil {
			return err
		}
		if cached != "" {
			fmt.Fprintf(stderr, "using cached re-adjusted BN statistics %s\n", cached)
		}
	}
	switch {
	case o.encode != "":
		return encodeImages(c, m, o, bs, dir, stdout)
	case o.decode != "":
		return decodeFile(c, m, o, bs, dir, stdout)
	case o.reconstruct:
		return reconstruct(c, m, o, bs, dir, stdout)
	case o.interpolate > 0:
		return interpolate(c, m, o, dir, stdout)
	}
	imgs, shape := m.SampleImages(c, o.n, bs, o.temps, o.seed)
	for i, v := range imgs {
		if v != v || math.IsInf(float64(v), 0) {
			return fmt.Errorf("sample %d holds non-finite pixels: the model or its BN statistics are broken; nothing written", i/(shape[0]*shape[1]*shape[2]))
		}
	}
	grid := filepath.Join(dir, "samples_t"+o.label("%.2f")+".png")
	if err := imgutil.WritePNG(grid, imgutil.Grid(imgs, o.n, shape[0], shape[1], shape[2], 0)); err != nil {
		return err
	}
	if o.individual {
		if err := imgutil.WritePNGs(dir, "sample_%05d.png", imgs, o.n, shape[0], shape[1], shape[2]); err != nil {
			return err
		}
	}
	if o.npzOut {
		arr := npz.FromFloat32([]int{o.n, shape[0], shape[1], shape[2]}, imgs)
		if err := npz.WriteNPZ(filepath.Join(dir, "samples.npz"), map[string]npz.Array{"samples": arr}); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %d samples at t=%s to %s\n", o.n, o.label("%.2f"), grid)
	return nil
}

// label names the temperatures in file names (nvae.TempLabel).
func (o options) label(f string) string { return nvae.TempLabel(o.tempSpec, o.temps, f) }

// bnCache describes the BN re-adjustment of these options and its cache.
func (o options) bnCache(dir string) nvae.BNCache {
	return nvae.BNCache{Checkpoint: o.checkpoint, Temps: o.temps, Label: o.label(""), EMA: o.usedWeights == "ema",
		Iters: o.readjustIters, Batch: o.readjustBatch, Seed: o.seed, OutDir: dir}
}

// interpolate writes interpolation.gif: frames on great circles between
// k prior samples.
func interpolate(c *ag.Ctx, m *nvae.Model, o options, dir string, stdout io.Writer) error {
	k := max(o.interpolate, 2)
	h := m.InterpolatePrior(c, k, o.frames, o.temps, o.seed)
	path := filepath.Join(dir, "interpolation.gif")
	frames, err := imgutil.WriteGIF(path, h.Float32s(), h.Dim(0), h.Dim(1), h.Dim(2), h.Dim(3))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d frames through %d samples at t=%s to %s\n", frames, k, o.label("%.2f"), path)
	return nil
}

func reconstruct(c *ag.Ctx, m *nvae.Model, o options, bs int, dir string, stdout io.Writer) error {
	dd := o.dataDir
	if dd == "" {
		dd = m.Cfg.Data
	}
	batch, err := data.FirstBatch(m.Cfg.Dataset, dd, data.Validation, min(bs, o.n), o.seed)
	if err != nil {
		return err
	}
	n, per := batch.N, batch.C*batch.H*batch.W
	orig, rec := m.Reconstruct(c, tensor.FromFloat32([]int{n, batch.C, batch.H, batch.W}, batch.X[:n*per]))
	// rows of originals above their reconstructions
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	both := imgutil.PairRows(orig, rec, n, per, cols)
	path := filepath.Join(dir, "reconstruction.png")
	if err := imgutil.WritePNG(path, imgutil.Grid(both, len(both)/per, batch.C, batch.H, batch.W, cols)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d images and their reconstructions (posterior means) to %s\n", n, path)
	return nil
}
