package convert

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nvaego/nvae/internal/progress"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
)

// celebaOfficial are the split sizes of the official partition file.
var celebaOfficial = map[string]int{"train": 162770, "valid": 19867, "test": 19962}

const celebaTotal = 202599

// CelebA64Options are the settings of CelebA64 (nvae-prep celeba64; the
// tags name its flags).
type CelebA64Options struct {
	Split    string `flag:"split" help:"split: train, valid or test"`
	ImgPath  string `flag:"img_path" help:"folder holding the CelebA files (required)"`
	LMDBPath string `flag:"lmdb_path" help:"target folder for the LMDB environments (required)"`
}

// CelebA64 stores the original aligned CelebA JPEGs of one split, in the
// order of list_eval_partition, under keys "0", "1", ... like the official
// create_celeba64_lmdb.py; every JPEG is decoded once to verify it.
func CelebA64(e *Env, o CelebA64Options) error {
	code, ok := map[string]string{"train": "0", "valid": "1", "test": "2"}[o.Split]
	if !ok {
		return optionf("--split must be train, valid or test, not %q", o.Split)
	}
	if o.ImgPath == "" || o.LMDBPath == "" {
		return optionf("--img_path and --lmdb_path are required")
	}
	partPath, images, err := findCelebA(o.ImgPath)
	if err != nil {
		return err
	}
	defer images.Close()
	names, total, err := readPartition(partPath, code)
	if err != nil {
		return err
	}
	if total == celebaTotal && len(names) != celebaOfficial[o.Split] {
		return fmt.Errorf("%s: split %s has %d images, the official partition has %d", partPath, o.Split, len(names), celebaOfficial[o.Split])
	}
	if len(names) == 0 {
		return fmt.Errorf("%s: no images in split %s", partPath, o.Split)
	}
	// Map partition names to files in the set by base name.
	byBase := map[string]string{}
	for _, n := range images.Names() {
		byBase[path.Base(n)] = n
	}
	lmdbSplit := map[string]string{"train": "train", "valid": "validation", "test": "test"}[o.Split]
	return writeSplit(e, o.LMDBPath, lmdbSplit, "celeba64", func(w *lmdbio.Writer, m *Manifest) error {
		m.Format = "jpeg"
		m.Split = o.Split
		ps, err := hashFile(partPath)
		if err != nil {
			return err
		}
		m.Sources = append(m.Sources, ps)
		_, isZip := images.(*zipSet)
		if isZip {
			zs, err := hashFile(images.(*zipSet).path)
			if err != nil {
				return err
			}
			m.Sources = append(m.Sources, zs)
		}
		p := progress.New(e.Stderr, "celeba64 "+o.Split, "images", len(names))
		err = ordered(len(names), func(i int) ([]byte, error) {
			full, ok := byBase[names[i]]
			if !ok {
				return nil, fmt.Errorf("%s: line %d: image %s not found in %s", partPath, i+1, names[i], o.ImgPath)
			}
			b, err := images.Read(full)
			if err != nil {
				return nil, err
			}
			if _, err := imgproc.Decode(b); err != nil {
				return nil, fmt.Errorf("%s: unreadable image: %w", images.Path(full), err)
			}
			return b, nil
		}, func(i int, b []byte) error {
			if i == 0 {
				if c, _, err := imgproc.DecodeConfig(b); err == nil {
					m.ImageSize = []int{c.Height, c.Width, 3}
				}
			}
			if !isZip {
				m.Sources = append(m.Sources, hashBytes(images.Path(byBase[names[i]]), b))
			}
			p.Add(1)
			return w.Append(b)
		})
		m.Seconds = p.Done()
		return err
	})
}

// findCelebA locates the partition file and the image folder or zip in
// root or root/celeba.
func findCelebA(root string) (string, fileSet, error) {
	var part string
	var set fileSet
	for _, d := range []string{root, filepath.Join(root, "celeba")} {
		if part == "" {
			for _, n := range []string{"list_eval_partition.txt", "list_eval_partition.csv"} {
				if _, err := os.Stat(filepath.Join(d, n)); err == nil {
					part = filepath.Join(d, n)
					break
				}
			}
		}
		if set == nil {
			for _, n := range []string{"img_align_celeba", "img_align_celeba.zip"} {
				if _, err := os.Stat(filepath.Join(d, n)); err == nil {
					s, err := openFileSet(filepath.Join(d, n))
					if err != nil {
						return "", nil, err
					}
					set = s
					break
				}
			}
		}
	}
	if set == nil {
		return "", nil, fmt.Errorf("%s: neither img_align_celeba/ nor img_align_celeba.zip found (also looked in %s)", root, filepath.Join(root, "celeba"))
	}
	if part == "" {
		set.Close()
		return "", nil, fmt.Errorf("%s: partition file list_eval_partition.txt missing (also looked in %s)", root, filepath.Join(root, "celeba"))
	}
	return part, set, nil
}

// readPartition returns, in file order, the image names whose partition
// code equals code, and the total number of entries.
func readPartition(p, code string) ([]string, int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, 0, err
	}
	var names []string
	total := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || (line == 1 && strings.HasPrefix(s, "image_id")) {
			continue
		}
		f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
		if len(f) != 2 || (f[1] != "0" && f[1] != "1" && f[1] != "2") {
			return nil, 0, fmt.Errorf("%s: line %d: want \"<file> <0|1|2>\", got %q", p, line, s)
		}
		total++
		if f[1] == code {
			names = append(names, f[0])
		}
	}
	return names, total, sc.Err()
}
