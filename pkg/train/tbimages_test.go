package train

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tb"
	"github.com/nvaego/nvae/pkg/tensor"
)

// TestTileImage: the official tile_image layout (no padding), grey as RGB,
// tensorboardX's truncating byte conversion; sideBySide puts a left of b.
func TestTileImage(t *testing.T) {
	// 4 grey 1x2 images with values i/4 + 0.999/255
	x := make([]float32, 8)
	for i := range x {
		x[i] = float32(i/2)/4 + 0.999/255
	}
	img := tileImage(x, 2, 1, 1, 2)
	if img.Bounds().Dx() != 4 || img.Bounds().Dy() != 2 {
		t.Fatalf("size %v, want 4x2", img.Bounds())
	}
	want := [2][4]uint8{{0, 0, 64, 64}, {128, 128, 192, 192}} // rounding would give 65 for 64
	for y := 0; y < 2; y++ {
		for xx := 0; xx < 4; xx++ {
			p := img.Pix[y*img.Stride+4*xx:]
			if p[0] != want[y][xx] || p[1] != p[0] || p[2] != p[0] || p[3] != 255 {
				t.Errorf("pixel (%d,%d) = %v, want grey %d", xx, y, p[:4], want[y][xx])
			}
		}
	}
	both := sideBySide(img, tileImage(make([]float32, 8), 2, 1, 1, 2))
	if both.Bounds().Dx() != 8 || both.Pix[4*3] != 64 || both.Pix[4*4] != 0 {
		t.Errorf("side by side: %v", both.Bounds())
	}
	if tbByte(1.5) != 255 || tbByte(-1) != 0 || tbByte(0.5) != 127 {
		t.Error("tbByte")
	}
}

// TestTBDetails: generated_* images are unpadded 4x4 tiles with
// colourspace 3 and an RGB PNG; the reconstruction image is inputs beside
// outputs; the final validation writes val/* again at step epoch+1.
func TestTBDetails(t *testing.T) {
	dataDir := testenv.MNISTLayout(t)
	root := t.TempDir()
	res, err := Run(opts(tinyConfig(t, dataDir, root, "tb"), 2))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := tb.ReadDir(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var valSteps []int64
	for _, e := range evs {
		if _, ok := e.Scalars["val/nelbo"]; ok {
			valSteps = append(valSteps, e.Step)
		}
		for tag, sz := range e.ImageSizes {
			if sz != [3]int{4 * 32, 4 * 32, 3} {
				t.Errorf("%s: size %v, want 128x128, colourspace 3", tag, sz)
			}
			if ct := e.Images[tag][25]; ct != 2 {
				t.Errorf("%s: PNG colour type %d, want 2 (RGB)", tag, ct)
			}
		}
	}
	// two steps stop inside epoch 0: val at epoch 0, then the final one at 1
	if len(valSteps) != 2 || valSteps[0] != 0 || valSteps[1] != 1 {
		t.Errorf("val/nelbo steps %v, want [0 1]", valSteps)
	}

	// the reconstruction image, directly
	cfg := tinyConfig(t, dataDir, root, "rec")
	b := cpu.New()
	m, err := nvae.NewModel(cfg, b, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := ag.New(b, tensor.Float32)
	dir := t.TempDir()
	w, err := tb.NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{c: c, m: m, cfg: cfg}
	r.tbw = &events{w: w, r: r}
	xs := make([]float32, 5*1*32*32)
	for i := range xs {
		xs[i] = float32(i%7) / 7
	}
	r.lastX = c.Const(b.FromHost(tensor.FromFloat32([]int{5, 1, 32, 32}, xs)))
	m.Store.Training = true
	tr := m.TrainLoss(c, r.lastX, &nvae.PhiloxNoise{Seed: 1}, 1, 0)
	r.reconstruction(tr)
	w.Close()
	ev, err := tb.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ev {
		data, ok := e.Images["reconstruction"]
		if !ok {
			continue
		}
		found = true
		// n = floor(sqrt(5)) = 2: 2x2 inputs beside 2x2 outputs
		if e.ImageSizes["reconstruction"] != [3]int{64, 128, 3} {
			t.Fatalf("reconstruction size %v, want 64x128x3", e.ImageSizes["reconstruction"])
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want := tileImage(xs, 2, 1, 32, 32)
		for y := 0; y < 64; y++ {
			for xx := 0; xx < 64; xx++ {
				r1, _, _, _ := img.At(xx, y).RGBA()
				if uint8(r1>>8) != want.Pix[y*want.Stride+4*xx] {
					t.Fatalf("left half pixel (%d,%d) is not the input", xx, y)
				}
			}
		}
	}
	if !found {
		t.Fatal("no reconstruction image")
	}
}
