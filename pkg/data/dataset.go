// Package data loads NVAE's datasets: the official --dataset names with
// their official transforms, over the files nvae-prep writes (MNIST idx
// gz, CIFAR-10 binary batches, LMDB environments, LSUN LMDBs), plus a
// deterministic, sharded, prefetching batch loader.
package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/nvaego/nvae/pkg/data/cifar"
	"github.com/nvaego/nvae/pkg/data/idx"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
)

// Dataset is an indexed collection of images of one fixed shape.
type Dataset interface {
	// Len returns the number of samples.
	Len() int
	// Shape returns channels, height and width of every sample.
	Shape() (c, h, w int)
	// Load writes sample i, transformed with randomness drawn only from
	// r, to dst (len c*h*w) as CHW float32 in [0, 1].
	Load(i int, r *Rand, dst []float32) error
}

// Split selects the training, validation or test part of a dataset.
type Split int

// Splits. Validation is what the official code evaluates on (MNIST and
// CIFAR-10's test sets, the validation.lmdb environments).
const (
	Train Split = iota
	Validation
	Test
)

func (s Split) String() string {
	return [...]string{"train", "validation", "test"}[s]
}

// Names lists the dataset names Open accepts (LSUN takes a size suffix).
var Names = []string{"mnist", "stacked_mnist", "cifar10", "celeba_64", "celeba_256",
	"imagenet_32", "imagenet_64", "ffhq", "lsun_bedroom_N", "lsun_church_N", "lsun_tower_N"}

// Open returns the dataset called name (an official --dataset value)
// stored under dir, with the official transforms for the split.
func Open(name, dir string, split Split) (Dataset, error) {
	train := split == Train
	switch {
	case name == "mnist":
		return OpenMNIST(dir, train, true)
	case name == "stacked_mnist":
		return OpenStackedMNIST(dir, train, 0)
	case name == "cifar10":
		s, err := cifar.Load(dir, train)
		if err != nil {
			return nil, err
		}
		return &CIFAR10{set: s, flip: train}, nil
	case name == "celeba_64":
		return OpenLMDB(filepath.Join(dir, lmdbName(split)), Transform{Encoded: true, CropCelebA64: true, Size: 64, Flip: train})
	case name == "celeba_256":
		return OpenLMDB(filepath.Join(dir, lmdbName(split)), Transform{Size: 256, Flip: train})
	case name == "imagenet_32", name == "imagenet_64":
		size, _ := strconv.Atoi(name[len("imagenet_"):])
		return OpenLMDB(filepath.Join(dir, lmdbName(split)), Transform{Size: size, Flip: train})
	case name == "ffhq":
		return OpenLMDB(filepath.Join(dir, lmdbName(split)), Transform{Size: 256, Flip: train})
	case strings.HasPrefix(name, "lsun_"):
		parts := strings.Split(name, "_")
		size, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil || size <= 0 || len(parts) != 3 {
			return nil, fmt.Errorf("data: dataset %q: want lsun_<bedroom|church|tower>_<size>", name)
		}
		class := map[string]string{"bedroom": "bedroom", "church": "church_outdoor", "tower": "tower"}[parts[1]]
		if class == "" {
			return nil, fmt.Errorf("data: dataset %q: unknown LSUN category %q", name, parts[1])
		}
		sfx := "train"
		if !train {
			sfx = "val"
		}
		return OpenLSUN(filepath.Join(dir, class+"_"+sfx+"_lmdb"), size, train)
	case name == "omniglot":
		return nil, fmt.Errorf("data: dataset omniglot is not supported yet (needs a MATLAB chardata.mat reader)")
	}
	return nil, fmt.Errorf("data: unknown dataset %q (known: %s)", name, strings.Join(Names, ", "))
}

func lmdbName(s Split) string { return s.String() + ".lmdb" }

// MNIST file names inside the layout nvae-prep writes:
// DIR/MNIST/raw/<name>.gz (torchvision's layout).
var MNISTFiles = []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

// MNISTRawDir is where nvae-prep mnist puts the idx files below --data.
const MNISTRawDir = "MNIST/raw"

