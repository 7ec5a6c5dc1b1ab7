package imgproc

import (
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
)

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
	for _, c := range testenv.JPEGCases(t) {
		img, err := Decode(c.JPEG)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if img.W != c.W || img.H != c.H {
			t.Fatalf("%s: %dx%d, want %dx%d", c.Name, img.W, img.H, c.W, c.H)
		}
		if m, n := maxDiff(img.Pix, c.Ref); m != 0 {
			t.Errorf("%s: %d values differ from Pillow's (max %d)", c.Name, n, m)
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
	for _, c := range testenv.JPEGCases(t) {
		img, err := Decode(c.JPEG)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		m, n := maxDiff(img.Pix, c.Ref)
		t.Logf("%s: pure Go differs from Pillow on %d of %d values (max %d)", c.Name, n, len(c.Ref), m)
		if m > 4 {
			t.Errorf("%s: pure-Go pixels differ from Pillow's by %d levels", c.Name, m)
		}
	}
}

// TestJPEGCorrupt: a truncated or damaged JPEG is an error or a decoded
// image, never a crash.
func TestJPEGCorrupt(t *testing.T) {
	for _, c := range testenv.JPEGCases(t) {
		for _, b := range [][]byte{c.JPEG[:len(c.JPEG)/2], c.JPEG[:20], append(append([]byte{}, c.JPEG[:3]...), make([]byte, 100)...)} {
			_, _ = Decode(b)
		}
	}
}
