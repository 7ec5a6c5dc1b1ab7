package data

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nvaego/nvae/pkg/data/cifar"
	"github.com/nvaego/nvae/pkg/data/idx"
	"github.com/nvaego/nvae/pkg/data/imgproc"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
)

// fakeDS writes its index and one random draw into every sample.
type fakeDS struct{ n int }

func (f fakeDS) Len() int               { return f.n }
func (f fakeDS) Shape() (int, int, int) { return 1, 1, 2 }
func (f fakeDS) Load(i int, r *Rand, dst []float32) error {
	dst[0] = float32(i)
	dst[1] = r.Float32()
	return nil
}

func collect(t *testing.T, l *Loader, epoch, start int) []*Batch {
	t.Helper()
	it := l.Epoch(epoch, start)
	defer it.Close()
	var out []*Batch
	for {
		b, err := it.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

func TestShardingCoversEachIndexOnce(t *testing.T) {
	for _, n := range []int{1, 7, 100, 101} {
		for world := 1; world <= 4; world++ {
			if world > n {
				continue
			}
			for _, drop := range []bool{false, true} {
				seen := make([]int, n)
				counts := map[int]bool{}
				for rank := range world {
					l, err := NewLoader(fakeDS{n}, Options{BatchSize: 3, Shuffle: true, DropLast: drop, Seed: 5, Rank: rank, World: world, Workers: 2})
					if err != nil {
						t.Fatal(err)
					}
					bs := collect(t, l, 3, 0)
					if len(bs) != l.NumBatches() {
						t.Fatalf("got %d batches, NumBatches %d", len(bs), l.NumBatches())
					}
					counts[len(bs)] = true
					for _, b := range bs {
						if drop && b.N != 3 {
							t.Fatalf("drop_last batch of %d", b.N)
						}
						for k, i := range b.Indices {
							if b.X[2*k] != float32(i) {
								t.Fatal("sample/index mismatch")
							}
							seen[i]++
						}
					}
				}
				for i, c := range seen {
					if c > 1 || (!drop && c != 1) {
						t.Fatalf("n=%d world=%d drop=%v: index %d seen %d times", n, world, drop, i, c)
					}
				}
				if drop {
					if len(counts) != 1 {
						t.Fatalf("ranks disagree on batch count: %v", counts)
					}
					total := 0
					for _, c := range seen {
						total += c
					}
					if want := world * 3 * ((n / world) / 3); total != want {
						t.Fatalf("drop_last covered %d, want %d", total, want)
					}
				}
			}
		}
	}
}

func TestLoaderDeterministicAndResumable(t *testing.T) {
	mk := func(workers int) *Loader {
		l, err := NewLoader(fakeDS{50}, Options{BatchSize: 4, Shuffle: true, DropLast: true, Seed: 9, Workers: workers, Prefetch: 3})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := collect(t, mk(1), 2, 0)
	b := collect(t, mk(4), 2, 0)
	c := collect(t, mk(3), 2, 5)
	if len(a) != 12 || len(c) != 7 {
		t.Fatalf("batches %d %d", len(a), len(c))
	}
	for i := range a {
		if !slices.Equal(a[i].X, b[i].X) || !slices.Equal(a[i].Indices, b[i].Indices) || a[i].Step != i {
			t.Fatalf("batch %d differs between worker counts", i)
		}
	}
	for i := range c {
		if !slices.Equal(a[i+5].X, c[i].X) || c[i].Step != i+5 {
			t.Fatalf("resumed batch %d differs", i+5)
		}
	}
	d := collect(t, mk(2), 3, 0)
	if slices.Equal(a[0].Indices, d[0].Indices) && slices.Equal(a[1].Indices, d[1].Indices) {
		t.Fatal("epochs 2 and 3 have the same order")
	}
	// Without shuffling the order is the identity.
	l, _ := NewLoader(fakeDS{10}, Options{BatchSize: 4})
	bs := collect(t, l, 0, 0)
	if len(bs) != 3 || bs[2].N != 2 || !slices.Equal(bs[0].Indices, []int{0, 1, 2, 3}) {
		t.Fatalf("unshuffled: %d batches", len(bs))
	}
}

func TestLoaderEarlyClose(t *testing.T) {
	l, _ := NewLoader(fakeDS{1000}, Options{BatchSize: 2, Workers: 3, Prefetch: 2})
	it := l.Epoch(0, 0)
	if _, err := it.Next(); err != nil {
		t.Fatal(err)
	}
	it.Close()
	it.Close()
	if _, err := it.Next(); err != io.EOF {
		t.Fatal("Next after Close should be EOF")
	}
}

type failDS struct{ fakeDS }

func (f failDS) Load(i int, r *Rand, dst []float32) error {
	if i == 13 {
		return fmt.Errorf("sample %d is broken", i)
	}
	return f.fakeDS.Load(i, r, dst)
}

func TestLoaderError(t *testing.T) {
	l, _ := NewLoader(failDS{fakeDS{40}}, Options{BatchSize: 4, Workers: 2})
	it := l.Epoch(0, 0)
	defer it.Close()
	for {
		_, err := it.Next()
		if err == io.EOF {
			t.Fatal("error not reported")
		}
		if err != nil {
			if err.Error() != "sample 13 is broken" {
				t.Fatal(err)
			}
			return
		}
	}
}

func writeMNIST(t *testing.T, dir string, n int, pix func(i, p int) byte) {
	t.Helper()
	raw := filepath.Join(dir, MNISTRawDir)
	os.MkdirAll(raw, 0o755)
	img := make([]byte, n*784)
	for i := range n {
		for p := range 784 {
			img[i*784+p] = pix(i, p)
		}
	}
	lab := make([]byte, n)
	for _, pre := range []string{"train", "t10k"} {
		os.WriteFile(filepath.Join(raw, pre+"-images-idx3-ubyte"), idx.Encode([]int{n, 28, 28}, img), 0o644)
		os.WriteFile(filepath.Join(raw, pre+"-labels-idx1-ubyte"), idx.Encode([]int{n}, lab), 0o644)
	}
}

func TestMNISTBinarisation(t *testing.T) {
	dir := t.TempDir()
	levels := []byte{0, 32, 128, 200, 255}
	writeMNIST(t, dir, 2, func(i, p int) byte { return levels[p%len(levels)] })
	ds, err := Open("mnist", dir, Train)
	if err != nil {
		t.Fatal(err)
	}
	if c, h, w := ds.Shape(); c != 1 || h != 32 || w != 32 || ds.Len() != 2 {
		t.Fatal("shape")
	}
	const draws = 400
	sum := make([]float64, 1024)
	dst := make([]float32, 1024)
	first := make([]float32, 1024)
	for e := range draws {
		if err := ds.Load(1, NewRand(1, e, 1), dst); err != nil {
			t.Fatal(err)
		}
		if e == 0 {
			copy(first, dst)
		}
		for i, v := range dst {
			if v != 0 && v != 1 {
				t.Fatalf("non-binary value %v", v)
			}
			sum[i] += float64(v)
		}
	}
	// Per level: mean over all pixels of that level and all draws.
	acc := map[byte][2]float64{}
	for y := range 32 {
		for x := range 32 {
			v := sum[y*32+x] / draws
			if y < 2 || y >= 30 || x < 2 || x >= 30 {
				if v != 0 {
					t.Fatalf("padding pixel (%d,%d) mean %v", x, y, v)
				}
				continue
			}
			l := levels[((y-2)*28+(x-2))%len(levels)]
			a := acc[l]
			acc[l] = [2]float64{a[0] + v, a[1] + 1}
		}
	}
	for l, a := range acc {
		p := float64(l) / 255
		mean := a[0] / a[1]
		sd := math.Sqrt(p * (1 - p) / (a[1] * draws))
		if !(math.Abs(mean-p) <= 5*sd+1e-12) {
			t.Errorf("level %d: mean %v want %v (sd %v)", l, mean, p, sd)
		}
	}
	// Same (seed, epoch, index) gives the same draw; another epoch differs.
	ds.Load(1, NewRand(1, 0, 1), dst)
	if !slices.Equal(dst, first) {
		t.Fatal("binarisation not reproducible")
	}
}

func TestMNISTReal(t *testing.T) {
	dir := gomnistDir(t)
	ds, err := OpenMNIST(dir, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 10000 || ds.Labels[0] != 7 {
		t.Fatalf("len %d", ds.Len())
	}
}

func TestCIFARFlip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, cifar.Dir)
	os.MkdirAll(bin, 0o755)
	rec := make([]byte, cifar.RecordSize)
	for i := 1; i < len(rec); i++ {
		rec[i] = byte(i * 13)
	}
	for _, f := range append(slices.Clone(cifar.TrainFiles), cifar.TestFiles...) {
		os.WriteFile(filepath.Join(bin, f), rec, 0o644)
	}
	tr, err := Open("cifar10", dir, Train)
	if err != nil {
		t.Fatal(err)
	}
	va, _ := Open("cifar10", dir, Validation)
	plain := make([]float32, 3072)
	va.Load(0, NewRand(0, 0, 0), plain)
	for i := range 3072 {
		if plain[i] != imgproc.Unit[rec[1+i]] {
			t.Fatal("validation sample wrong")
		}
	}
	flips := 0
	dst := make([]float32, 3072)
	for e := range 200 {
		tr.Load(2, NewRand(3, e, 2), dst)
		if slices.Equal(dst, plain) {
			continue
		}
		flips++
		for p := range 96 {
			for x := range 32 {
				if dst[p*32+x] != plain[p*32+31-x] {
					t.Fatal("not a horizontal mirror")
				}
			}
		}
	}
	if flips < 70 || flips > 130 {
		t.Fatalf("%d flips in 200", flips)
	}
}

func celebaJPEG(t testing.TB, seed int) []byte {
	m := imgproc.NewRGB(178, 218)
	for y := range 218 {
		for x := range 178 {
			o := (y*178 + x) * 3
			m.Pix[o], m.Pix[o+1], m.Pix[o+2] = byte(x+seed), byte(y*2), byte((x*y)>>4)
		}
	}
	var b bytes.Buffer
	if err := m.EncodeJPEG(&b, 90); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeLMDB(t testing.TB, dir string, vals [][]byte) {
	w, err := lmdbio.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		w.Append(v)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestCelebA64Transform(t *testing.T) {
	dir := t.TempDir()
	var vals [][]byte
	for i := range 3 {
		vals = append(vals, celebaJPEG(t, i*40))
	}
	writeLMDB(t, filepath.Join(dir, "train.lmdb"), vals)
	writeLMDB(t, filepath.Join(dir, "validation.lmdb"), vals)
	tr, err := Open("celeba_64", dir, Train)
	if err != nil {
		t.Fatal(err)
	}
	va, _ := Open("celeba_64", dir, Validation)
	if c, h, w := tr.Shape(); c != 3 || h != 64 || w != 64 {
		t.Fatal("shape")
	}
	// Reference pipeline by hand.
	m, _ := imgproc.Decode(vals[1])
	m = imgproc.Resize(m.Crop(15, 40, 163, 188), 64, 64)
	want := make([]float32, 3*64*64)
	m.ToCHW(want)
	got := make([]float32, 3*64*64)
	va.Load(1, NewRand(0, 0, 1), got)
	if !slices.Equal(got, want) {
		t.Fatal("validation transform differs from crop+resize")
	}
	m.FlipH()
	flipped := make([]float32, 3*64*64)
	m.ToCHW(flipped)
	var nf, nn int
	for e := range 40 {
		tr.Load(1, NewRand(7, e, 1), got)
		switch {
		case slices.Equal(got, want):
			nn++
		case slices.Equal(got, flipped):
			nf++
		default:
			t.Fatal("train sample neither plain nor flipped")
		}
	}
	if nf == 0 || nn == 0 {
		t.Fatalf("flips %d plain %d", nf, nn)
	}
}

func TestRawLMDBAndErrors(t *testing.T) {
	dir := t.TempDir()
	good := make([]byte, 8*8*3)
	for i := range good {
		good[i] = byte(i)
	}
	writeLMDB(t, filepath.Join(dir, "train.lmdb"), [][]byte{good, good[:7*8*3]})
	ds, err := OpenLMDB(filepath.Join(dir, "train.lmdb"), Transform{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 3*64)
	if err := ds.Load(0, NewRand(0, 0, 0), dst); err != nil || dst[64] != imgproc.Unit[1] {
		t.Fatal(err)
	}
	err = ds.Load(1, NewRand(0, 0, 1), dst)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`key "1"`)) {
		t.Fatalf("wrong-size raw image: %v", err)
	}
	if _, err := Open("celeba_64", t.TempDir(), Train); err == nil {
		t.Fatal("missing lmdb not reported")
	}
	if _, err := Open("nope", dir, Train); err == nil {
		t.Fatal("unknown dataset accepted")
	}
}

func TestLSUNCrops(t *testing.T) {
	dir := t.TempDir()
	m := imgproc.NewRGB(30, 20)
	for i := range m.Pix {
		m.Pix[i] = byte(i % 251)
	}
	var b bytes.Buffer
	m.EncodePNG(&b)
	writeLMDB(t, filepath.Join(dir, "tower_train_lmdb"), [][]byte{b.Bytes()})
	writeLMDB(t, filepath.Join(dir, "tower_val_lmdb"), [][]byte{b.Bytes()})
	va, err := Open("lsun_tower_10", dir, Validation)
	if err != nil {
		t.Fatal(err)
	}
	// Resize shorter side 20 -> 10: 15x10, centre crop x0 = round(2.5) = 2.
	r := imgproc.ResizeShorter(m, 10)
	want := make([]float32, 300)
	r.Crop(2, 0, 12, 10).ToCHW(want)
	got := make([]float32, 300)
	va.Load(0, NewRand(0, 0, 0), got)
	if !slices.Equal(got, want) {
		t.Fatal("centre crop wrong")
	}
	tr, _ := Open("lsun_tower_10", dir, Train)
	seen := map[int]bool{}
	for e := range 100 {
		tr.Load(0, NewRand(1, e, 0), got)
		found := false
		for x0 := 0; x0 <= 5; x0++ {
			for _, flip := range []bool{false, true} {
				c := r.Crop(x0, 0, x0+10, 10)
				if flip {
					c.FlipH()
				}
				c.ToCHW(want)
				if slices.Equal(got, want) {
					found = true
					seen[x0] = true
				}
			}
		}
		if !found {
			t.Fatal("train crop is not a valid crop")
		}
	}
	if len(seen) < 4 {
		t.Fatalf("random crop offsets seen: %v", seen)
	}
}
