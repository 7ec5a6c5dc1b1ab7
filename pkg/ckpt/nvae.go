package ckpt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/optim"
	"github.com/nvaego/nvae/pkg/safetensors"
	"github.com/nvaego/nvae/pkg/tensor"
	"github.com/nvaego/nvae/pkg/tensorcodec"
)

// Format names the checkpoint.nvae layout written by Save.
const Format = "nvae-go-checkpoint-v1"

// State is the training state besides tensors: where the run is, the RNG
// streams, the optimizer step. Together with the tensors it makes a resumed
// run continue bit-for-bit on CPU.
type State struct {
	Epoch       int `json:"epoch"`         // epoch being trained (or next to train)
	StepInEpoch int `json:"step_in_epoch"` // batches of Epoch already done
	// StepBatchSize is the batch size StepInEpoch counts in (0 in older
	// checkpoints: the stored config's).
	StepBatchSize int `json:"step_batch_size,omitempty"`
	GlobalStep    int `json:"global_step"`
	AdamaxStep    int `json:"adamax_step"`
	// NoiseSeed/NoiseOffset: the Philox stream of the latent noise.
	NoiseSeed   uint64 `json:"noise_seed"`
	NoiseOffset uint64 `json:"noise_offset"`
	// SRSeed/SROffset: the spectral regulariser's start-vector stream.
	SRSeed   uint64 `json:"sr_seed"`
	SROffset uint64 `json:"sr_offset"`
	// NelboSum/NelboCount: the running train nelbo average of the epoch.
	NelboSum   float64 `json:"nelbo_sum"`
	NelboCount int     `json:"nelbo_count"`
	BadSteps   int     `json:"bad_steps"`
	// DataInitDone records that res_elu convs ran their data-dependent init.
	DataInitDone bool   `json:"data_init_done"`
	Tool         string `json:"tool"`
	// EMADecay is the --ema_decay of the run (0: no EMA of the weights).
	EMADecay float64 `json:"ema_decay,omitempty"`
	// ClippedSteps/SkippedSteps count the updates whose gradient norm
	// --grad_clip scaled down and those --skip_threshold skipped.
	ClippedSteps int `json:"clipped_steps,omitempty"`
	SkippedSteps int `json:"skipped_steps,omitempty"`
	// WorldSize is the number of data-parallel ranks that wrote the
	// checkpoint (0: one process); Config.BatchSize is per rank.
	WorldSize int `json:"world_size,omitempty"`
}

// Checkpoint is a loaded checkpoint.nvae.
type Checkpoint struct {
	Config nvae.Config
	State  State
	Model  *nvae.Model
	// Adamax moments by parameter name (absent before the first step).
	M, U map[string]*tensor.Tensor
	// EMA holds the exponential moving average of each parameter, by
	// name, when the run kept one (--ema_decay); nil otherwise.
	EMA map[string]*tensor.Tensor
}

func toSafe(b backend.Backend, t *tensor.Tensor) safetensors.Tensor {
	h := b.ToHost(t)
	if h.DType() == tensor.Float64 {
		return safetensors.FromFloat64(h.Shape(), h.F64())
	}
	return safetensors.FromFloat32(h.Shape(), h.F32())
}

// Save writes the model, optimizer and state to path atomically (temporary
// file in the same directory, fsync, rename).
func Save(path string, m *nvae.Model, opt *optim.Adamax, st State) error {
	return SaveEMA(path, m, opt, st, nil)
}

