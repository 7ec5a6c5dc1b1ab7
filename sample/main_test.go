package main

import (
	"bytes"
	"fmt"
	"image/gif"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/npz"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
)

func tinyCheckpoint(t *testing.T, dataset string) string {
	args := "--dataset " + dataset + " --batch_size 4 --num_channels_enc 4 --num_channels_dec 4 --num_latent_scales 2 " +
		"--num_groups_per_scale 2 --num_latent_per_group 4 --num_preprocess_blocks 1 --num_preprocess_cells 2 " +
		"--num_postprocess_blocks 1 --num_postprocess_cells 2 --num_cell_per_cond_enc 1 --num_cell_per_cond_dec 1 --use_se --res_dist --num_mixture_dec 3"
	cfg, err := cli.ParseStruct(strings.Fields(args), nvae.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if dataset == "mnist" {
		cfg.Data = testenv.MNISTLayout(t)
	}
	m, err := nvae.NewModel(cfg, cpu.New(), tensor.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "checkpoint.nvae")
	if err := ckpt.Save(path, m, nil, ckpt.State{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func runOK(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("nvae-sample %v: exit %d: %s", args, code, errb.String())
	}
	return out.String(), errb.String()
}

func TestSampleGridNPZAndReadjustCache(t *testing.T) {
	ck := tinyCheckpoint(t, "cifar10")
	dir := t.TempDir()
	_, e1 := runOK(t, "--checkpoint", ck, "--num_samples", "6", "--out", dir, "--readjust_bn", "--readjust_iters", "3", "--readjust_batch", "2", "--npz", "--individual", "--temp", "0.6")
	if strings.Contains(e1, "using cached") || !strings.Contains(e1, "re-adjusting BN") {
		t.Fatalf("first run should compute the statistics: %s", e1)
	}
	cache := nvae.BNCachePath(ck, 0.6)
	st1, err := os.Stat(cache)
	if err != nil {
		t.Fatalf("no BN cache: %v", err)
	}
	_, e2 := runOK(t, "--checkpoint", ck, "--num_samples", "6", "--out", dir, "--readjust_bn", "--readjust_iters", "3", "--readjust_batch", "2", "--temp", "0.6")
	if !strings.Contains(e2, "using cached") || strings.Contains(e2, "re-adjusting BN") {
		t.Fatalf("second run should reuse the cache: %s", e2)
	}
	st2, _ := os.Stat(cache)
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Fatal("the cache was rewritten")
	}
	f, err := os.Open(filepath.Join(dir, "samples_t0.60.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("grid is not a PNG: %v", err)
	}
	for _, p := range []string{"samples.npz", "sample_00005.png"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s", p)
		}
	}
}

func TestInterpolateAndReconstruct(t *testing.T) {
	ck := tinyCheckpoint(t, "mnist")
	dir := t.TempDir()
	runOK(t, "--checkpoint", ck, "--interpolate", "3", "--frames", "4", "--out", dir)
	f, err := os.Open(filepath.Join(dir, "interpolation.gif"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(f)
	f.Close()
	if err != nil || len(g.Image) != 9 {
		t.Fatalf("interpolation.gif: %v, %d frames (want 9)", err, len(g.Image))
	}
	runOK(t, "--checkpoint", ck, "--reconstruct", "--num_samples", "4", "--out", dir)
	if _, err := os.Stat(filepath.Join(dir, "reconstruction.png")); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--checkpoint", filepath.Join(dir, "missing.nvae")}, &out, &errb); code == 0 || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("missing checkpoint: exit %d, %q", code, errb.String())
	}
}

// nanCheckpoint is tinyCheckpoint with one NaN weight.
func nanCheckpoint(t *testing.T) string {
	path := tinyCheckpoint(t, "cifar10")
	ck, err := ckpt.Load(path, cpu.New(), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	p := ck.Model.Store.Params()[3]
	h := p.Value.Float32s()
	h[0] = float32(math.NaN())
	p.Value = tensor.FromFloat32(p.Value.Shape(), h)
	if err := ckpt.Save(path, ck.Model, nil, ck.State); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNaNCheckpointRefused (issue 14.9): a checkpoint with a NaN weight
// ends non-zero with one line naming it, and no all-black grid is written.
func TestNaNCheckpointRefused(t *testing.T) {
	ck := nanCheckpoint(t)
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"--checkpoint", ck, "--num_samples", "4", "--out", dir}, &out, &errb)
	if code != 1 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "non-finite") {
		t.Fatalf("NaN checkpoint: exit %d, %q", code, errb.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("wrote %v from a NaN checkpoint", ents)
	}
}

// TestReadjustBNReadOnlyCheckpoint (issue 14.11): with the checkpoint in a
// read-only folder, --readjust_bn caches in --out (saying so) instead of
// failing after the work; a second run uses that cache. Without --out the
// run fails at once naming the folder.
func TestReadjustBNReadOnlyCheckpoint(t *testing.T) {
	src := tinyCheckpoint(t, "cifar10")
	roDir := t.TempDir()
	ck := filepath.Join(roDir, "checkpoint.nvae")
	b, _ := os.ReadFile(src)
	os.WriteFile(ck, b, 0o644)
	testenv.MakeReadOnly(t, roDir)
	out := t.TempDir()
	args := []string{"--checkpoint", ck, "--num_samples", "2", "--out", out, "--readjust_bn", "--readjust_iters", "2", "--readjust_batch", "2"}
	_, e1 := runOK(t, args...)
	if !strings.Contains(e1, "read-only") || !strings.Contains(e1, "re-adjusting BN") {
		t.Fatalf("first run: %s", e1)
	}
	if _, err := os.Stat(filepath.Join(out, filepath.Base(nvae.BNCachePath(ck, 0.7)))); err != nil {
		t.Fatalf("no cache in --out: %v", err)
	}
	if _, e2 := runOK(t, args...); !strings.Contains(e2, "using cached") {
		t.Fatalf("second run did not use the cache in --out: %s", e2)
	}
	var o, errb bytes.Buffer
	code := run([]string{"--checkpoint", ck, "--num_samples", "2", "--readjust_bn", "--readjust_iters", "2", "--readjust_batch", "2"}, &o, &errb)
	if code != 1 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "not writable") || strings.Contains(errb.String(), "re-adjusting") {
		t.Fatalf("no --out, read-only checkpoint folder: exit %d, %q", code, errb.String())
	}
}

// TestPerGroupTemps: a linear schedule and a list of the right length
// sample (grids named after the specification, BN cache per schedule); a
// list of the wrong length is a usage error.
func TestPerGroupTemps(t *testing.T) {
	ck := tinyCheckpoint(t, "cifar10")
	dir := t.TempDir()
	runOK(t, "--checkpoint", ck, "--num_samples", "2", "--out", dir, "--temp", "0.9:0.5", "--readjust_bn", "--readjust_iters", "1", "--readjust_batch", "2")
	runOK(t, "--checkpoint", ck, "--num_samples", "2", "--out", dir, "--temp", "0.9,0.8,0.7,0.6")
	for _, p := range []string{"samples_t0.9-0.5.png", "samples_t0.9_0.8_0.7_0.6.png"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s", p)
		}
	}
	if _, err := os.Stat(ck + ".bn_t0.9-0.5.safetensors"); err != nil {
		t.Errorf("no BN cache for the schedule: %v", err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--checkpoint", ck, "--out", dir, "--temp", "0.9,0.8"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "4 latent groups") {
		t.Errorf("wrong-length list: exit %d, %q", code, errb.String())
	}
}

// TestEncodeDecode: --encode writes every group's posterior means and
// samples for a folder of images (one needing a resize) and decodes them
// back; --decode of the mean latents gives exactly the model's
// reconstruction from posterior means (Forward with zero noise).
func TestEncodeDecode(t *testing.T) {
	ckPath := tinyCheckpoint(t, "cifar10")
	imgDir, out := t.TempDir(), t.TempDir()
	for i := 0; i < 3; i++ {
		m := imgproc.NewRGB(32, 32)
		for j := range m.Pix {
			m.Pix[j] = uint8(j*(i+3) + i*40)
		}
		var buf bytes.Buffer
		if err := m.EncodePNG(&buf); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(imgDir, fmt.Sprintf("img%d.png", i)), buf.Bytes(), 0o644)
	}
	big := imgproc.NewRGB(48, 40)
	for j := range big.Pix {
		big.Pix[j] = uint8(j * 7)
	}
	var jb bytes.Buffer
	if err := big.EncodeJPEG(&jb, 90); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(imgDir, "big.jpg"), jb.Bytes(), 0o644)

	runOK(t, "--checkpoint", ckPath, "--encode", imgDir, "--out", out, "--batch_size", "3")
	arrs, err := npz.ReadNPZ(filepath.Join(out, "latents.npz"))
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	ck, err := ckpt.Load(ckPath, b, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	m := ck.Model
	m.Store.Training = false
	for k := 0; k < m.NumGroupsTotal(); k++ {
		for _, kind := range []string{"mu", "sigma", "mean", "sample"} {
			a, ok := arrs[fmt.Sprintf("%s_%02d", kind, k)]
			if !ok || a.Shape[0] != 4 || a.Shape[1] != 4 {
				t.Fatalf("%s_%02d: %v", kind, k, a.Shape)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(out, "encode.png")); err != nil {
		t.Fatal(err)
	}
	runOK(t, "--checkpoint", ckPath, "--decode", filepath.Join(out, "latents.npz"), "--out", out)
	dec, err := npz.ReadNPZ(filepath.Join(out, "decoded.npz"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := dec["samples"].Float32()
	xs, _ := arrs["images"].Float32()
	c := ag.New(b, tensor.Float32)
	c.SetGrad(false)
	x := c.Const(b.FromHost(tensor.FromFloat32(arrs["images"].Shape, xs)))
	want := m.DecodeImages(c, m.Forward(c, x, nvae.ZeroNoise{}).Logits, nvae.ZeroNoise{}, 1, true).Float32s()
	if len(got) != len(want) {
		t.Fatalf("%d decoded values, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("decoded mean latents differ from the reconstruction at %d: %v vs %v", i, got[i], want[i])
		}
	}
	runOK(t, "--checkpoint", ckPath, "--decode", filepath.Join(out, "latents.npz"), "--latents", "sample", "--out", out)

	// interpolation between encoded images: 2 steps x 2 gaps + the last
	runOK(t, "--checkpoint", ckPath, "--decode", filepath.Join(out, "latents.npz"), "--interpolate", "3", "--frames", "2", "--out", out)
	gf, err := os.Open(filepath.Join(out, "interpolation.gif"))
	if err != nil {
		t.Fatal(err)
	}
	defer gf.Close()
	anim, err := gif.DecodeAll(gf)
	if err != nil {
		t.Fatal(err)
	}
	if len(anim.Image) != 5 {
		t.Errorf("%d frames, want 5", len(anim.Image))
	}
}

// TestWeightsChoice: a checkpoint with an EMA samples with it by default
// (reported), --weights raw uses the trained weights, and re-adjusted BN
// statistics are cached per choice.
func TestWeightsChoice(t *testing.T) {
	ckPath := tinyCheckpoint(t, "cifar10")
	b := cpu.New()
	ck, err := ckpt.Load(ckPath, b, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	ema := map[string]*tensor.Tensor{}
	for _, p := range ck.Model.Store.Params() {
		ema[p.Name] = b.Affine(p.Value, 0.5, 0)
	}
	if err := ckpt.SaveEMA(ckPath, ck.Model, nil, ck.State, ema); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	common := []string{"--checkpoint", ckPath, "--num_samples", "2", "--out", dir, "--readjust_bn", "--readjust_iters", "1", "--readjust_batch", "2", "--temp", "0.6", "--npz"}
	_, e1 := runOK(t, common...)
	s1, _ := os.ReadFile(filepath.Join(dir, "samples.npz"))
	_, e2 := runOK(t, append(common, "--weights", "raw")...)
	s2, _ := os.ReadFile(filepath.Join(dir, "samples.npz"))
	if !strings.Contains(e1, "ema weights") || !strings.Contains(e2, "raw weights") {
		t.Errorf("weights not reported: %q / %q", e1, e2)
	}
	if bytes.Equal(s1, s2) {
		t.Error("EMA and raw weights sample the same images")
	}
	for _, p := range []string{ckPath + ".bn_t0.600.ema.safetensors", ckPath + ".bn_t0.600.safetensors"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("BN cache %s missing", p)
		}
	}
}
