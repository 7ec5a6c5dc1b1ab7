package nvae

import (
	"encoding/json"
	"github.com/nvaego/nvae/internal/testenv"
	"math"
	"math/big"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/nvaego/nvae/pkg/safetensors"
)

// oracleCase is one case file of the NVAE oracle directory.
type oracleCase struct {
	name string
	path string
	file *safetensors.File
	meta map[string]string
}

// oracleDir returns the oracle directory: $NVAE_ORACLE_DIR, or
// testdata/oracle/nvae.
func oracleDir(t *testing.T) string {
	t.Helper()
	return testenv.OracleDir(t, "NVAE_ORACLE_DIR", "nvae")
}

// oracleCache holds the cases once read: several tests use them.
var oracleCache struct {
	sync.Mutex
	dir   string
	cases []*oracleCase
}

// loadOracleCases reads every *.safetensors case of the oracle directory.
func loadOracleCases(t *testing.T) []*oracleCase {
	t.Helper()
	dir := oracleDir(t)
	oracleCache.Lock()
	defer oracleCache.Unlock()
	if oracleCache.dir == dir && oracleCache.cases != nil {
		return oracleCache.cases
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no oracle cases (*.safetensors) in %s", dir)
	}
	sort.Strings(paths)
	var cases []*oracleCase
	for _, p := range paths {
		f, err := safetensors.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := &oracleCase{path: p, file: f, meta: f.Metadata}
		c.name = c.meta["case"]
		if c.name == "" {
			c.name = strings.TrimSuffix(filepath.Base(p), ".safetensors")
		}
		cases = append(cases, c)
	}
	oracleCache.dir, oracleCache.cases = dir, cases
	return cases
}

// f64 returns the F64 tensor name of the case, flattened.
func (c *oracleCase) f64(t *testing.T, name string) []float64 {
	t.Helper()
	ten, ok := c.file.Tensors[name]
	if !ok {
		t.Fatalf("%s: no tensor %q", c.path, name)
	}
	if ten.DType != safetensors.F64 {
		t.Fatalf("%s: tensor %q is %v, want F64", c.path, name, ten.DType)
	}
	v, err := ten.Float64()
	if err != nil {
		t.Fatalf("%s: tensor %q: %v", c.path, name, err)
	}
	return v
}

// metaJSON decodes the metadata key of the case (JSON) into v.
func (c *oracleCase) metaJSON(t *testing.T, key string, v any) {
	t.Helper()
	s, ok := c.meta[key]
	if !ok {
		t.Fatalf("%s: no metadata %q", c.path, key)
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%s: metadata %q: %v", c.path, key, err)
	}
}

// oracleConstants is the part of the `constants` metadata these tests use.
type oracleConstants struct {
	GlobalStep     int     `json:"global_step"`
	EpochIndex     int     `json:"epoch_index"`
	ItersPerEpoch  int     `json:"iters_per_epoch"`
	NumTotalIter   int     `json:"num_total_iter"`
	KLCoeff        float64 `json:"kl_coeff"`
	WDNCoeff       float64 `json:"wdn_coeff"`
	KLCoeffStep2   float64 `json:"kl_coeff_step2"`
	WDNCoeffStep2  float64 `json:"wdn_coeff_step2"`
	LR             float64 `json:"lr"`
	GroupsPerScale []int   `json:"groups_per_scale"`
}

