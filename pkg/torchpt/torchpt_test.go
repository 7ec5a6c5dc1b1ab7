package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nvaego/nvae/internal/testenv"

	"github.com/nvaego/nvae/pkg/fid/formula"
	"github.com/nvaego/nvae/pkg/safetensors"
)

func testdata(t testing.TB, parts ...string) string {
	return testenv.Testdata(t, parts...)
}

// readKeys parses testdata/nvae/<name>, an official keys_<case>.txt.
func readKeys(t *testing.T, name string) []testenv.KeyLine {
	return testenv.OfficialKeys(t, testdata(t, "nvae", name))
}

var torchDType = map[string]string{"float32": "F32", "float64": "F64", "int64": "I64"}

func TestMnistTinyCheckpoint(t *testing.T) {
	c, err := Load(testdata(t, "nvae", "mnist_tiny_checkpoint.pt"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := safetensors.ReadFile(testdata(t, "nvae", "mnist_tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	keys := readKeys(t, "keys_mnist_tiny.txt")
	if len(keys) != 338 || len(c.StateDict) != 338 || len(c.StateDictOrder) != 338 {
		t.Fatalf("keys file %d, state dict %d, order %d; want 338", len(keys), len(c.StateDict), len(c.StateDictOrder))
	}
	counts := map[string]int{}
	for i, k := range keys {
		if c.StateDictOrder[i] != k.Key {
			t.Fatalf("state dict key %d = %q, want %q", i, c.StateDictOrder[i], k.Key)
		}
		got := c.StateDict[k.Key]
		if got.DType != torchDType[k.DType] || !reflect.DeepEqual(got.Shape, k.Shape) {
			t.Errorf("%s: %s %v, want %s %v", k.Key, got.DType, got.Shape, k.DType, k.Shape)
		}
		var refName string
		switch k.Kind {
		case "param":
			refName = "param/" + k.Key
		case "buffer":
			refName = "buffer/" + k.Key
		case "alias":
			refName = "param/" + k.Target
			if !bytes.Equal(got.Data, c.StateDict[k.Target].Data) {
				t.Errorf("alias %s differs from its target %s", k.Key, k.Target)
			}
		}
		counts[k.Kind]++
		rt, ok := ref.Tensors[refName]
		if !ok {
			t.Fatalf("%s: reference %s missing", k.Key, refName)
		}
		if string(rt.DType) != got.DType || !reflect.DeepEqual(rt.Shape, got.Shape) || !bytes.Equal(rt.Data, got.Data) {
			t.Errorf("%s differs from %s (bit-for-bit)", k.Key, refName)
		}
	}
	if counts["param"] != 227 || counts["buffer"] != 96 || counts["alias"] != 15 {
		t.Errorf("kinds %v, want 227 params, 96 buffers, 15 aliases", counts)
	}

	// Args equal the train_args recorded in the safetensors metadata.
	var want map[string]any
	if err := json.Unmarshal([]byte(ref.Metadata["train_args"]), &want); err != nil {
		t.Fatal(err)
	}
	if len(c.Args) != len(want) {
		t.Errorf("Args has %d fields, want %d", len(c.Args), len(want))
	}
	for k, w := range want {
		g, ok := c.Args[k]
		if !ok {
			t.Errorf("Args lacks %q", k)
			continue
		}
		if wf, isNum := w.(float64); isNum {
			var gf float64
			switch v := g.(type) {
			case int64:
				gf = float64(v)
			case float64:
				gf = v
			default:
				t.Errorf("Args[%q] = %T %v, want a number", k, g, g)
				continue
			}
			if gf != wf {
				t.Errorf("Args[%q] = %v, want %v", k, g, w)
			}
		} else if !reflect.DeepEqual(g, w) {
			t.Errorf("Args[%q] = %#v, want %#v", k, g, w)
		}
	}
	if c.Args["dataset"] != "mnist" || c.Args["num_channels_enc"] != int64(8) || c.Args["learning_rate"] != 0.01 || c.Args["use_se"] != true {
		t.Errorf("Args dataset=%v num_channels_enc=%#v learning_rate=%v use_se=%v", c.Args["dataset"], c.Args["num_channels_enc"], c.Args["learning_rate"], c.Args["use_se"])
	}

	if c.Extra["epoch"] != int64(10) || c.Extra["global_step"] != int64(1000) {
		t.Errorf("epoch %#v global_step %#v, want 10, 1000", c.Extra["epoch"], c.Extra["global_step"])
	}
	gs, _ := c.Extra["grad_scalar"].(map[string]any)
	if gs["scale"] != 1024.0 || gs["growth_interval"] != int64(2000) || gs["_growth_tracker"] != int64(0) {
		t.Errorf("grad_scalar = %v", gs)
	}
	sch, _ := c.Extra["scheduler"].(map[string]any)
	if sch["last_epoch"] != int64(4) {
		t.Errorf("scheduler = %v", sch)
	}
	opt, _ := c.Extra["optimizer"].(map[string]any)
	groups, _ := opt["param_groups"].([]any)
	if len(groups) != 1 {
		t.Fatalf("optimizer param_groups = %v", opt["param_groups"])
	}
	g0 := groups[0].(map[string]any)
	if params, _ := g0["params"].([]any); len(params) != 227 || g0["initial_lr"] != 0.01 {
		t.Errorf("param group has %d params, initial_lr %v", len(params), g0["initial_lr"])
	}
	ai, _ := c.Extra["arch_instance"].(map[string]any)
	if !reflect.DeepEqual(ai["normal_enc"], []any{"res_bnswish", "res_bnswish"}) {
		t.Errorf("arch_instance normal_enc = %v", ai["normal_enc"])
	}
	v, _ := c.StateDict["stem.weight"].Float32()
	t.Logf("stem.weight[:3] = %v, %d extra entries", v[:3], len(c.Extra))
}

// TestStep1CheckpointViews loads the checkpoint written after one fast
// Adamax step, whose parameters are views with non-zero storage offsets
// into shared storages.
func TestStep1CheckpointViews(t *testing.T) {
	p := testdata(t, "nvae", "mnist_tiny_checkpoint_step1.pt")
	// White-box: confirm that the file really holds offset views.
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fh.Stat()
	obj, err := decodeZip(fh, st.Size())
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	top, _ := dictEntries(obj)
	var sd []entry
	for _, e := range top {
		if e.key == "state_dict" {
			sd, _ = dictEntries(e.value)
		}
	}
	views, shared := 0, map[*storage]int{}
	for _, e := range sd {
		lt := e.value.(*lazyTensor)
		if lt.offset != 0 {
			views++
		}
		shared[lt.st]++
	}
	t.Logf("%d of %d state_dict tensors have a non-zero storage offset; %d distinct storages", views, len(sd), len(shared))
	if views < 100 {
		t.Errorf("expected many offset views, got %d", views)
	}

	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	c0, err := Load(testdata(t, "nvae", "mnist_tiny_checkpoint.pt"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := safetensors.ReadFile(testdata(t, "nvae", "mnist_tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Extra["global_step"] != int64(1001) {
		t.Errorf("global_step = %v", c.Extra["global_step"])
	}
	var maxDiff float64
	changed := 0
	for _, k := range readKeys(t, "keys_mnist_tiny.txt") {
		got := c.StateDict[k.Key]
		if !reflect.DeepEqual(got.Shape, k.Shape) {
			t.Errorf("%s shape %v, want %v", k.Key, got.Shape, k.Shape)
			continue
		}
		if k.Kind == "alias" && !bytes.Equal(got.Data, c.StateDict[k.Target].Data) {
			t.Errorf("alias %s differs from %s", k.Key, k.Target)
		}
		if k.Kind != "param" {
			continue
		}
		if !bytes.Equal(got.Data, c0.StateDict[k.Key].Data) {
			changed++
		}
		want, err := ref.Tensors["after_step/"+k.Key].Float64()
		if err != nil {
			t.Fatal(err)
		}
		g, _ := got.Float64()
		for i := range g {
			maxDiff = math.Max(maxDiff, math.Abs(g[i]-want[i]))
		}
	}
	t.Logf("max |step1 param - after_step| = %.3g; %d params changed by the step", maxDiff, changed)
	// The README says the step-1 parameters equal after_step/* to float32 accuracy.
	if maxDiff > 1e-4 {
		t.Errorf("params differ from after_step by %g", maxDiff)
	}
	if changed < 200 {
		t.Errorf("only %d params changed after the step", changed)
	}
	// Optimizer state loads loosely: per-parameter exp_avg tensors.
	opt := c.Extra["optimizer"].(map[string]any)
	state, _ := opt["state"].(map[string]any)
	if len(state) == 0 {
		t.Fatal("optimizer state is empty")
	}
	s0, _ := state["0"].(map[string]any)
	if ea, ok := s0["exp_avg"].(Tensor); !ok || !reflect.DeepEqual(ea.Shape, []int{32, 8, 8}) {
		t.Errorf("optimizer state 0 = %v", s0)
	}
}

func TestInceptionHeads(t *testing.T) {
	z, err := Load(testdata(t, "fid", "inception_random_head.pth"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(testdata(t, "fid", "inception_random_head_legacy.pth"))
	if err != nil {
		t.Fatal(err)
	}
	wantOrder := []string{"Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn.weight", "Conv2d_1a_3x3.bn.bias",
		"Conv2d_1a_3x3.bn.running_mean", "Conv2d_1a_3x3.bn.running_var", "Conv2d_1a_3x3.bn.num_batches_tracked", "fc.bias"}
	for _, c := range []*Checkpoint{z, l} {
		if !reflect.DeepEqual(c.StateDictOrder, wantOrder) {
			t.Errorf("order %v, want %v", c.StateDictOrder, wantOrder)
		}
		if len(c.Args) != 0 || len(c.Extra) != 0 {
			t.Errorf("unexpected Args %v / Extra %v", c.Args, c.Extra)
		}
	}
	for _, k := range wantOrder {
		a, b := z.StateDict[k], l.StateDict[k]
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs between zip and legacy files", k)
		}
		if v, ok := formula.Tensor(k, a.Shape); ok {
			r := safetensors.FromFloat32(a.Shape, v)
			if a.DType != string(r.DType) || !bytes.Equal(a.Data, r.Data) {
				t.Errorf("%s differs from the test-formula values", k)
			}
		} else if !strings.HasSuffix(k, "num_batches_tracked") {
			t.Errorf("%s: no test-formula values", k)
		}
	}
	if s := z.StateDict["Conv2d_1a_3x3.conv.weight"].Shape; !reflect.DeepEqual(s, []int{32, 3, 3, 3}) {
		t.Errorf("conv weight shape %v", s)
	}
	if nb := z.StateDict["Conv2d_1a_3x3.bn.num_batches_tracked"]; nb.DType != "I64" || len(nb.Shape) != 0 || len(nb.Data) != 8 {
		t.Errorf("num_batches_tracked = %+v", nb)
	}
}

// TestMaterializeViews checks offsets and strides on a hand-built storage.
func TestMaterializeViews(t *testing.T) {
	// Storage holds float32 0..11.
	st := &storage{cls: &storageClass{"F32", 4}, key: "s", numel: 12, loaded: true}
	for i := 0; i < 12; i++ {
		st.data = append(st.data, Tensor{}.Data...)
		var b [4]byte
		bits := math.Float32bits(float32(i))
		b[0], b[1], b[2], b[3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
		st.data = append(st.data, b[:]...)
	}
	cases := []struct {
		lt   lazyTensor
		want []float32
	}{
		{lazyTensor{st: st, offset: 0, size: []int{3, 4}, stride: []int{4, 1}}, []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{lazyTensor{st: st, offset: 2, size: []int{2, 3}, stride: []int{3, 1}}, []float32{2, 3, 4, 5, 6, 7}},
		{lazyTensor{st: st, offset: 0, size: []int{4, 3}, stride: []int{1, 4}}, []float32{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}}, // transpose
		{lazyTensor{st: st, offset: 1, size: []int{2, 2}, stride: []int{6, 2}}, []float32{1, 3, 7, 9}},
		{lazyTensor{st: st, offset: 5, size: []int{}, stride: []int{}}, []float32{5}},
		{lazyTensor{st: st, offset: 3, size: []int{2, 3}, stride: []int{0, 1}}, []float32{3, 4, 5, 3, 4, 5}}, // broadcast
		{lazyTensor{st: st, offset: 11, size: []int{0, 5}, stride: []int{5, 1}}, []float32{}},
	}
	for i, c := range cases {
		tt, err := materialize(&c.lt)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got, _ := tt.Float32()
		if !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(tt.Shape, c.lt.size) {
			t.Errorf("case %d: %v %v, want %v", i, tt.Shape, got, c.want)
		}
	}
	// Legacy view storage: elements 4..7 of the root.
	view := &storage{cls: st.cls, key: "v", numel: 4, root: st, offset: 4}
	tt, err := materialize(&lazyTensor{st: view, offset: 1, size: []int{3}, stride: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tt.Float32(); !reflect.DeepEqual(got, []float32{5, 6, 7}) {
		t.Errorf("view storage tensor = %v", got)
	}
	for i, lt := range []lazyTensor{
		{st: st, offset: 10, size: []int{3}, stride: []int{1}},
		{st: st, offset: 0, size: []int{2, 2}, stride: []int{11, 1}},
		{st: view, offset: 2, size: []int{3}, stride: []int{1}},
	} {
		if _, err := materialize(&lt); err == nil {
			t.Errorf("out-of-range view %d should fail", i)
		}
	}
	if _, err := materialize(&lazyTensor{st: &storage{cls: st.cls, root: st, offset: 10, numel: 5, key: "bad"}, size: []int{1}, stride: []int{1}}); err == nil {
		t.Error("view storage beyond its root should fail")
	}
}

func TestPickleLength(t *testing.T) {
	zr, err := zip.OpenReader(testdata(t, "fid", "inception_random_head.pth"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "data.pkl") {
			continue
		}
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		n, err := pickleLength(append(b, "trailing"...))
		if err != nil || n != len(b) {
			t.Errorf("pickleLength = %d, %v; want %d", n, err, len(b))
		}
		if _, err := pickleLength(b[:len(b)-1]); err == nil {
			t.Error("pickle without STOP should fail")
		}
	}
	for _, bad := range [][]byte{
		{0x80, 0x02, 'X', 0xff, 0xff, 0xff, 0x7f, '.'},                     // BINUNICODE longer than input
		{0x80, 0x04, 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // FRAME
		{0x80, 0x02, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x80, '.'},                 // BINBYTES8 with 2^63
		{0x80, 0x02, 0xff, '.'},                                            // unknown opcode
		{'c', 't', 'o', 'r', 'c', 'h'},                                     // unterminated GLOBAL
	} {
		if _, err := pickleLength(bad); err == nil {
			t.Errorf("%x: expected error", bad)
		}
	}
}

func corruptSeeds(t testing.TB) map[string][]byte {
	z, err := os.ReadFile(testdata(t, "fid", "inception_random_head.pth"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := os.ReadFile(testdata(t, "fid", "inception_random_head_legacy.pth"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, from, to int) []byte {
		c := append([]byte(nil), b...)
		for i := from; i < to && i < len(c); i++ {
			c[i] ^= 0xa5
		}
		return c
	}
	return map[string][]byte{
		"empty":              {},
		"garbage":            []byte("hello, this is not a checkpoint"),
		"zip truncated":      z[:len(z)/2],
		"zip truncated end":  z[:len(z)-10],
		"zip pickle flipped": flip(z, 100, 400),
		"zip data flipped":   flip(z, 1200, 1300),
		"legacy truncated":   l[:len(l)-100],
		"legacy half":        l[:len(l)/2],
		"legacy header":      l[:40],
		"legacy flipped":     flip(l, 150, 700),
		"legacy sizes":       flip(l, 1183, 1191),
		"pickle only":        []byte{0x80, 0x02, 'K', 1, '.'},
		"tar":                append(make([]byte, 257), []byte("ustar\x0000")...),
	}
}

func TestCorruptInputs(t *testing.T) {
	for name, data := range corruptSeeds(t) {
		_, err := LoadReader(bytes.NewReader(data), int64(len(data)))
		if err == nil {
			t.Errorf("%s: expected an error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.pt")); err == nil {
		t.Error("missing file should fail")
	}
	// Load errors name the file.
	p := filepath.Join(t.TempDir(), "bad.pt")
	if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v should name the file", err)
	}
}

func FuzzLoad(f *testing.F) {
	for _, name := range []string{"inception_random_head.pth", "inception_random_head_legacy.pth"} {
		b, err := os.ReadFile(testdata(f, "fid", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range corruptSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, k := range c.StateDictOrder {
			if _, err := c.StateDict[k].Float64(); err != nil {
				t.Fatalf("accepted tensor %q fails to convert: %v", k, err)
			}
		}
	})
}
