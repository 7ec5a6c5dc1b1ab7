// Package oracle runs the official implementation's test vectors
// (testdata/oracle/nvae, or $NVAE_ORACLE_DIR) against a model on any backend. Tests of the CPU
// model, the checkpoint importer and the GPU backend share it.
package oracle

import (
	"encoding/json"
	"fmt"
	"github.com/nvaego/nvae/internal/compare"
	"github.com/nvaego/nvae/internal/testenv"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/optim"
	"github.com/nvaego/nvae/pkg/safetensors"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Dir is NVAE_ORACLE_DIR or testdata/oracle/nvae.
func Dir(t testing.TB) string {
	return testenv.NVAEDir(t)
}

// Tolerances are the bounds per category of the testdata README; all are
// scale-relative (max|got−ref| / max|ref|) unless named absolute.
type Tolerances struct {
	Train    float64 // out/* of the training forward
	Step2    float64 // out/step2/*
	Eval     float64 // out/eval/*
	Sample   float64 // out/sample/* (logits, mean)
	Buffer   float64 // buffer_after/*
	Grad     float64 // grad/* (non-zero)
	Sigma    float64 // sr/*/sigma, norm_loss
	UV       float64 // sr/*/u, v
	Update   float64 // after_step/* update Δ, relative to the largest update
	ZeroGrad float64 // analytically-zero grads: × the largest gradient (absolute)
	AfterAbs float64 // after_step/* values (absolute)
}

// F32 are the README's suggested float32 tolerances.
var F32 = Tolerances{
	Train: 8e-6, Step2: 3e-6, Eval: 3e-5, Sample: 6e-6, Buffer: 2e-6, Grad: 1e-3,
	Sigma: 4e-6, UV: 2e-3, Update: 6e-2, ZeroGrad: 3e-4, AfterAbs: 3e-3,
}

// F64 are the README's float64 tolerances: 1e-9 everywhere, 1e-12 × the
// largest gradient for analytically-zero gradients (F32-stored references
// get 2e-7, see bigTol).
var F64 = Tolerances{
	Train: 1e-9, Step2: 1e-9, Eval: 1e-9, Sample: 1e-9, Buffer: 1e-9, Grad: 1e-9,
	Sigma: 1e-9, UV: 1e-9, Update: 1e-9, ZeroGrad: 1e-12, AfterAbs: 1e-9,
}

type oracle struct {
	t    testing.TB
	be   backend.Backend
	f    *safetensors.File
	name string
}

func (o *oracle) get(name string) []float64 {
	o.t.Helper()
	ts, ok := o.f.Tensors[name]
	if !ok {
		o.t.Fatalf("%s: tensor %q missing", o.name, name)
	}
	v, err := ts.Float64()
	if err != nil {
		o.t.Fatal(err)
	}
	return v
}

func (o *oracle) has(name string) bool { _, ok := o.f.Tensors[name]; return ok }

func (o *oracle) tensor(name string, dt tensor.DType) *tensor.Tensor {
	ts := o.f.Tensors[name]
	t := tensor.FromFloat64(ts.Shape, o.get(name))
	if dt == tensor.Float32 {
		return tensor.FromFloat32(ts.Shape, t.Float32s())
	}
	return t
}

// compare checks got against the reference with a scale-relative tolerance
// (max|got−ref| / max|ref|) and reports the worst element.
func (o *oracle) compare(what string, got []float64, ref []float64, tol float64) {
	o.t.Helper()
	compare.Check(o.t, o.name+": "+what, got, ref, tol, compare.ScaleRelative)
}

func (o *oracle) cmpVar(what string, v *ag.Var, tol float64) {
	o.t.Helper()
	o.compare(what, host(o.be, v.Value), o.get(what), tol)
}

// replayNoise hands out the recorded eps/<k> and uniform/<k> in order.
type replayNoise struct {
	o        *oracle
	n, u     int
	mismatch error
}

func (r *replayNoise) Normal(c *ag.Ctx, shape ...int) *tensor.Tensor {
	name := fmt.Sprintf("eps/%d", r.n)
	r.n++
	return r.take(c, name, shape)
}

func (r *replayNoise) Uniform(c *ag.Ctx, shape ...int) *tensor.Tensor {
	name := fmt.Sprintf("uniform/%d", r.u)
	r.u++
	return r.take(c, name, shape)
}

func (r *replayNoise) take(c *ag.Ctx, name string, shape []int) *tensor.Tensor {
	r.o.t.Helper()
	if !r.o.has(name) {
		r.o.t.Fatalf("model asked for %s %v, which the case does not hold", name, shape)
	}
	t := r.o.tensor(name, c.DType)
	if !t.Shape().Equal(shape) {
		r.o.t.Fatalf("model asked for %s with shape %v, recorded shape %v", name, shape, t.Shape())
	}
	return c.B.FromHost(t)
}

// Cases lists the case files of the oracle directory.
func Cases(t testing.TB) []string {
	dir := Dir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if len(files) == 0 {
		t.Fatalf("no oracle cases in %s", dir)
	}
	return files
}

// CaseName is the file name without extension.
func CaseName(path string) string { return strings.TrimSuffix(filepath.Base(path), ".safetensors") }

// Case is one loaded case file.
type Case struct {
	Name string
	File *safetensors.File
}

// Load reads a case file.
func Load(t testing.TB, path string) *Case {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Case{CaseName(path), f}
}

// Config is the case's train.py configuration.
func (cs *Case) Config(t testing.TB) nvae.Config {
	var args map[string]any
	dec := json.NewDecoder(strings.NewReader(cs.File.Metadata["train_args"]))
	dec.UseNumber()
	if err := dec.Decode(&args); err != nil {
		t.Fatal(err)
	}
	cfg, err := nvae.ConfigFromArgsMap(args)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// BuildModel builds the case's model on b and loads param/* and buffer/*.
func (cs *Case) BuildModel(t testing.TB, b backend.Backend, dt tensor.DType) *nvae.Model {
	m, err := nvae.NewModel(cs.Config(t), b, dt, 1)
	if err != nil {
		t.Fatal(err)
	}
	o := &oracle{t: t, be: b, f: cs.File, name: cs.Name}
	loadParams(t, o, m, b, dt)
	return m
}

// Run checks every quantity of the case with model m (its parameters and
// buffers must hold the case's param/* and buffer/*) on backend b.
func (cs *Case) Run(t testing.TB, m *nvae.Model, b backend.Backend, dt tensor.DType, tol Tolerances) {
	runOracle(t, &oracle{t: t, be: b, f: cs.File, name: cs.Name}, m, b, dt, tol)
}

// loadParams loads param/* and buffer/* into m and checks the masks.
func loadParams(t testing.TB, o *oracle, m *nvae.Model, b backend.Backend, dt tensor.DType) {
	// every parameter and buffer of the case, and nothing else
	seen := map[string]bool{}
	for _, p := range m.Store.Params() {
		key := "param/" + p.Name
		if !o.has(key) {
			t.Fatalf("model parameter %s %v is not in the case", p.Name, p.Shape())
		}
		ref := o.tensor(key, dt)
		if !ref.Shape().Equal(p.Shape()) {
			t.Fatalf("parameter %s: shape %v, case has %v", p.Name, p.Shape(), ref.Shape())
		}
		p.Value = b.FromHost(ref)
		seen[key] = true
	}
	for _, bn := range m.Store.BufferNames() {
		key := "buffer/" + bn
		if !o.has(key) {
			t.Fatalf("model buffer %s is not in the case", bn)
		}
		m.Store.SetBuffer(bn, b.FromHost(o.tensor(key, dt)))
		seen[key] = true
	}
	for k := range o.f.Tensors {
		if (strings.HasPrefix(k, "param/") || strings.HasPrefix(k, "buffer/")) && !seen[k] {
			t.Errorf("case tensor %s has no counterpart in the model", k)
		}
	}
	// the autoregressive masks
	for _, conv := range m.Store.Convs {
		key := "mask/" + conv.Name
		if o.has(key) {
			if conv.Mask == nil {
				t.Errorf("conv %s should be masked", conv.Name)
				continue
			}
			o.compare(key, b.ToHost(conv.Mask).Float64s(), o.get(key), 0)
		} else if conv.Mask != nil {
			t.Errorf("conv %s is masked but the case has no mask", conv.Name)
		}
	}
}

// host returns a host float64 copy of a backend tensor.
func host(b backend.Backend, t *tensor.Tensor) []float64 { return b.ToHost(t).Float64s() }

func runOracle(t testing.TB, o *oracle, m *nvae.Model, be backend.Backend, dt tensor.DType, tol Tolerances) {
	f := o.f
	c := ag.New(be, dt)
	var consts struct {
		K           int     `json:"num_iw_samples"`
		NumSamples  int     `json:"num_gen_samples"`
		Temperature float64 `json:"sample_temperature"`
	}
	if err := json.Unmarshal([]byte(f.Metadata["constants"]), &consts); err != nil {
		t.Fatal(err)
	}
	m.SR.Init = func(g, rows, cols, n int) (*tensor.Tensor, *tensor.Tensor) {
		return be.FromHost(o.tensor(fmt.Sprintf("sr/%d/u0_raw", g), dt)), be.FromHost(o.tensor(fmt.Sprintf("sr/%d/v0_raw", g), dt))
	}
	// spectral groups as the case lists them
	var groups []struct {
		Index, Rows, Cols int
		Members           []string
	}
	if err := json.Unmarshal([]byte(f.Metadata["spectral_groups"]), &groups); err != nil {
		t.Fatal(err)
	}
	noise := &replayNoise{o: o}
	x := c.Const(be.FromHost(o.tensor("input/x", dt)))
	at := func(name string) float64 { return o.get(name)[0] }

	// 1. training forward and backward
	m.Store.Training = true
	r := m.TrainLoss(c, x, noise, at("const/kl_coeff"), at("const/wdn_coeff"))
	c.Backward(r.Loss)
	o.cmpVar("out/logits", r.Out.Logits, math.Max(tol.Train, bigTol(o, "out/logits", dt)))
	o.cmpVar("out/log_q", r.Out.LogQ, tol.Train)
	o.cmpVar("out/log_p", r.Out.LogP, tol.Train)
	for i := range r.Out.KLAll {
		o.cmpVar(fmt.Sprintf("out/kl_all/%d", i), r.Out.KLAll[i], tol.Train)
		o.cmpVar(fmt.Sprintf("out/kl_diag/%d", i), r.Out.KLDiag[i], tol.Train)
	}
	o.cmpVar("out/recon_loss", r.Recon, tol.Train)
	o.cmpVar("out/balanced_kl", r.BalancedKL, tol.Train)
	o.compare("out/kl_coeffs", r.KLCoeffs(be), o.get("out/kl_coeffs"), tol.Train)
	o.compare("out/kl_vals", r.KLVals(be), o.get("out/kl_vals"), tol.Train)
	o.compare("out/alpha_i", m.Cfg.KLBalancerCoeff(), o.get("out/alpha_i"), 1e-12)
	o.cmpVar("out/nelbo", r.Nelbo, tol.Train)
	o.cmpVar("out/nelbo_mean", r.NelboMean, tol.Train)
	o.cmpVar("out/norm_loss", r.NormLoss, tol.Sigma)
	o.cmpVar("out/bn_loss", r.BNLoss, tol.Train)
	o.cmpVar("out/loss", r.Loss, tol.Train)
	if len(r.SR) != len(groups) {
		t.Fatalf("%d spectral groups, case has %d", len(r.SR), len(groups))
	}
	for g, sg := range r.SR {
		if fmt.Sprint(sg.Members) != fmt.Sprint(groups[g].Members) || sg.Rows != groups[g].Rows || sg.Cols != groups[g].Cols {
			t.Fatalf("spectral group %d: [%d %d] %v, case has [%d %d] %v", g, sg.Rows, sg.Cols, sg.Members, groups[g].Rows, groups[g].Cols, groups[g].Members)
		}
		o.cmpVar(fmt.Sprintf("sr/%d/sigma", g), sg.Sigma, tol.Sigma)
		k := [2]int{sg.Rows, sg.Cols}
		o.compare(fmt.Sprintf("sr/%d/u", g), host(be, m.SR.U[k]), o.get(fmt.Sprintf("sr/%d/u", g)), tol.UV)
		o.compare(fmt.Sprintf("sr/%d/v", g), host(be, m.SR.V[k]), o.get(fmt.Sprintf("sr/%d/v", g)), tol.UV)
	}
	// gradients: scale-relative per tensor; analytically-zero ones absolutely
	maxGrad := 0.0
	for _, p := range m.Store.Params() {
		for _, v := range o.get("grad/" + p.Name) {
			maxGrad = math.Max(maxGrad, math.Abs(v))
		}
	}
	for _, p := range m.Store.Params() {
		ref := o.get("grad/" + p.Name)
		var got []float64
		if p.Grad != nil {
			got = host(be, p.Grad)
		} else {
			got = make([]float64, len(ref))
		}
		refMax := 0.0
		for _, v := range ref {
			refMax = math.Max(refMax, math.Abs(v))
		}
		if len(got) != len(ref) {
			t.Errorf("grad/%s: %d values, reference has %d", p.Name, len(got), len(ref))
			continue
		}
		if refMax < 1e-10*maxGrad {
			for i := range got {
				if d := math.Abs(got[i] - ref[i]); !(d <= tol.ZeroGrad*maxGrad) {
					t.Errorf("grad/%s (analytically zero): element %d got %.3g want %.3g, abs error %.3g > %.3g", p.Name, i, got[i], ref[i], d, tol.ZeroGrad*maxGrad)
					break
				}
			}
			continue
		}
		o.compare("grad/"+p.Name, got, ref, tol.Grad)
	}
	for _, b := range m.Store.BufferNames() {
		o.compare("buffer_after/"+b, host(be, m.Store.Buffer(b)), o.get("buffer_after/"+b), tol.Buffer)
	}

	// 2. one Adamax step
	before := map[string][]float64{}
	for _, p := range m.Store.Params() {
		before[p.Name] = host(be, p.Value)
	}
	opt := optim.NewAdamax(c.B, m.Store.Params(), at("const/lr"), m.Cfg.WeightDecay)
	opt.StepUpdate()
	for _, p := range m.Store.Params() {
		ref := o.get("after_step/" + p.Name)
		got := host(be, p.Value)
		b := before[p.Name]
		if len(got) != len(ref) || len(b) != len(ref) {
			t.Errorf("after_step/%s: %d values (%d before the step), reference has %d", p.Name, len(got), len(b), len(ref))
			continue
		}
		du, dr := make([]float64, len(ref)), make([]float64, len(ref))
		for i := range ref {
			du[i], dr[i] = got[i]-b[i], ref[i]-b[i]
			if d := math.Abs(got[i] - ref[i]); !(d <= tol.AfterAbs) {
				t.Errorf("after_step/%s: element %d got %.10g want %.10g (abs %.3g)", p.Name, i, got[i], ref[i], d)
				break
			}
		}
		if ref := o.get("grad/" + p.Name); maxAbs(ref) >= 1e-10*maxGrad {
			o.compare("after_step/"+p.Name+" (update)", du, dr, tol.Update)
		}
	}

	// 3. second training forward with the updated parameters
	r2 := m.TrainLoss(c, x, noise, at("const/kl_coeff_step2"), at("const/wdn_coeff_step2"))
	o.cmpVar("out/step2/nelbo", r2.Nelbo, tol.Step2)
	o.cmpVar("out/step2/norm_loss", r2.NormLoss, tol.Sigma)
	o.cmpVar("out/step2/bn_loss", r2.BNLoss, tol.Step2)
	o.cmpVar("out/step2/loss", r2.Loss, tol.Step2)
	for g, sg := range r2.SR {
		k := [2]int{sg.Rows, sg.Cols}
		o.compare(fmt.Sprintf("sr/%d/u_step2", g), host(be, m.SR.U[k]), o.get(fmt.Sprintf("sr/%d/u_step2", g)), tol.UV)
		o.compare(fmt.Sprintf("sr/%d/v_step2", g), host(be, m.SR.V[k]), o.get(fmt.Sprintf("sr/%d/v_step2", g)), tol.UV)
	}

	// 4. evaluation and sampling: parameters before the step, buffer_after
	for _, p := range m.Store.Params() {
		p.Value = be.FromHost(o.tensor("param/"+p.Name, dt))
	}
	for _, b := range m.Store.BufferNames() {
		m.Store.SetBuffer(b, be.FromHost(o.tensor("buffer_after/"+b, dt)))
	}
	m.Store.Training = false
	c.SetGrad(false)
	ev := m.EvalIW(c, x, consts.K, noise)
	o.compare("out/eval/log_iw", ev.LogIW, o.get("out/eval/log_iw"), tol.Eval)
	o.compare("out/eval/nelbo", ev.Nelbo, o.get("out/eval/nelbo"), tol.Eval)
	o.compare("out/eval/log_q", ev.LogQ, o.get("out/eval/log_q"), tol.Eval)
	o.compare("out/eval/log_p", ev.LogP, o.get("out/eval/log_p"), tol.Eval)
	o.compare("out/eval/recon_loss", ev.Recon, o.get("out/eval/recon_loss"), tol.Eval)
	o.compare("out/eval/log_px", ev.LogPx, o.get("out/eval/log_px"), tol.Eval)
	o.compare("out/eval/nelbo_mean", []float64{mean(ev.Nelbo)}, o.get("out/eval/nelbo_mean"), tol.Eval)
	o.compare("out/eval/neg_log_p", []float64{-mean(ev.LogPx)}, o.get("out/eval/neg_log_p"), tol.Eval)

	logits := m.Sample(c, consts.NumSamples, consts.Temperature, noise)
	o.cmpVar("out/sample/logits", logits, math.Max(tol.Sample, bigTol(o, "out/sample/logits", dt)))
	dec := m.DecoderOutput(c, logits)
	if mn := dec.Mean(c); mn != nil && o.has("out/sample/mean") {
		o.cmpVar("out/sample/mean", mn, tol.Sample)
	}
	if o.has("out/sample/x") {
		var xs *ag.Var
		if d, ok := dec.(*nvae.DiscMixLogistic); ok {
			var sel *ag.Var
			xs, sel = d.SampleWithSel(c, noise, consts.Temperature)
			got, ref := host(be, sel.Value), o.get("out/sample/sel")
			for i := range ref {
				if got[i] != ref[i] {
					t.Errorf("out/sample/sel: element %d got %v want %v", i, got[i], ref[i])
					break
				}
			}
		} else {
			xs = dec.Sample(c, noise, consts.Temperature)
		}
		// absolute: the sample is clamped to [0,1]
		o.compare("out/sample/x", host(be, xs.Value), o.get("out/sample/x"), math.Max(tol.Sample, 1e-6))
	}
	if o.has(fmt.Sprintf("eps/%d", noise.n)) || o.has(fmt.Sprintf("uniform/%d", noise.u)) {
		t.Errorf("the model consumed %d normal and %d uniform draws; the case holds more", noise.n, noise.u)
	}
}

// bigTol is the extra tolerance for references stored as F32 (rounded).
func bigTol(o *oracle, name string, dt tensor.DType) float64 {
	if dt == tensor.Float64 && o.f.Tensors[name].DType == safetensors.F32 {
		return 2e-7
	}
	return 0
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Noise replays the case's recorded draws from eps/<normal> and
// uniform/<uniform> onwards.
func (cs *Case) Noise(t testing.TB, b backend.Backend, normal, uniform int) nvae.Noise {
	return &replayNoise{o: &oracle{t: t, be: b, f: cs.File, name: cs.Name}, n: normal, u: uniform}
}

// Tensor returns a case tensor as a host tensor of dtype dt.
func (cs *Case) Tensor(t testing.TB, name string, dt tensor.DType) *tensor.Tensor {
	return (&oracle{t: t, f: cs.File, name: cs.Name}).tensor(name, dt)
}

// Values returns a case tensor as float64 values.
func (cs *Case) Values(t testing.TB, name string) []float64 {
	return (&oracle{t: t, f: cs.File, name: cs.Name}).get(name)
}

// NumGroups is the number of latent groups of the case (normal draws per pass).
func (cs *Case) NumGroups(t testing.TB) int {
	n := 0
	for _, g := range cs.Config(t).GroupsPerScale() {
		n += g
	}
	return n
}
