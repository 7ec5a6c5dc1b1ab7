package main

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

	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
)

// splitIndex is the saved train/test permutation (train_test_ind.json).
type splitIndex struct {
	Seed  uint64   `json:"seed"`
	Count int      `json:"count"`
	Files []string `json:"files,omitempty"`
	Train []int    `json:"train"`
	Test  []int    `json:"test"`
}

// loadOrMakeIndex reuses the index saved at p (checking it fits count
// images) or draws a seeded permutation, splits it at nTrain and saves it.
func loadOrMakeIndex(p string, count, nTrain int, seed uint64, files []string) (*splitIndex, bool, error) {
	if b, err := os.ReadFile(p); err == nil {
		var s splitIndex
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
	s := &splitIndex{Seed: seed, Count: count, Files: files, Train: perm[:nTrain], Test: perm[nTrain:]}
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

func runFFHQ(args []string, e *env) error {
	fs := newFlags(e, "--ffhq_img_path P --ffhq_lmdb_path L --split train|validation [--seed S]",
		"Resizes the FFHQ images (a folder, searched recursively, or a zip; PNG or JPG) to\n"+
			"256x256 with Pillow's bilinear filter and stores them raw (HWC uint8 RGB) in\n"+
			"L/<split>.lmdb like the official create_ffhq_lmdb.py. The split (63,000/7,000 of\n"+
			"70,000; 90%/10% for other counts) is a seeded permutation saved as\n"+
			"L/train_test_ind.json by the first run and reused by the second split's run.")
	imgPath := fs.String("ffhq_img_path", "", "FFHQ images1024x1024 folder or zip (required)")
	lmdbPath := fs.String("ffhq_lmdb_path", "", "target folder for the LMDB (required)")
	split := fs.String("split", "train", "train or validation")
	seed := fs.Uint64("seed", 0, "seed of the train/validation permutation (first run only)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *split != "train" && *split != "validation" {
		return usagef("--split must be train or validation, not %q", *split)
	}
	if *imgPath == "" || *lmdbPath == "" {
		return usagef("--ffhq_img_path and --ffhq_lmdb_path are required")
	}
	set, err := openFileSet(*imgPath)
	if err != nil {
		return err
	}
	defer set.Close()
	files := imageFiles(set)
	if len(files) == 0 {
		return fmt.Errorf("%s: no PNG or JPG images found", *imgPath)
	}
	nTrain := int(math.Round(float64(len(files)) * 0.9))
	if len(files) == 70000 {
		nTrain = 63000
	}
	indPath := filepath.Join(*lmdbPath, "train_test_ind.json")
	ind, reused, err := loadOrMakeIndex(indPath, len(files), nTrain, *seed, files)
	if err != nil {
		return err
	}
	sel := ind.Train
	if *split == "validation" {
		sel = ind.Test
	}
	return writeSplit(e, args, *lmdbPath, *split, "ffhq", func(w *lmdbio.Writer, m *Manifest) error {
		if !reused {
			if err := writeJSON(indPath, ind); err != nil {
				return err
			}
		}
		m.Format = "raw-hwc-uint8"
		m.ImageSize = []int{256, 256, 3}
		return resizeInto(e, w, m, set, files, sel, "ffhq "+*split, func(img *imgproc.RGB) *imgproc.RGB {
			return imgproc.Resize(img, 256, 256)
		})
	})
}

// resizeInto decodes files[sel[k]] in parallel, transforms them and
// appends the raw pixels in order.
func resizeInto(e *env, w *lmdbio.Writer, m *Manifest, set fileSet, files []string, sel []int, label string, tf func(*imgproc.RGB) *imgproc.RGB) error {
	type out struct {
		pix []byte
		src Source
	}
	p := newProgress(e.stderr, label, "images", len(sel))
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
		p.add(1)
		return w.Append(o.pix)
	})
	m.Seconds = p.done()
	return err
}

func runImages(args []string, e *env) error {
	fs := newFlags(e, "--src DIR|ZIP --lmdb_path L --size N [--valid_fraction f] [--seed S]",
		"Builds a custom dataset from any folder (recursive) or zip of images: each image's\n"+
			"shorter side is resized to N (Pillow bilinear), the centre NxN is cut out and stored\n"+
			"raw (HWC uint8 RGB) in L/train.lmdb and, when --valid_fraction > 0, L/validation.lmdb.\n"+
			"Files are sorted by name and split by a seeded permutation saved as L/split_ind.json.\n"+
			"The loader reads it with the generic transforms (Resize N, random flip).")
	src := fs.String("src", "", "image folder or zip (required)")
	lmdbPath := fs.String("lmdb_path", "", "target folder for the LMDBs (required)")
	size := fs.Int("size", 0, "output image side N (required)")
	vf := fs.Float64("valid_fraction", 0.1, "fraction of images for validation.lmdb (0 for none)")
	seed := fs.Uint64("seed", 0, "seed of the train/validation permutation")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *src == "" || *lmdbPath == "" || *size <= 0 {
		return usagef("--src, --lmdb_path and a positive --size are required")
	}
	if *vf < 0 || *vf >= 1 {
		return usagef("--valid_fraction must be in [0, 1), not %v", *vf)
	}
	set, err := openFileSet(*src)
	if err != nil {
		return err
	}
	defer set.Close()
	files := imageFiles(set)
	if len(files) == 0 {
		return fmt.Errorf("%s: no images found", *src)
	}
	nValid := int(math.Round(float64(len(files)) * *vf))
	if *vf > 0 && nValid == 0 {
		nValid = 1
	}
	if nValid >= len(files) {
		return fmt.Errorf("%s: %d images are too few for a validation fraction of %v", *src, len(files), *vf)
	}
	perm := data.Permutation(*seed, 0, len(files))
	ind := &splitIndex{Seed: *seed, Count: len(files), Files: files, Train: perm[:len(files)-nValid], Test: perm[len(files)-nValid:]}
	n := *size
	tf := func(img *imgproc.RGB) *imgproc.RGB {
		r := imgproc.ResizeShorter(img, n)
		x0 := int(math.RoundToEven(float64(r.W-n) / 2))
		y0 := int(math.RoundToEven(float64(r.H-n) / 2))
		return r.Crop(x0, y0, x0+n, y0+n)
	}
	cleanup, err := outDir(*lmdbPath)
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
		err := writeSplit(e, args, *lmdbPath, s.name, "images", func(w *lmdbio.Writer, m *Manifest) error {
			m.Format = "raw-hwc-uint8"
			m.ImageSize = []int{n, n, 3}
			if err := resizeInto(e, w, m, set, files, s.sel, "images "+s.name, tf); err != nil {
				return err
			}
			return writeJSON(filepath.Join(*lmdbPath, "split_ind.json"), ind)
		})
		if err != nil {
			cleanup(true)
			return err
		}
	}
	return nil
}
