package convert

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/nvaego/nvae/internal/progress"
	"github.com/nvaego/nvae/pkg/data/cifar"
	"github.com/nvaego/nvae/pkg/data/idx"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
	"github.com/nvaego/nvae/pkg/fsutil"
	"github.com/nvaego/nvae/pkg/imgutil"

	nvdata "github.com/nvaego/nvae/pkg/data"
)

// lmdbDirs returns dir itself when it is an LMDB environment, else its
// subfolders that are (sorted).
func lmdbDirs(dir string, suffix string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "data.mdb")); err == nil {
		return []string{dir}, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasSuffix(e.Name(), suffix) {
			if _, err := os.Stat(filepath.Join(dir, e.Name(), "data.mdb")); err == nil {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// LSUNOptions are the settings of LSUN: the folder (nvae-prep's argument)
// and the check switch.
type LSUNOptions struct {
	Dir   string
	Check bool `flag:"check" help:"decode every image and report the first unreadable one"`
}

// LSUN lists the LSUN class LMDBs in Dir with their counts; with Check it
// decodes every image and reports the first unreadable one.
func LSUN(e *Env, o LSUNOptions) error {
	dir, check := o.Dir, o.Check
	dirs, err := lmdbDirs(dir, "_lmdb")
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("%s: no LSUN *_lmdb environments found", dir)
	}
	for _, d := range dirs {
		r, err := lmdbio.Open(d)
		if err != nil {
			return err
		}
		if !check {
			fmt.Fprintf(e.Stdout, "%s: %d images\n", d, r.Len())
			r.Close()
			continue
		}
		keys, err := r.Keys()
		if err != nil {
			r.Close()
			return err
		}
		p := progress.New(e.Stderr, "lsun --check "+filepath.Base(d), "images", len(keys))
		minW, minH, maxW, maxH := 1<<30, 1<<30, 0, 0
		err = ordered(len(keys), func(i int) ([2]int, error) {
			v, err := r.Get(keys[i], nil)
			if err != nil {
				return [2]int{}, err
			}
			m, err := imgproc.Decode(v)
			if err != nil {
				return [2]int{}, fmt.Errorf("%s: key %q: unreadable image: %w", d, keys[i], err)
			}
			return [2]int{m.W, m.H}, nil
		}, func(i int, s [2]int) error {
			minW, minH, maxW, maxH = min(minW, s[0]), min(minH, s[1]), max(maxW, s[0]), max(maxH, s[1])
			p.Add(1)
			return nil
		})
		p.Done()
		r.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s: %d images ok, width %d..%d, height %d..%d\n", d, len(keys), minW, maxW, minH, maxH)
	}
	return nil
}

// InspectOptions are the settings of Inspect: the folder (nvae-prep's
// argument) and the grid file.
type InspectOptions struct {
	Dir string
	Out string `flag:"out" help:"grid PNG path (default DIR/grid.png)"`
}

// Inspect prints the number of images per split and the image size of a
// prepared dataset folder and writes an 8x8 PNG grid of the first 64
// images to Out (default Dir/grid.png).
func Inspect(e *Env, o InspectOptions) error {
	dir, out := o.Dir, o.Out
	if out == "" {
		out = filepath.Join(dir, "grid.png")
	}
	var first []*imgproc.RGB
	found := false
	// MNIST and CIFAR-10 in their distribution formats.
	for _, sp := range []struct{ name, pre string }{{"train", "train"}, {"test", "t10k"}} {
		p, err := nvdata.FindMNIST(dir, sp.pre+"-images-idx3-ubyte")
		if err != nil {
			continue
		}
		f, err := idx.ReadFile(p)
		if err != nil {
			return err
		}
		found = true
		fmt.Fprintf(e.Stdout, "mnist %s: %d images, %dx%d gray (%s)\n", sp.name, f.Dims[0], f.Dims[2], f.Dims[1], p)
		for i := 0; i < f.Dims[0] && len(first) < 64; i++ {
			m := imgproc.NewRGB(28, 28)
			for k := range 784 {
				v := f.Data[i*784+k]
				m.Pix[3*k], m.Pix[3*k+1], m.Pix[3*k+2] = v, v, v
			}
			first = append(first, m)
		}
	}
	for _, train := range []bool{true, false} {
		s, err := cifar.Load(dir, train)
		if err != nil {
			continue
		}
		found = true
		fmt.Fprintf(e.Stdout, "cifar10 %s: %d images, 32x32 RGB\n", map[bool]string{true: "train", false: "test"}[train], s.Len())
		for i := 0; i < s.Len() && len(first) < 64; i++ {
			m := imgproc.NewRGB(32, 32)
			for k := range 1024 {
				for c := range 3 {
					m.Pix[3*k+c] = s.Images[i*cifar.ImageBytes+c*1024+k]
				}
			}
			first = append(first, m)
		}
	}
	var envs []string
	for _, sp := range []string{"train", "validation", "test"} {
		if _, err := os.Stat(filepath.Join(dir, sp+".lmdb", "data.mdb")); err == nil {
			envs = append(envs, filepath.Join(dir, sp+".lmdb"))
		}
	}
	lsun, _ := lmdbDirs(dir, "_lmdb")
	if len(lsun) == 1 && lsun[0] == dir {
		lsun = nil
		envs = append(envs, dir)
	}
	envs = append(envs, lsun...)
	for _, d := range envs {
		r, err := lmdbio.Open(d)
		if err != nil {
			return err
		}
		found = true
		keys, err := r.Keys()
		if err != nil {
			r.Close()
			return err
		}
		desc := "empty"
		for i := 0; i < len(keys) && (i == 0 || len(first) < 64); i++ {
			v, err := r.Get(keys[i], nil)
			if err != nil {
				r.Close()
				return err
			}
			var m *imgproc.RGB
			if c, format, err := imgproc.DecodeConfig(v); err == nil {
				if i == 0 {
					desc = fmt.Sprintf("%s %dx%d", format, c.Width, c.Height)
				}
				if m, err = imgproc.Decode(v); err != nil {
					r.Close()
					return fmt.Errorf("%s: key %q: unreadable image: %w", d, keys[i], err)
				}
			} else if m, err = imgproc.FromRaw(v); err == nil {
				if i == 0 {
					desc = fmt.Sprintf("raw %dx%d RGB", m.W, m.H)
				}
			} else {
				r.Close()
				return fmt.Errorf("%s: key %q: neither an encoded image nor raw square RGB (%d bytes)", d, keys[i], len(v))
			}
			if len(first) < 64 {
				first = append(first, m)
			}
		}
		if err := checkAll(r, strings.HasSuffix(d, ".lmdb")); err != nil {
			r.Close()
			return err
		}
		fmt.Fprintf(e.Stdout, "%s: %d images, %s\n", d, r.Len(), desc)
		r.Close()
	}
	if !found {
		return fmt.Errorf("%s: no dataset found (no *.lmdb, *_lmdb, MNIST or CIFAR-10 files)", dir)
	}
	if len(first) == 0 {
		return nil
	}
	// One size for the grid: the first image's.
	ims := make([]image.Image, min(64, len(first)))
	for i := range ims {
		m := first[i]
		if m.W != first[0].W || m.H != first[0].H {
			m = imgproc.Resize(m, first[0].W, first[0].H)
		}
		ims[i] = m.Image()
	}
	var b bytes.Buffer
	if err := png.Encode(&b, imgutil.GridOf(ims, min(8, len(ims)))); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(out, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "grid of %d images: %s\n", len(first), out)
	return nil
}

// checkAll scans every entry: all raw values must have the first one's
// length, encoded ones a readable header; with numbered, the keys must be
// exactly "0".."N-1" (the layout of nvae-prep and the official scripts).
func checkAll(r *lmdbio.Reader, numbered bool) error {
	rawLen := -1
	seen := make([]bool, r.Len())
	return r.ForEach(func(k, v []byte) error {
		if numbered {
			i, err := strconv.Atoi(string(k))
			if err != nil || i < 0 || i >= len(seen) || seen[i] || strconv.Itoa(i) != string(k) {
				return fmt.Errorf("%s: key %q is not a decimal index in [0,%d)", r.Path(), k, len(seen))
			}
			seen[i] = true
		}
		if _, _, err := imgproc.DecodeConfig(v); err == nil {
			return nil
		}
		if _, err := imgproc.FromRaw(v); err != nil {
			return fmt.Errorf("%s: key %q: neither an encoded image nor raw square RGB (%d bytes)", r.Path(), k, len(v))
		}
		if rawLen >= 0 && len(v) != rawLen {
			return fmt.Errorf("%s: key %q: raw image of %d bytes, others have %d", r.Path(), k, len(v), rawLen)
		}
		rawLen = len(v)
		return nil
	})
}
