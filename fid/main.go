// Command nvae-fid computes Fréchet Inception Distances the way the official
// NVAE code does (pytorch-fid's FID Inception-v3 and statistics):
//
//	nvae-fid stats   --data D --dataset NAME --fid_dir DIR     dataset statistics DIR/NAME.npz
//	nvae-fid score   --checkpoint C --fid_dir DIR              FID of model samples
//	nvae-fid score   --images DIR|NPZ --fid_dir DIR --dataset NAME
//	nvae-fid compare A.npz B.npz                               FID of two statistics files
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/device"
	"github.com/nvaego/nvae/pkg/fid"
	"github.com/nvaego/nvae/pkg/imgutil"
	"github.com/nvaego/nvae/pkg/npz"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

const usage = `usage: nvae-fid <command> [flags]

Commands:
  stats    --data D --dataset NAME --fid_dir DIR    write DIR/NAME.npz (mu, sigma) from the training split
  score    --checkpoint C --fid_dir DIR             FID of 50000 model samples against DIR/<dataset>.npz
  score    --images DIR|NPZ --fid_dir DIR --dataset NAME
                                                    FID of a folder of PNG/JPEG images or an .npz "samples" array
  compare  A.npz B.npz                              FID between two statistics files

The Inception weights are the official pt_inception-2015-12-05-6726825d.pth,
downloaded on first use into $NVAE_CACHE (default ~/.cache/nvae-go) unless
--inception PATH (.pth or .safetensors) is given. --inception test-formula
uses the offline test weights of the FID oracle (a formula, no file): for
smoke tests only, its scores are not comparable with published FIDs.
Run "nvae-fid <command> --help" for the flags of a command.
`

// httpClient downloads the official weights (tests replace it).
var httpClient = http.DefaultClient

// officialFetcher returns the downloader for the official weights (tests
// replace it to serve a file from an httptest server).
var officialFetcher = func(progress io.Writer) *fid.Fetcher {
	return fid.OfficialFetcher(httpClient, progress)
}

