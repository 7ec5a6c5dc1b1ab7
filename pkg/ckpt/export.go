package ckpt

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
	"github.com/nvaego/nvae/pkg/torchpt"
)

// OfficialKey is one entry of the official state dict as ExportStateDict
// writes it.
type OfficialKey struct {
	Key string
	// Kind is "param", "buffer" or "alias" (a weight_normalized alias of
	// Target, the same storage).
	Kind   string
	Target string
}

// AliasKeys returns the official state-dict keys of m in order: the
// parameters and buffers in registration order, with
// `<conv>.weight_normalized` after the parameters of every conv without
// weight normalisation and mask. The official Conv2D.__init__ runs
// self.weight_normalized = self.normalize_weight(), which for such convs is
// the weight Parameter itself, so nn.Module registers it a second time
// under that name.
func AliasKeys(m *nvae.Model) []OfficialKey {
	aliasAfter := map[string]string{} // last param of a conv → alias target
	for _, c := range m.Store.Convs {
		if c.LogWN != nil || c.Mask != nil {
			continue
		}
		last := c.W.Name
		if c.Bias != nil {
			last = c.Bias.Name
		}
		aliasAfter[last] = c.W.Name
	}
	isBuf := map[string]bool{}
	for _, n := range m.Store.BufferNames() {
		isBuf[n] = true
	}
	var out []OfficialKey
	for _, k := range m.Store.Keys() {
		kind := "param"
		if isBuf[k] {
			kind = "buffer"
		}
		out = append(out, OfficialKey{Key: k, Kind: kind})
		if w, ok := aliasAfter[k]; ok {
			out = append(out, OfficialKey{Key: strings.TrimSuffix(w, ".weight") + ".weight_normalized", Kind: "alias", Target: w})
		}
	}
	return out
}

// hostTensor converts a model tensor to a float32 torchpt tensor (the
// official dtype), or int64 for num_batches_tracked counters.
func hostTensor(b backend.Backend, t *tensor.Tensor, int64s bool) *torchpt.Tensor {
	h := b.ToHost(t)
	v := h.Float64s()
	shape := append([]int{}, h.Shape()...)
	if int64s {
		data := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(data[8*i:], uint64(int64(math.Round(x))))
		}
		return &torchpt.Tensor{DType: "I64", Shape: shape, Data: data}
	}
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(x)))
	}
	return &torchpt.Tensor{DType: "F32", Shape: shape, Data: data}
}

// ExportOptions says what besides the weights goes into an official
// checkpoint.
type ExportOptions struct {
	// Epoch is the official 'epoch' entry: the number of finished epochs
	// (train.py --cont_training continues with this epoch).
	Epoch, GlobalStep int
	// ItersPerEpoch sizes the learning-rate schedule (0: derived from
	// NumTotalIter or GlobalStep/Epoch).
	ItersPerEpoch int
}