// FindMNIST locates an MNIST idx file (gzipped or not) below dir, looking
// in dir/MNIST/raw, dir/raw and dir.
func FindMNIST(dir, name string) (string, error) {
	for _, d := range []string{filepath.Join(dir, MNISTRawDir), filepath.Join(dir, "raw"), dir} {
		for _, ext := range []string{".gz", ""} {
			p := filepath.Join(d, name+ext)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("mnist: %s(.gz) not found in %s", name, filepath.Join(dir, MNISTRawDir))
}

// MNIST is the 28x28 digit set padded to 32x32, one channel; with
// Binarize each load draws fresh Bernoulli pixels (the official
// transform for training and evaluation).
type MNIST struct {
	images   []byte
	n        int
	Binarize bool
	Labels   []byte
}

func loadMNIST(dir string, train bool) ([]byte, []byte, int, error) {
	pre := "t10k"
	if train {
		pre = "train"
	}
	ip, err := FindMNIST(dir, pre+"-images-idx3-ubyte")
	if err != nil {
		return nil, nil, 0, err
	}
	lp, err := FindMNIST(dir, pre+"-labels-idx1-ubyte")
	if err != nil {
		return nil, nil, 0, err
	}
	im, err := idx.ReadFile(ip)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mnist: %w", err)
	}
	lb, err := idx.ReadFile(lp)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mnist: %w", err)
	}
	if len(im.Dims) != 3 || im.Dims[1] != 28 || im.Dims[2] != 28 {
		return nil, nil, 0, fmt.Errorf("mnist: %s: dimensions %v, want [N 28 28]", ip, im.Dims)
	}
	if len(lb.Dims) != 1 || lb.Dims[0] != im.Dims[0] {
		return nil, nil, 0, fmt.Errorf("mnist: %s: %v labels for %d images", lp, lb.Dims, im.Dims[0])
	}
	return im.Data, lb.Data, im.Dims[0], nil
}

// OpenMNIST loads the training (60,000) or test (10,000) digits.
func OpenMNIST(dir string, train, binarize bool) (*MNIST, error) {
	im, lb, n, err := loadMNIST(dir, train)
	if err != nil {
		return nil, err
	}
	return &MNIST{images: im, n: n, Binarize: binarize, Labels: lb}, nil
}

// Len implements Dataset.
func (m *MNIST) Len() int { return m.n }

// Shape implements Dataset.
func (m *MNIST) Shape() (int, int, int) { return 1, 32, 32 }

// Load implements Dataset: pad 2, ToTensor, then Bernoulli(p) per pixel.
func (m *MNIST) Load(i int, r *Rand, dst []float32) error {
	if i < 0 || i >= m.n {
		return fmt.Errorf("mnist: index %d out of range [0,%d)", i, m.n)
	}
	clear(dst[:32*32])
	src := m.images[i*784 : (i+1)*784]
	for y := range 28 {
		row := dst[(y+2)*32+2:]
		for x := range 28 {
			p := imgproc.Unit[src[y*28+x]]
			if m.Binarize {
				if r.Float32() < p {
					p = 1
				} else {
					p = 0
				}
			}
			row[x] = p
		}
	}
	// The padding is 0 and stays 0 under Bernoulli(0).
	return nil
}

// StackedMNIST stacks three MNIST digits as the R, G and B channels
// (padded to 32x32, not binarised); 2N samples, the digit triples fixed by
// a seeded permutation (the official code draws them unseeded).
type StackedMNIST struct {
	images []byte
	index  [][3]int
}

// OpenStackedMNIST builds the stacked set with permutations from seed.
func OpenStackedMNIST(dir string, train bool, seed uint64) (*StackedMNIST, error) {
	im, _, n, err := loadMNIST(dir, train)
	if err != nil {
		return nil, err
	}
	s := &StackedMNIST{images: im, index: make([][3]int, 2*n)}
	for c := range 3 {
		p := append(Permutation(seed, 2*c, n), Permutation(seed, 2*c+1, n)...)
		for i := range s.index {
			s.index[i][c] = p[i]
		}
	}
	return s, nil
}

// Len implements Dataset.
func (s *StackedMNIST) Len() int { return len(s.index) }

