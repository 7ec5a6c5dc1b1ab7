package convert

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nvaego/nvae/internal/progress"
	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
)

// SplitIndex is the saved train/test permutation (train_test_ind.json).
type SplitIndex struct {
	Seed  uint64   `json:"seed"`
	Count int      `json:"count"`
	Files []string `json:"files,omitempty"`
	Train []int    `json:"train"`
	Test  []int    `json:"test"`
}

// loadOrMakeIndex reuses the index saved at p (checking it fits count
// images) or draws a seeded permutation, splits it at nTrain and saves it.
func loadOrMakeIndex(p string, count, nTrain int, seed uint64, files []string) (*SplitIndex, bool, error) {
	if b, err := os.ReadFile(p); err == nil {
		var s SplitIndex
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, false, fmt.Errorf("%s: %w", p, err)
		}
		seen := make([]bool, count)
		for _, v := range append(append([]int{}, s.Train...), s.Test...) {
			if v < 0 || v >= count || seen[v] {
				return nil, false, fmt.Errorf("%s: index %d invalid or repeated for %d images", p, v, count)
			}
			seen[v] = true
		}
		if len(s.Train)+len(s.Test) != count {
			return nil, false, fmt.Errorf("%s: covers %d images, found %d", p, len(s.Train)+len(s.Test), count)
		}
		return &s, true, nil
	}
	perm := data.Permutation(seed, 0, count)
	s := &SplitIndex{Seed: seed, Count: count, Files: files, Train: perm[:nTrain], Test: perm[nTrain:]}
	return s, false, nil
}

// imageFiles lists the image files of a set, ordered by the number in
// their base name when all have one (FFHQ's 00000.png ...), else by name.
func imageFiles(set fileSet) []string {
	var names []string
	for _, n := range set.Names() {
		if isImageName(n) && !strings.HasPrefix(path.Base(n), ".") {
			names = append(names, n)
		}
	}
	num := func(n string) (int, bool) {
		b := path.Base(n)
		v, err := strconv.Atoi(strings.TrimSuffix(b, path.Ext(b)))
		return v, err == nil
	}
	allNum := true
	for _, n := range names {
		if _, ok := num(n); !ok {
			allNum = false
			break
		}
	}
	if allNum {
		sort.SliceStable(names, func(i, j int) bool {
			a, _ := num(names[i])
			b, _ := num(names[j])
			return a < b
		})
	}
	return names
}

// FFHQOptions are the settings of FFHQ (nvae-prep ffhq).
type FFHQOptions struct {
	ImgPath  string `flag:"ffhq_img_path" help:"FFHQ images1024x1024 folder or zip (required)"`
	LMDBPath string `flag:"ffhq_lmdb_path" help:"target folder for the LMDB (required)"`
	Split    string `flag:"split" help:"train or validation"`
	Seed     uint64 `flag:"seed" help:"seed of the train/validation permutation (first run only)"`
}

// FFHQ resizes the FFHQ images to 256x256 (Pillow's bilinear filter) and
// stores them raw in LMDBPath/<Split>.lmdb like the official
// create_ffhq_lmdb.py, with a seeded train/validation permutation saved as
// train_test_ind.json.
func FFHQ(e *Env, o FFHQOptions) error {
	if o.Split != "train" && o.Split != "validation" {
		return optionf("--split must be train or validation, not %q", o.Split)
	}
	if o.ImgPath == "" || o.LMDBPath == "" {
		return optionf("--ffhq_img_path and --ffhq_lmdb_path are required")
	}
	set, err := openFileSet(o.ImgPath)
	if err != nil {
		return err
	}
	defer set.Close()
	files := imageFiles(set)
	if len(files) == 0 {
		return fmt.Errorf("%s: no PNG or JPG images found", o.ImgPath)
	}
	nTrain := int(math.Round(float64(len(files)) * 0.9))
	if len(files) == 70000 {
		nTrain = 63000
	}
	indPath := filepath.Join(o.LMDBPath, "train_test_ind.json")
	ind, reused, err := loadOrMakeIndex(indPath, len(files), nTrain, o.Seed, files)
	if err != nil {
		return err
	}
	sel := ind.Train
	if o.Split == "validation" {
		sel = ind.Test
	}
	return writeSplit(e, o.LMDBPath, o.Split, "ffhq", func(w *lmdbio.Writer, m *Manifest) error {
		if !reused {
			if err := writeJSON(indPath, ind); err != nil {
				return err
			}
		}
		m.Format = "raw-hwc-uint8"
		m.ImageSize = []int{256, 256, 3}
		return resizeInto(e, w, m, set, files, sel, "ffhq "+o.Split, func(img *imgproc.RGB) *imgproc.RGB {
			return imgproc.Resize(img, 256, 256)
		})
	})
}

