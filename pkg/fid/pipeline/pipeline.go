// Package pipeline holds the work of nvae-fid's commands, as the official
// NVAE code does it (pytorch-fid's FID Inception-v3 and statistics): the
// dataset statistics (WriteStats), statistics files and their distance
// (ReadStats, Distance), and the FID of model samples or image files
// (Score). The binary (fid/) only parses flags and calls these.
package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	_ "image/jpeg" // image decoders for score --images
	_ "image/png"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nvaego/nvae/internal/progress"
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

// OfficialFetcher returns the downloader for the official weights (tests
// replace it to serve a file from an httptest server).
var OfficialFetcher = func(progress io.Writer) *fid.Fetcher {
	return fid.OfficialFetcher(http.DefaultClient, progress)
}

// LoadInception opens the network from path, or from the official weights
// (downloaded when needed) when path is empty.
func LoadInception(path, dev string, stderr io.Writer) (*fid.Inception, error) {
	b, err := device.Open(dev)
	if err != nil {
		return nil, err
	}
	if path == "" {
		if path, err = OfficialFetcher(stderr).Path(); err != nil {
			return nil, err
		}
	}
	return fid.LoadInception(path, b, tensor.Float32)
}

// FeatureSet accumulates float32 pool3 features of the network M.
type FeatureSet struct {
	M     *fid.Inception
	Feats []float32
	N     int
}

// Add runs the network on a host NCHW float32 batch in [0, 1].
func (f *FeatureSet) Add(x *tensor.Tensor) {
	out := f.M.Features(x)
	f.Feats = append(f.Feats, out.Float32s()...)
	f.N += x.Dim(0)
}

