// Command gen writes the small synthetic datasets the mini pipelines
// (make <dataset>-mini) train on: images of the right shape and file layout
// for each dataset, smooth enough that a model learns something in a few
// steps, and fully determined by --seed.
//
//	go run ./pipelines/gen celeba  --out DIR [--n 256]     DIR/img_align_celeba.zip + list_eval_partition.txt
//	go run ./pipelines/gen images  --out DIR --size N [--height H] [--n 256] [--format png|jpg]
//	go run ./pipelines/gen cifar10 --out DIR [--n 256]     DIR/cifar-10-batches-bin/*.bin
//	go run ./pipelines/gen lsun    --out DIR [--n 256] [--size 64]  DIR/church_outdoor_{train,val}_lmdb
//
// Every output appears complete or not at all: files and folders are built
// under a temporary name next to their final path, synced and renamed.
package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/nvaego/nvae/pkg/data/cifar"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

const usage = `usage: gen celeba|images|cifar10|lsun --out DIR [flags] (see the package doc)`

type options struct {
	out    string
	n      int
	size   int
	height int
	format string
	seed   uint64
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	kind := args[0]
	fs := pflag.NewFlagSet("gen "+kind, pflag.ContinueOnError)
	var o options
	fs.StringVar(&o.out, "out", "", "output folder (required)")
	fs.IntVar(&o.n, "n", 256, "number of images")
	fs.IntVar(&o.size, "size", 0, "image width (and height unless --height)")
	fs.IntVar(&o.height, "height", 0, "image height (default: --size)")
	fs.StringVar(&o.format, "format", "png", "images: png or jpg")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.out == "" {
		return errors.New("--out is required")
	}
	if o.n < 8 {
		return fmt.Errorf("--n must be at least 8, got %d", o.n)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	var err error
	switch kind {
	case "celeba":
		err = genCelebA(o)
	case "images":
		err = genImages(o)
	case "cifar10":
		err = genCIFAR(o)
	case "lsun":
		err = genLSUN(o)
	default:
		return fmt.Errorf("unknown kind %q (%s)", kind, usage)
	}
	if err == nil {
		fmt.Fprintf(stdout, "gen %s: %d images in %s\n", kind, o.n, o.out)
	}
	return err
}

// synth draws image i: a vertical two-colour gradient background with a
// soft ellipse ("face") and two darker dots, all placed by an RNG seeded
// with (seed, i).
func synth(w, h int, seed uint64, i int) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, uint64(i)+1))
	col := func() [3]float64 { return [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255} }
	top, bottom, face, eye := col(), col(), col(), col()
	cx := float64(w) * (0.4 + 0.2*r.Float64())
	cy := float64(h) * (0.4 + 0.2*r.Float64())
	rx := float64(w) * (0.18 + 0.12*r.Float64())
	ry := float64(h) * (0.22 + 0.12*r.Float64())
	er := 0.12 * rx
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		t := float64(y) / float64(max(h-1, 1))
		for x := 0; x < w; x++ {
			var p [3]float64
			for c := range p {
				p[c] = top[c]*(1-t) + bottom[c]*t
			}
			dx, dy := (float64(x)-cx)/rx, (float64(y)-cy)/ry
			if a := 1 - smoothstep(0.9, 1.1, math.Sqrt(dx*dx+dy*dy)); a > 0 {
				for c := range p {
					p[c] = p[c]*(1-a) + face[c]*a
				}
			}
			for _, ex := range []float64{cx - 0.4*rx, cx + 0.4*rx} {
				d := math.Hypot(float64(x)-ex, float64(y)-(cy-0.25*ry)) / er
				if a := 1 - smoothstep(0.8, 1.2, d); a > 0 {
					for c := range p {
						p[c] = p[c]*(1-a) + eye[c]*a
					}
				}
			}
			m.SetRGBA(x, y, color.RGBA{clamp8(p[0]), clamp8(p[1]), clamp8(p[2]), 255})
		}
	}
	return m
}

func smoothstep(a, b, x float64) float64 {
	t := math.Min(math.Max((x-a)/(b-a), 0), 1)
	return t * t * (3 - 2*t)
}

func clamp8(v float64) uint8 { return uint8(math.Min(math.Max(math.Round(v), 0), 255)) }

func encode(m image.Image, format string) ([]byte, error) {
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, m)
	case "jpg", "jpeg":
		err = jpeg.Encode(&b, m, &jpeg.Options{Quality: 95})
	default:
		return nil, fmt.Errorf("--format must be png or jpg, not %q", format)
	}
	return b.Bytes(), err
}