// caseConfig parses the case's train_cli with ParseArgs.
func caseConfig(t *testing.T, c *oracleCase) Config {
	t.Helper()
	var cli []string
	c.metaJSON(t, "train_cli", &cli)
	if len(cli) > 0 && strings.HasSuffix(cli[0], "train.py") {
		cli = cli[1:]
	}
	cfg, err := ParseArgs(cli)
	if err != nil {
		t.Fatalf("%s: train_cli: %v", c.name, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s: train_cli: %v", c.name, err)
	}
	return cfg
}

func TestDefaultConfigIsOfficial(t *testing.T) {
	// Transcribed from the official train.py parser.
	want := map[string]any{
		"root": "/tmp/nasvae/expr", "save": "exp", "dataset": "mnist", "data": "/tmp/nasvae/data",
		"batch_size": 200, "learning_rate": 1e-2, "learning_rate_min": 1e-4, "weight_decay": 3e-4,
		"weight_decay_norm": 0.0, "weight_decay_norm_init": 10.0, "weight_decay_norm_anneal": false,
		"epochs": 200, "warmup_epochs": 5, "fast_adamax": false, "arch_instance": "res_mbconv",
		"kl_anneal_portion": 0.3, "kl_const_portion": 0.0001, "kl_const_coeff": 0.0001,
		"num_nf": 0, "num_x_bits": 8, "num_latent_scales": 1, "num_groups_per_scale": 10,
		"num_latent_per_group": 20, "ada_groups": false, "min_groups_per_scale": 1,
		"num_channels_enc": 32, "num_preprocess_blocks": 2, "num_preprocess_cells": 3,
		"num_cell_per_cond_enc": 1, "num_channels_dec": 32, "num_postprocess_blocks": 2,
		"num_postprocess_cells": 3, "num_cell_per_cond_dec": 1, "num_mixture_dec": 10,
		"use_se": false, "res_dist": false, "cont_training": false, "num_proc_node": 1,
		"node_rank": 0, "local_rank": 0, "global_rank": 0, "num_process_per_node": 1,
		"master_address": "127.0.0.1", "seed": 1,
	}
	got := DefaultConfig().ArgsMap()
	if !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("default %s = %#v, want %#v", k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected key %s", k)
			}
		}
	}
	if n := len(ArgNames(false)); n != 44 {
		t.Errorf("%d train.py options, want 44", n)
	}
	if got := ArgNames(true); len(got) != 46 || got[44] != "distributed" || got[45] != "num_total_iter" {
		t.Errorf("ArgNames(true) = %v", got)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
}

// TestOracleTrainArgs checks, for every oracle case, that parsing its
// command line gives exactly the Namespace train.py built (train_args):
// every default not on the command line included.
func TestOracleTrainArgs(t *testing.T) {
	for _, c := range loadOracleCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := caseConfig(t, c)
			dec := json.NewDecoder(strings.NewReader(c.meta["train_args"]))
			dec.UseNumber()
			var args map[string]any
			if err := dec.Decode(&args); err != nil {
				t.Fatal(err)
			}
			fromMap, rep, err := ParseArgsMap(args)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Unknown) != 0 || len(rep.Missing) != 0 {
				t.Errorf("train_args: unknown %v, missing %v", rep.Unknown, rep.Missing)
			}
			// train.py rewrites save and adds the derived fields.
			want := cfg
			want.Save = want.ExpDir()
			want.Distributed = true
			var consts oracleConstants
			c.metaJSON(t, "constants", &consts)
			want.NumTotalIter = consts.NumTotalIter
			if fromMap != want {
				t.Errorf("train_args config differs from the parsed train_cli:\n got %+v\nwant %+v", fromMap, want)
			}
			// ArgsMap gives back the same values (numbers compared as float64).
			back := fromMap.ArgsMap()
			if len(back) != len(args) {
				t.Errorf("ArgsMap has %d keys, train_args %d", len(back), len(args))
			}
			for k, v := range args {
				g, ok := back[k]
				if !ok {
					t.Errorf("ArgsMap lacks %s", k)
					continue
				}
				if n, isNum := v.(json.Number); isNum {
					f, _ := n.Float64()
					gf, err := argFloat(g)
					if err != nil || gf != f {
						t.Errorf("%s = %v, want %v", k, g, f)
					}
					if _, isInt := g.(int); isInt == strings.ContainsAny(string(n), ".eE") {
						t.Errorf("%s: %T for JSON %s", k, g, n)
					}
				} else if !reflect.DeepEqual(g, v) {
					t.Errorf("%s = %#v, want %#v", k, g, v)
				}
			}
			// The JSON written by MarshalJSON decodes to the same map.
			js, err := json.Marshal(fromMap)
			if err != nil {
				t.Fatal(err)
			}
			var m1, m2 map[string]any
			if err := json.Unmarshal(js, &m1); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(c.meta["train_args"]), &m2); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m1, m2) {
				t.Errorf("MarshalJSON = %s\nwant the values of %s", js, c.meta["train_args"])
			}
		})
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	c := DefaultConfig()
	c.Dataset = "celeba_64"
	c.WeightDecayNormInit = 1
	c.LearningRate = 8e-3
	c.UseSE = true
	c.MasterAddress = `10.0.0.1 "quoted"`
	c.NumTotalIter = 1234
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(js)
	if !strings.HasPrefix(s, `{"root":"/tmp/nasvae/expr","save":"exp","dataset":"celeba_64"`) {
		t.Errorf("keys not in the official order: %s", s)
	}
	for _, frag := range []string{`"weight_decay_norm_init":1.0`, `"weight_decay_norm":0.0`,
		`"learning_rate":0.008`, `"batch_size":200`, `"use_se":true`, `"num_total_iter":1234}`} {
		if !strings.Contains(s, frag) {
			t.Errorf("JSON lacks %s: %s", frag, s)
		}
	}
	if strings.Contains(s, `"distributed"`) {
		t.Errorf("unset derived key written: %s", s)
	}
	var back Config
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back != c {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, c)
	}
	// Embedded in another struct, as a checkpoint's metadata would be.
	type meta struct {
		Config Config `json:"config"`
		Epoch  int    `json:"epoch"`
	}
	b2, err := json.Marshal(meta{Config: c, Epoch: 3})
	if err != nil {
		t.Fatal(err)
	}
	var m meta
	if err := json.Unmarshal(b2, &m); err != nil {
		t.Fatal(err)
	}
	if m.Config != c || m.Epoch != 3 {
		t.Errorf("embedded round trip: %+v", m)
	}
	// Partial JSON keeps the defaults.
	var p Config
	if err := json.Unmarshal([]byte(`{"dataset": "cifar10", "num_nf": 2, "foo": 1}`), &p); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Dataset, want.NumNF = "cifar10", 2
	if p != want {
		t.Errorf("partial JSON: %+v", p)
	}
	for _, bad := range []string{`[1]`, `null`, `{"num_nf": 1.5}`, `{"use_se": 1}`, `{"dataset": 3}`} {
		var q Config
		if err := json.Unmarshal([]byte(bad), &q); err == nil {
			t.Errorf("UnmarshalJSON(%s) succeeded", bad)
		}
	}
	c.LearningRate = math.NaN()
	if _, err := json.Marshal(c); err == nil {
		t.Error("NaN marshalled")
	}
}

