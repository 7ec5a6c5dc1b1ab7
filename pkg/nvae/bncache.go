package nvae

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/fsutil"
	"github.com/nvaego/nvae/pkg/safetensors"
	"github.com/nvaego/nvae/pkg/tensor"
)

// BNCachePath is where re-adjusted BN statistics of a checkpoint for
// temperature t live.
func BNCachePath(checkpoint string, t float64) string {
	return fmt.Sprintf("%s.bn_t%.3f.safetensors", checkpoint, t)
}

// BNCache says which re-adjusted BN statistics to load or compute, and
// where they are cached.
type BNCache struct {
	Checkpoint string    // the checkpoint file (its hash is part of the key)
	Temps      []float64 // per-group temperatures of the re-adjustment
	Label      string    // file-name label of a non-uniform schedule
	EMA        bool      // the statistics belong to the EMA weights
	Iters      int       // sampling batches
	Batch      int       // samples per batch
	Seed       uint64
	// OutDir is where the cache goes when the checkpoint's folder is
	// read-only ("": nowhere else).
	OutDir string
}

func (s BNCache) uniform() bool {
	for _, t := range s.Temps {
		if t != s.Temps[0] {
			return false
		}
	}
	return true
}

// Path is the cache file beside the checkpoint.
func (s BNCache) Path() string {
	p := fmt.Sprintf("%s.bn_t%s.safetensors", s.Checkpoint, s.Label)
	if s.uniform() {
		p = BNCachePath(s.Checkpoint, s.Temps[0])
	}
	if s.EMA {
		p = strings.TrimSuffix(p, ".safetensors") + ".ema.safetensors"
	}
	return p
}

// ReadjustBNCached loads the cached statistics when they belong to this
// checkpoint file, schedule and weights; otherwise it runs the official
// re-adjustment (ReadjustBNTemps) and writes the cache: beside the
// checkpoint, or in s.OutDir when the checkpoint's folder is read-only, or
// nowhere (with a note) when neither is writable. Progress goes to log. It
// returns the cache file used ("": computed).
func (m *Model) ReadjustBNCached(c *ag.Ctx, s BNCache, log io.Writer) (string, error) {
	hash, _, err := fsutil.SHA256File(s.Checkpoint)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("%s/t=%g/iters=%d/batch=%d/seed=%d", hash, s.Temps[len(s.Temps)-1], s.Iters, s.Batch, s.Seed)
	if !s.uniform() {
		key = fmt.Sprintf("%s/t=%v/iters=%d/batch=%d/seed=%d", hash, s.Temps, s.Iters, s.Batch, s.Seed)
	}
	if s.EMA {
		key += "/ema"
	}
	beside := s.Path()
	candidates := []string{beside}
	inOut := ""
	if s.OutDir != "" {
		inOut = filepath.Join(s.OutDir, filepath.Base(beside))
		candidates = append(candidates, inOut)
	}
	for _, path := range candidates {
		f, err := safetensors.ReadFile(path)
		if err != nil || f.Metadata["key"] != key {
			continue
		}
		for _, name := range m.Store.BufferNames() {
			t, ok := f.Tensors[name]
			if !ok {
				return "", fmt.Errorf("%s: lacks %s; delete it to recompute", path, name)
			}
			v, err := t.Float32()
			if err != nil {
				return "", err
			}
			m.Store.SetBuffer(name, c.B.FromHost(tensor.FromFloat32(t.Shape, v)))
		}
		return path, nil
	}
	path := beside
	if err := fsutil.CheckWritable(filepath.Dir(beside)); err != nil {
		path = ""
		if inOut != "" && filepath.Clean(s.OutDir) != filepath.Dir(beside) && fsutil.CheckWritable(s.OutDir) == nil {
			path = inOut
		}
		where := "not caching them"
		if path != "" {
			where = "caching them in " + path
		}
		fmt.Fprintf(log, "note: %s is read-only: %s\n", filepath.Dir(beside), where)
	}
	noise := &PhiloxNoise{Seed: s.Seed ^ 0xb17}
	m.ReadjustBNTemps(c, s.Temps, s.Iters, s.Batch, noise, func(done int) {
		if done%50 == 0 || done == s.Iters {
			fmt.Fprintf(log, "re-adjusting BN statistics: %d/%d batches\n", done, s.Iters)
		}
	})
	if path == "" {
		return "", nil
	}
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}, Metadata: map[string]string{"key": key}}
	for _, name := range m.Store.BufferNames() {
		h := c.B.ToHost(m.Store.Buffer(name))
		f.Tensors[name] = safetensors.FromFloat32(h.Shape(), h.Float32s())
	}
	if err := safetensors.WriteFile(path, f); err != nil {
		return "", fmt.Errorf("caching BN statistics: %v", err)
	}
	return "", nil
}
