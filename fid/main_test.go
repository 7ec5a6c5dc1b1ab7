package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/fid/pipeline"

	"github.com/nvaego/nvae/internal/testenv"

	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
	"github.com/nvaego/nvae/pkg/device"
	"github.com/nvaego/nvae/pkg/fid"
	"github.com/nvaego/nvae/pkg/fid/formula"
	"github.com/nvaego/nvae/pkg/fsutil"
	"github.com/nvaego/nvae/pkg/npz"
	"github.com/nvaego/nvae/pkg/safetensors"
	"github.com/nvaego/nvae/pkg/tensor"
)

// fidData is the FID oracle folder ($NVAE_FID_ORACLE_DIR or testdata/oracle/fid).
func fidData(t *testing.T) string {
	t.Helper()
	return testenv.FIDDir(t)
}

// inceptionPath is the --inception value of the tests: the offline
// test-formula weights, those of the FID oracle.
func inceptionPath(t *testing.T) string { return formula.Name }

// runCmd runs the command in-process and returns its exit status, stdout
// and stderr.
func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// oneLineErr checks a failure: the wanted status and a single stderr line
// "nvae-fid: ..." containing want.
func oneLineErr(t *testing.T, want string, wantCode int, args ...string) {
	t.Helper()
	code, _, stderr := runCmd(args...)
	if code != wantCode || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "nvae-fid: ") || !strings.Contains(stderr, want) {
		t.Errorf("%v: status %d, stderr %q; want status %d and one line containing %q", args, code, stderr, wantCode, want)
	}
}

func TestCLIUsageAndErrors(t *testing.T) {
	if code, out, _ := runCmd("--help"); code != 0 || !strings.Contains(out, "compare  A.npz B.npz") {
		t.Errorf("--help: %d %q", code, out)
	}
	for _, cmd := range []string{"stats", "score", "compare"} {
		if code, out, _ := runCmd(cmd, "--help"); code != 0 || !strings.Contains(out, "usage: nvae-fid "+cmd) {
			t.Errorf("%s --help: %d %q", cmd, code, out)
		}
	}
	if code, _, stderr := runCmd(); code != 2 || !strings.Contains(stderr, "usage:") {
		t.Errorf("no arguments: %d %q", code, stderr)
	}
	dir := t.TempDir()
	oneLineErr(t, `unknown command "frobnicate"`, 2, "frobnicate")
	oneLineErr(t, "unknown flag: --bogus", 2, "stats", "--bogus")
	oneLineErr(t, "--data, --dataset and --fid_dir are required", 2, "stats", "--data", dir)
	oneLineErr(t, "exactly one of --checkpoint and --images", 2, "score", "--fid_dir", dir)
	oneLineErr(t, "--images needs --dataset", 2, "score", "--images", dir, "--fid_dir", dir)
	oneLineErr(t, "want two statistics files", 2, "compare", "a.npz")
	oneLineErr(t, "no reference statistics", 1, "score", "--images", dir, "--fid_dir", dir, "--dataset", "cifar10")
	oneLineErr(t, "missing.npz", 1, "compare", filepath.Join(dir, "missing.npz"), filepath.Join(dir, "missing.npz"))
	notStats := filepath.Join(dir, "samples.npz")
	if err := npz.WriteNPZ(notStats, map[string]npz.Array{"samples": npz.FromUint8([]int{2, 2}, []uint8{1, 2, 3, 4})}); err != nil {
		t.Fatal(err)
	}
	oneLineErr(t, "not a statistics file", 1, "compare", notStats, notStats)
	oneLineErr(t, "unknown dataset", 1, "stats", "--data", dir, "--dataset", "nope", "--fid_dir", dir)
	oneLineErr(t, "--device", 2, "stats", "--data", dir, "--dataset", "imagenet_32", "--fid_dir", dir, "--device", "tpu", "--inception", inceptionPath(t))
}