// SaveEMA is Save that also stores an EMA of the weights (by parameter
// name; tensors ema/<name>), when ema is not nil.
func SaveEMA(path string, m *nvae.Model, opt *optim.Adamax, st State, ema map[string]*tensor.Tensor) error {
	b := m.Store.B
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}, Metadata: map[string]string{}}
	for name, t := range ema {
		f.Tensors["ema/"+name] = toSafe(b, t)
	}
	for i, p := range m.Store.Params() {
		f.Tensors["param/"+p.Name] = toSafe(b, p.Value)
		if opt != nil && opt.M[i] != nil {
			f.Tensors["adamax/m/"+p.Name] = toSafe(b, opt.M[i])
			f.Tensors["adamax/u/"+p.Name] = toSafe(b, opt.U[i])
		}
	}
	for _, name := range m.Store.BufferNames() {
		f.Tensors["buffer/"+name] = toSafe(b, m.Store.Buffer(name))
	}
	for i, k := range m.SR.Keys {
		f.Tensors[fmt.Sprintf("sr/%d/u", i)] = toSafe(b, m.SR.U[k])
		f.Tensors[fmt.Sprintf("sr/%d/v", i)] = toSafe(b, m.SR.V[k])
	}
	cfg, err := json.Marshal(m.Cfg)
	if err != nil {
		return err
	}
	if opt != nil {
		st.AdamaxStep = opt.Step
	}
	st.SRSeed, st.SROffset = m.SR.Seed, m.SR.Off
	st.DataInitDone = true
	for _, c := range m.Store.Convs {
		if c.DataInit && !c.InitDone {
			st.DataInitDone = false
		}
	}
	state, _ := json.Marshal(st)
	keys, _ := json.Marshal(m.SR.Keys)
	f.Metadata["format"] = Format
	f.Metadata["config"] = string(cfg)
	f.Metadata["state"] = string(state)
	f.Metadata["sr_keys"] = string(keys)
	f.Metadata[ChecksumKey] = checksums(f)
	return safetensors.WriteFile(path, f)
}

// readFile reads a checkpoint.nvae's tensors and metadata, checking the
// format and every tensor's checksum.
func readFile(path string) (*safetensors.File, error) {
	fh, size, err := tensorcodec.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	defer fh.Close()
	f, err := readChecked(fh, size)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s %v", path, err)
	}
	return f, nil
}

// readChecked parses a checkpoint.nvae of size bytes from r (the error
// text follows the checkpoint's path).
func readChecked(r io.ReaderAt, size int64) (*safetensors.File, error) {
	f, err := safetensors.Read(r, size)
	if err != nil {
		return nil, fmt.Errorf("is unreadable (%v); it may be truncated: restore a good copy", err)
	}
	if f.Metadata["format"] != Format {
		return nil, fmt.Errorf("is not a checkpoint.nvae (format %q, want %q)", f.Metadata["format"], Format)
	}
	if err := verifyChecksums(f); err != nil {
		return nil, fmt.Errorf("is corrupt: %v; restore a good copy", err)
	}
	return f, nil
}

// Load reads a checkpoint.nvae and rebuilds the model on b.
func Load(path string, b backend.Backend, dt tensor.DType) (*Checkpoint, error) {
	f, err := readFile(path)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{M: map[string]*tensor.Tensor{}, U: map[string]*tensor.Tensor{}}
	if err := json.Unmarshal([]byte(f.Metadata["config"]), &ck.Config); err != nil {
		return nil, fmt.Errorf("%s: config: %v", path, err)
	}
	if err := json.Unmarshal([]byte(f.Metadata["state"]), &ck.State); err != nil {
		return nil, fmt.Errorf("%s: state: %v", path, err)
	}
	m, err := nvae.NewModel(ck.Config, b, dt, uint64(ck.Config.Seed))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	get := func(name string, shape tensor.Shape) (*tensor.Tensor, error) {
		t, ok := f.Tensors[name]
		if !ok {
			return nil, fmt.Errorf("%s: tensor %s missing", path, name)
		}
		if !tensor.Shape(t.Shape).Equal(shape) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v, model expects %v", path, name, t.Shape, shape)
		}
		var h *tensor.Tensor
		if dt == tensor.Float64 {
			v, err := t.Float64()
			if err != nil {
				return nil, err
			}
			h = tensor.FromFloat64(shape, v)
		} else {
			v, err := t.Float32()
			if err != nil {
				return nil, err
			}
			h = tensor.FromFloat32(shape, v)
		}
		return b.FromHost(h), nil
	}
	for _, p := range m.Store.Params() {
		v, err := get("param/"+p.Name, p.Shape())
		if err != nil {
			return nil, err
		}
		p.Value = v
		if _, ok := f.Tensors["ema/"+p.Name]; ok {
			if ck.EMA == nil {
				ck.EMA = map[string]*tensor.Tensor{}
			}
			if ck.EMA[p.Name], err = get("ema/"+p.Name, p.Shape()); err != nil {
				return nil, err
			}
		}
		if _, ok := f.Tensors["adamax/m/"+p.Name]; ok {
			if ck.M[p.Name], err = get("adamax/m/"+p.Name, p.Shape()); err != nil {
				return nil, err
			}
			if ck.U[p.Name], err = get("adamax/u/"+p.Name, p.Shape()); err != nil {
				return nil, err
			}
		}
	}
	for _, name := range m.Store.BufferNames() {
		v, err := get("buffer/"+name, m.Store.Buffer(name).Shape())
		if err != nil {
			return nil, err
		}
		m.Store.SetBuffer(name, v)
	}
	var keys [][2]int
	if err := json.Unmarshal([]byte(f.Metadata["sr_keys"]), &keys); err != nil {
		return nil, fmt.Errorf("%s: sr_keys: %v", path, err)
	}
	for i, k := range keys {
		n := 0
		for _, c := range m.Store.Convs {
			if c.W.Dim(0) == k[0] && c.W.Value.Len()/c.W.Dim(0) == k[1] {
				n++
			}
		}
		u, err := get(fmt.Sprintf("sr/%d/u", i), tensor.Shape{n, k[0]})
		if err != nil {
			return nil, err
		}
		v, err := get(fmt.Sprintf("sr/%d/v", i), tensor.Shape{n, k[1]})
		if err != nil {
			return nil, err
		}
		m.SR.Keys = append(m.SR.Keys, k)
		m.SR.U[k], m.SR.V[k] = u, v
	}
	m.SR.Seed, m.SR.Off = ck.State.SRSeed, ck.State.SROffset
	if ck.State.DataInitDone {
		for _, c := range m.Store.Convs {
			c.InitDone = true
		}
	}
	if what := NonFinite(m); what != "" {
		return nil, errNonFinite(path, what)
	}
	ck.Model = m
	return ck, nil
}

