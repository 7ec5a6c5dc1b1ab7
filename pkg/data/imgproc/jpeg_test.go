package imgproc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
)

type jpegCase struct {
	name string
	jpg  []byte
	ref  []byte
	w, h int
}

// jpegCases reads testdata/jpeg (scripts/gen-jpeg-testdata.py): JPEGs of
// each chroma subsampling, grey and progressive, with Pillow's pixels.
func jpegCases(t *testing.T) []jpegCase {
	dir := filepath.Join(testenv.RepoRoot(t), "testdata", "jpeg")
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Cases map[string]struct{ Width, Height int }
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	var out []jpegCase
	for name, c := range meta.Cases {
		jpg, err := os.ReadFile(filepath.Join(dir, name+".jpg"))
		if err != nil {
			t.Fatal(err)
		}
		ref, err := os.ReadFile(filepath.Join(dir, name+".rgb"))
		if err != nil {
			t.Fatal(err)
		}
		if len(ref) != c.Width*c.Height*3 {
			t.Fatalf("%s: %d reference bytes for %dx%d", name, len(ref), c.Width, c.Height)
		}
		out = append(out, jpegCase{name, jpg, ref, c.Width, c.Height})
	}
	for _, want := range []string{"s444", "s422", "s420", "gray", "progressive"} {
		found := false
		for _, c := range out {
			found = found || strings.HasPrefix(c.name, want)
		}
		if !found {
			t.Errorf("testdata/jpeg has no %s case", want)
		}
	}
	return out
}

func maxDiff(a, b []byte) (int, int) {
	m, n := 0, 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		if d > 0 {
			n++
		}
		m = max(m, d)
	}
	return m, n
}

// TestJPEGMatchesPillow: with libjpeg-turbo, Decode gives exactly Pillow's
// pixels for every case.
func TestJPEGMatchesPillow(t *testing.T) {
	if _, err := turboStatus(); err != nil {
		testenv.MissingTool(t, "libjpeg-turbo unavailable (%v): .ci/run installs libturbojpeg0", err)
	}
	t.Logf("decoder: %s", JPEGDecoder())
	for _, c := range jpegCases(t) {
		img, err := Decode(c.jpg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if img.W != c.w || img.H != c.h {
			t.Fatalf("%s: %dx%d, want %dx%d", c.name, img.W, img.H, c.w, c.h)
		}
		if m, n := maxDiff(img.Pix, c.ref); m != 0 {
			t.Errorf("%s: %d values differ from Pillow's (max %d)", c.name, n, m)
		}
	}
}

// TestJPEGGoFallback: NVAE_JPEG=go selects the pure-Go decoder, which is
// reported and stays within a few levels of Pillow's pixels.
func TestJPEGGoFallback(t *testing.T) {
	t.Setenv("NVAE_JPEG", "go")
	if d := JPEGDecoder(); !strings.HasPrefix(d, "pure Go") {
		t.Errorf("JPEGDecoder() = %q", d)
	}
	for _, c := range jpegCases(t) {
		img, err := Decode(c.jpg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		m, n := maxDiff(img.Pix, c.ref)
		t.Logf("%s: pure Go differs from Pillow on %d of %d values (max %d)", c.name, n, len(c.ref), m)
		if m > 4 {
			t.Errorf("%s: pure-Go pixels differ from Pillow's by %d levels", c.name, m)
		}
	}
}

// TestJPEGCorrupt: a truncated or damaged JPEG is an error or a decoded
// image, never a crash.
func TestJPEGCorrupt(t *testing.T) {
	for _, c := range jpegCases(t) {
		for _, b := range [][]byte{c.jpg[:len(c.jpg)/2], c.jpg[:20], append(append([]byte{}, c.jpg[:3]...), make([]byte, 100)...)} {
			_, _ = Decode(b)
		}
	}
}