func TestParseArgsMapTypes(t *testing.T) {
	m := map[string]any{
		"num_nf":               int64(2),
		"batch_size":           float64(16),
		"num_channels_enc":     json.Number("64"),
		"num_channels_dec":     big.NewInt(48),
		"seed":                 int32(-3),
		"learning_rate":        3, // int for a float option
		"learning_rate_min":    float32(0.5),
		"weight_decay":         json.Number("1e-4"),
		"num_latent_per_group": json.Number("20.0"),
		"use_se":               true,
		"dataset":              "cifar10",
		"checkpoint":           "x",  // unknown (an evaluate.py option)
		"num_iw_samples":       1000, // unknown
	}
	c, rep, err := ParseArgsMap(m)
	if err != nil {
		t.Fatal(err)
	}
	if c.NumNF != 2 || c.BatchSize != 16 || c.NumChannelsEnc != 64 || c.NumChannelsDec != 48 ||
		c.Seed != -3 || c.LearningRate != 3 || c.LearningRateMin != 0.5 || c.WeightDecay != 1e-4 ||
		c.NumLatentPerGroup != 20 || !c.UseSE || c.Dataset != "cifar10" {
		t.Errorf("converted config wrong: %+v", c)
	}
	if c.NumMixtureDec != 10 || c.AdaGroups || c.MinGroupsPerScale != 1 {
		t.Errorf("missing keys did not keep the defaults: %+v", c)
	}
	if !reflect.DeepEqual(rep.Unknown, []string{"checkpoint", "num_iw_samples"}) {
		t.Errorf("unknown = %v", rep.Unknown)
	}
	if len(rep.Missing) != 44-11 || !sort.StringsAreSorted(rep.Missing) {
		t.Errorf("missing = %v", rep.Missing)
	}
	for _, k := range rep.Missing {
		if k == "distributed" || k == "num_total_iter" || k == "use_se" {
			t.Errorf("%s reported missing", k)
		}
	}
	c2, err := ConfigFromArgsMap(m)
	if err != nil || c2 != c {
		t.Errorf("ConfigFromArgsMap differs: %v", err)
	}

	for _, bad := range []map[string]any{
		{"num_nf": 1.5},
		{"num_nf": "1"},
		{"num_nf": true},
		{"num_nf": nil},
		{"num_nf": json.Number("1.25")},
		{"num_nf": float64(1 << 60)},
		{"learning_rate": "0.1"},
		{"learning_rate": false},
		{"use_se": 1},
		{"dataset": nil},
	} {
		_, err := ConfigFromArgsMap(bad)
		if err == nil {
			t.Errorf("ConfigFromArgsMap(%v) succeeded", bad)
			continue
		}
		for k := range bad {
			if !strings.Contains(err.Error(), k) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q should name %s on one line", err, k)
			}
		}
	}
	// ArgsMap ∘ ConfigFromArgsMap is the identity.
	c.Distributed = true
	c.NumTotalIter = 77
	c3, rep3, err := ParseArgsMap(c.ArgsMap())
	if err != nil || c3 != c || len(rep3.Unknown)+len(rep3.Missing) != 0 {
		t.Errorf("ArgsMap round trip: %v %+v %+v", err, rep3, c3)
	}
}