func main() {
	device.TuneGCForInference()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries the exit status of a failed command: 2 for usage
// errors, 1 for everything else.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

// run executes one command line and returns the exit status; errors are
// one line on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "stats":
		err = runStats(args[1:], stdout, stderr)
	case "score":
		err = runScore(args[1:], stdout, stderr)
	case "compare":
		err = runCompare(args[1:], stdout)
	default:
		err = usageErr("unknown command %q (want stats, score or compare; see --help)", args[0])
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "nvae-fid: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

var errHelp = errors.New("help shown")

// newFlags returns a flag set with the official underscore names (hyphens
// accepted) and a --help flag.
func newFlags(name string) (*pflag.FlagSet, *bool) {
	fs := pflag.NewFlagSet("nvae-fid "+name, pflag.ContinueOnError)
	fs.SetNormalizeFunc(nvae.NormalizeFlagName)
	fs.SetOutput(io.Discard)
	return fs, fs.BoolP("help", "h", false, "show this help")
}

// parse parses args; it prints the help and returns errHelp for --help.
func parse(fs *pflag.FlagSet, help *bool, args []string, synopsis string, stdout io.Writer) error {
	if err := fs.Parse(args); err != nil {
		return usageErr("%s: %v (see --help)", strings.TrimPrefix(fs.Name(), "nvae-fid "), err)
	}
	if *help {
		fmt.Fprintf(stdout, "usage: %s\n\n", synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return errHelp
	}
	return nil
}

// loadInception opens the network from path, or from the official weights
// (downloaded when needed) when path is empty.
func loadInception(path, dev string, stderr io.Writer) (*fid.Inception, error) {
	b, err := device.Open(dev)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if path == "" {
		if path, err = officialFetcher(stderr).Path(); err != nil {
			return nil, err
		}
	}
	return fid.LoadInception(path, b, tensor.Float32)
}

// progress prints "what: done/total (rate/s, ETA)" lines about every two
// seconds and once at the end.
type progress struct {
	w           io.Writer
	what        string
	total       int
	start, last time.Time
}

func newProgress(w io.Writer, what string, total int) *progress {
	now := time.Now()
	return &progress{w: w, what: what, total: total, start: now, last: now}
}

func (p *progress) update(done int) {
	now := time.Now()
	if done < p.total && now.Sub(p.last) < 2*time.Second {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := float64(done) / math.Max(el, 1e-9)
	eta := "-"
	if rate > 0 && done < p.total {
		eta = (time.Duration(float64(p.total-done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "%s: %d/%d images (%.2f images/s, elapsed %s, ETA %s)\n",
		p.what, done, p.total, rate, time.Duration(el*float64(time.Second)).Round(time.Second), eta)
}

// featureSet accumulates float32 pool3 features.
type featureSet struct {
	m     *fid.Inception
	feats []float32
	n     int
}

// add runs the network on a host NCHW float32 batch in [0, 1].
func (f *featureSet) add(x *tensor.Tensor) {
	out := f.m.Features(x)
	f.feats = append(f.feats, out.Float32s()...)
	f.n += x.Dim(0)
}

// stats returns mu (float32) and sigma (float64) as numpy computes them
// from float32 features.
func (f *featureSet) stats() (map[string]npz.Array, error) {
	if f.n < 2 {
		return nil, fmt.Errorf("need at least 2 images for a covariance, got %d", f.n)
	}
	mu, sigma := fid.Stats32(f.feats, f.n, fid.Dims)
	return map[string]npz.Array{
		"mu":    npz.FromFloat32([]int{fid.Dims}, mu),
		"sigma": npz.FromFloat64([]int{fid.Dims, fid.Dims}, sigma),
	}, nil
}

// ---------------------------------------------------------------------------
// stats

// chain concatenates datasets of one shape (the official code adds the
// validation split for celeba_256).
type chain []data.Dataset

func (c chain) Len() int {
	n := 0
	for _, d := range c {
		n += d.Len()
	}
	return n
}

func (c chain) Shape() (int, int, int) { return c[0].Shape() }

func (c chain) Load(i int, r *data.Rand, dst []float32) error {
	for _, d := range c {
		if i < d.Len() {
			return d.Load(i, r, dst)
		}
		i -= d.Len()
	}
	return fmt.Errorf("index out of range")
}

// openStatsData opens the images the official precompute_fid_statistics.py
// uses: the training split with its transforms, MNIST without binarisation,
// celeba_256 training plus validation.
func openStatsData(name, dir string) (data.Dataset, error) {
	switch name {
	case "mnist":
		return data.OpenMNIST(dir, true, false)
	case "celeba_256":
		tr, err := data.Open(name, dir, data.Train)
		if err != nil {
			return nil, err
		}
		va, err := data.Open(name, dir, data.Validation)
		if err != nil {
			return nil, err
		}
		return chain{tr, va}, nil
	}
	return data.Open(name, dir, data.Train)
}

func runStats(args []string, stdout, stderr io.Writer) error {
	fs, help := newFlags("stats")
	dataDir := fs.String("data", "", "location of the data corpus (required)")
	dataset := fs.String("dataset", "", "dataset name, e.g. cifar10, celeba_64, ffhq (required)")
	fidDir := fs.String("fid_dir", "", "directory the statistics file <dataset>.npz is written to (required)")
	inception := fs.String("inception", "", "Inception weights (.pth or .safetensors, or test-formula for the offline test weights); default: the official file, downloaded once")
	batch := fs.Int("batch_size", 100, "images per Inception batch")
	maxImages := fs.Int("max_samples", 50000, "use at most this many training images (0: all), as the official script")
	fs.IntVar(maxImages, "max_images", 50000, "alias of --max_samples")
	seed := fs.Uint64("seed", 0, "seed of the shuffled order and the random training transforms")
	dev := fs.String("device", "auto", "compute device: auto, cpu or cuda")
	if err := parse(fs, help, args, "nvae-fid stats --data D --dataset NAME --fid_dir DIR [--inception PATH] [--batch_size 100] [--max_samples 50000]", stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("stats: unexpected argument %q", fs.Arg(0))
	}
	if *dataDir == "" || *dataset == "" || *fidDir == "" {
		return usageErr("stats: --data, --dataset and --fid_dir are required")
	}
	if *batch < 1 || *maxImages < 0 {
		return usageErr("stats: --batch_size must be ≥ 1 and --max_samples ≥ 0")
	}
	if _, err := device.Open(*dev); err != nil {
		return usageErr("%v", err)
	}
	ds, err := openStatsData(*dataset, *dataDir)
	if err != nil {
		return err
	}
	n := ds.Len()
	if *maxImages > 0 && *maxImages < n {
		n = *maxImages
	}
	if n < 2 {
		return fmt.Errorf("stats: dataset %s in %s has %d images, need at least 2", *dataset, *dataDir, ds.Len())
	}
	if err := os.MkdirAll(*fidDir, 0o755); err != nil {
		return err
	}
	m, err := loadInception(*inception, *dev, stderr)
	if err != nil {
		return err
	}
	loader, err := data.NewLoader(ds, data.Options{BatchSize: *batch, Shuffle: true, Seed: *seed})
	if err != nil {
		return err
	}
	it := loader.Epoch(0, 0)
	defer it.Close()
	fsIn := &featureSet{m: m}
	pr := newProgress(stderr, "stats "+*dataset, n)
	for fsIn.n < n {
		b, err := it.Next()
		if err != nil {
			return fmt.Errorf("stats: reading %s: %w", *dataset, err)
		}
		k := min(b.N, n-fsIn.n)
		x := tensor.FromFloat32([]int{k, b.C, b.H, b.W}, append([]float32(nil), b.X[:k*b.C*b.H*b.W]...))
		it.Recycle(b)
		fsIn.add(x)
		pr.update(fsIn.n)
	}
	arrays, err := fsIn.stats()
	if err != nil {
		return err
	}
	out := filepath.Join(*fidDir, *dataset+".npz")
	if err := npz.WriteNPZ(out, arrays); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d images)\n", out, n)
	return nil
}

// ---------------------------------------------------------------------------
// statistics files and the distance

// stats is one statistics file's content.
type stats struct {
	mu32  []float32 // set when mu is float32 (NVAE's files)
	mu    []float64
	sigma []float64
	d     int
	path  string
}

// readStats reads a pytorch-fid .npz statistics file (mu [d], sigma [d,d]).
func readStats(path string) (*stats, error) {
	arrs, err := npz.ReadNPZ(path)
	if err != nil {
		return nil, err
	}
	mu, ok1 := arrs["mu"]
	sigma, ok2 := arrs["sigma"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: not a statistics file (needs arrays mu and sigma)", path)
	}
	if len(mu.Shape) != 1 || len(sigma.Shape) != 2 || sigma.Shape[0] != mu.Shape[0] || sigma.Shape[1] != mu.Shape[0] {
		return nil, fmt.Errorf("%s: mu %v and sigma %v do not have shapes [d] and [d,d]", path, mu.Shape, sigma.Shape)
	}
	s := &stats{d: mu.Shape[0], path: path}
	if s.mu, err = mu.Float64(); err != nil {
		return nil, fmt.Errorf("%s: mu: %w", path, err)
	}
	if strings.HasSuffix(mu.DType, "f4") {
		s.mu32, _ = mu.Float32()
	}
	if s.sigma, err = sigma.Float64(); err != nil {
		return nil, fmt.Errorf("%s: sigma: %w", path, err)
	}
	if err := fid.ValidateStats(s.mu, s.sigma, s.d); err != nil {
		return nil, fmt.Errorf("%s: invalid statistics: %v", path, err)
	}
	return s, nil
}

func statsFromArrays(arrs map[string]npz.Array, path string) *stats {
	mu32, _ := arrs["mu"].Float32()
	sigma, _ := arrs["sigma"].Float64()
	mu, _ := arrs["mu"].Float64()
	return &stats{mu32: mu32, mu: mu, sigma: sigma, d: len(mu), path: path}
}

// distance is calculate_frechet_distance(a, b): float32 arithmetic for the
// mean difference when both means are float32, as numpy does.
func distance(a, b *stats) (float64, error) {
	if a.d != b.d {
		return 0, fmt.Errorf("%s has %d dimensions, %s has %d", a.path, a.d, b.path, b.d)
	}
	if a.mu32 != nil && b.mu32 != nil {
		return fid.FrechetDistance32(a.mu32, a.sigma, b.mu32, b.sigma, a.d)
	}
	return fid.FrechetDistance(a.mu, a.sigma, b.mu, b.sigma, a.d)
}

func runCompare(args []string, stdout io.Writer) error {
	fs, help := newFlags("compare")
	if err := parse(fs, help, args, "nvae-fid compare A.npz B.npz", stdout); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageErr("compare: want two statistics files, got %d arguments", fs.NArg())
	}
	a, err := readStats(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := readStats(fs.Arg(1))
	if err != nil {
		return err
	}
	d, err := distance(a, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "FID: %.6f\n", printable(d))
	return nil
}

// printable maps tiny negative rounding residues (identical statistics)
// to 0 so that they do not print as "-0.000000".
func printable(d float64) float64 {
	if d < 0 && d > -5e-7 {
		return 0
	}
	return d
}

// ---------------------------------------------------------------------------
// score

// result is the content of fid.json.
type result struct {
	FID        float64 `json:"fid"`
	NumSamples int     `json:"num_samples"`
	Dataset    string  `json:"dataset"`
	Reference  string  `json:"reference_stats"`
	Checkpoint string  `json:"checkpoint,omitempty"`
	Weights    string  `json:"weights,omitempty"`
	Images     string  `json:"images,omitempty"`
	Temp       float64 `json:"temp,omitempty"`
	SampleTemp float64 `json:"sample_temp,omitempty"`
	ReadjustBN bool    `json:"readjust_bn,omitempty"`
	Seed       uint64  `json:"seed,omitempty"`
	Inception  string  `json:"inception"`
	Seconds    float64 `json:"seconds"`
}

func runScore(args []string, stdout, stderr io.Writer) error {
	fs, help := newFlags("score")
	checkpoint := fs.String("checkpoint", "", "checkpoint.nvae or official checkpoint.pt to sample from")
	weights := fs.String("weights", "auto", "weights of a checkpoint.nvae: auto (its EMA of the weights when it has one, else the trained weights), ema or raw")
	images := fs.String("images", "", "folder of PNG/JPEG images, or an .npz file with a samples array, to score instead of a model")
	fidDir := fs.String("fid_dir", "", "directory holding the reference statistics <dataset>.npz (required)")
	dataset := fs.String("dataset", "", "reference dataset name (default with --checkpoint: the checkpoint's dataset)")
	temp := fs.Float64("temp", 1.0, "temperature of the --readjust_bn sampling (the official evaluate.py --temp)")
	sampleTemp := fs.Float64("sample_temp", 1.0, "temperature of the FID samples (the official create_generator_vae samples at 1.0)")
	readjust := fs.Bool("readjust_bn", false, "re-adjust BN statistics first (500 sampling batches of 2 images in BN training mode, as the official evaluate_fid)")
	numSamples := fs.Int("num_samples", 50000, "number of model samples")
	batch := fs.Int("batch_size", 100, "samples per model / Inception batch")
	inception := fs.String("inception", "", "Inception weights (.pth or .safetensors, or test-formula for the offline test weights); default: the official file, downloaded once")
	seed := fs.Uint64("seed", 1, "sampling seed")
	out := fs.String("out", "", "where to write fid.json (default: beside the checkpoint; with --images only when given)")
	saveStats := fs.String("save_stats", "", "also write the scored images' statistics to this .npz")
	dev := fs.String("device", "auto", "compute device: auto, cpu or cuda")
	if err := parse(fs, help, args, "nvae-fid score (--checkpoint C | --images DIR|NPZ --dataset NAME) --fid_dir DIR [--temp 1.0] [--sample_temp 1.0] [--readjust_bn] [--num_samples 50000] [--batch_size 100] [--out fid.json]", stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("score: unexpected argument %q", fs.Arg(0))
	}
	if (*checkpoint == "") == (*images == "") {
		return usageErr("score: give exactly one of --checkpoint and --images")
	}
	if *fidDir == "" {
		return usageErr("score: --fid_dir is required")
	}
	if *images != "" && *dataset == "" {
		return usageErr("score: --images needs --dataset to find the reference statistics")
	}
	if *batch < 1 || *numSamples < 2 || !(*temp > 0) || !(*sampleTemp > 0) {
		return usageErr("score: --batch_size must be ≥ 1, --num_samples ≥ 2, --temp > 0 and --sample_temp > 0")
	}
	if _, err := device.Open(*dev); err != nil {
		return usageErr("%v", err)
	}
	start := time.Now()
	res := result{Inception: *inception}
	if res.Inception == "" {
		res.Inception = fid.WeightsFile
	}

	var model *nvae.Model
	if *checkpoint != "" {
		b, err := device.Open(*dev)
		if err != nil {
			return usageErr("%v", err)
		}
		if model, res.Weights, err = ckpt.LoadAnyWeights(*checkpoint, b, tensor.Float32, *weights); err != nil {
			return err
		}
		if *dataset == "" {
			*dataset = model.Cfg.Dataset
		}
		res.Checkpoint, res.Temp, res.SampleTemp, res.ReadjustBN, res.Seed = *checkpoint, *temp, *sampleTemp, *readjust, *seed
	} else {
		res.Images = *images
	}
	refPath := filepath.Join(*fidDir, *dataset+".npz")
	ref, err := readStats(refPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("score: no reference statistics %s (run nvae-fid stats --dataset %s --fid_dir %s first)", refPath, *dataset, *fidDir)
		}
		return err
	}
	if ref.d != fid.Dims {
		return fmt.Errorf("score: %s has %d dimensions, want %d", refPath, ref.d, fid.Dims)
	}
	m, err := loadInception(*inception, *dev, stderr)
	if err != nil {
		return err
	}
	set := &featureSet{m: m}
	if model != nil {
		err = scoreModel(model, set, *numSamples, *batch, *temp, *sampleTemp, *readjust, *seed, stderr)
	} else {
		err = scoreImages(*images, set, *batch, stderr)
	}
	if err != nil {
		return err
	}
	arrs, err := set.stats()
	if err != nil {
		return err
	}
	if *saveStats != "" {
		if err := npz.WriteNPZ(*saveStats, arrs); err != nil {
			return err
		}
	}
	// NVAE: calculate_frechet_distance(m0, s0, m, s) with the dataset's
	// statistics first.
	d, err := distance(ref, statsFromArrays(arrs, "samples"))
	if err != nil {
		return err
	}
	res.FID, res.NumSamples, res.Dataset, res.Reference = d, set.n, *dataset, refPath
	res.Seconds = math.Round(time.Since(start).Seconds()*1000) / 1000
	fmt.Fprintf(stdout, "FID: %.6f (%d samples vs %s)\n", printable(d), set.n, refPath)
	path := *out
	if path == "" && *checkpoint != "" {
		path = filepath.Join(filepath.Dir(*checkpoint), "fid.json")
	}
	if path != "" {
		js, _ := json.MarshalIndent(res, "", "  ")
		if err := imgutil.WriteFileAtomic(path, append(js, '\n')); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}
	return nil
}

// scoreModel samples n images with the decoder mean (the Normal decoder has
// none: a sample), as the official create_generator_vae does, optionally
// after the official BN re-adjustment.
func scoreModel(model *nvae.Model, set *featureSet, n, bs int, t, ts float64, readjust bool, seed uint64, stderr io.Writer) error {
	b := model.Store.B
	c := ag.New(b, tensor.Float32)
	c.SetGrad(false)
	noise := &nvae.PhiloxNoise{Seed: seed}
	if readjust {
		const iters, per = 500, 2
		pr := newProgress(stderr, "readjust_bn", iters*per)
		model.ReadjustBN(c, t, iters, per, noise, func(done int) { pr.update(done * per) })
	}
	model.Store.Training = false
	pr := newProgress(stderr, "score", n)
	for set.n < n {
		k := min(bs, n-set.n)
		logits := model.Sample(c, k, ts, noise)
		dec := model.DecoderOutput(c, logits)
		img := dec.Mean(c)
		if img == nil {
			img = dec.Sample(c, noise, ts)
		}
		set.add(b.ToHost(img.Value))
		pr.update(set.n)
	}
	return nil
}

// scoreImages scores a folder of PNG/JPEG files (sorted by name, decoded to
// RGB like PIL's convert("RGB"), u8/255) or an .npz file's samples array.
func scoreImages(path string, set *featureSet, bs int, stderr io.Writer) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		x, err := readSamplesNPZ(path)
		if err != nil {
			return err
		}
		n := x.Dim(0)
		per := x.Len() / n
		pr := newProgress(stderr, "score", n)
		for lo := 0; lo < n; lo += bs {
			hi := min(n, lo+bs)
			set.add(tensor.FromFloat32(append([]int{hi - lo}, x.Shape()[1:]...), x.F32()[lo*per:hi*per]))
			pr.update(hi)
		}
		return nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	var files []string
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".png", ".jpg", ".jpeg":
			if !e.IsDir() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	sort.Strings(files)
	if len(files) < 2 {
		return fmt.Errorf("score: %s holds %d PNG/JPEG images, need at least 2", path, len(files))
	}
	pr := newProgress(stderr, "score", len(files))
	// Batch consecutive images of one size.
	var pend []float32
	pendN, ph, pw := 0, 0, 0
	flush := func() {
		if pendN > 0 {
			set.add(tensor.FromFloat32([]int{pendN, 3, ph, pw}, pend))
			pr.update(set.n)
		}
		pend, pendN = nil, 0
	}
	for _, f := range files {
		chw, h, w, err := readImage(f)
		if err != nil {
			return err
		}
		if pendN > 0 && (h != ph || w != pw || pendN == bs) {
			flush()
		}
		ph, pw = h, w
		pend = append(pend, chw...)
		pendN++
	}
	flush()
	return nil
}

// readImage decodes an image file to CHW RGB float32 u8/255 the way
// pytorch-fid's PIL convert('RGB') does (JPEG through libjpeg-turbo when
// available, alpha dropped).
func readImage(path string) ([]float32, int, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, err
	}
	m, err := imgproc.Decode(data)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]float32, 3*m.H*m.W)
	m.ToCHW(out)
	return out, m.H, m.W, nil
}