// TestCLICompare checks compare against pytorch-fid: the statistics of
// frechet.safetensors' nvae_f32/a (stats_example.npz, written by the
// official save_statistics) against those of nvae_f32/b give the official
// FID, and a file against itself gives 0.
func TestCLICompare(t *testing.T) {
	example := testenv.File(t, fidData(t), "stats_example.npz")
	code, out, stderr := runCmd("compare", example, example)
	if code != 0 || out != "FID: 0.000000\n" {
		t.Fatalf("compare identical: %d %q %q", code, out, stderr)
	}
	f, err := safetensors.ReadFile(testenv.File(t, fidData(t), "frechet.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.Tensors["nvae_f32/b"].Float32()
	want, _ := f.Tensors["nvae_f32/fid"].Float64()
	n, d := f.Tensors["nvae_f32/b"].Shape[0], f.Tensors["nvae_f32/b"].Shape[1]
	mu, sigma := fid.Stats32(b, n, d)
	bPath := filepath.Join(t.TempDir(), "b.npz")
	if err := npz.WriteNPZ(bPath, map[string]npz.Array{"mu": npz.FromFloat32([]int{d}, mu), "sigma": npz.FromFloat64([]int{d, d}, sigma)}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCmd("compare", example, bPath)
	if code != 0 || out != fmt.Sprintf("FID: %.6f\n", want[0]) {
		t.Fatalf("compare: %d %q %q; want FID %.6f", code, out, stderr, want[0])
	}
	// The exact value, through the same path the command takes.
	a, _ := pipeline.ReadStats(example)
	bs, _ := pipeline.ReadStats(bPath)
	if got, err := pipeline.Distance(a, bs); err != nil || !(math.Abs(got-want[0]) <= 1e-10*want[0]) {
		t.Fatalf("distance = %.17g, %v; official %.17g (tolerance 1e-10 relative)", got, err, want[0])
	}
}

// testImage draws a deterministic 32x32 RGB test image.
func testImage(i int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			v := uint8((x*(i+3) + y*(7-i) + i*40) % 256)
			m.Set(x, y, color.RGBA{v, uint8((int(v)*5 + y*i) % 256), uint8((x * y * (i + 1)) % 256), 255})
		}
	}
	return m
}

// TestCLIStatsAndScore builds a 10-image imagenet_32 LMDB, runs stats on
// it, and checks that the PNG-folder and .npz inputs of score --images read
// the same pixels and give the same features.
func TestCLIStatsAndScore(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	os.MkdirAll(dataDir, 0o755)
	w, err := lmdbio.Create(filepath.Join(dataDir, "train.lmdb"))
	if err != nil {
		t.Fatal(err)
	}
	pngDir := filepath.Join(dir, "png")
	os.MkdirAll(pngDir, 0o755)
	var nhwc []uint8
	for i := 0; i < 10; i++ {
		m := testImage(i)
		raw := make([]byte, 0, 32*32*3)
		for p := 0; p < len(m.Pix); p += 4 {
			raw = append(raw, m.Pix[p:p+3]...)
		}
		if err := w.Put([]byte(strconv.Itoa(i)), raw); err != nil {
			t.Fatal(err)
		}
		if i < 6 {
			nhwc = append(nhwc, raw...)
			var buf bytes.Buffer
			png.Encode(&buf, m)
			os.WriteFile(filepath.Join(pngDir, fmt.Sprintf("img_%02d.png", i)), buf.Bytes(), 0o644)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	fidDir := filepath.Join(dir, "fid")
	inc := inceptionPath(t)
	code, out, stderr := runCmd("stats", "--data", dataDir, "--dataset", "imagenet_32", "--fid_dir", fidDir,
		"--inception", inc, "--batch_size", "4", "--device", "cpu")
	if code != 0 {
		t.Fatalf("stats: %d %q %q", code, out, stderr)
	}
	if !strings.Contains(stderr, "10/10 images") || !strings.Contains(stderr, "images/s") {
		t.Errorf("stats progress: %q", stderr)
	}
	ref, err := pipeline.ReadStats(filepath.Join(fidDir, "imagenet_32.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if ref.D != fid.Dims || ref.Mu32 == nil || len(ref.Sigma) != fid.Dims*fid.Dims {
		t.Fatalf("stats file: d %d, float32 mu %v", ref.D, ref.Mu32 != nil)
	}
	for i := 0; i < fid.Dims; i++ {
		if !(ref.Sigma[i*fid.Dims+i] >= 0) || math.IsNaN(ref.Mu[i]) {
			t.Fatalf("stats: dimension %d: mu %v, variance %v", i, ref.Mu[i], ref.Sigma[i*fid.Dims+i])
		}
	}

	// --max_samples limits the images.
	code, out, stderr = runCmd("stats", "--data", dataDir, "--dataset", "imagenet_32", "--fid_dir", filepath.Join(dir, "fid3"),
		"--inception", inc, "--max_samples", "3", "--device", "cpu")
	if code != 0 || !strings.Contains(out, "(3 images)") {
		t.Fatalf("stats --max_samples 3: %d %q %q", code, out, stderr)
	}

	// Feature extraction of score --images: the PNG folder and the same
	// pixels as a uint8 NHWC .npz give identical features. (The full
	// score command, FID included, is TestCLIScoreImages.)
	m, err := pipeline.LoadInception(inc, "cpu", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fromPNG := &pipeline.FeatureSet{M: m}
	if err := pipeline.ScoreImages(pngDir, fromPNG, 4, io.Discard); err != nil {
		t.Fatal(err)
	}
	// The .npz reader sees the same pixels as the PNG reader, for uint8
	// NHWC samples and for float NCHW samples.
	npzPath := filepath.Join(dir, "samples.npz")
	if err := npz.WriteNPZ(npzPath, map[string]npz.Array{"samples": npz.FromUint8([]int{6, 32, 32, 3}, nhwc)}); err != nil {
		t.Fatal(err)
	}
	x, err := pipeline.ReadSamplesNPZ(npzPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		chw, h, w, err := pipeline.ReadImage(filepath.Join(pngDir, fmt.Sprintf("img_%02d.png", i)))
		if err != nil || h != 32 || w != 32 {
			t.Fatalf("readImage: %v %dx%d", err, h, w)
		}
		got := x.F32()[i*3*32*32 : (i+1)*3*32*32]
		for j := range chw {
			if chw[j] != got[j] {
				t.Fatalf("image %d element %d: png %v, npz %v", i, j, chw[j], got[j])
			}
		}
	}
	fromNPZ := &pipeline.FeatureSet{M: m}
	if err := pipeline.ScoreImages(npzPath, fromNPZ, 5, io.Discard); err != nil {
		t.Fatal(err)
	}
	if fromPNG.N != 6 || fromNPZ.N != 6 || len(fromPNG.Feats) != 6*fid.Dims {
		t.Fatalf("scored %d and %d images", fromPNG.N, fromNPZ.N)
	}
	for i := range fromPNG.Feats {
		if d := math.Abs(float64(fromPNG.Feats[i] - fromNPZ.Feats[i])); !(d <= 1e-5) {
			t.Fatalf("feature %d: png %v, npz %v", i, fromPNG.Feats[i], fromNPZ.Feats[i])
		}
	}
	f32 := npz.FromFloat32([]int{6, 3, 32, 32}, x.F32())
	if err := npz.WriteNPZ(npzPath, map[string]npz.Array{"samples": f32}); err != nil {
		t.Fatal(err)
	}
	if y, err := pipeline.ReadSamplesNPZ(npzPath); err != nil || fmt.Sprint(y.Shape()) != "[6 3 32 32]" || y.F32()[100] != x.F32()[100] {
		t.Fatalf("float samples: %v", err)
	}
}

// TestCLIScoreCheckpoint draws 4 samples from the official mnist_tiny
// checkpoint (after the BN re-adjustment) through the score command's
// sampling path and checks their features. The full command, FID included,
// runs in TestCLIScoreCommands.
func TestCLIScoreCheckpoint(t *testing.T) {
	ck := testenv.Testdata(t, "nvae", "mnist_tiny_checkpoint.pt")
	b, err := device.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	model, err := ckpt.LoadAny(ck, b, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pipeline.LoadInception(inceptionPath(t), "cpu", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	set := &pipeline.FeatureSet{M: m}
	var log bytes.Buffer
	if err := pipeline.ScoreModel(model, set, 5, 2, 0.6, 1, true, 0, 0, 1, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "readjust_bn: 1000/1000") || !strings.Contains(log.String(), "score: 5/5 images") {
		t.Errorf("progress output %q", log.String())
	}
	if set.N != 5 || len(set.Feats) != 5*fid.Dims {
		t.Fatalf("%d samples, %d features", set.N, len(set.Feats))
	}
	distinct := false
	for i, v := range set.Feats {
		if math.IsNaN(float64(v)) || v < 0 {
			t.Fatalf("feature %d = %v (pool3 features are finite and >= 0)", i, v)
		}
		if i >= fid.Dims && v != set.Feats[i%fid.Dims] {
			distinct = true
		}
	}
	if !distinct {
		t.Fatal("all samples have the same features")
	}
	if model.Store.Training {
		t.Fatal("model left in BN training mode")
	}
}

// TestCLIDownloadsWeights checks the default weights path: the first run
// downloads through the (replaced) HTTP client into $NVAE_CACHE with the
// checksum check, a second run uses the cached copy.
func TestCLIDownloadsWeights(t *testing.T) {
	// The test-formula weights as a file stand in for the official one.
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}}
	for _, k := range fid.StateDictKeys() {
		if v, ok := formula.Tensor(k.Key, k.Shape); ok {
			f.Tensors[k.Key] = safetensors.FromFloat32(k.Shape, v)
		}
	}
	inc := filepath.Join(t.TempDir(), "w.safetensors")
	if err := safetensors.WriteFile(inc, f); err != nil {
		t.Fatal(err)
	}
	sum, _, err := fsutil.SHA256File(inc)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(inc)
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Write(body)
	}))
	defer srv.Close()
	cache := t.TempDir()
	t.Setenv("NVAE_CACHE", cache)
	old := pipeline.OfficialFetcher
	defer func() { pipeline.OfficialFetcher = old }()
	pipeline.OfficialFetcher = func(progress io.Writer) *fid.Fetcher {
		// Same mechanism as for the official file, with its own checksum.
		return &fid.Fetcher{Client: srv.Client(), URL: srv.URL + "/w.safetensors", Name: "w.safetensors",
			SHA256: sum, Progress: progress}
	}
	for i := 0; i < 2; i++ {
		m, err := pipeline.LoadInception("", "cpu", io.Discard)
		if err != nil || m == nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if hits != 1 {
		t.Fatalf("%d downloads, want 1", hits)
	}
	if _, err := os.Stat(filepath.Join(cache, "w.safetensors")); err != nil {
		t.Fatal(err)
	}
}

// TestCLIScoreCommands runs the full score command for a checkpoint (the
// official mnist_tiny, with --readjust_bn) and for a PNG folder, checking
// the printed FID, fid.json and --save_stats. Each d = 2048 Fréchet
// distance costs about half a minute of pure-Go linear algebra on two
// cores (pkg/fid's eigen route), so this is skipped with -short.
func TestCLIScoreCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: two d=2048 Fréchet distances")
	}
	dir := t.TempDir()
	inc := inceptionPath(t)
	mu := make([]float32, fid.Dims)
	for i := range mu {
		mu[i] = 0.5
	}
	for _, name := range []string{"mnist", "ref"} {
		npz.WriteNPZ(filepath.Join(dir, name+".npz"), map[string]npz.Array{
			"mu": npz.FromFloat32([]int{fid.Dims}, mu), "sigma": npz.FromFloat64([]int{fid.Dims, fid.Dims}, make([]float64, fid.Dims*fid.Dims))})
	}
	readResult := func(path string) pipeline.Result {
		t.Helper()
		var res pipeline.Result
		js, err := os.ReadFile(path)
		if err != nil || json.Unmarshal(js, &res) != nil {
			t.Fatalf("fid.json: %v %s", err, js)
		}
		return res
	}

	ck := testenv.Testdata(t, "nvae", "mnist_tiny_checkpoint.pt")
	out := filepath.Join(dir, "ck", "fid.json")
	os.MkdirAll(filepath.Dir(out), 0o755)
	code, stdout, stderr := runCmd("score", "--checkpoint", ck, "--fid_dir", dir, "--inception", inc,
		"--num_samples", "4", "--batch_size", "2", "--readjust_bn", "--out", out, "--device", "cpu")
	if code != 0 {
		t.Fatalf("score --checkpoint: %d %q %q", code, stdout, stderr)
	}
	res := readResult(out)
	if res.Dataset != "mnist" || res.NumSamples != 4 || !res.ReadjustBN || res.Temp != 1 || !(res.FID > 0) || res.Checkpoint != ck {
		t.Fatalf("fid.json: %+v", res)
	}
	if !strings.Contains(stdout, fmt.Sprintf("FID: %.6f", res.FID)) {
		t.Errorf("printed %q, fid.json has %v", stdout, res.FID)
	}

	pngDir := filepath.Join(dir, "png")
	os.MkdirAll(pngDir, 0o755)
	for i := 0; i < 4; i++ {
		var buf bytes.Buffer
		png.Encode(&buf, testImage(i))
		os.WriteFile(filepath.Join(pngDir, fmt.Sprintf("%d.png", i)), buf.Bytes(), 0o644)
	}
	out = filepath.Join(dir, "img", "fid.json")
	os.MkdirAll(filepath.Dir(out), 0o755)
	saved := filepath.Join(dir, "png_stats.npz")
	code, stdout, stderr = runCmd("score", "--images", pngDir, "--dataset", "ref", "--fid_dir", dir,
		"--inception", inc, "--out", out, "--save_stats", saved, "--device", "cpu")
	if code != 0 || !strings.HasPrefix(stdout, "FID: ") {
		t.Fatalf("score --images: %d %q %q", code, stdout, stderr)
	}
	res = readResult(out)
	if res.NumSamples != 4 || !(res.FID > 0) || res.Dataset != "ref" || res.Images != pngDir {
		t.Fatalf("fid.json: %+v", res)
	}
	st, err := pipeline.ReadStats(saved)
	if err != nil || st.D != fid.Dims || st.Mu32 == nil {
		t.Fatalf("--save_stats: %v", err)
	}
	// With sigma_ref = 0 the FID is |mu - mu_ref|² + tr(sigma).
	want := 0.0
	for i := 0; i < fid.Dims; i++ {
		d := float64(st.Mu32[i] - 0.5)
		want += d*d + st.Sigma[i*fid.Dims+i]
	}
	if !(math.Abs(res.FID-want) <= 1e-6*want) {
		t.Errorf("FID %v, |mu diff|² + tr(sigma) from the saved statistics = %v", res.FID, want)
	}
}

// TestCLICompareRefusesInvalidStats (issue 14.12): a negative-definite or
// non-finite sigma is refused with one line naming the file, not scored.
func TestCLICompareRefusesInvalidStats(t *testing.T) {
	dir := t.TempDir()
	const d = 3
	mu := []float64{0.1, 0.2, 0.3}
	good := []float64{2, 0.5, 0, 0.5, 1, 0.1, 0, 0.1, 1.5}
	write := func(name string, sigma []float64) string {
		p := filepath.Join(dir, name)
		if err := npz.WriteNPZ(p, map[string]npz.Array{"mu": npz.FromFloat64([]int{d}, mu), "sigma": npz.FromFloat64([]int{d, d}, sigma)}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.npz", good)
	if code, out, stderr := runCmd("compare", a, a); code != 0 || out != "FID: 0.000000\n" {
		t.Fatalf("valid statistics: %d %q %q", code, out, stderr)
	}
	neg := make([]float64, len(good))
	for i, v := range good {
		neg[i] = -v
	}
	nd := write("negdef.npz", neg)
	oneLineErr(t, nd+": invalid statistics", 1, "compare", a, nd)
	nan := append([]float64(nil), good...)
	nan[4] = math.NaN()
	oneLineErr(t, "not finite", 1, "compare", write("nan.npz", nan), a)
	indef := []float64{1, 2, 0, 2, 1, 0, 0, 0, 1}
	oneLineErr(t, "positive semi-definite", 1, "compare", a, write("indef.npz", indef))
}
