// Package ckpt reads and writes model checkpoints: the project's
// checkpoint.nvae and the official PyTorch checkpoint.pt.
package ckpt

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
	"github.com/nvaego/nvae/pkg/torchpt"
)

// Official is what an official train.py checkpoint holds besides weights.
type Official struct {
	Config     nvae.Config
	Epoch      int
	GlobalStep int
	// Unknown lists args the configuration does not know (newer code).
	Unknown []string
}

// LoadOfficial builds the model described by an official checkpoint.pt (its
// argparse args) on b and loads the state dict. `weight_normalized` aliases
// are accepted and ignored.
func LoadOfficial(path string, b backend.Backend, dt tensor.DType) (*nvae.Model, *Official, error) {
	ck, err := torchpt.Load(path)
	if err != nil {
		return nil, nil, err
	}
	if ck.Args == nil {
		return nil, nil, fmt.Errorf("%s: no 'args' in the checkpoint: not an NVAE train.py checkpoint", path)
	}
	cfg, rep, err := nvae.ParseArgsMap(ck.Args)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: args: %v", path, err)
	}
	info := &Official{Config: cfg, Unknown: rep.Unknown}
	if v, ok := ck.Extra["epoch"].(int64); ok {
		info.Epoch = int(v)
	}
	if v, ok := ck.Extra["global_step"].(int64); ok {
		info.GlobalStep = int(v)
	}
	m, err := nvae.NewModel(cfg, b, dt, uint64(cfg.Seed))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := LoadStateDict(m, ck.StateDict, b, dt); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	return m, info, nil
}

// LoadStateDict copies official state-dict tensors into the model. Every
// parameter and buffer must be present with its shape; extra keys other
// than weight_normalized aliases are an error.
func LoadStateDict(m *nvae.Model, sd map[string]torchpt.Tensor, b backend.Backend, dt tensor.DType) error {
	used := map[string]bool{}
	conv := func(name string, want tensor.Shape) (*tensor.Tensor, error) {
		t, ok := sd[name]
		if !ok {
			return nil, fmt.Errorf("state dict lacks %s", name)
		}
		if !tensor.Shape(t.Shape).Equal(want) {
			return nil, fmt.Errorf("%s: shape %v, model expects %v", name, t.Shape, want)
		}
		v, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		used[name] = true
		h := tensor.FromFloat64(want, v)
		if dt == tensor.Float32 {
			h = tensor.FromFloat32(want, h.Float32s())
		}
		return b.FromHost(h), nil
	}
	for _, p := range m.Store.Params() {
		v, err := conv(p.Name, p.Shape())
		if err != nil {
			return err
		}
		p.Value = v
	}
	for _, name := range m.Store.BufferNames() {
		v, err := conv(name, m.Store.Buffer(name).Shape())
		if err != nil {
			return err
		}
		m.Store.SetBuffer(name, v)
	}
	var extra []string
	for k := range sd {
		if !used[k] && !strings.HasSuffix(k, ".weight_normalized") {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("state dict has %d keys the model does not (first: %s)", len(extra), extra[0])
	}
	// a loaded checkpoint carries trained weights: no data-dependent init
	for _, c := range m.Store.Convs {
		c.InitDone = true
	}
	return nil
}
