package nvae

import (
	"fmt"
	"io"

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

// ReadjustBNCached loads the cached re-adjusted BN statistics when they
// belong to this checkpoint file, temperature and schedule; otherwise it
// runs the official re-adjustment (ReadjustBN with iters batches of batch
// samples, noise from seed) and writes the cache. Progress goes to log. It
// reports whether the cache was used.
func (m *Model) ReadjustBNCached(c *ag.Ctx, checkpoint string, t float64, iters, batch int, seed uint64, log io.Writer) (bool, error) {
	hash, _, err := fsutil.SHA256File(checkpoint)
	if err != nil {
		return false, err
	}
	key := fmt.Sprintf("%s/t=%g/iters=%d/batch=%d/seed=%d", hash, t, iters, batch, seed)
	path := BNCachePath(checkpoint, t)
	if f, err := safetensors.ReadFile(path); err == nil && f.Metadata["key"] == key {
		for _, name := range m.Store.BufferNames() {
			t, ok := f.Tensors[name]
			if !ok {
				return false, fmt.Errorf("%s: lacks %s; delete it to recompute", path, name)
			}
			v, err := t.Float32()
			if err != nil {
				return false, err
			}
			m.Store.SetBuffer(name, c.B.FromHost(tensor.FromFloat32(t.Shape, v)))
		}
		return true, nil
	}
	noise := &PhiloxNoise{Seed: seed ^ 0xb17}
	m.ReadjustBN(c, t, iters, batch, noise, func(done int) {
		if done%50 == 0 || done == iters {
			fmt.Fprintf(log, "re-adjusting BN statistics: %d/%d batches\n", done, iters)
		}
	})
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}, Metadata: map[string]string{"key": key}}
	for _, name := range m.Store.BufferNames() {
		h := c.B.ToHost(m.Store.Buffer(name))
		f.Tensors[name] = safetensors.FromFloat32(h.Shape(), h.Float32s())
	}
	if err := safetensors.WriteFile(path, f); err != nil {
		return false, fmt.Errorf("caching BN statistics: %v", err)
	}
	return false, nil
}
