package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nvaego/nvae/pkg/data/lmdbio"
	"github.com/nvaego/nvae/pkg/data/tfrecord"
)

// glowSet describes one GLOW tfrecord dataset as the official converter
// names it: files <tfr_path>/<split>/<split>-r<res>-s-%04d-of-%04d.tfrecords.
type glowSet struct {
	res    string
	shards map[string]int
	size   int // image side
}

var glowSets = map[string]glowSet{
	"imagenet-oord_32": {"r05", map[string]int{"train": 2000, "validation": 80}, 32},
	"imagenet-oord_64": {"r06", map[string]int{"train": 2000, "validation": 80}, 64},
	"celeba":           {"r08", map[string]int{"train": 120, "validation": 40}, 256},
}

// shardPath returns the path of shard i of a split.
func (g glowSet) shardPath(root, split string, i int) string {
	return filepath.Join(root, split, fmt.Sprintf("%s-%s-s-%04d-of-%04d.tfrecords", split, g.res, i, g.shards[split]))
}

func runTFRecord(args []string, e *env) error {
	fs := newFlags(e, "--dataset imagenet-oord_32|imagenet-oord_64|celeba --tfr_path P --lmdb_path L --split train|validation",
		"Converts GLOW's tfrecord shards (P/<split>/<split>-r05|r06|r08-s-NNNN-of-MMMM.tfrecords,\n"+
			"2000/80 shards for imagenet-oord, 120/40 for celeba) into L/<split>.lmdb like the official\n"+
			"convert_tfrecord_to_lmdb.py: the raw HWC uint8 `data` bytes of every tf.train.Example\n"+
			"under consecutive keys across shards. Both masked CRC32C checksums of every record are\n"+
			"verified and every image must have the dataset's size; TensorFlow is not needed.")
	dataset := fs.String("dataset", "imagenet-oord_32", "imagenet-oord_32, imagenet-oord_64 or celeba")
	tfrPath := fs.String("tfr_path", "", "folder holding the tfrecords (required)")
	lmdbPath := fs.String("lmdb_path", "", "target folder for the LMDB (required)")
	split := fs.String("split", "train", "train or validation")
	if err := parse(fs, args); err != nil {
		return err
	}
	g, ok := glowSets[*dataset]
	if !ok {
		return usagef("--dataset must be imagenet-oord_32, imagenet-oord_64 or celeba, not %q", *dataset)
	}
	if *split != "train" && *split != "validation" {
		return usagef("--split must be train or validation, not %q", *split)
	}
	if *tfrPath == "" || *lmdbPath == "" {
		return usagef("--tfr_path and --lmdb_path are required")
	}
	n := g.shards[*split]
	// Check all shards exist before writing anything.
	for i := range n {
		if _, err := os.Stat(g.shardPath(*tfrPath, *split, i)); err != nil {
			return fmt.Errorf("shard %d of %d: %w", i, n, err)
		}
	}
	want := g.size * g.size * 3
	return writeSplit(e, args, *lmdbPath, *split, *dataset, func(w *lmdbio.Writer, m *Manifest) error {
		m.Format = "raw-hwc-uint8"
		m.ImageSize = []int{g.size, g.size, 3}
		p := newProgress(e.stderr, "tfrecord "+*dataset+" "+*split, "shards", n)
		for i := range n {
			path := g.shardPath(*tfrPath, *split, i)
			src, err := convertShard(path, want, w.Append)
			if err != nil {
				return err
			}
			m.Sources = append(m.Sources, src)
			p.add(1)
		}
		m.Seconds = p.done()
		fmt.Fprintf(e.stderr, "tfrecord %s %s: %d images\n", *dataset, *split, w.Count())
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
