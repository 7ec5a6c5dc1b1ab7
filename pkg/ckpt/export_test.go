package ckpt

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/oracle"
	"github.com/nvaego/nvae/internal/testenv"
	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/optim"
	"github.com/nvaego/nvae/pkg/rng"
	"github.com/nvaego/nvae/pkg/tensor"
	"github.com/nvaego/nvae/pkg/torchpt"
)

var ptDType = map[string]string{"float32": "F32", "float64": "F64", "int64": "I64"}

// trainedCheckpoint builds the case's model with Go initialisation and runs
// two real training steps (BN counters, running statistics and Adamax
// moments all move), then saves and reloads it as checkpoint.nvae.
func trainedCheckpoint(t *testing.T, cfg nvae.Config, dir string) *Checkpoint {
	b := cpu.New()
	m, err := nvae.NewModel(cfg, b, tensor.Float32, 7)
	if err != nil {
		t.Fatal(err)
	}
	c := &ag.Ctx{B: b}
	adam := optim.NewAdamax(b, m.Store.Params(), cfg.LearningRate, cfg.WeightDecay)
	noise := &nvae.PhiloxNoise{Seed: 5}
	size, _ := nvae.InputSize(cfg.Dataset)
	ch := nvae.InputChannels(cfg.Dataset)
	g := rng.New(3)
	for step := 0; step < 2; step++ {
		v := make([]float64, 2*ch*size*size)
		g.Uniform64(v)
		h := tensor.FromFloat32([]int{2, ch, size, size}, tensor.FromFloat64([]int{len(v)}, v).Float32s())
		x := c.Const(nvae.PreProcess(c, h, cfg.NumXBits))
		m.Store.Training = true
		c.SetGrad(true)
		m.Store.ZeroGrad()
		tr := m.TrainLoss(c, x, noise, 1, 0.1)
		c.Backward(tr.Loss)
		adam.StepUpdate()
	}
	p := filepath.Join(dir, "checkpoint.nvae")
	if err := Save(p, m, adam, State{Epoch: 3, GlobalStep: 2, Tool: "test"}); err != nil {
		t.Fatal(err)
	}
	ck, err := Load(p, b, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// TestExportOfficial exports a Go-trained mnist_tiny checkpoint to .pt,
// checks its state dict against the official key list (keys in order,
// kinds, dtypes, shapes, aliases sharing the weight's data), loads it back
// through LoadOfficial to the same tensors, and checks the rest of the
// official checkpoint dict.
func TestExportOfficial(t *testing.T) {
	dir := oracle.Dir(t)
	cs := oracle.Load(t, filepath.Join(dir, "mnist_tiny.safetensors"))
	cfg := cs.Config(t)
	tmp := t.TempDir()
	ck := trainedCheckpoint(t, cfg, tmp)
	out := filepath.Join(tmp, "checkpoint.pt")
	if keep := os.Getenv("NVAE_EXPORT_OUT"); keep != "" {
		out = keep // for scripts/verify-export.py
	}
	if err := ExportOfficial(out, ck); err != nil {
		t.Fatal(err)
	}

	pt, err := torchpt.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	want := testenv.OfficialKeys(t, filepath.Join(dir, "keys_mnist_tiny.txt"))
	if len(pt.StateDictOrder) != len(want) {
		t.Errorf("exported state dict has %d keys, official %d", len(pt.StateDictOrder), len(want))
	}
	for i, w := range want {
		if i >= len(pt.StateDictOrder) {
			break
		}
		if pt.StateDictOrder[i] != w.Key {
			t.Fatalf("key %d = %q, official %q", i, pt.StateDictOrder[i], w.Key)
		}
		got := pt.StateDict[w.Key]
		if got.DType != ptDType[w.DType] || !reflect.DeepEqual(got.Shape, w.Shape) {
			t.Errorf("%s: %s %v, official %s %v", w.Key, got.DType, got.Shape, w.DType, w.Shape)
		}
		if w.Kind == "alias" && !bytes.Equal(got.Data, pt.StateDict[w.Target].Data) {
			t.Errorf("alias %s differs from %s", w.Key, w.Target)
		}
	}

	// back through the importer: the same tensors
	b := cpu.New()
	m2, info, err := LoadOfficial(out, b, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if info.Epoch != 3 || info.GlobalStep != 2 || m2.Cfg.Dataset != cfg.Dataset || m2.Cfg.NumChannelsEnc != cfg.NumChannelsEnc {
		t.Errorf("info %+v", info)
	}
	m := ck.Model
	for _, p := range m.Store.Params() {
		a, bb := b.ToHost(p.Value).Float32s(), b.ToHost(m2.Store.Param(p.Name).Value).Float32s()
		if !reflect.DeepEqual(a, bb) {
			t.Fatalf("param %s differs after export and import", p.Name)
		}
	}
	nonzero := 0
	for _, n := range m.Store.BufferNames() {
		a, bb := b.ToHost(m.Store.Buffer(n)).Float32s(), b.ToHost(m2.Store.Buffer(n)).Float32s()
		if !reflect.DeepEqual(a, bb) {
			t.Fatalf("buffer %s differs after export and import", n)
		}
		if strings.HasSuffix(n, "num_batches_tracked") && a[0] != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Error("no BN counter moved: the checkpoint is not a trained one")
	}

	// optimizer: one state per parameter index with the Adamax moments
	opt, _ := pt.Extra["optimizer"].(map[string]any)
	st, _ := opt["state"].(map[string]any)
	if len(st) != len(m.Store.Params()) {
		t.Fatalf("optimizer state has %d entries, want %d", len(st), len(m.Store.Params()))
	}
	for i, p := range m.Store.Params() {
		e, _ := st[strconv.Itoa(i)].(map[string]any)
		ea, _ := e["exp_avg"].(torchpt.Tensor)
		v, err := ea.Float32()
		if err != nil || e["step"] != int64(2) || !reflect.DeepEqual(v, b.ToHost(ck.M[p.Name]).Float32s()) {
			t.Fatalf("optimizer state %d (%s): step %v, exp_avg differs or %v", i, p.Name, e["step"], err)
		}
	}
	groups, _ := opt["param_groups"].([]any)
	g0, _ := groups[0].(map[string]any)
	if ids, _ := g0["params"].([]any); len(ids) != len(m.Store.Params()) || g0["initial_lr"] != cfg.LearningRate || g0["eps"] != 1e-3 {
		t.Errorf("param group %v", g0)
	}
	// the entries train.py --cont_training reads, with the official types
	sch, _ := pt.Extra["scheduler"].(map[string]any)
	gs, _ := pt.Extra["grad_scalar"].(map[string]any)
	if sch["last_epoch"] != int64(0) || sch["T_max"] != float64(cfg.Epochs-cfg.WarmupEpochs-1) || gs["scale"] != 1024.0 {
		t.Errorf("scheduler %v grad_scalar %v", sch, gs)
	}
	// args hold every official option plus the two train.py adds
	for _, name := range nvae.ArgNames(true) {
		if _, ok := pt.Args[name]; !ok {
			t.Errorf("args lack %s", name)
		}
	}
	if pt.Args["save"] != cfg.Save && pt.Args["save"] != cfg.ExpDir() || pt.Args["distributed"] != true {
		t.Errorf("args save %v distributed %v", pt.Args["save"], pt.Args["distributed"])
	}
	if ai, _ := pt.Extra["arch_instance"].(map[string]any); len(ai) != len(nvae.CellTypes) {
		t.Errorf("arch_instance %v", ai)
	}
}

// TestExportAliasKeys checks AliasKeys (the key order and the
// weight_normalized aliases) and the exported state dict's dtypes and
// shapes against every official key list in the test data, with the model
// of each case's configuration.
func TestExportAliasKeys(t *testing.T) {
	dir := oracle.Dir(t)
	for _, f := range oracle.Cases(t) {
		cs := oracle.Load(t, f)
		kf := filepath.Join(dir, "keys_"+cs.Name+".txt")
		if _, err := os.Stat(kf); err != nil {
			continue
		}
		m, err := nvae.NewModel(cs.Config(t), cpu.New(), tensor.Float32, 1)
		if err != nil {
			t.Fatal(err)
		}
		got := AliasKeys(m)
		want := testenv.OfficialKeys(t, kf)
		// the exported state dict: official dtypes and shapes
		top, err := BuildOfficial(&Checkpoint{Model: m}, ExportOptions{Epoch: 1, GlobalStep: 10})
		if err != nil {
			t.Fatal(err)
		}
		sd := top.Vals[1].(*torchpt.OrderedDict)
		if len(sd.Keys) != len(want) {
			t.Errorf("%s: exported state dict has %d keys, official %d", cs.Name, len(sd.Keys), len(want))
		}
		for i := 0; i < min(len(sd.Keys), len(want)); i++ {
			tt := sd.Vals[i].(*torchpt.Tensor)
			if sd.Keys[i] != want[i].Key || tt.DType != ptDType[want[i].DType] || !reflect.DeepEqual(tt.Shape, want[i].Shape) {
				t.Errorf("%s: exported %s %s %v, official %s %s %v", cs.Name, sd.Keys[i], tt.DType, tt.Shape, want[i].Key, want[i].DType, want[i].Shape)
				break
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d keys, official %d", cs.Name, len(got), len(want))
		}
		for i := 0; i < min(len(got), len(want)); i++ {
			if got[i].Key != want[i].Key || got[i].Kind != want[i].Kind || got[i].Target != want[i].Target {
				t.Errorf("%s: key %d = %+v, official %+v", cs.Name, i, got[i], want[i])
				break
			}
		}
	}
}

// TestExportMatchesOfficialCheckpoint: the mnist_tiny case's weights
// exported give the official checkpoint.pt's state dict (keys, order,
// dtypes, bytes; BN counters int64) and args Namespace exactly.
func TestExportMatchesOfficialCheckpoint(t *testing.T) {
	dir := oracle.Dir(t)
	cs := oracle.Load(t, filepath.Join(dir, "mnist_tiny.safetensors"))
	m := cs.BuildModel(t, cpu.New(), tensor.Float32)
	out := filepath.Join(t.TempDir(), "checkpoint.pt")
	if err := ExportOfficial(out, &Checkpoint{Model: m, State: State{Epoch: 10, GlobalStep: 1000}}); err != nil {
		t.Fatal(err)
	}
	got, err := torchpt.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := torchpt.Load(filepath.Join(dir, "mnist_tiny_checkpoint.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.StateDictOrder, want.StateDictOrder) {
		t.Fatal("state dict key order differs from the official checkpoint's")
	}
	for _, k := range want.StateDictOrder {
		g, w := got.StateDict[k], want.StateDict[k]
		if g.DType != w.DType || !reflect.DeepEqual(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: %s %v differs from the official %s %v", k, g.DType, g.Shape, w.DType, w.Shape)
		}
	}
	if !reflect.DeepEqual(got.Args, want.Args) {
		for k, w := range want.Args {
			if !reflect.DeepEqual(got.Args[k], w) {
				t.Errorf("args.%s = %#v, official %#v", k, got.Args[k], w)
			}
		}
		t.Errorf("args differ (%d vs %d fields)", len(got.Args), len(want.Args))
	}
	for _, k := range []string{"epoch", "global_step", "arch_instance"} {
		if !reflect.DeepEqual(got.Extra[k], want.Extra[k]) {
			t.Errorf("%s = %v, official %v", k, got.Extra[k], want.Extra[k])
		}
	}
	gs, ws := got.Extra["scheduler"].(map[string]any), want.Extra["scheduler"].(map[string]any)
	for _, k := range []string{"T_max", "eta_min", "base_lrs", "last_epoch", "_step_count", "verbose"} {
		if !reflect.DeepEqual(gs[k], ws[k]) {
			t.Errorf("scheduler %s = %#v, official %#v", k, gs[k], ws[k])
		}
	}
}
