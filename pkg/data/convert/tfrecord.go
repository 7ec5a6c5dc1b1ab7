package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nvaego/nvae/internal/progress"
	"github.com/nvaego/nvae/pkg/data/lmdbio"
	"github.com/nvaego/nvae/pkg/data/tfrecord"
)

// GlowSet describes one GLOW tfrecord dataset as the official converter
// names it: files <tfr_path>/<split>/<split>-r<res>-s-%04d-of-%04d.tfrecords.
type GlowSet struct {
	res    string
	shards map[string]int
	size   int // image side
}

// GlowSets are the GLOW tfrecord datasets by the official converter's names.
var GlowSets = map[string]GlowSet{
	"imagenet-oord_32": {"r05", map[string]int{"train": 2000, "validation": 80}, 32},
	"imagenet-oord_64": {"r06", map[string]int{"train": 2000, "validation": 80}, 64},
	"celeba":           {"r08", map[string]int{"train": 120, "validation": 40}, 256},
}

// ShardPath returns the path of shard i of a split.
func (g GlowSet) ShardPath(root, split string, i int) string {
	return filepath.Join(root, split, fmt.Sprintf("%s-%s-s-%04d-of-%04d.tfrecords", split, g.res, i, g.shards[split]))
}

// TFRecordOptions are the settings of TFRecord (nvae-prep tfrecord).
type TFRecordOptions struct {
	Dataset  string `flag:"dataset" help:"imagenet-oord_32, imagenet-oord_64 or celeba"`
	TFRPath  string `flag:"tfr_path" help:"folder holding the tfrecords (required)"`
	LMDBPath string `flag:"lmdb_path" help:"target folder for the LMDB (required)"`
	Split    string `flag:"split" help:"train or validation"`
}

// TFRecord converts GLOW's tfrecord shards of one split into
// LMDBPath/<Split>.lmdb like the official convert_tfrecord_to_lmdb.py,
// verifying both CRC32C checksums of every record and the image size.
func TFRecord(e *Env, o TFRecordOptions) error {
	g, ok := GlowSets[o.Dataset]
	if !ok {
		return optionf("--dataset must be imagenet-oord_32, imagenet-oord_64 or celeba, not %q", o.Dataset)
	}
	if o.Split != "train" && o.Split != "validation" {
		return optionf("--split must be train or validation, not %q", o.Split)
	}
	if o.TFRPath == "" || o.LMDBPath == "" {
		return optionf("--tfr_path and --lmdb_path are required")
	}
	n := g.shards[o.Split]
	// Check all shards exist before writing anything.
	for i := range n {
		if _, err := os.Stat(g.ShardPath(o.TFRPath, o.Split, i)); err != nil {
			return fmt.Errorf("shard %d of %d: %w", i, n, err)
		}
	}
	want := g.size * g.size * 3
	return writeSplit(e, o.LMDBPath, o.Split, o.Dataset, func(w *lmdbio.Writer, m *Manifest) error {
		m.Format = "raw-hwc-uint8"
		m.ImageSize = []int{g.size, g.size, 3}
		p := progress.New(e.Stderr, "tfrecord "+o.Dataset+" "+o.Split, "shards", n)
		for i := range n {
			path := g.ShardPath(o.TFRPath, o.Split, i)
			src, err := convertShard(path, want, w.Append)
			if err != nil {
				return err
			}
			m.Sources = append(m.Sources, src)
			p.Add(1)
		}
		m.Seconds = p.Done()
		fmt.Fprintf(e.Stderr, "tfrecord %s %s: %d images\n", o.Dataset, o.Split, w.Count())
		return nil
	})
}

// convertShard streams one tfrecord file, checking framing, checksums,
// Example structure and image size, and hands each image to put.
func convertShard(path string, want int, put func([]byte) error) (Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return Source{}, err
	}
	defer f.Close()
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(f, h)}
	r := tfrecord.NewReader(cr)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Source{}, fmt.Errorf("%s: %w", path, err)
		}
		im, err := tfrecord.ParseImage(rec)
		if err != nil {
			return Source{}, fmt.Errorf("%s: record %d: %w", path, r.Count()-1, err)
		}
		if len(im.Data) != want || im.Shape[2] != 3 {
			return Source{}, fmt.Errorf("%s: record %d: image shape %v, want [%d %d 3]", path, r.Count()-1, im.Shape, isqrt(want/3), isqrt(want/3))
		}
		if err := put(im.Data); err != nil {
			return Source{}, err
		}
	}
	return Source{Path: path, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: cr.n}, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func isqrt(n int) int {
	x := 0
	for (x+1)*(x+1) <= n {
		x++
	}
	return x
}
