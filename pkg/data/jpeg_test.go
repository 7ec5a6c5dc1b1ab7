package data

import (
	"path/filepath"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
)

// TestLoaderJPEGPixelsEqualPillow: an LMDB of the generated JPEGs
// (testdata/jpeg: 4:4:4, 4:2:2, 4:2:0, grey, progressive) loads, through
// the dataset's decode path, to exactly the pixels Pillow gives.
func TestLoaderJPEGPixelsEqualPillow(t *testing.T) {
	if d := imgproc.JPEGDecoder(); len(d) < 13 || d[:13] != "libjpeg-turbo" {
		testenv.MissingTool(t, "JPEG decoder is %s: .ci/run installs libturbojpeg0", d)
	}
	for _, c := range testenv.JPEGCases(t) {
		name, jpg, ref := c.Name, c.JPEG, c.Ref
		db := filepath.Join(t.TempDir(), "db")
		w, err := lmdbio.Create(db)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Append(jpg); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		ds, err := OpenLMDB(db, Transform{Encoded: true})
		if err != nil {
			t.Fatal(err)
		}
		ch, h, wd := ds.Shape()
		if ch != 3 || h != c.H || wd != c.W {
			t.Fatalf("%s: shape %d,%d,%d", name, ch, h, wd)
		}
		dst := make([]float32, 3*h*wd)
		if err := ds.Load(0, nil, dst); err != nil {
			t.Fatal(err)
		}
		ds.Close()
		n := h * wd
		for i := 0; i < n; i++ {
			for k := 0; k < 3; k++ {
				if dst[k*n+i] != imgproc.Unit[ref[3*i+k]] {
					t.Fatalf("%s: pixel %d channel %d = %v, Pillow %d/255", name, i, k, dst[k*n+i], ref[3*i+k])
				}
			}
		}
	}
}