// readSamplesNPZ reads the "samples" array of an .npz file as NCHW float32
// in [0, 1]: float arrays are taken as NCHW (what the official sampler
// saves), uint8 arrays as NHWC when the last axis has 1 or 3 channels and
// the second does not (else NCHW) and divided by 255; 3-D arrays are
// single-channel [N, H, W].
func readSamplesNPZ(path string) (*tensor.Tensor, error) {
	arrs, err := npz.ReadNPZ(path)
	if err != nil {
		return nil, err
	}
	a, ok := arrs["samples"]
	if !ok {
		return nil, fmt.Errorf("%s: no samples array", path)
	}
	sh := append([]int(nil), a.Shape...)
	if len(sh) == 3 {
		sh = []int{sh[0], 1, sh[1], sh[2]}
	}
	if len(sh) != 4 || sh[0] < 2 {
		return nil, fmt.Errorf("%s: samples has shape %v, want [N,C,H,W] with N ≥ 2", path, a.Shape)
	}
	isU8 := strings.HasSuffix(a.DType, "u1")
	v, err := a.Float32()
	if err != nil {
		return nil, fmt.Errorf("%s: samples: %w", path, err)
	}
	if isU8 {
		for i := range v {
			v[i] /= 255
		}
		if (sh[3] == 1 || sh[3] == 3) && sh[1] != 1 && sh[1] != 3 {
			n, h, w, c := sh[0], sh[1], sh[2], sh[3]
			t := make([]float32, len(v))
			for i := 0; i < n; i++ {
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						for ch := 0; ch < c; ch++ {
							t[((i*c+ch)*h+y)*w+x] = v[((i*h+y)*w+x)*c+ch]
						}
					}
				}
			}
			v, sh = t, []int{n, c, h, w}
		}
	}
	if sh[1] != 1 && sh[1] != 3 {
		return nil, fmt.Errorf("%s: samples has shape %v: want 1 or 3 channels", path, a.Shape)
	}
	return tensor.FromFloat32(sh, v), nil
}