func TestValidate(t *testing.T) {
	base := func() Config {
		c, err := ParseArgs(ExpandSeedCommand(SeedCommands["cifar10"], testSeedVars))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		flag string
		mod  func(*Config)
	}{
		{"dataset", func(c *Config) { c.Dataset = "svhn" }},
		{"dataset", func(c *Config) { c.Dataset = "stacked_mnist" }},
		{"dataset", func(c *Config) { c.Dataset = "imagenet_64" }}, // not an official choice
		{"arch_instance", func(c *Config) { c.ArchInstance = "res_foo" }},
		{"arch_instance", func(c *Config) { c.ArchInstance = "res_mbconv9" }},
		{"batch_size", func(c *Config) { c.BatchSize = 0 }},
		{"epochs", func(c *Config) { c.Epochs = 0 }},
		{"warmup_epochs", func(c *Config) { c.WarmupEpochs = -1 }},
		{"learning_rate", func(c *Config) { c.LearningRate = 0 }},
		{"learning_rate", func(c *Config) { c.LearningRate = math.Inf(1) }},
		{"learning_rate_min", func(c *Config) { c.LearningRateMin = -1e-4 }},
		{"weight_decay", func(c *Config) { c.WeightDecay = math.NaN() }},
		{"weight_decay_norm_init", func(c *Config) { c.WeightDecayNormAnneal = true; c.WeightDecayNormInit = 0 }},
		{"weight_decay_norm", func(c *Config) { c.WeightDecayNormAnneal = true; c.WeightDecayNorm = 0 }},
		{"kl_anneal_portion", func(c *Config) { c.KLAnnealPortion = 0 }},
		{"kl_const_coeff", func(c *Config) { c.KLConstCoeff = 2 }},
		{"num_nf", func(c *Config) { c.NumNF = -1 }},
		{"num_x_bits", func(c *Config) { c.NumXBits = 0 }},
		{"num_x_bits", func(c *Config) { c.NumXBits = 9 }},
		{"num_latent_scales", func(c *Config) { c.NumLatentScales = 0 }},
		{"num_latent_scales", func(c *Config) { c.NumLatentScales = 6 }}, // 32 px halved 6 times
		{"num_groups_per_scale", func(c *Config) { c.NumGroupsPerScale = 0 }},
		{"num_latent_per_group", func(c *Config) { c.NumLatentPerGroup = 0 }},
		{"min_groups_per_scale", func(c *Config) {
			c.NumLatentScales, c.NumGroupsPerScale, c.AdaGroups, c.MinGroupsPerScale = 2, 1, true, 0
		}},
		{"num_channels_enc", func(c *Config) { c.NumChannelsEnc = 0 }},
		{"num_channels_dec", func(c *Config) { c.NumChannelsDec = -4 }},
		{"num_preprocess_blocks", func(c *Config) { c.NumPreprocessBlocks = -1 }},
		{"num_preprocess_cells", func(c *Config) { c.NumPreprocessCells = 0 }},
		{"num_postprocess_cells", func(c *Config) { c.NumPostprocessCells = 0 }},
		{"num_postprocess_blocks", func(c *Config) { c.NumPostprocessBlocks = 2 }},
		{"num_cell_per_cond_enc", func(c *Config) { c.NumCellPerCondEnc = -1 }},
		{"num_cell_per_cond_dec", func(c *Config) { c.NumCellPerCondDec = -1 }},
		{"num_mixture_dec", func(c *Config) { c.NumMixtureDec = 0 }},
		{"num_proc_node", func(c *Config) { c.NumProcNode = 0 }},
		{"num_process_per_node", func(c *Config) { c.NumProcessPerNode = 0 }},
		{"node_rank", func(c *Config) { c.NodeRank = 1 }},
		{"local_rank", func(c *Config) { c.LocalRank = 8 }},
		{"global_rank", func(c *Config) { c.GlobalRank = -1 }},
		{"global_rank", func(c *Config) { c.GlobalRank = 8 }},
		{"num_total_iter", func(c *Config) { c.NumTotalIter = -1 }},
	}
	for _, tc := range cases {
		c := base()
		tc.mod(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%s: invalid config accepted", tc.flag)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "--"+tc.flag+":") || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q should be one line starting with --%s:", tc.flag, msg, tc.flag)
		}
	}
	// Valid variations.
	for _, mod := range []func(*Config){
		func(c *Config) { c.ArchInstance = "res53_mbconv" },
		func(c *Config) { c.ArchInstance = "mbconv_den" },
		func(c *Config) { c.Dataset = "lsun_church_64"; c.NumLatentScales = 3 },
		func(c *Config) { c.Dataset = "mnist"; c.WarmupEpochs = 0 },
		func(c *Config) { c.NumPreprocessBlocks, c.NumPostprocessBlocks = 0, 0 },
		func(c *Config) { c.NumLatentScales, c.NumGroupsPerScale = 1, 1 }, // vanilla VAE
		func(c *Config) { c.NodeRank, c.NumProcNode, c.GlobalRank = 2, 3, 23 },
	} {
		c := base()
		mod(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("valid config rejected: %v", err)
		}
	}
}