// Shape implements Dataset.
func (s *StackedMNIST) Shape() (int, int, int) { return 3, 32, 32 }

// Load implements Dataset.
func (s *StackedMNIST) Load(i int, r *Rand, dst []float32) error {
	if i < 0 || i >= len(s.index) {
		return fmt.Errorf("stacked_mnist: index %d out of range", i)
	}
	clear(dst[:3*1024])
	for c := range 3 {
		src := s.images[s.index[i][c]*784:]
		for y := range 28 {
			for x := range 28 {
				dst[c*1024+(y+2)*32+2+x] = imgproc.Unit[src[y*28+x]]
			}
		}
	}
	return nil
}

// CIFAR10 is the 32x32 RGB set; training samples are flipped at random.
type CIFAR10 struct {
	set  *cifar.Set
	flip bool
}

// Len implements Dataset.
func (c *CIFAR10) Len() int { return c.set.Len() }

// Shape implements Dataset.
func (c *CIFAR10) Shape() (int, int, int) { return 3, 32, 32 }

// Load implements Dataset.
func (c *CIFAR10) Load(i int, r *Rand, dst []float32) error {
	if i < 0 || i >= c.set.Len() {
		return fmt.Errorf("cifar10: index %d out of range", i)
	}
	src := c.set.Images[i*cifar.ImageBytes : (i+1)*cifar.ImageBytes]
	flip := c.flip && r.Coin()
	for p := range 3 * 32 {
		row := src[p*32 : p*32+32]
		out := dst[p*32 : p*32+32]
		if flip {
			for x := range 32 {
				out[x] = imgproc.Unit[row[31-x]]
			}
		} else {
			for x := range 32 {
				out[x] = imgproc.Unit[row[x]]
			}
		}
	}
	return nil
}

// Transform describes the official per-sample pipeline of an LMDB
// dataset.
type Transform struct {
	Encoded      bool // values are encoded images (else raw square HWC RGB)
	CropCelebA64 bool // crop (15, 40, 163, 188) first
	Size         int  // Resize(Size): shorter side to Size
	Crop         bool // then a Size x Size crop: random (train) or centre
	RandomCrop   bool
	Flip         bool // random horizontal flip
}

// apply runs the transform on a decoded image.
func (t Transform) apply(m *imgproc.RGB, r *Rand) *imgproc.RGB {
	if t.CropCelebA64 {
		m = m.Crop(15, 40, 178-15, 218-30)
	}
	if t.Size > 0 {
		m = imgproc.ResizeShorter(m, t.Size)
	}
	if t.Crop {
		var x0, y0 int
		if t.RandomCrop {
			y0 = r.IntN(m.H - t.Size + 1)
			x0 = r.IntN(m.W - t.Size + 1)
		} else {
			// torchvision CenterCrop: int(round((h - th) / 2.0)).
			y0 = roundHalfEven(float64(m.H-t.Size) / 2)
			x0 = roundHalfEven(float64(m.W-t.Size) / 2)
		}
		m = m.Crop(x0, y0, x0+t.Size, y0+t.Size)
	}
	if t.Flip && r.Coin() {
		// m is always this sample's own copy, so flipping in place is safe.
		m.FlipH()
	}
	return m
}

// roundHalfEven rounds like Python 3's round().
func roundHalfEven(x float64) int {
	f := float64(int(x))
	d := x - f
	switch {
	case d > 0.5:
		return int(f) + 1
	case d < 0.5:
		return int(f)
	}
	if int(f)%2 == 0 {
		return int(f)
	}
	return int(f) + 1
}

// LMDB is a dataset stored as an LMDB environment with keys "0".."N-1"
// (what nvae-prep writes, like the official scripts).
type LMDB struct {
	r       *lmdbio.Reader
	t       Transform
	c, h, w int
	bufs    sync.Pool
}

