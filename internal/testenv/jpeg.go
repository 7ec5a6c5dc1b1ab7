package testenv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// JPEGCase is one generated JPEG of testdata/jpeg with Pillow's decoded
// pixels (RGB, row-major).
type JPEGCase struct {
	Name string
	JPEG []byte
	Ref  []byte
	W, H int
}

// JPEGCases reads testdata/jpeg (scripts/gen-jpeg-testdata.py): JPEGs of
// each chroma subsampling, grey and progressive, with Pillow's pixels.
func JPEGCases(t testing.TB) []JPEGCase {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "testdata", "jpeg")
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
	var out []JPEGCase
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
		out = append(out, JPEGCase{Name: name, JPEG: jpg, Ref: ref, W: c.Width, H: c.Height})
	}
	for _, want := range []string{"s444", "s422", "s420", "gray", "progressive"} {
		found := false
		for _, c := range out {
			found = found || strings.HasPrefix(c.Name, want)
		}
		if !found {
			t.Errorf("testdata/jpeg has no %s case", want)
		}
	}
	return out
}