func TestGroupsPerScale(t *testing.T) {
	for _, tc := range []struct {
		s, n, min int
		ada       bool
		want      []int
	}{
		{1, 10, 1, false, []int{10}},
		{3, 4, 1, false, []int{4, 4, 4}},
		{2, 10, 1, true, []int{10, 5}},
		{3, 20, 1, true, []int{20, 10, 5}},
		{5, 16, 4, true, []int{16, 8, 4, 4, 4}},
		{4, 3, 1, true, []int{3, 1, 1, 1}},
		{3, 4, 2, true, []int{4, 2, 2}},
		{3, 5, 1, true, []int{5, 2, 1}},
		{3, 2, 3, true, []int{2, 3, 3}}, // the first scale is never raised to the minimum
	} {
		c := DefaultConfig()
		c.NumLatentScales, c.NumGroupsPerScale, c.MinGroupsPerScale, c.AdaGroups = tc.s, tc.n, tc.min, tc.ada
		if got := c.GroupsPerScale(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("GroupsPerScale(%d, %d, ada %v, min %d) = %v, want %v", tc.s, tc.n, tc.ada, tc.min, got, tc.want)
		}
		total := 0
		for _, g := range tc.want {
			total += g
		}
		if c.NumGroups() != total {
			t.Errorf("NumGroups = %d, want %d", c.NumGroups(), total)
		}
		dec := c.DecoderGroupsPerScale()
		for i := range dec {
			if dec[i] != tc.want[len(tc.want)-1-i] {
				t.Errorf("DecoderGroupsPerScale = %v for %v", dec, tc.want)
			}
		}
	}
	for _, c := range loadOracleCases(t) {
		cfg := caseConfig(t, c)
		var consts oracleConstants
		c.metaJSON(t, "constants", &consts)
		if got := cfg.GroupsPerScale(); !reflect.DeepEqual(got, consts.GroupsPerScale) {
			t.Errorf("%s: GroupsPerScale = %v, oracle %v", c.name, got, consts.GroupsPerScale)
		}
	}
}

