package fid

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvaego/nvae/internal/compare"
	"github.com/nvaego/nvae/internal/testenv"

	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/fid/formula"
	"github.com/nvaego/nvae/pkg/safetensors"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Tolerances from the oracle README: a float64 implementation agrees with
// the official float64 run to |d| <= 1e-9·max(1, |ref|); a float32
// implementation with the official float32 features to 1e-4 absolute.
const (
	tol64 = 1e-9
	tol32 = 1e-4
)

var (
	modelOnce sync.Once
	models    [2]*Inception
	modelErr  error
)

// randomInception returns the FID Inception with the test-formula weights
// (those of the oracle) on the CPU backend, float32 or float64 (built once).
func randomInception(t testing.TB, dt tensor.DType) *Inception {
	t.Helper()
	modelOnce.Do(func() {
		for i, d := range []tensor.DType{tensor.Float32, tensor.Float64} {
			if models[i], modelErr = LoadInception(formula.Name, cpu.New(), d); modelErr != nil {
				return
			}
		}
	})
	if modelErr != nil {
		t.Fatalf("building the test-formula weights: %v", modelErr)
	}
	if dt == tensor.Float64 {
		return models[1]
	}
	return models[0]
}

// u8Image converts an HWC uint8 RGB image to a [1, 3, H, W] tensor of
// u8/255 in dtype dt (a float32 division for float32, float64 for float64,
// as ToTensor and the float64 reference do).
func u8Image(px []byte, h, w int, dt tensor.DType) *tensor.Tensor {
	out := tensor.Host(dt, 1, 3, h, w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				v := px[(y*w+x)*3+c]
				i := (c*h+y)*w + x
				if dt == tensor.Float64 {
					out.F64()[i] = float64(v) / 255
				} else {
					out.F32()[i] = float32(v) / 255
				}
			}
		}
	}
	return out
}

func checkClose(t *testing.T, name string, got, want []float64, tol, floor float64) {
	t.Helper()
	compare.Check(t, name, got, want, tol, compare.Elementwise(floor))
}

// traceOf computes the oracle's per-layer traces of an NCHW tensor (batch
// 1): per-channel sums over H,W and [sum, sum|x|, sum x², min, max].
func traceOf(x *tensor.Tensor) (chsum, stats []float64) {
	v := x.Float64s()
	c := x.Dim(1)
	hw := len(v) / c
	chsum = make([]float64, c)
	stats = []float64{0, 0, 0, math.Inf(1), math.Inf(-1)}
	for ch := 0; ch < c; ch++ {
		s := 0.0
		for _, e := range v[ch*hw : (ch+1)*hw] {
			s += e
			stats[1] += math.Abs(e)
			stats[2] += e * e
			stats[3] = math.Min(stats[3], e)
			stats[4] = math.Max(stats[4], e)
		}
		chsum[ch] = s
		stats[0] += s
	}
	return chsum, stats
}

