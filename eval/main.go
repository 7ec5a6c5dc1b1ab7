// Command nvae-eval estimates the negative log-likelihood of a trained NVAE
// with the importance-weighted bound (the official evaluate.py
// --eval_mode=evaluate).
package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/device"
	"github.com/nvaego/nvae/pkg/fsutil"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/report"
	"github.com/nvaego/nvae/pkg/tensor"
)

func main() {
	device.TuneGCForInference()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Results is results.json.
type Results struct {
	Checkpoint string  `json:"checkpoint"`
	Weights    string  `json:"weights"` // raw or ema
	Dataset    string  `json:"dataset"`
	Split      string  `json:"split"`
	NLLNats    float64 `json:"nll_nats"`
	BPD        float64 `json:"bits_per_dim"`
	NelboNats  float64 `json:"nelbo_nats"`
	NelboBPD   float64 `json:"nelbo_bits_per_dim"`
	K          int     `json:"num_iw_samples"`
	NumImages  int     `json:"num_images"`
	Seconds    float64 `json:"seconds"`
	Device     string  `json:"device"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("nvae-eval")
	checkpoint := fs.String("checkpoint", "", "checkpoint.nvae or official checkpoint.pt (required)")
	weights := fs.String("weights", "auto", "weights of a checkpoint.nvae: auto (its EMA of the weights when it has one, else the trained weights), ema or raw")
	dataDir := fs.String("data", "", "dataset directory (as given to nvae-train; default: the checkpoint's)")
	k := fs.Int("num_iw_samples", 1000, "importance samples per image")
	batch := fs.Int("batch_size", 0, "images per batch (0: the checkpoint's batch size)")
	perPass := fs.Int("samples_per_pass", 0, "importance samples sharing one forward pass (0: automatic)")
	onTrain := fs.Bool("eval_on_train", false, "evaluate on the training split")
	dev := device.Flags(fs)
	out := fs.String("out", "", "output directory for results.json and per_image.arrow (default: beside the checkpoint)")
	maxImages := fs.Int("max_images", 0, "evaluate only the first N images (0: all)")
	seed := fs.Uint64("seed", 1, "seed of the importance-sampling noise")
	// official evaluate.py flags, accepted for compatibility
	evalMode := fs.String("eval_mode", "evaluate", "official evaluate.py mode (only 'evaluate' here; use nvae-sample for sampling)")
	fs.String("save", "", "official evaluate.py experiment id (unused)")
	fs.Bool("readjust_bn", false, "official flag (used by nvae-sample)")
	fs.Float64("temp", 0.7, "official flag (used by nvae-sample)")
	fs.String("fid_dir", "", "official flag (used by nvae-fid)")
	for _, n := range []string{"num_process_per_node", "num_proc_node", "node_rank", "local_rank", "global_rank", "world_size"} {
		fs.Int(n, 0, "official distributed flag (single process here)")
	}
	fs.String("master_address", "127.0.0.1", "official distributed flag (unused)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := cli.Parse(fs, args, stdout, "usage: nvae-eval --checkpoint C [--data D] [--num_iw_samples K] [--batch_size B] [--eval_on_train] [--device D]"+"\n"); err != nil {
		return cli.Exit(stderr, "nvae-eval", err)
	}
	if *checkpoint == "" {
		fmt.Fprintln(stderr, "nvae-eval: --checkpoint is required")
		return 2
	}
	if *evalMode != "evaluate" {
		fmt.Fprintf(stderr, "nvae-eval: --eval_mode %s: only 'evaluate' is handled here; use nvae-sample\n", *evalMode)
		return 2
	}
	if *k < 1 {
		fmt.Fprintln(stderr, "nvae-eval: --num_iw_samples must be at least 1")
		return 2
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "nvae-eval: %v\n", err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	b, err := dev.Open()
	if err != nil {
		fmt.Fprintf(stderr, "nvae-eval: %v\n", err)
		return 2
	}
	m, used, err := ckpt.LoadAnyWeights(*checkpoint, b, tensor.Float32, *weights)
	if err != nil {
		fmt.Fprintf(stderr, "nvae-eval: %v\n", err)
		return 1
	}
	cfg := m.Cfg
	if *dataDir == "" {
		*dataDir = cfg.Data
	}
	split := data.Validation
	if *onTrain {
		split = data.Train
	}
	ds, err := data.Open(cfg.Dataset, *dataDir, split)
	if err != nil {
		fmt.Fprintf(stderr, "nvae-eval: %v\n", err)
		return 1
	}
	bs := *batch
	if bs <= 0 {
		bs = cfg.BatchSize
	}
	loader, err := data.NewLoader(ds, data.Options{BatchSize: bs, Seed: *seed})
	if err != nil {
		fmt.Fprintf(stderr, "nvae-eval: %v\n", err)
		return 1
	}
	s := *perPass
	if s <= 0 {
		// share passes up to ~256 images per forward
		s = max(1, min(*k, 256/bs))
	}
	outDir := *out
	if outDir == "" {
		outDir = filepath.Dir(*checkpoint)
	}
	if err := fsutil.CheckWritable(outDir); err != nil { // before the work, not after
		fmt.Fprintf(stderr, "nvae-eval: %v (choose another with --out)\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "nvae-eval: %s weights\n", used)
	fsutil.RemoveStaleTemps(outDir, []string{"results.json", "per_image.arrow"}, fsutil.StaleAge)
	total := loader.Dataset().Len()
	if *maxImages > 0 && *maxImages < total {
		total = *maxImages
	}
	it := loader.Epoch(0, 0)
	defer it.Close()
	res, rows, err := evaluate(m, b.Name(), it, total, *k, s, &nvae.PhiloxNoise{Seed: *seed}, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "nvae-eval: %v\n", err)
		return 1
	}
	res.Checkpoint, res.Dataset, res.Split, res.Weights = *checkpoint, cfg.Dataset, split.String(), used
	// the result first: a failing write below must not lose it
	fmt.Fprintf(stdout, "NLL %.4f nats (%.5f bits/dim), NELBO %.4f nats (%.5f bits/dim), K=%d, %d images, %.1fs\n",
		res.NLLNats, res.BPD, res.NelboNats, res.NelboBPD, res.K, res.NumImages, res.Seconds)
	if err := report.WriteJSON(filepath.Join(outDir, "results.json"), res); err != nil {
		fmt.Fprintf(stderr, "nvae-eval: %v\n", err)
		return 1
	}
	if err := report.WriteArrow(filepath.Join(outDir, "per_image.arrow"), rows); err != nil {
		fmt.Fprintf(stderr, "nvae-eval: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(outDir, "results.json"), filepath.Join(outDir, "per_image.arrow"))
	return 0
}

// batchSource yields batches (io.EOF at the end); *data.Iter is one.
type batchSource interface {
	Next() (*data.Batch, error)
	Recycle(*data.Batch)
}

// evaluate runs the IW bound with k samples (s per forward pass) on up to
// total images from src.
func evaluate(m *nvae.Model, devName string, src batchSource, total, k, s int, noise nvae.Noise, stderr io.Writer) (*Results, []report.Row, error) {
	b := m.Store.B
	c := ag.New(b, m.Store.DType)
	c.SetGrad(false)
	m.Store.Training = false
	bpd, err := nvae.BitsPerDimCoeff(m.Cfg.Dataset)
	if err != nil {
		return nil, nil, err
	}
	var rows []report.Row
	var sumNLL, sumNelbo float64
	t0 := time.Now()
	last := t0
	for len(rows) < total {
		batch, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		h := tensor.FromFloat32([]int{batch.N, batch.C, batch.H, batch.W}, batch.X[:batch.N*batch.C*batch.H*batch.W])
		if m.Store.DType == tensor.Float64 {
			h = tensor.FromFloat64(h.Shape(), h.Float64s())
		}
		x := c.Const(nvae.PreProcess(c, h, m.Cfg.NumXBits))
		ev := m.EvalIWBatched(c, x, k, s, noise)
		for i := 0; i < ev.B && len(rows) < total; i++ {
			nll, nelbo := ev.Image(i)
			sumNLL += nll
			sumNelbo += nelbo
			rows = append(rows, report.Row{Index: int64(batch.Indices[i]), NLLNats: nll, NelboNats: nelbo, BPD: nll * bpd})
		}
		src.Recycle(batch)
		if time.Since(last) > 5*time.Second || len(rows) >= total {
			last = time.Now()
			el := time.Since(t0).Seconds()
			eta := time.Duration(el / float64(len(rows)) * float64(total-len(rows)) * float64(time.Second))
			fmt.Fprintf(stderr, "%d/%d images, NLL so far %.3f nats, %.1f images x samples/s, ETA %s\n", len(rows), total,
				sumNLL/float64(len(rows)), float64(len(rows)*k)/el, eta.Round(time.Second))
		}
	}
	if len(rows) == 0 {
		return nil, nil, errors.New("no images evaluated")
	}
	n := float64(len(rows))
	res := &Results{NLLNats: sumNLL / n, NelboNats: sumNelbo / n, K: k, NumImages: len(rows), Seconds: time.Since(t0).Seconds(), Device: devName}
	res.BPD, res.NelboBPD = res.NLLNats*bpd, res.NelboNats*bpd
	if math.IsNaN(res.NLLNats) || math.IsInf(res.NLLNats, 0) || math.IsNaN(res.NelboNats) || math.IsInf(res.NelboNats, 0) {
		return nil, nil, fmt.Errorf("the estimate is not finite (NLL %v, NELBO %v): the checkpoint may be corrupt or diverged", res.NLLNats, res.NelboNats)
	}
	return res, rows, nil
}