// OpenLMDB opens the environment at dir. The sample shape is taken from
// the transform's size, or from the first value when it has none.
func OpenLMDB(dir string, t Transform) (*LMDB, error) {
	r, err := lmdbio.Open(dir)
	if err != nil {
		return nil, err
	}
	d := &LMDB{r: r, t: t, c: 3, h: t.Size, w: t.Size}
	if r.Len() == 0 {
		r.Close()
		return nil, fmt.Errorf("lmdb %s: no entries", dir)
	}
	if t.Size == 0 || (!t.Crop && !t.CropCelebA64 && !t.Encoded) {
		// Raw square images: Resize(Size) keeps them square.
		m, err := d.decode(0)
		if err != nil {
			r.Close()
			return nil, err
		}
		if t.Size == 0 {
			d.h, d.w = m.H, m.W
		}
	}
	return d, nil
}

// Close releases the environment.
func (d *LMDB) Close() error { return d.r.Close() }

// Len implements Dataset.
func (d *LMDB) Len() int { return d.r.Len() }

// Shape implements Dataset.
func (d *LMDB) Shape() (int, int, int) { return d.c, d.h, d.w }

func (d *LMDB) decode(i int) (*imgproc.RGB, error) {
	var buf []byte
	if d.t.Encoded {
		// Encoded bytes are dead after decoding: reuse their buffers.
		if v, ok := d.bufs.Get().(*[]byte); ok {
			buf = *v
		}
	}
	v, err := d.r.GetIndex(i, buf)
	if err != nil {
		return nil, err
	}
	var m *imgproc.RGB
	if d.t.Encoded {
		m, err = imgproc.Decode(v)
		d.bufs.Put(&v)
	} else {
		m, err = imgproc.FromRaw(v)
	}
	if err != nil {
		return nil, fmt.Errorf("lmdb %s: key %q: %w", d.r.Path(), strconv.Itoa(i), err)
	}
	return m, nil
}

// Load implements Dataset.
func (d *LMDB) Load(i int, r *Rand, dst []float32) error {
	if i < 0 || i >= d.r.Len() {
		return fmt.Errorf("lmdb %s: index %d out of range [0,%d)", d.r.Path(), i, d.r.Len())
	}
	m, err := d.decode(i)
	if err != nil {
		return err
	}
	m = d.t.apply(m, r)
	if m.W != d.w || m.H != d.h {
		return fmt.Errorf("lmdb %s: key %q: image is %dx%d after transforms, want %dx%d", d.r.Path(), strconv.Itoa(i), m.W, m.H, d.w, d.h)
	}
	m.ToCHW(dst)
	return nil
}

// LSUN reads an LSUN class LMDB directly (keys are image hashes, values
// WebP or JPEG), in the key order of the database, with the official
// transforms: Resize(size), then RandomCrop(size) and a random flip for
// training or CenterCrop(size) for validation.
type LSUN struct {
	r    *lmdbio.Reader
	keys [][]byte
	t    Transform
}

// OpenLSUN opens one class directory such as bedroom_train_lmdb.
func OpenLSUN(dir string, size int, train bool) (*LSUN, error) {
	r, err := lmdbio.Open(dir)
	if err != nil {
		return nil, err
	}
	keys, err := r.Keys()
	if err != nil {
		r.Close()
		return nil, err
	}
	if len(keys) == 0 {
		r.Close()
		return nil, fmt.Errorf("lsun %s: no entries", dir)
	}
	return &LSUN{r: r, keys: keys, t: Transform{Encoded: true, Size: size, Crop: true, RandomCrop: train, Flip: train}}, nil
}

// Close releases the environment.
func (l *LSUN) Close() error { return l.r.Close() }

// Len implements Dataset.
func (l *LSUN) Len() int { return len(l.keys) }

// Shape implements Dataset.
func (l *LSUN) Shape() (int, int, int) { return 3, l.t.Size, l.t.Size }

// Load implements Dataset.
func (l *LSUN) Load(i int, r *Rand, dst []float32) error {
	if i < 0 || i >= len(l.keys) {
		return fmt.Errorf("lsun %s: index %d out of range", l.r.Path(), i)
	}
	v, err := l.r.Get(l.keys[i], nil)
	if err != nil {
		return err
	}
	m, err := imgproc.Decode(v)
	if err != nil {
		return fmt.Errorf("lsun %s: key %q: %w", l.r.Path(), l.keys[i], err)
	}
	m = l.t.apply(m, r)
	m.ToCHW(dst)
	return nil
}