// TestFIDInceptionOracle runs every image of features.safetensors through
// the random-weight FID Inception in float64 and float32 (one image per
// batch, like the oracle) and compares the pool3 features and every stored
// intermediate activation (act/<img>/<name>) and per-layer trace
// (trace/<img>/<name>/chsum|stats) with the README's tolerances. The
// float64 resize is also required to be bit-exact, as the README states.
func TestFIDInceptionOracle(t *testing.T) {
	dir := oracleDir(t)
	path := filepath.Join(dir, "features.safetensors")
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatalf("oracle data: %v", err)
	}
	m64 := randomInception(t, tensor.Float64)
	m32 := randomInception(t, tensor.Float32)
	f64, ok64 := f.Tensors["out/features_f64"]
	f32, ok32 := f.Tensors["out/features_f32"]
	if !ok64 || !ok32 {
		t.Fatalf("%s: no out/features_f64 or out/features_f32", path)
	}
	want64, _ := f64.Float64()
	want32, _ := f32.Float64()

	// Group the per-image entries: input/<img>, act/<img>/<name>,
	// trace/<img>/<name>/<kind>.
	type imageCase struct {
		input safetensors.Tensor
		acts  map[string]safetensors.Tensor
		trace map[string]map[string]safetensors.Tensor
	}
	cases := map[string]*imageCase{}
	get := func(img string) *imageCase {
		if cases[img] == nil {
			cases[img] = &imageCase{acts: map[string]safetensors.Tensor{}, trace: map[string]map[string]safetensors.Tensor{}}
		}
		return cases[img]
	}
	nTensors := 0
	for _, name := range f.Names() {
		parts := strings.Split(name, "/")
		switch {
		case parts[0] == "input" && len(parts) == 2:
			get(parts[1]).input = f.Tensors[name]
		case parts[0] == "act" && len(parts) == 3:
			get(parts[1]).acts[parts[2]] = f.Tensors[name]
		case parts[0] == "trace" && len(parts) == 4:
			c := get(parts[1])
			if c.trace[parts[2]] == nil {
				c.trace[parts[2]] = map[string]safetensors.Tensor{}
			}
			c.trace[parts[2]][parts[3]] = f.Tensors[name]
		case parts[0] == "out":
			continue
		default:
			t.Errorf("%s: unrecognised oracle tensor %q", path, name)
			continue
		}
		nTensors++
	}
	imgs := make([]string, 0, len(cases))
	for k := range cases {
		imgs = append(imgs, k)
	}
	sort.Strings(imgs)
	if len(imgs) == 0 || len(want64) != len(imgs)*Dims || len(want32) != len(imgs)*Dims {
		t.Fatalf("%s: %d images but features of %d/%d values", path, len(imgs), len(want64), len(want32))
	}
	checked := 0
	for _, img := range imgs {
		c := cases[img]
		var row int
		if _, err := fmt.Sscanf(img, "img%d", &row); err != nil || row < 0 || row >= len(imgs) {
			t.Fatalf("%s: image name %q does not give a feature row", path, img)
		}
		if c.input.DType != safetensors.U8 || len(c.input.Shape) != 3 || c.input.Shape[2] != 3 {
			t.Fatalf("%s: input/%s is %s %v, want U8 [H,W,3]", path, img, c.input.DType, c.input.Shape)
		}
		h, w := c.input.Shape[0], c.input.Shape[1]
		var names []string
		for n := range c.acts {
			names = append(names, n)
		}
		for n := range c.trace {
			if _, dup := c.acts[n]; !dup {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		start := time.Now()
		got64, taps := m64.FeaturesWithTaps(u8Image(c.input.Data, h, w, tensor.Float64), names)
		el64 := time.Since(start)
		checkClose(t, img+" features_f64", got64.Float64s(), want64[row*Dims:(row+1)*Dims], tol64, 1)
		checked++
		for _, n := range names {
			got := taps[n]
			if a, ok := c.acts[n]; ok {
				want, err := a.Float64()
				if err != nil {
					t.Fatalf("act/%s/%s: %v", img, n, err)
				}
				if fmt.Sprint([]int(got.Shape())) != fmt.Sprint(a.Shape) {
					t.Errorf("act/%s/%s: shape %v, oracle %v", img, n, got.Shape(), a.Shape)
					continue
				}
				checkClose(t, "act/"+img+"/"+n, got.Float64s(), want, tol64, 1)
				checked++
				if n == "resized" {
					if err := compare.Explain(got.Float64s(), want, 0, compare.Elementwise(1)); err != nil {
						t.Errorf("act/%s/resized: not bit-exact: %v", img, err)
					}
				}
			}
			if tr, ok := c.trace[n]; ok {
				chsum, stats := traceOf(got)
				for kind, ts := range tr {
					want, err := ts.Float64()
					if err != nil {
						t.Fatalf("trace/%s/%s/%s: %v", img, n, kind, err)
					}
					switch kind {
					case "chsum":
						checkClose(t, "trace/"+img+"/"+n+"/chsum", chsum, want, tol64, 1)
					case "stats":
						checkClose(t, "trace/"+img+"/"+n+"/stats", stats, want, tol64, 1)
					default:
						t.Errorf("trace/%s/%s/%s: unknown trace kind", img, n, kind)
					}
					checked++
				}
			}
		}
		start = time.Now()
		got32 := m32.Features(u8Image(c.input.Data, h, w, tensor.Float32))
		el32 := time.Since(start)
		if got32.DType() != tensor.Float32 || fmt.Sprint([]int(got32.Shape())) != fmt.Sprint([]int{1, Dims}) {
			t.Fatalf("%s float32 features: %v %v", img, got32.DType(), got32.Shape())
		}
		w32, err := compare.Find(got32.Float64s(), want32[row*Dims:(row+1)*Dims], tol32, compare.Absolute)
		abs32 := w32.Abs
		if err != nil || !w32.OK() {
			t.Errorf("%s features_f32: %v %v exceeds %g absolute", img, err, w32, tol32)
		}
		checked++
		t.Logf("%s (%dx%d): f64 %v, f32 %v (max |f32 - official f32| = %.3g), %d taps", img, h, w,
			el64.Round(time.Millisecond), el32.Round(time.Millisecond), abs32, len(names))
	}
	t.Logf("checked %d comparisons covering %d oracle tensors", checked, nTensors)
}

// TestFIDInceptionPthWeights reads the 7-entry .pth fixtures (zip and legacy
// torch.save formats) through the weights reader and checks they hold the
// test-formula values exactly; loading them as a network must fail with a
// clear message naming the first missing tensor.
func TestFIDInceptionPthWeights(t *testing.T) {
	dir := oracleDir(t)
	full, _, err := readWeights(formula.Name)
	if err != nil {
		t.Fatal(err)
	}
	fc, _ := formula.Tensor("fc.bias", []int{1008})
	full["fc.bias"] = weight{[]int{1008}, f32to64(fc)}
	for _, name := range []string{"inception_random_head.pth", "inception_random_head_legacy.pth"} {
		path := testenv.File(t, dir, name)
		ws, eps, err := readWeights(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ws) != 6 || eps != 0 { // 7 entries, num_batches_tracked is not a float
			t.Errorf("%s: %d float tensors, eps %v; want 6, 0", name, len(ws), eps)
		}
		for k, w := range ws {
			ref, ok := full[k]
			if !ok || fmt.Sprint(w.shape) != fmt.Sprint(ref.shape) || fmt.Sprint(w.data) != fmt.Sprint(ref.data) {
				t.Errorf("%s: %s differs from the test-formula values", name, k)
			}
		}
		_, err = LoadInception(path, cpu.New(), tensor.Float32)
		if err == nil || !strings.Contains(err.Error(), "missing tensor Conv2d_2a_3x3.conv.weight") {
			t.Errorf("%s: LoadInception error %v, want a missing-tensor error", name, err)
		}
	}
	if m := randomInception(t, tensor.Float32); m.BNEps() != 1e-3 {
		t.Errorf("bn eps %v, want 1e-3", m.BNEps())
	}
}

func f32to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestFIDStateDictKeys checks StateDictKeys against the official key list
// (metadata weight_keys of features.safetensors: key, dtype, shape, in
// state-dict order) and the whole test-formula weight set against the
// README's sha256 of all float32 values in that order.
func TestFIDStateDictKeys(t *testing.T) {
	f, err := safetensors.ReadFile(testenv.File(t, oracleDir(t), "features.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var want [][3]json.RawMessage
	if err := json.Unmarshal([]byte(f.Metadata["weight_keys"]), &want); err != nil {
		t.Fatalf("metadata weight_keys: %v", err)
	}
	got := StateDictKeys()
	if len(got) != len(want) || len(got) != 566 {
		t.Fatalf("%d keys, the official list has %d (want 566)", len(got), len(want))
	}
	h := sha256.New()
	floats := 0
	for i, k := range got {
		var key, dt string
		var shape []int
		if json.Unmarshal(want[i][0], &key) != nil || json.Unmarshal(want[i][1], &dt) != nil || json.Unmarshal(want[i][2], &shape) != nil {
			t.Fatalf("weight_keys[%d] malformed", i)
		}
		wantDT := "float32"
		if k.Int64 {
			wantDT = "int64"
		}
		if k.Key != key || dt != wantDT || fmt.Sprint(k.Shape) != fmt.Sprint(shape) {
			t.Fatalf("key %d: %s %s %v, official %s %s %v", i, k.Key, wantDT, k.Shape, key, dt, shape)
		}
		if k.Int64 {
			continue
		}
		v, ok := formula.Tensor(k.Key, k.Shape)
		if !ok {
			t.Fatalf("%s: no formula", k.Key)
		}
		buf := make([]byte, 4*len(v))
		for j, x := range v {
			binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
		}
		h.Write(buf)
		floats += len(v)
	}
	if floats != 23885392 {
		t.Errorf("%d float parameters, want 23885392", floats)
	}
	const wantSum = "9799fb9e4abd104ea47924b46cb2b06ab43226555997ecb11afaa373ea19b639"
	if sum := hex.EncodeToString(h.Sum(nil)); sum != wantSum {
		t.Errorf("sha256 of the test-formula weights %s, want %s", sum, wantSum)
	}
}

// TestFIDInceptionEndToEnd runs features -> Stats -> FrechetDistance on the
// oracle images (images 0-2 against 3-5) and compares the distance with the
// one computed from the official float64 features.
func TestFIDInceptionEndToEnd(t *testing.T) {
	f, err := safetensors.ReadFile(testenv.File(t, oracleDir(t), "features.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	m := randomInception(t, tensor.Float64)
	ref, err := f.Tensors["out/features_f64"].Float64()
	if err != nil {
		t.Fatal(err)
	}
	n := len(ref) / Dims
	if n < 4 || len(ref) != n*Dims {
		t.Fatalf("out/features_f64 has %d values: want at least 4 images of %d features", len(ref), Dims)
	}
	var got []float64
	for i := 0; i < n; i++ {
		in, ok := f.Tensors[fmt.Sprintf("input/img%d", i)]
		if !ok || len(in.Shape) != 3 {
			t.Fatalf("input/img%d missing or not [H,W,3]", i)
		}
		if in.Shape[0]*in.Shape[1] > 128*128 {
			// Large images dominate the run time; their features
			// are checked by TestFIDInceptionOracle.
			got = append(got, ref[i*Dims:(i+1)*Dims]...)
			continue
		}
		got = append(got, m.Features(u8Image(in.Data, in.Shape[0], in.Shape[1], tensor.Float64)).Float64s()...)
	}
	// The first 256 feature dimensions keep the eigendecomposition cheap
	// (the d = 2048 Fréchet distance is covered by TestFIDFrechetOracle).
	const d = 256
	half := n / 2
	fid := func(feat []float64) float64 {
		sub := make([]float64, 0, n*d)
		for i := 0; i < n; i++ {
			sub = append(sub, feat[i*Dims:i*Dims+d]...)
		}
		mu1, s1 := Stats(sub[:half*d], half, d)
		mu2, s2 := Stats(sub[half*d:], n-half, d)
		v, err := FrechetDistance(mu1, s1, mu2, s2, d)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := fid(got), fid(ref)
	if !(a > 0) || !(math.Abs(a-b) <= 1e-6*b) {
		t.Fatalf("FID from our features %.12g, from the official features %.12g", a, b)
	}
	t.Logf("FID(first %d images, last %d), first 256 dims = %.10g (official features: %.10g)", half, n-half, a, b)
}

// BenchmarkInception measures the float32 forward pass of a batch of 8
// 299x299 images (the resize is then the identity), the setting of the
// PyTorch CPU anchor (118 ms per image, 8.5 images/s on 2 threads, i.e.
// about 236 cpu-ms per image).
func BenchmarkInception(b *testing.B) {
	m := randomInception(b, tensor.Float32)
	const n = 8
	x := tensor.Host(tensor.Float32, n, 3, InputSize, InputSize)
	for i := range x.F32() {
		x.F32()[i] = float32((i*7919)%256) / 255
	}
	m.Features(x) // warm-up
	b.ResetTimer()
	start, cpu0 := time.Now(), testenv.ProcessCPU()
	for i := 0; i < b.N; i++ {
		m.Features(x)
	}
	el := time.Since(start).Seconds()
	cpu := (testenv.ProcessCPU() - cpu0).Seconds()
	b.ReportMetric(float64(n*b.N)/el, "images/s")
	b.ReportMetric(el*1000/float64(n*b.N), "ms/image")
	// CPU time per image: on a machine shared with other work this is a
	// steadier figure than wall time (ideal wall time = cpu / cores).
	b.ReportMetric(cpu*1000/float64(n*b.N), "cpu-ms/image")
}