func TestKLBalancerCoeffOracle(t *testing.T) {
	for _, c := range loadOracleCases(t) {
		cfg := caseConfig(t, c)
		want := c.f64(t, "out/alpha_i")
		got := cfg.KLBalancerCoeff()
		if len(got) != len(want) {
			t.Errorf("%s: alpha_i has %d entries, want %d", c.name, len(got), len(want))
			continue
		}
		for i := range want {
			if !(math.Abs(got[i]-want[i]) <= 1e-12*math.Abs(want[i])) {
				t.Errorf("%s: alpha_i[%d] = %v, oracle %v", c.name, i, got[i], want[i])
			}
		}
	}
}

func TestKLBalancerCoeff(t *testing.T) {
	// Decoder order: lowest resolution (the last encoder scale) first.
	got := KLBalancerCoeff(3, []int{4, 2, 2})
	want := []float64{1, 1, 4, 4, 8, 8, 8, 8}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("KLBalancerCoeff(3, [4 2 2]) = %v, want %v", got, want)
	}
	// [16 8 4 4 4]: i=0..4 → 1/4, 4/4, 16/4, 64/8, 256/16.
	got = KLBalancerCoeff(5, []int{16, 8, 4, 4, 4})
	var w []float64
	for i, g := range []int{4, 4, 4, 8, 16} {
		for k := 0; k < g; k++ {
			w = append(w, math.Pow(4, float64(i))/float64(g)/0.25)
		}
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("KLBalancerCoeff(5, [16 8 4 4 4]) = %v, want %v", got, w)
	}
	// Three groups in the top scale: 1/3 is the minimum.
	got = KLBalancerCoeff(2, []int{3, 3})
	if got[0] != 1 || got[3] != (4.0/3)/(1.0/3) {
		t.Errorf("KLBalancerCoeff(2, [3 3]) = %v", got)
	}
	if got := KLBalancerCoeff(1, []int{30}); len(got) != 30 || got[29] != 1 {
		t.Errorf("KLBalancerCoeff(1, [30]) = %v", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("KLBalancerCoeff with too few scales did not panic")
			}
		}()
		KLBalancerCoeff(3, []int{1, 1})
	}()
}

func TestKLAndWDNCoeffOracle(t *testing.T) {
	for _, c := range loadOracleCases(t) {
		cfg := caseConfig(t, c)
		var k oracleConstants
		c.metaJSON(t, "constants", &k)
		if k.NumTotalIter != k.ItersPerEpoch*cfg.Epochs {
			t.Fatalf("%s: num_total_iter %d != %d·%d", c.name, k.NumTotalIter, k.ItersPerEpoch, cfg.Epochs)
		}
		for _, st := range []struct {
			step     int
			kl, wdn  float64
			stepName string
		}{{k.GlobalStep, k.KLCoeff, k.WDNCoeff, "train"}, {k.GlobalStep + 1, k.KLCoeffStep2, k.WDNCoeffStep2, "step2"}} {
			kl := cfg.KLCoeff(st.step, k.NumTotalIter)
			if kl != st.kl {
				t.Errorf("%s %s: kl_coeff = %.17g, oracle %.17g", c.name, st.stepName, kl, st.kl)
			}
			wdn := cfg.WeightDecayNormCoeff(kl)
			// Go's math.Log/Exp are not correctly rounded (log(0.01) is 1 ulp
			// off glibc's): allow a few ulp.
			if !(math.Abs(wdn-st.wdn) <= 1e-15*st.wdn) {
				t.Errorf("%s %s: wdn_coeff = %.17g, oracle %.17g", c.name, st.stepName, wdn, st.wdn)
			}
		}
	}
}