// RestoreOptimizer fills an Adamax with the checkpoint's moments and step.
func (ck *Checkpoint) RestoreOptimizer(opt *optim.Adamax) {
	opt.Step = ck.State.AdamaxStep
	for i, p := range opt.Params {
		if m, ok := ck.M[p.Name]; ok {
			opt.M[i], opt.U[i] = m, ck.U[p.Name]
		}
	}
}

// LoadAny loads a checkpoint.nvae or an official PyTorch checkpoint.pt
// (recognised by content: safetensors vs zip/pickle), with its EMA weights
// when it has them (see LoadAnyWeights).
func LoadAny(path string, b backend.Backend, dt tensor.DType) (*nvae.Model, error) {
	m, _, err := LoadAnyWeights(path, b, dt, WeightsAuto)
	return m, err
}

func loadAny(path string, b backend.Backend, dt tensor.DType, weights string) (*nvae.Model, string, error) {
	if weights != WeightsAuto && weights != WeightsEMA && weights != WeightsRaw {
		return nil, "", fmt.Errorf("weights %q: want auto, ema or raw", weights)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	head := make([]byte, 9)
	n, _ := io.ReadFull(fh, head)
	fh.Close()
	head = head[:n]
	switch {
	case IsSafetensors(head):
		// checkpoint.nvae, whatever its name (a copy renamed .pt too)
	case bytes.HasPrefix(head, []byte("PK")) || bytes.HasPrefix(head, []byte{0x80}):
		if weights == WeightsEMA {
			return nil, "", fmt.Errorf("%s: an official checkpoint has no EMA weights", path)
		}
		m, _, err := LoadOfficial(path, b, dt)
		if err == nil {
			if what := NonFinite(m); what != "" {
				return nil, "", errNonFinite(path, what)
			}
		}
		return m, WeightsRaw, err
	default:
		return nil, "", fmt.Errorf("%s is neither a checkpoint.nvae (safetensors) nor a PyTorch checkpoint (zip or pickle)", path)
	}
	ck, err := Load(path, b, dt)
	if err != nil {
		return nil, "", err
	}
	used, err := SelectWeights(ck, weights)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v", path, err)
	}
	if what := NonFinite(ck.Model); what != "" {
		return nil, "", errNonFinite(path, what)
	}
	return ck.Model, used, nil
}
