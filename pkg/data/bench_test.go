package data

import (
	"bytes"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/nvaego/nvae/pkg/data/imgproc"
)

// BenchmarkLoaderCelebA64 measures celeba_64 training batches of 16
// (decode JPEG 178x218, crop, resize to 64, flip, to float32) with one
// worker per core, reporting batches/s.
func BenchmarkLoaderCelebA64(b *testing.B) {
	dir := b.TempDir()
	const n = 1024
	vals := make([][]byte, n)
	for i := range vals {
		m := imgproc.NewRGB(178, 218)
		for y := range 218 {
			for x := range 178 {
				o := (y*178 + x) * 3
				m.Pix[o] = uint8(128 + 100*math.Sin(float64(x+i)/9))
				m.Pix[o+1] = uint8(128 + 100*math.Cos(float64(y*x+i)/500))
				m.Pix[o+2] = uint8((x ^ y ^ i) & 255)
			}
		}
		var buf bytes.Buffer
		m.EncodeJPEG(&buf, 95)
		vals[i] = buf.Bytes()
	}
	writeLMDB(b, filepath.Join(dir, "train.lmdb"), vals)
	ds, err := Open("celeba_64", dir, Train)
	if err != nil {
		b.Fatal(err)
	}
	l, err := NewLoader(ds, Options{BatchSize: 16, Shuffle: true, DropLast: true, Seed: 1, Workers: runtime.GOMAXPROCS(0)})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	batches := 0
	for epoch := 0; batches < b.N; epoch++ {
		it := l.Epoch(epoch, 0)
		for batches < b.N {
			bt, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			it.Recycle(bt)
			batches++
		}
		it.Close()
	}
	b.ReportMetric(float64(batches)/b.Elapsed().Seconds(), "batches/s")
}
