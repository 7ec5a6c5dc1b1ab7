// Command nvae-sample draws images from a trained NVAE: PNG grids, single
// images, at a chosen temperature.
package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/device"
	"github.com/nvaego/nvae/pkg/imgutil"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("nvae-sample", pflag.ContinueOnError)
	fs.SetNormalizeFunc(nvae.NormalizeFlagName)
	fs.SetOutput(io.Discard)
	checkpoint := fs.String("checkpoint", "", "checkpoint.nvae or official checkpoint.pt (required)")
	temp := fs.Float64("temp", 0.7, "sampling temperature")
	n := fs.Int("num_samples", 64, "number of samples")
	batch := fs.Int("batch_size", 0, "samples per forward pass (0: the checkpoint's batch size)")
	out := fs.String("out", "", "output directory (default: beside the checkpoint)")
	individual := fs.Bool("individual", false, "also write one PNG per sample")
	dev := fs.String("device", "auto", "compute device: auto, cpu or cuda")
	seed := fs.Uint64("seed", 1, "sampling seed")
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "nvae-sample: %v (see --help)\n", err)
		return 2
	}
	if *help {
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, "usage: nvae-sample --checkpoint C [--temp 0.7] [--num_samples N] [--batch_size B] [--out DIR] [--individual]")
		fs.PrintDefaults()
		return 0
	}
	if *checkpoint == "" {
		fmt.Fprintln(stderr, "nvae-sample: --checkpoint is required")
		return 2
	}
	if *n < 1 || *temp <= 0 {
		fmt.Fprintln(stderr, "nvae-sample: --num_samples must be ≥ 1 and --temp > 0")
		return 2
	}
	b, err := device.Open(*dev)
	if err != nil {
		fmt.Fprintf(stderr, "nvae-sample: %v\n", err)
		return 2
	}
	m, err := ckpt.LoadAny(*checkpoint, b, tensor.Float32)
	if err != nil {
		fmt.Fprintf(stderr, "nvae-sample: %v\n", err)
		return 1
	}
	dir := *out
	if dir == "" {
		dir = filepath.Dir(*checkpoint)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "nvae-sample: %v\n", err)
		return 1
	}
	bs := *batch
	if bs <= 0 {
		bs = m.Cfg.BatchSize
	}
	imgs, shape := sample(m, *n, bs, *temp, *seed)
	cols := int(math.Ceil(math.Sqrt(float64(*n))))
	grid := filepath.Join(dir, fmt.Sprintf("samples_t%.2f.png", *temp))
	if err := imgutil.WritePNG(grid, imgutil.Grid(imgs, *n, shape[0], shape[1], shape[2], cols)); err != nil {
		fmt.Fprintf(stderr, "nvae-sample: %v\n", err)
		return 1
	}
	if *individual {
		for i := 0; i < *n; i++ {
			p := filepath.Join(dir, fmt.Sprintf("sample_%05d.png", i))
			if err := imgutil.WritePNG(p, imgutil.Image(imgs, i, shape[0], shape[1], shape[2])); err != nil {
				fmt.Fprintf(stderr, "nvae-sample: %v\n", err)
				return 1
			}
		}
	}
	fmt.Fprintf(stdout, "wrote %d samples at t=%.2f to %s\n", *n, *temp, grid)
	return 0
}

// sample draws n images in batches: the Bernoulli mean for binary data, a
// decoder sample at t otherwise (as the official training loop shows them).
func sample(m *nvae.Model, n, bs int, t float64, seed uint64) ([]float32, [3]int) {
	b := m.Store.B
	c := ag.New(b, tensor.Float32)
	c.SetGrad(false)
	m.Store.Training = false
	noise := &nvae.PhiloxNoise{Seed: seed}
	var out []float32
	var shape [3]int
	for done := 0; done < n; done += bs {
		k := min(bs, n-done)
		logits := m.Sample(c, k, t, noise)
		dec := m.DecoderOutput(c, logits)
		var img *ag.Var
		if _, ok := dec.(nvae.Bernoulli); ok {
			img = dec.Mean(c)
		} else {
			img = dec.Sample(c, noise, t)
		}
		h := b.ToHost(img.Value)
		shape = [3]int{h.Dim(1), h.Dim(2), h.Dim(3)}
		out = append(out, h.Float32s()...)
	}
	return out, shape
}