// Stats returns mu (float32) and sigma (float64) as numpy computes them
// from float32 features.
func (f *FeatureSet) Stats() (map[string]npz.Array, error) {
	if f.N < 2 {
		return nil, fmt.Errorf("need at least 2 images for a covariance, got %d", f.N)
	}
	mu, sigma := fid.Stats32(f.Feats, f.N, fid.Dims)
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

// OpenStatsData opens the images the official precompute_fid_statistics.py
// uses: the training split with its transforms, MNIST without binarisation,
// celeba_256 training plus validation.
func OpenStatsData(name, dir string) (data.Dataset, error) {
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

// StatsOptions are the settings of WriteStats (nvae-fid stats).
type StatsOptions struct {
	Data, Dataset, FIDDir string
	Inception             string // weights file; "": the official file
	BatchSize             int
	MaxImages             int // 0: all
	Seed                  uint64
	Device                string
}

// WriteStats writes FIDDir/<Dataset>.npz, the statistics of (at most
// MaxImages of) the dataset's training images, as the official
// precompute_fid_statistics.py does; progress lines go to stderr. It
// returns the path written and the number of images.
func WriteStats(o StatsOptions, stderr io.Writer) (string, int, error) {
	ds, err := OpenStatsData(o.Dataset, o.Data)
	if err != nil {
		return "", 0, err
	}
	n := ds.Len()
	if o.MaxImages > 0 && o.MaxImages < n {
		n = o.MaxImages
	}
	if n < 2 {
		return "", 0, fmt.Errorf("stats: dataset %s in %s has %d images, need at least 2", o.Dataset, o.Data, ds.Len())
	}
	if err := os.MkdirAll(o.FIDDir, 0o755); err != nil {
		return "", 0, err
	}
	m, err := LoadInception(o.Inception, o.Device, stderr)
	if err != nil {
		return "", 0, err
	}
	loader, err := data.NewLoader(ds, data.Options{BatchSize: o.BatchSize, Shuffle: true, Seed: o.Seed})
	if err != nil {
		return "", 0, err
	}
	it := loader.Epoch(0, 0)
	defer it.Close()
	fsIn := &FeatureSet{M: m}
	pr := progress.New(stderr, "stats "+o.Dataset, "images", n)
	for fsIn.N < n {
		b, err := it.Next()
		if err != nil {
			return "", 0, fmt.Errorf("stats: reading %s: %w", o.Dataset, err)
		}
		k := min(b.N, n-fsIn.N)
		x := tensor.FromFloat32([]int{k, b.C, b.H, b.W}, append([]float32(nil), b.X[:k*b.C*b.H*b.W]...))
		it.Recycle(b)
		fsIn.Add(x)
		pr.Set(fsIn.N)
	}
	arrays, err := fsIn.Stats()
	if err != nil {
		return "", 0, err
	}
	out := filepath.Join(o.FIDDir, o.Dataset+".npz")
	if err := npz.WriteNPZ(out, arrays); err != nil {
		return "", 0, err
	}
	return out, n, nil
}

// ---------------------------------------------------------------------------
// statistics files and the distance

// StatsFile is one statistics file's content.
type StatsFile struct {
	Mu32  []float32 // set when mu is float32 (NVAE's files)
	Mu    []float64
	Sigma []float64
	D     int
	Path  string
}

// ReadStats reads a pytorch-fid .npz statistics file (mu [d], sigma [d,d]).
func ReadStats(path string) (*StatsFile, error) {
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
	s := &StatsFile{D: mu.Shape[0], Path: path}
	if s.Mu, err = mu.Float64(); err != nil {
		return nil, fmt.Errorf("%s: mu: %w", path, err)
	}
	if strings.HasSuffix(mu.DType, "f4") {
		s.Mu32, _ = mu.Float32()
	}
	if s.Sigma, err = sigma.Float64(); err != nil {
		return nil, fmt.Errorf("%s: sigma: %w", path, err)
	}
	if err := fid.ValidateStats(s.Mu, s.Sigma, s.D); err != nil {
		return nil, fmt.Errorf("%s: invalid statistics: %v", path, err)
	}
	return s, nil
}

// StatsFromArrays is the StatsFile of FeatureSet.Stats arrays.
func StatsFromArrays(arrs map[string]npz.Array, path string) *StatsFile {
	mu32, _ := arrs["mu"].Float32()
	sigma, _ := arrs["sigma"].Float64()
	mu, _ := arrs["mu"].Float64()
	return &StatsFile{Mu32: mu32, Mu: mu, Sigma: sigma, D: len(mu), Path: path}
}

// Distance is calculate_frechet_distance(a, b): float32 arithmetic for the
// mean difference when both means are float32, as numpy does.
func Distance(a, b *StatsFile) (float64, error) {
	if a.D != b.D {
		return 0, fmt.Errorf("%s has %d dimensions, %s has %d", a.Path, a.D, b.Path, b.D)
	}
	if a.Mu32 != nil && b.Mu32 != nil {
		return fid.FrechetDistance32(a.Mu32, a.Sigma, b.Mu32, b.Sigma, a.D)
	}
	return fid.FrechetDistance(a.Mu, a.Sigma, b.Mu, b.Sigma, a.D)
}

// Printable maps tiny negative rounding residues (identical statistics)
// to 0 so that they do not print as "-0.000000".
func Printable(d float64) float64 {
	if d < 0 && d > -5e-7 {
		return 0
	}
	return d
}

// ---------------------------------------------------------------------------
// score

// Result is the content of fid.json.
type Result struct {
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

// ScoreOptions are the settings of Score (nvae-fid score): a checkpoint to
// sample from or Images (a folder or an .npz) to score, against
// FIDDir/<Dataset>.npz.
type ScoreOptions struct {
	Checkpoint, Images, FIDDir, Dataset string
	Weights                             string // of a checkpoint.nvae: auto, ema or raw
	Temp, SampleTemp                    float64
	ReadjustBN                          bool
	ReadjustIters, ReadjustBatch        int // the re-adjustment's sampling batches and their size (official: 500 of 2)
	NumSamples, BatchSize               int
	Inception                           string // weights file; "": the official file
	Seed                                uint64
	Out                                 string // fid.json path ("": beside the checkpoint; none for images)
	SaveStats                           string // also write the scored images' statistics here
	Device                              string
}

// Score computes the FID of model samples or image files against the
// reference statistics, prints it on stdout and writes fid.json; progress
// lines go to stderr.
func Score(o ScoreOptions, stdout, stderr io.Writer) error {
	start := time.Now()
	res := Result{Inception: o.Inception}
	if res.Inception == "" {
		res.Inception = fid.WeightsFile
	}

	var model *nvae.Model
	if o.Checkpoint != "" {
		b, err := device.Open(o.Device)
		if err != nil {
			return err
		}
		weights := o.Weights
		if weights == "" {
			weights = ckpt.WeightsAuto
		}
		if model, res.Weights, err = ckpt.LoadAnyWeights(o.Checkpoint, b, tensor.Float32, weights); err != nil {
			return err
		}
		if o.Dataset == "" {
			o.Dataset = model.Cfg.Dataset
		}
		res.Checkpoint, res.Temp, res.SampleTemp, res.ReadjustBN, res.Seed = o.Checkpoint, o.Temp, o.SampleTemp, o.ReadjustBN, o.Seed
	} else {
		res.Images = o.Images
	}
	refPath := filepath.Join(o.FIDDir, o.Dataset+".npz")
	ref, err := ReadStats(refPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("score: no reference statistics %s (run nvae-fid stats --dataset %s --fid_dir %s first)", refPath, o.Dataset, o.FIDDir)
		}
		return err
	}
	if ref.D != fid.Dims {
		return fmt.Errorf("score: %s has %d dimensions, want %d", refPath, ref.D, fid.Dims)
	}
	m, err := LoadInception(o.Inception, o.Device, stderr)
	if err != nil {
		return err
	}
	set := &FeatureSet{M: m}
	if model != nil {
		err = ScoreModel(model, set, o.NumSamples, o.BatchSize, o.Temp, o.SampleTemp, o.ReadjustBN, o.ReadjustIters, o.ReadjustBatch, o.Seed, stderr)
	} else {
		err = ScoreImages(o.Images, set, o.BatchSize, stderr)
	}
	if err != nil {
		return err
	}
	arrs, err := set.Stats()
	if err != nil {
		return err
	}
	if o.SaveStats != "" {
		if err := npz.WriteNPZ(o.SaveStats, arrs); err != nil {
			return err
		}
	}
	// NVAE: calculate_frechet_distance(m0, s0, m, s) with the dataset's
	// statistics first.
	d, err := Distance(ref, StatsFromArrays(arrs, "samples"))
	if err != nil {
		return err
	}
	res.FID, res.NumSamples, res.Dataset, res.Reference = d, set.N, o.Dataset, refPath
	res.Seconds = math.Round(time.Since(start).Seconds()*1000) / 1000
	fmt.Fprintf(stdout, "FID: %.6f (%d samples vs %s)\n", Printable(d), set.N, refPath)
	path := o.Out
	if path == "" && o.Checkpoint != "" {
		path = filepath.Join(filepath.Dir(o.Checkpoint), "fid.json")
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

// ScoreModel samples n images with the decoder mean (the Normal decoder has
// none: a sample), as the official create_generator_vae does, optionally
// after the official BN re-adjustment (iters sampling batches of per
// images; the official 500 of 2 when zero).
func ScoreModel(model *nvae.Model, set *FeatureSet, n, bs int, t, ts float64, readjust bool, iters, per int, seed uint64, stderr io.Writer) error {
	b := model.Store.B
	c := ag.New(b, tensor.Float32)
	c.SetGrad(false)
	noise := &nvae.PhiloxNoise{Seed: seed}
	if readjust {
		if iters <= 0 || per <= 0 {
			iters, per = 500, 2
		}
		pr := progress.New(stderr, "readjust_bn", "images", iters*per)
		model.ReadjustBN(c, t, iters, per, noise, func(done int) { pr.Set(done * per) })
	}
	model.Store.Training = false
	pr := progress.New(stderr, "score", "images", n)
	for set.N < n {
		k := min(bs, n-set.N)
		logits := model.Sample(c, k, ts, noise)
		dec := model.DecoderOutput(c, logits)
		img := dec.Mean(c)
		if img == nil {
			img = dec.Sample(c, noise, ts)
		}
		set.Add(b.ToHost(img.Value))
		pr.Set(set.N)
	}
	return nil
}

// ScoreImages scores a folder of PNG/JPEG files (sorted by name, decoded to
// RGB like PIL's convert("RGB"), u8/255) or an .npz file's samples array.
func ScoreImages(path string, set *FeatureSet, bs int, stderr io.Writer) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		x, err := ReadSamplesNPZ(path)
		if err != nil {
			return err
		}
		n := x.Dim(0)
		per := x.Len() / n
		pr := progress.New(stderr, "score", "images", n)
		for lo := 0; lo < n; lo += bs {
			hi := min(n, lo+bs)
			set.Add(tensor.FromFloat32(append([]int{hi - lo}, x.Shape()[1:]...), x.F32()[lo*per:hi*per]))
			pr.Set(hi)
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
	pr := progress.New(stderr, "score", "images", len(files))
	// Batch consecutive images of one size.
	var pend []float32
	pendN, ph, pw := 0, 0, 0
	flush := func() {
		if pendN > 0 {
			set.Add(tensor.FromFloat32([]int{pendN, 3, ph, pw}, pend))
			pr.Set(set.N)
		}
		pend, pendN = nil, 0
	}
	for _, f := range files {
		chw, h, w, err := ReadImage(f)
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

// ReadImage decodes an image file to CHW RGB float32 u8/255 the way
// pytorch-fid's PIL convert('RGB') does (JPEG through libjpeg-turbo when
// available, alpha dropped).
func ReadImage(path string) ([]float32, int, int, error) {
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

// ReadSamplesNPZ reads the "samples" array of an .npz file as NCHW float32
// in [0, 1]: float arrays are taken as NCHW (what the official sampler
// saves), uint8 arrays as NHWC when the last axis has 1 or 3 channels and
// the second does not (else NCHW) and divided by 255; 3-D arrays are
// single-channel [N, H, W].
func ReadSamplesNPZ(path string) (*tensor.Tensor, error) {
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