// writeFileAtomic writes b to path through a synced temporary file.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// buildDir fills a temporary folder next to final with fill, then replaces
// final by it.
func buildDir(final string, fill func(tmp string) error) error {
	tmp, err := os.MkdirTemp(filepath.Dir(final), "."+filepath.Base(final)+".tmp*")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := fill(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.RemoveAll(final); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return os.Rename(tmp, final)
}

// genCelebA writes img_align_celeba.zip (178x218 JPEGs named 000001.jpg …
// under img_align_celeba/, as in the official archive) and
// list_eval_partition.txt splitting them 7/8 train, 1/16 valid, 1/16 test.
func genCelebA(o options) error {
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	var part bytes.Buffer
	nValid := max(o.n/16, 1)
	nTrain := o.n - 2*nValid
	for i := 0; i < o.n; i++ {
		name := fmt.Sprintf("%06d.jpg", i+1)
		b, err := encode(synth(178, 218, o.seed, i), "jpg")
		if err != nil {
			return err
		}
		w, err := zw.Create("img_align_celeba/" + name)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		code := 0
		if i >= nTrain {
			code = 1 + (i-nTrain)/nValid
		}
		fmt.Fprintf(&part, "%s %d\n", name, code)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(o.out, "img_align_celeba.zip"), zb.Bytes()); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(o.out, "list_eval_partition.txt"), part.Bytes())
}

// genImages writes o.n images of o.size x o.height into o.out/images/.
func genImages(o options) error {
	if o.size <= 0 {
		return errors.New("images: --size is required")
	}
	h := o.height
	if h <= 0 {
		h = o.size
	}
	return buildDir(filepath.Join(o.out, "images"), func(tmp string) error {
		for i := 0; i < o.n; i++ {
			b, err := encode(synth(o.size, h, o.seed, i), o.format)
			if err != nil {
				return err
			}
			ext := o.format
			if ext == "jpeg" {
				ext = "jpg"
			}
			if err := os.WriteFile(filepath.Join(tmp, fmt.Sprintf("%05d.%s", i, ext)), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}

// genCIFAR writes cifar-10-batches-bin/ in the CIFAR-10 binary format: 7/8
// of the images spread over the five training batches, the rest in
// test_batch.bin.
func genCIFAR(o options) error {
	nTest := max(o.n/8, 1)
	nTrain := o.n - nTest
	record := func(i int) []byte {
		m := synth(cifar.W, cifar.H, o.seed, i)
		rec := make([]byte, cifar.RecordSize)
		rec[0] = byte(i % 10)
		for c := 0; c < cifar.C; c++ {
			for p := 0; p < cifar.H*cifar.W; p++ {
				rec[1+c*cifar.H*cifar.W+p] = m.Pix[4*p+c]
			}
		}
		return rec
	}
	return buildDir(filepath.Join(o.out, cifar.Dir), func(tmp string) error {
		files := make([][]byte, len(cifar.TrainFiles))
		for i := 0; i < nTrain; i++ {
			files[i%len(files)] = append(files[i%len(files)], record(i)...)
		}
		for k, name := range cifar.TrainFiles {
			if err := os.WriteFile(filepath.Join(tmp, name), files[k], 0o644); err != nil {
				return err
			}
		}
		var test []byte
		for i := nTrain; i < o.n; i++ {
			test = append(test, record(i)...)
		}
		return os.WriteFile(filepath.Join(tmp, cifar.TestFiles[0]), test, 0o644)
	})
}

// genLSUN writes church_outdoor_train_lmdb and church_outdoor_val_lmdb like
// the LSUN distribution: JPEG values under 40-hex-digit keys, the shorter
// side --size (default 64) and the longer one 5/4 of it.
func genLSUN(o options) error {
	s := o.size
	if s <= 0 {
		s = 64
	}
	nVal := max(o.n/8, 1)
	for _, sp := range []struct {
		name   string
		lo, hi int
	}{{"church_outdoor_train_lmdb", 0, o.n - nVal}, {"church_outdoor_val_lmdb", o.n - nVal, o.n}} {
		w, err := lmdbio.Create(filepath.Join(o.out, sp.name))
		if err != nil {
			return err
		}
		for i := sp.lo; i < sp.hi; i++ {
			b, err := encode(synth(s*5/4, s, o.seed, i), "jpg")
			if err != nil {
				w.Abort()
				return err
			}
			k := sha1.Sum([]byte(fmt.Sprint(o.seed, i)))
			if err := w.Put([]byte(hex.EncodeToString(k[:])), b); err != nil {
				w.Abort()
				return err
			}
		}
		if err := w.Commit(); err != nil {
			return err
		}
	}
	return nil
}
