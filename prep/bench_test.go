package main

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/nvaego/nvae/pkg/data/convert"
	"github.com/nvaego/nvae/pkg/data/imgproc"
)

// synthFace draws a smooth 1024x1024 image with mild texture, so that PNG
// sizes and decode costs resemble photographs more than noise or flat
// colour would.
func synthFace(size, seed int) *imgproc.RGB {
	m := imgproc.NewRGB(size, size)
	s := uint32(seed*2654435761 + 1)
	for y := range size {
		for x := range size {
			dx, dy := float64(x-size/2)/float64(size), float64(y-size/2)/float64(size)
			r := math.Sqrt(dx*dx + dy*dy)
			s = s*1664525 + 1013904223
			n := float64(s>>28) - 8
			o := (y*size + x) * 3
			m.Pix[o] = uint8(math.Max(0, math.Min(255, 200-300*r+n+float64(seed%50))))
			m.Pix[o+1] = uint8(math.Max(0, math.Min(255, 150-200*r+20*math.Sin(float64(x)/37)+n)))
			m.Pix[o+2] = uint8(math.Max(0, math.Min(255, 120+80*math.Cos(float64(y)/53+float64(seed))+n)))
		}
	}
	return m
}

// BenchmarkFFHQConvert measures nvae-prep ffhq on generated 1024x1024 PNGs
// (count from NVAE_BENCH_FFHQ_N, default 2000) resized to 256x256 into an
// LMDB, reporting images/s. Generation is excluded from the timing.
func BenchmarkFFHQConvert(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("NVAE_BENCH_FFHQ_N")); err == nil && v > 0 {
		n = v
	}
	src := b.TempDir()
	var wg sync.WaitGroup
	sem := make(chan struct{}, convert.Workers)
	var total int64
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var buf bytes.Buffer
			png.Encode(&buf, synthFace(1024, i).Image())
			os.WriteFile(filepath.Join(src, fmt.Sprintf("%05d.png", i)), buf.Bytes(), 0o644)
			mu.Lock()
			total += int64(buf.Len())
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.Logf("%d PNGs, %.2f MB each on average", n, float64(total)/float64(n)/1e6)
	var out bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst := filepath.Join(b.TempDir(), "ffhq")
		out.Reset()
		if code := run([]string{"ffhq", "--ffhq_img_path", src, "--ffhq_lmdb_path", dst, "--split", "train"}, &out, &out); code != 0 {
			b.Fatalf("exit %d: %s", code, out.String())
		}
	}
	b.StopTimer()
	nTrain := int(math.Round(float64(n) * 0.9))
	b.ReportMetric(float64(nTrain*b.N)/b.Elapsed().Seconds(), "images/s")
}