// resizeInto decodes files[sel[k]] in parallel, transforms them and
// appends the raw pixels in order.
func resizeInto(e *Env, w *lmdbio.Writer, m *Manifest, set fileSet, files []string, sel []int, label string, tf func(*imgproc.RGB) *imgproc.RGB) error {
	type out struct {
		pix []byte
		src Source
	}
	p := progress.New(e.Stderr, label, "images", len(sel))
	_, isZip := set.(*zipSet)
	if isZip {
		s, err := hashFile(set.(*zipSet).path)
		if err != nil {
			return err
		}
		m.Sources = append(m.Sources, s)
	}
	err := ordered(len(sel), func(k int) (out, error) {
		name := files[sel[k]]
		b, err := set.Read(name)
		if err != nil {
			return out{}, err
		}
		img, err := imgproc.Decode(b)
		if err != nil {
			return out{}, fmt.Errorf("%s: unreadable image: %w", set.Path(name), err)
		}
		r := tf(img)
		o := out{pix: r.Pix}
		if !isZip {
			o.src = hashBytes(set.Path(name), b)
		}
		return o, nil
	}, func(k int, o out) error {
		if !isZip {
			m.Sources = append(m.Sources, o.src)
		}
		p.Add(1)
		return w.Append(o.pix)
	})
	m.Seconds = p.Done()
	return err
}

// ImagesOptions are the settings of Images (nvae-prep images).
type ImagesOptions struct {
	Src           string  `flag:"src" help:"image folder or zip (required)"`
	LMDBPath      string  `flag:"lmdb_path" help:"target folder for the LMDBs (required)"`
	Size          int     `flag:"size" help:"output image side N (required)"`
	ValidFraction float64 `flag:"valid_fraction" help:"fraction of images for validation.lmdb (0 for none)"`
	Seed          uint64  `flag:"seed" help:"seed of the train/validation permutation"`
}

// Images builds a custom dataset from a folder or zip of images: shorter
// side resized to Size, centre crop, raw HWC RGB in LMDBPath/train.lmdb and
// validation.lmdb (split by a seeded permutation saved as split_ind.json).
func Images(e *Env, o ImagesOptions) error {
	if o.Src == "" || o.LMDBPath == "" || o.Size <= 0 {
		return optionf("--src, --lmdb_path and a positive --size are required")
	}
	if o.ValidFraction < 0 || o.ValidFraction >= 1 {
		return optionf("--valid_fraction must be in [0, 1), not %v", o.ValidFraction)
	}
	set, err := openFileSet(o.Src)
	if err != nil {
		return err
	}
	defer set.Close()
	files := imageFiles(set)
	if len(files) == 0 {
		return fmt.Errorf("%s: no images found", o.Src)
	}
	nValid := int(math.Round(float64(len(files)) * o.ValidFraction))
	if o.ValidFraction > 0 && nValid == 0 {
		nValid = 1
	}
	if nValid >= len(files) {
		return fmt.Errorf("%s: %d images are too few for a validation fraction of %v", o.Src, len(files), o.ValidFraction)
	}
	perm := data.Permutation(o.Seed, 0, len(files))
	ind := &SplitIndex{Seed: o.Seed, Count: len(files), Files: files, Train: perm[:len(files)-nValid], Test: perm[len(files)-nValid:]}
	n := o.Size
	tf := func(img *imgproc.RGB) *imgproc.RGB {
		r := imgproc.ResizeShorter(img, n)
		x0 := int(math.RoundToEven(float64(r.W-n) / 2))
		y0 := int(math.RoundToEven(float64(r.H-n) / 2))
		return r.Crop(x0, y0, x0+n, y0+n)
	}
	cleanup, err := outDir(o.LMDBPath)
	if err != nil {
		return err
	}
	splits := []struct {
		name string
		sel  []int
	}{{"train", ind.Train}, {"validation", ind.Test}}
	for _, s := range splits {
		if len(s.sel) == 0 {
			continue
		}
		err := writeSplit(e, o.LMDBPath, s.name, "images", func(w *lmdbio.Writer, m *Manifest) error {
			m.Format = "raw-hwc-uint8"
			m.ImageSize = []int{n, n, 3}
			if err := resizeInto(e, w, m, set, files, s.sel, "images "+s.name, tf); err != nil {
				return err
			}
			return writeJSON(filepath.Join(o.LMDBPath, "split_ind.json"), ind)
		})
		if err != nil {
			cleanup(true)
			return err
		}
	}
	return nil
}