// BuildOfficial returns the checkpoint dict that the official train.py
// writes: epoch, state_dict, optimizer, global_step, args, arch_instance,
// scheduler, grad_scalar. ck.M/ck.U (Adamax moments) may be empty.
func BuildOfficial(ck *Checkpoint, o ExportOptions) (*torchpt.Dict, error) {
	m := ck.Model
	b := m.Store.B
	cfg := m.Cfg
	sd := &torchpt.OrderedDict{}
	tensors := map[string]*torchpt.Tensor{}
	for _, k := range AliasKeys(m) {
		switch k.Kind {
		case "param":
			t := hostTensor(b, m.Store.Param(k.Key).Value, false)
			tensors[k.Key] = t
			sd.Set(k.Key, t)
		case "buffer":
			t := hostTensor(b, m.Store.Buffer(k.Key), strings.HasSuffix(k.Key, ".num_batches_tracked"))
			sd.Set(k.Key, t)
		case "alias":
			sd.Set(k.Key, tensors[k.Target]) // same *Tensor: shared storage
		}
	}

	// args: the official Namespace, with save rewritten the way train.py
	// does (root/eval-save) and distributed/num_total_iter present.
	ns := &torchpt.Namespace{}
	am := cfg.ArgsMap()
	if !strings.Contains(cfg.Save, "/") {
		am["save"] = cfg.ExpDir()
	}
	am["distributed"] = true
	if _, ok := am["num_total_iter"]; !ok {
		am["num_total_iter"] = cfg.NumTotalIter
	}
	for _, name := range nvae.ArgNames(true) {
		ns.Set(name, am[name])
	}

	// learning-rate schedule state
	ipe := o.ItersPerEpoch
	if ipe <= 0 && cfg.NumTotalIter > 0 && cfg.Epochs > 0 {
		ipe = cfg.NumTotalIter / cfg.Epochs
	}
	if ipe <= 0 && o.Epoch > 0 {
		ipe = max(1, o.GlobalStep/o.Epoch)
	}
	if ipe <= 0 {
		ipe = 1
	}
	sched := nvae.NewLRSchedule(cfg, ipe)
	lastEpoch := 0
	if o.Epoch > 0 {
		lastEpoch = sched.SchedulerLastEpoch(o.Epoch - 1)
	}
	lr := cfg.LearningRate
	if o.Epoch > 0 {
		lr = sched.LR(o.Epoch-1, max(0, o.GlobalStep-1))
	}
	params := m.Store.Params()
	state := &torchpt.Dict{}
	for i, p := range params {
		mt, ok := ck.M[p.Name]
		if !ok || mt == nil {
			continue
		}
		st := &torchpt.Dict{}
		st.Set("step", ck.State.AdamaxStep)
		st.Set("exp_avg", hostTensor(b, mt, false))
		st.Set("exp_inf", hostTensor(b, ck.U[p.Name], false))
		state.Set(i, st)
	}
	ids := make(torchpt.List, len(params))
	for i := range ids {
		ids[i] = i
	}
	group := &torchpt.Dict{}
	group.Set("lr", lr)
	group.Set("betas", torchpt.Tuple{0.9, 0.999})
	group.Set("eps", 1e-3)
	group.Set("weight_decay", cfg.WeightDecay)
	group.Set("initial_lr", cfg.LearningRate)
	group.Set("params", ids)
	optimizer := &torchpt.Dict{}
	optimizer.Set("state", state)
	optimizer.Set("param_groups", torchpt.List{group})

	scheduler := &torchpt.Dict{}
	scheduler.Set("T_max", sched.TMax())
	scheduler.Set("eta_min", cfg.LearningRateMin)
	scheduler.Set("base_lrs", torchpt.List{cfg.LearningRate})
	scheduler.Set("last_epoch", lastEpoch)
	scheduler.Set("_step_count", lastEpoch+1)
	scheduler.Set("verbose", false)
	scheduler.Set("_get_lr_called_within_step", false)
	scheduler.Set("_last_lr", torchpt.List{lr})

	gs := &torchpt.Dict{}
	gs.Set("scale", 1024.0)
	gs.Set("growth_factor", 2.0)
	gs.Set("backoff_factor", 0.5)
	gs.Set("growth_interval", 2000)
	gs.Set("_growth_tracker", 0)

	cells, err := nvae.ArchCells(cfg.ArchInstance)
	if err != nil {
		return nil, err
	}
	arch := &torchpt.Dict{}
	for _, ct := range nvae.CellTypes {
		l := torchpt.List{}
		for _, c := range cells[ct] {
			l = append(l, c)
		}
		arch.Set(ct, l)
	}

	top := &torchpt.Dict{}
	top.Set("epoch", o.Epoch)
	top.Set("state_dict", sd)
	top.Set("optimizer", optimizer)
	top.Set("global_step", o.GlobalStep)
	top.Set("args", ns)
	top.Set("arch_instance", arch)
	top.Set("scheduler", scheduler)
	top.Set("grad_scalar", gs)
	return top, nil
}

// ExportOfficial writes ck as an official checkpoint.pt (see BuildOfficial)
// that train.py --cont_training and evaluate.py load with strict key
// matching. A checkpoint taken in the middle of an epoch is exported at
// the start of that epoch (the official format has no finer position).
func ExportOfficial(path string, ck *Checkpoint) error {
	top, err := BuildOfficial(ck, ExportOptions{Epoch: ck.State.Epoch, GlobalStep: ck.State.GlobalStep})
	if err != nil {
		return err
	}
	if err := torchpt.Save(path, top); err != nil {
		return fmt.Errorf("writing %s: %v", path, err)
	}
	return nil
}