func TestKLCoeff(t *testing.T) {
	const total, cst, mn = 3000.0, 1.0, 1e-4
	for _, tc := range []struct {
		step int
		want float64
	}{
		{0, mn}, {1, mn}, {2, 1.0 / 3000}, {1501, 0.5}, {3001, 1}, {100000, 1},
	} {
		if got := KLCoeff(tc.step, total, cst, mn); got != tc.want {
			t.Errorf("KLCoeff(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
	if KLCoeff(5, 0, 10, 0.1) != 0.1 || KLCoeff(10, 0, 10, 0.1) != 1 {
		t.Error("KLCoeff with totalStep 0")
	}
	c := DefaultConfig()
	c.WeightDecayNorm = 0.5
	if c.WeightDecayNormCoeff(0.3) != 0.5 {
		t.Error("WeightDecayNormCoeff without annealing")
	}
	c.WeightDecayNormAnneal, c.WeightDecayNormInit, c.WeightDecayNorm = true, 1, 1e-2
	if got := c.WeightDecayNormCoeff(0); !(math.Abs(got-1) <= 1e-15) {
		t.Errorf("WeightDecayNormCoeff(0) = %v, want init 1", got)
	}
	if got := c.WeightDecayNormCoeff(1); !(math.Abs(got-1e-2) <= 1e-17) {
		t.Errorf("WeightDecayNormCoeff(1) = %v, want 1e-2", got)
	}
	if got := c.WeightDecayNormCoeff(0.5); !(math.Abs(got-0.1) <= 1e-16) {
		t.Errorf("WeightDecayNormCoeff(0.5) = %v, want 0.1", got)
	}
}

func TestDatasetHelpers(t *testing.T) {
	for _, tc := range []struct {
		ds              string
		size, out, ch   int
		binary, crop    bool
		outCh1, outCh10 int
	}{
		{"mnist", 32, 784, 1, true, true, 1, 1},
		{"omniglot", 32, 784, 1, true, true, 1, 1},
		{"cifar10", 32, 3072, 3, false, false, 6, 100},
		{"celeba_64", 64, 3 * 64 * 64, 3, false, false, 6, 100},
		{"celeba_256", 256, 3 * 256 * 256, 3, false, false, 6, 100},
		{"imagenet_32", 32, 3072, 3, false, false, 6, 100},
		{"ffhq", 256, 3 * 256 * 256, 3, false, false, 6, 100},
		{"lsun_bedroom_128", 128, 3 * 128 * 128, 3, false, false, 6, 100},
		{"lsun_church_64", 64, 3 * 64 * 64, 3, false, false, 6, 100},
	} {
		size, err := InputSize(tc.ds)
		if err != nil || size != tc.size {
			t.Errorf("InputSize(%s) = %d, %v, want %d", tc.ds, size, err, tc.size)
		}
		out, err := NumOutput(tc.ds)
		if err != nil || out != tc.out {
			t.Errorf("NumOutput(%s) = %d, %v, want %d", tc.ds, out, err, tc.out)
		}
		bpd, err := BitsPerDimCoeff(tc.ds)
		if err != nil || !(math.Abs(bpd*math.Ln2*float64(tc.out)-1) <= 1e-15) {
			t.Errorf("BitsPerDimCoeff(%s) = %v, %v", tc.ds, bpd, err)
		}
		if InputChannels(tc.ds) != tc.ch || IsBinary(tc.ds) != tc.binary || CropsOutput(tc.ds) != tc.crop {
			t.Errorf("%s: channels %d binary %v crop %v", tc.ds, InputChannels(tc.ds), IsBinary(tc.ds), CropsOutput(tc.ds))
		}
		if NumOutputChannels(tc.ds, 1) != tc.outCh1 || NumOutputChannels(tc.ds, 10) != tc.outCh10 {
			t.Errorf("NumOutputChannels(%s) = %d, %d", tc.ds, NumOutputChannels(tc.ds, 1), NumOutputChannels(tc.ds, 10))
		}
	}
	if NumOutputChannels("celeba_64", 3) != 30 {
		t.Error("NumOutputChannels(celeba_64, 3)")
	}
	for _, ds := range []string{"stacked_mnist", "svhn", "celeba", "imagenet_x", "lsun_church_0", ""} {
		if _, err := InputSize(ds); err == nil {
			t.Errorf("InputSize(%q) succeeded", ds)
		}
		if _, err := NumOutput(ds); err == nil {
			t.Errorf("NumOutput(%q) succeeded", ds)
		}
	}
	if !CropsOutput("stacked_mnist") {
		t.Error("stacked_mnist crops its output in the official code")
	}
}

func TestExpDir(t *testing.T) {
	c := DefaultConfig()
	if c.ExpDir() != "/tmp/nasvae/expr/eval-exp" {
		t.Errorf("ExpDir = %s", c.ExpDir())
	}
}
