// Package nvae holds the NVAE model: its configuration (this file), the
// architecture tables (arch.go), the training schedules (schedule.go), and
// the model itself.
//
// The configuration mirrors the argparse options of the official NVlabs/NVAE
// train.py one to one: same names, same defaults, same help texts, so every
// command line of the official README runs unchanged, and the argparse
// Namespace stored in an official checkpoint (or the `train_args` metadata of
// the oracle test files) maps onto a Config without loss.
package nvae

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Config holds every option of the official train.py, in the parser's order,
// plus the two fields train.py adds to its Namespace itself (Distributed,
// NumTotalIter). The `flag` tag is the official option name; fields tagged
// `derived:"true"` are not command-line flags. The `help` tag is the official
// help text, verbatim (including its copy-paste slips).
type Config struct {
	// experimental results
	Root string `flag:"root" help:"location of the results"`
	Save string `flag:"save" help:"id used for storing intermediate results"`
	// data
	Dataset string `flag:"dataset" help:"which dataset to use"`
	Data    string `flag:"data" help:"location of the data corpus"`
	// optimization
	BatchSize             int     `flag:"batch_size" help:"batch size per GPU"`
	LearningRate          float64 `flag:"learning_rate" help:"init learning rate"`
	LearningRateMin       float64 `flag:"learning_rate_min" help:"min learning rate"`
	WeightDecay           float64 `flag:"weight_decay" help:"weight decay"`
	WeightDecayNorm       float64 `flag:"weight_decay_norm" help:"The lambda parameter for spectral regularization."`
	WeightDecayNormInit   float64 `flag:"weight_decay_norm_init" help:"The initial lambda parameter"`
	WeightDecayNormAnneal bool    `flag:"weight_decay_norm_anneal" help:"This flag enables annealing the lambda coefficient from --weight_decay_norm_init to --weight_decay_norm."`
	Epochs                int     `flag:"epochs" help:"num of training epochs"`
	WarmupEpochs          int     `flag:"warmup_epochs" help:"num of training epochs in which lr is warmed up"`
	FastAdamax            bool    `flag:"fast_adamax" help:"This flag enables using our optimized adamax."`
	ArchInstance          string  `flag:"arch_instance" help:"path to the architecture instance"`
	KLAnnealPortion       float64 `flag:"kl_anneal_portion" help:"The portions epochs that KL is annealed"`
	KLConstPortion        float64 `flag:"kl_const_portion" help:"The portions epochs that KL is constant at kl_const_coeff"`
	KLConstCoeff          float64 `flag:"kl_const_coeff" help:"The constant value used for min KL coeff"`
	NumNF                 int     `flag:"num_nf" help:"The number of normalizing flow cells per groups. Set this to zero to disable flows."`
	NumXBits              int     `flag:"num_x_bits" help:"The number of bits used for representing data for colored images."`
	NumLatentScales       int     `flag:"num_latent_scales" help:"the number of latent scales"`
	NumGroupsPerScale     int     `flag:"num_groups_per_scale" help:"number of groups of latent variables per scale"`
	NumLatentPerGroup     int     `flag:"num_latent_per_group" help:"number of channels in latent variables per group"`
	AdaGroups             bool    `flag:"ada_groups" help:"Settings this to true will set different number of groups per scale."`
	MinGroupsPerScale     int     `flag:"min_groups_per_scale" help:"the minimum number of groups per scale."`
	NumChannelsEnc        int     `flag:"num_channels_enc" help:"number of channels in encoder"`
	NumPreprocessBlocks   int     `flag:"num_preprocess_blocks" help:"number of preprocessing blocks"`
	NumPreprocessCells    int     `flag:"num_preprocess_cells" help:"number of cells per block"`
	NumCellPerCondEnc     int     `flag:"num_cell_per_cond_enc" help:"number of cell for each conditional in encoder"`
	NumChannelsDec        int     `flag:"num_channels_dec" help:"number of channels in decoder"`
	NumPostprocessBlocks  int     `flag:"num_postprocess_blocks" help:"number of postprocessing blocks"`
	NumPostprocessCells   int     `flag:"num_postprocess_cells" help:"number of cells per block"`
	NumCellPerCondDec     int     `flag:"num_cell_per_cond_dec" help:"number of cell for each conditional in decoder"`
	NumMixtureDec         int     `flag:"num_mixture_dec" help:"number of mixture components in decoder. set to 1 for Normal decoder."`
	UseSE                 bool    `flag:"use_se" help:"This flag enables squeeze and excitation."`
	ResDist               bool    `flag:"res_dist" help:"This flag enables squeeze and excitation."`
	ContTraining          bool    `flag:"cont_training" help:"This flag enables training from an existing checkpoint."`
	NumProcNode           int     `flag:"num_proc_node" help:"The number of nodes in multi node env."`
	NodeRank              int     `flag:"node_rank" help:"The index of node."`
	LocalRank             int     `flag:"local_rank" help:"rank of process in the node"`
	GlobalRank            int     `flag:"global_rank" help:"rank of process among all the processes"`
	NumProcessPerNode     int     `flag:"num_process_per_node" help:"number of gpus"`
	MasterAddress         string  `flag:"master_address" help:"address for master"`
	Seed                  int     `flag:"seed" help:"seed used for initialization"`
	Distributed           bool    `flag:"distributed" derived:"true" help:"set by train.py itself (always true in the official code)"`
	NumTotalIter          int     `flag:"num_total_iter" derived:"true" help:"set by train.py itself: iterations per epoch x epochs"`
}

// DefaultConfig returns the official train.py defaults. The derived fields
// (Distributed, NumTotalIter) are zero: train.py sets them at run time.
func DefaultConfig() Config {
	return Config{
		Root:                  "/tmp/nasvae/expr",
		Save:                  "exp",
		Dataset:               "mnist",
		Data:                  "/tmp/nasvae/data",
		BatchSize:             200,
		LearningRate:          1e-2,
		LearningRateMin:       1e-4,
		WeightDecay:           3e-4,
		WeightDecayNorm:       0,
		WeightDecayNormInit:   10,
		WeightDecayNormAnneal: false,
		Epochs:                200,
		WarmupEpochs:          5,
		FastAdamax:            false,
		ArchInstance:          "res_mbconv",
		KLAnnealPortion:       0.3,
		KLConstPortion:        0.0001,
		KLConstCoeff:          0.0001,
		NumNF:                 0,
		NumXBits:              8,
		NumLatentScales:       1,
		NumGroupsPerScale:     10,
		NumLatentPerGroup:     20,
		AdaGroups:             false,
		MinGroupsPerScale:     1,
		NumChannelsEnc:        32,
		NumPreprocessBlocks:   2,
		NumPreprocessCells:    3,
		NumCellPerCondEnc:     1,
		NumChannelsDec:        32,
		NumPostprocessBlocks:  2,
		NumPostprocessCells:   3,
		NumCellPerCondDec:     1,
		NumMixtureDec:         10,
		UseSE:                 false,
		ResDist:               false,
		ContTraining:          false,
		NumProcNode:           1,
		NodeRank:              0,
		LocalRank:             0,
		GlobalRank:            0,
		NumProcessPerNode:     1,
		MasterAddress:         "127.0.0.1",
		Seed:                  1,
	}
}

// Datasets lists the values the official parser accepts for --dataset, in
// its order. "stacked_mnist" is among them, but the official model cannot be
// built for it (utils.get_input_size raises NotImplementedError), so Validate
// rejects it.
var Datasets = []string{"cifar10", "mnist", "omniglot", "celeba_64", "celeba_256",
	"imagenet_32", "ffhq", "lsun_bedroom_128", "stacked_mnist",
	"lsun_church_128", "lsun_church_64"}

// configField describes one field of Config.
type configField struct {
	name    string // official option name
	help    string
	index   int // field index in Config
	kind    reflect.Kind
	derived bool
}

// configFields lists the fields of Config in declaration (= official parser)
// order; built once from the struct tags.
var configFields = func() []configField {
	t := reflect.TypeOf(Config{})
	fields := make([]configField, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("flag")
		if name == "" {
			panic("nvae: Config field " + f.Name + " has no flag tag")
		}
		switch f.Type.Kind() {
		case reflect.Int, reflect.Float64, reflect.Bool, reflect.String:
		default:
			panic("nvae: Config field " + f.Name + " has an unsupported type")
		}
		fields = append(fields, configField{
			name:    name,
			help:    f.Tag.Get("help"),
			index:   i,
			kind:    f.Type.Kind(),
			derived: f.Tag.Get("derived") == "true",
		})
	}
	return fields
}()

// ArgNames returns the official names of all Config fields in the official
// parser's order; with derived it also lists the two fields train.py adds
// itself (distributed, num_total_iter).
func ArgNames(derived bool) []string {
	var names []string
	for _, f := range configFields {
		if f.derived && !derived {
			continue
		}
		names = append(names, f.name)
	}
	return names
}

// ArgsMapReport lists what ParseArgsMap found besides the known options.
type ArgsMapReport struct {
	// Unknown holds the keys of the map that are not train.py options (sorted);
	// they were ignored.
	Unknown []string
	// Missing holds the train.py options absent from the map (sorted); they
	// keep their official defaults, as evaluate.py does for old checkpoints
	// (ada_groups, min_groups_per_scale, num_mixture_dec). The derived fields
	// are never reported missing.
	Missing []string
}

// ConfigFromArgsMap builds a Config from a map of official option names to
// values: the argparse Namespace of an official checkpoint or the JSON
// `train_args` metadata of the oracle files. Options absent from the map keep
// the official defaults; unknown keys are ignored (use ParseArgsMap to learn
// which). Numbers may be any Go integer or float type, json.Number or
// *big.Int; an integer option only takes integral values.
func ConfigFromArgsMap(m map[string]any) (Config, error) {
	c, _, err := ParseArgsMap(m)
	return c, err
}

// ParseArgsMap is ConfigFromArgsMap that also reports unknown and missing
// keys, for warnings.
func ParseArgsMap(m map[string]any) (Config, ArgsMapReport, error) {
	c := DefaultConfig()
	var rep ArgsMapReport
	cv := reflect.ValueOf(&c).Elem()
	known := make(map[string]bool, len(configFields))
	for _, f := range configFields {
		known[f.name] = true
		raw, ok := m[f.name]
		if !ok {
			if !f.derived {
				rep.Missing = append(rep.Missing, f.name)
			}
			continue
		}
		field := cv.Field(f.index)
		switch f.kind {
		case reflect.Int:
			n, err := argInt(raw)
			if err != nil {
				return Config{}, rep, fmt.Errorf("train args: %s: %v", f.name, err)
			}
			field.SetInt(int64(n))
		case reflect.Float64:
			x, err := argFloat(raw)
			if err != nil {
				return Config{}, rep, fmt.Errorf("train args: %s: %v", f.name, err)
			}
			field.SetFloat(x)
		case reflect.Bool:
			b, ok := raw.(bool)
			if !ok {
				return Config{}, rep, fmt.Errorf("train args: %s: expected a bool, got %T %v", f.name, raw, raw)
			}
			field.SetBool(b)
		case reflect.String:
			s, ok := raw.(string)
			if !ok {
				return Config{}, rep, fmt.Errorf("train args: %s: expected a string, got %T %v", f.name, raw, raw)
			}
			field.SetString(s)
		}
	}
	for k := range m {
		if !known[k] {
			rep.Unknown = append(rep.Unknown, k)
		}
	}
	sort.Strings(rep.Unknown)
	sort.Strings(rep.Missing)
	return c, rep, nil
}

// argInt converts a decoded number to an int, accepting floats only when
// they are integral.
func argInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int8:
		return int(x), nil
	case int16:
		return int(x), nil
	case int32:
		return int(x), nil
	case int64:
		if int64(int(x)) != x {
			return 0, fmt.Errorf("integer %d out of range", x)
		}
		return int(x), nil
	case uint8:
		return int(x), nil
	case uint16:
		return int(x), nil
	case uint32:
		return int(x), nil
	case uint:
		if x > math.MaxInt {
			return 0, fmt.Errorf("integer %d out of range", x)
		}
		return int(x), nil
	case uint64:
		if x > math.MaxInt {
			return 0, fmt.Errorf("integer %d out of range", x)
		}
		return int(x), nil
	case float32:
		return argInt(float64(x))
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, fmt.Errorf("expected an integer, got %v", x)
		}
		return int(x), nil
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, strconv.IntSize); err == nil {
			return int(n), nil
		}
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("expected an integer, got %q", string(x))
		}
		return argInt(f)
	case *big.Int:
		if x == nil || !x.IsInt64() {
			return 0, fmt.Errorf("integer %v out of range", x)
		}
		return argInt(x.Int64())
	}
	return 0, fmt.Errorf("expected an integer, got %T %v", v, v)
}

// argFloat converts a decoded number to a float64.
func argFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("expected a number, got %q", string(x))
		}
		return f, nil
	case *big.Int:
		if x == nil {
			return 0, fmt.Errorf("expected a number, got nil")
		}
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, nil
	case bool:
		return 0, fmt.Errorf("expected a number, got bool %v", x)
	}
	n, err := argInt(v)
	if err != nil {
		return 0, fmt.Errorf("expected a number, got %T %v", v, v)
	}
	return float64(n), nil
}

// ArgsMap returns the configuration as a map of official names to values
// (int, float64, bool, string), the reverse of ConfigFromArgsMap. The derived
// keys distributed and num_total_iter are included only when set (true,
// non-zero).
func (c Config) ArgsMap() map[string]any {
	m := make(map[string]any, len(configFields))
	cv := reflect.ValueOf(c)
	for _, f := range configFields {
		v := cv.Field(f.index)
		if f.derived && v.IsZero() {
			continue
		}
		switch f.kind {
		case reflect.Int:
			m[f.name] = int(v.Int())
		case reflect.Float64:
			m[f.name] = v.Float()
		case reflect.Bool:
			m[f.name] = v.Bool()
		case reflect.String:
			m[f.name] = v.String()
		}
	}
	return m
}

// MarshalJSON writes the configuration as one JSON object keyed by the
// official names, in the official parser's order (derived keys only when
// set). Floats are written as Python would repr them (1.0, not 1), so a
// Python reader gets floats back.
func (c Config) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	cv := reflect.ValueOf(c)
	first := true
	for _, f := range configFields {
		v := cv.Field(f.index)
		if f.derived && v.IsZero() {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(f.name)
		b.Write(key)
		b.WriteByte(':')
		switch f.kind {
		case reflect.Int:
			b.WriteString(strconv.FormatInt(v.Int(), 10))
		case reflect.Float64:
			x := v.Float()
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("nvae config: %s = %v cannot be written as JSON", f.name, x)
			}
			s := strconv.FormatFloat(x, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eE") {
				s += ".0"
			}
			b.WriteString(s)
		case reflect.Bool:
			b.WriteString(strconv.FormatBool(v.Bool()))
		case reflect.String:
			s, _ := json.Marshal(v.String())
			b.Write(s)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object of official names to values (as written
// by MarshalJSON, or the oracle files' `train_args`), starting from the
// official defaults; unknown keys are ignored.
func (c *Config) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("nvae config: %v", err)
	}
	if m == nil {
		return fmt.Errorf("nvae config: expected a JSON object, got null")
	}
	cfg, err := ConfigFromArgsMap(m)
	if err != nil {
		return err
	}
	*c = cfg
	return nil
}

// ExpDir is the experiment directory train.py writes to: it rewrites
// args.save to args.root + '/eval-' + args.save (plain string
// concatenation).
func (c Config) ExpDir() string { return c.Root + "/eval-" + c.Save }

// Validate checks the configuration and returns a one-line error naming the
// first offending flag: an unknown dataset or arch_instance, negative or zero
// sizes, a hierarchy deeper than the input resolution allows, annealing with
// non-positive lambdas (the official code asserts), and so on.
func (c Config) Validate() error {
	bad := func(flag string, format string, args ...any) error {
		return fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...))
	}
	known := false
	for _, d := range Datasets {
		if c.Dataset == d {
			known = true
		}
	}
	if !known {
		return bad("dataset", "unknown dataset %q (want one of %s)", c.Dataset, strings.Join(Datasets, ", "))
	}
	size, err := InputSize(c.Dataset)
	if err != nil {
		return bad("dataset", "%q is accepted by the official parser but its model cannot be built: %v", c.Dataset, err)
	}
	cells, err := ArchCells(c.ArchInstance)
	if err != nil {
		return bad("arch_instance", "%v", err)
	}
	for _, ct := range CellTypes {
		if ct == "ar_nn" {
			continue // holds [""]; the official model does not use it
		}
		for _, op := range cells[ct] {
			if !IsOfficialOp(op) {
				return bad("arch_instance", "%s uses op %q for %s, which the official OPS table lacks (the official code fails with KeyError)", c.ArchInstance, op, ct)
			}
		}
	}
	finite := func(flag string, x float64) error {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return bad(flag, "must be finite, got %v", x)
		}
		return nil
	}
	for _, fv := range []struct {
		flag string
		x    float64
	}{
		{"learning_rate", c.LearningRate}, {"learning_rate_min", c.LearningRateMin},
		{"weight_decay", c.WeightDecay}, {"weight_decay_norm", c.WeightDecayNorm},
		{"weight_decay_norm_init", c.WeightDecayNormInit}, {"kl_anneal_portion", c.KLAnnealPortion},
		{"kl_const_portion", c.KLConstPortion}, {"kl_const_coeff", c.KLConstCoeff},
	} {
		if err := finite(fv.flag, fv.x); err != nil {
			return err
		}
		if fv.x < 0 {
			return bad(fv.flag, "must not be negative, got %v", fv.x)
		}
	}
	if c.LearningRate == 0 {
		return bad("learning_rate", "must be positive, got 0")
	}
	if c.KLAnnealPortion == 0 {
		return bad("kl_anneal_portion", "must be positive (the official kl_coeff divides by it), got 0")
	}
	if c.WeightDecayNormAnneal {
		if c.WeightDecayNormInit <= 0 {
			return bad("weight_decay_norm_init", "must be positive with --weight_decay_norm_anneal, got %v", c.WeightDecayNormInit)
		}
		if c.WeightDecayNorm <= 0 {
			return bad("weight_decay_norm", "must be positive with --weight_decay_norm_anneal, got %v", c.WeightDecayNorm)
		}
	}
	for _, iv := range []struct {
		flag string
		n    int
		min  int
	}{
		{"batch_size", c.BatchSize, 1},
		{"epochs", c.Epochs, 1},
		{"warmup_epochs", c.WarmupEpochs, 0},
		{"num_nf", c.NumNF, 0},
		{"num_x_bits", c.NumXBits, 1},
		{"num_latent_scales", c.NumLatentScales, 1},
		{"num_groups_per_scale", c.NumGroupsPerScale, 1},
		{"num_latent_per_group", c.NumLatentPerGroup, 1},
		{"min_groups_per_scale", c.MinGroupsPerScale, 0},
		{"num_channels_enc", c.NumChannelsEnc, 1},
		{"num_preprocess_blocks", c.NumPreprocessBlocks, 0},
		{"num_preprocess_cells", c.NumPreprocessCells, 1},
		{"num_cell_per_cond_enc", c.NumCellPerCondEnc, 0},
		{"num_channels_dec", c.NumChannelsDec, 1},
		{"num_postprocess_blocks", c.NumPostprocessBlocks, 0},
		{"num_postprocess_cells", c.NumPostprocessCells, 1},
		{"num_cell_per_cond_dec", c.NumCellPerCondDec, 0},
		{"num_mixture_dec", c.NumMixtureDec, 1},
		{"num_proc_node", c.NumProcNode, 1},
		{"node_rank", c.NodeRank, 0},
		{"local_rank", c.LocalRank, 0},
		{"global_rank", c.GlobalRank, 0},
		{"num_process_per_node", c.NumProcessPerNode, 1},
		{"num_total_iter", c.NumTotalIter, 0},
	} {
		if iv.n < iv.min {
			if iv.min == 0 {
				return bad(iv.flag, "must not be negative, got %d", iv.n)
			}
			return bad(iv.flag, "must be at least %d, got %d", iv.min, iv.n)
		}
	}
	if c.NumXBits > 8 {
		return bad("num_x_bits", "must be at most 8, got %d", c.NumXBits)
	}
	if c.KLConstCoeff > 1 {
		return bad("kl_const_coeff", "must be at most 1, got %v", c.KLConstCoeff)
	}
	if c.NodeRank >= c.NumProcNode {
		return bad("node_rank", "must be below --num_proc_node %d, got %d", c.NumProcNode, c.NodeRank)
	}
	if c.LocalRank >= c.NumProcessPerNode {
		return bad("local_rank", "must be below --num_process_per_node %d, got %d", c.NumProcessPerNode, c.LocalRank)
	}
	if c.GlobalRank >= c.NumProcNode*c.NumProcessPerNode {
		return bad("global_rank", "must be below the world size %d, got %d", c.NumProcNode*c.NumProcessPerNode, c.GlobalRank)
	}
	for s, g := range c.GroupsPerScale() {
		if g < 1 {
			return bad("min_groups_per_scale", "latent scale %d would get %d groups (groups per scale %v); raise it to at least 1", s, g, c.GroupsPerScale())
		}
	}
	depth := c.NumPreprocessBlocks + c.NumLatentScales - 1
	if depth >= 31 || size%(1<<depth) != 0 {
		return bad("num_latent_scales", "%s input of %d pixels cannot be halved %d times (num_preprocess_blocks %d + num_latent_scales %d - 1)",
			c.Dataset, size, depth, c.NumPreprocessBlocks, c.NumLatentScales)
	}
	if c.NumPostprocessBlocks != c.NumPreprocessBlocks {
		return bad("num_postprocess_blocks", "must equal --num_preprocess_blocks (%d) so the decoder returns to the input resolution, got %d",
			c.NumPreprocessBlocks, c.NumPostprocessBlocks)
	}
	return nil
}

// GroupsPerScale returns the number of latent groups of each scale in
// encoder order (highest resolution first), as the official
// utils.groups_per_scale(num_latent_scales, num_groups_per_scale, ada_groups,
// minimum_groups=min_groups_per_scale) computes it: every scale gets the
// current n, and after appending, with --ada_groups, n = max(min, n // 2).
func (c Config) GroupsPerScale() []int {
	return groupsPerScale(c.NumLatentScales, c.NumGroupsPerScale, c.AdaGroups, 2, c.MinGroupsPerScale)
}

func groupsPerScale(numScales, numGroups int, adaptive bool, divider, minimum int) []int {
	g := make([]int, 0, numScales)
	n := numGroups
	for s := 0; s < numScales; s++ {
		g = append(g, n)
		if adaptive {
			n = floorDiv(n, divider)
			n = max(minimum, n)
		}
	}
	return g
}

// floorDiv is Python's // for ints.
func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// NumGroups is the total number of latent groups.
func (c Config) NumGroups() int {
	n := 0
	for _, g := range c.GroupsPerScale() {
		n += g
	}
	return n
}

// DecoderGroupsPerScale returns the groups per scale in decoder order
// (lowest resolution first): entry i is GroupsPerScale()[S-1-i].
func (c Config) DecoderGroupsPerScale() []int {
	g := c.GroupsPerScale()
	out := make([]int, len(g))
	for i := range g {
		out[i] = g[len(g)-1-i]
	}
	return out
}

// KLBalancerCoeff is the official utils.kl_balancer_coeff(num_scales,
// groups_per_scale, fun='square'): for decoder scale i (i = 0 is the lowest
// resolution, holding groupsPerScale[numScales-1-i] groups) each group gets
// 4^i / (groups in that scale), and the whole vector is divided by its
// minimum. The result is in decoder group order, the order of the oracle's
// out/alpha_i. The official code computes it in float32 (the oracle files in
// float64, like this function): for scales of 3 groups the two differ at
// float32 rounding level. It panics if groupsPerScale has fewer than
// numScales entries or a non-positive entry.
func KLBalancerCoeff(numScales int, groupsPerScale []int) []float64 {
	if numScales < 1 || len(groupsPerScale) < numScales {
		panic(fmt.Sprintf("nvae: KLBalancerCoeff: %d scales but groups per scale %v", numScales, groupsPerScale))
	}
	var coeff []float64
	for i := 0; i < numScales; i++ {
		g := groupsPerScale[numScales-i-1]
		if g < 1 {
			panic(fmt.Sprintf("nvae: KLBalancerCoeff: scale with %d groups in %v", g, groupsPerScale))
		}
		p := math.Ldexp(1, i) // 2**i
		v := p * p / float64(g)
		for k := 0; k < g; k++ {
			coeff = append(coeff, v)
		}
	}
	mn := coeff[0]
	for _, v := range coeff {
		mn = math.Min(mn, v)
	}
	for k := range coeff {
		coeff[k] /= mn
	}
	return coeff
}

// KLBalancerCoeff returns KLBalancerCoeff(NumLatentScales, GroupsPerScale()).
func (c Config) KLBalancerCoeff() []float64 {
	return KLBalancerCoeff(c.NumLatentScales, c.GroupsPerScale())
}

// KLCoeff is the official utils.kl_coeff(step, total_step, constant_step,
// min_kl_coeff) = max(min((step - constant_step) / total_step, 1), min_kl_coeff).
// train.py calls it with total_step = kl_anneal_portion·num_total_iter and
// constant_step = kl_const_portion·num_total_iter, both floats (see
// Config.KLCoeff). The official code raises ZeroDivisionError for
// totalStep = 0; here a non-positive totalStep means the annealing is over
// once step ≥ constStep.
func KLCoeff(step int, totalStep, constStep, minKLCoeff float64) float64 {
	if totalStep <= 0 {
		if float64(step) >= constStep {
			return math.Max(1, minKLCoeff)
		}
		return minKLCoeff
	}
	return math.Max(math.Min((float64(step)-constStep)/totalStep, 1.0), minKLCoeff)
}

// KLCoeff is the KL coefficient train.py uses at globalStep of a run of
// numTotalIter iterations (len(train_queue)·epochs).
func (c Config) KLCoeff(globalStep, numTotalIter int) float64 {
	return KLCoeff(globalStep, c.KLAnnealPortion*float64(numTotalIter),
		c.KLConstPortion*float64(numTotalIter), c.KLConstCoeff)
}

// WeightDecayNormCoeff is the spectral/BN regularisation coefficient λ
// (wdn_coeff) train.py uses for a step with the given KL coefficient: with
// --weight_decay_norm_anneal exp((1 - kl)·log(init) + kl·log(final)),
// otherwise --weight_decay_norm. Go's math.Log and math.Exp are not
// correctly rounded, so the annealed value can differ from numpy's by a few
// ulp (4e-16 relative for the oracle files' step 2).
func (c Config) WeightDecayNormCoeff(klCoeff float64) float64 {
	if !c.WeightDecayNormAnneal {
		return c.WeightDecayNorm
	}
	return math.Exp((1-klCoeff)*math.Log(c.WeightDecayNormInit) + klCoeff*math.Log(c.WeightDecayNorm))
}

// datasetSize returns the N of celeba_N, imagenet_N and lsun_*_N the way the
// official code reads it: int(dataset.split('_')[-1]). What follows the
// last '_' holds no '_', so Python's int() and Atoi of the trimmed text agree.
func datasetSize(dataset string) (int, error) {
	i := strings.LastIndexByte(dataset, '_')
	n, err := strconv.Atoi(strings.TrimSpace(dataset[i+1:]))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("dataset %q: no image size after the last '_'", dataset)
	}
	return n, nil
}

func sizedDataset(dataset string) bool {
	return strings.HasPrefix(dataset, "celeba") || strings.HasPrefix(dataset, "imagenet") ||
		strings.HasPrefix(dataset, "lsun")
}

// InputSize is the official utils.get_input_size: the side of the square
// images the model sees. mnist and omniglot 32 (28 padded by 2), cifar10 32,
// celeba_N, imagenet_N, lsun_*_N → N, ffhq 256.
func InputSize(dataset string) (int, error) {
	switch {
	case dataset == "mnist" || dataset == "omniglot":
		return 32, nil
	case dataset == "cifar10":
		return 32, nil
	case sizedDataset(dataset):
		return datasetSize(dataset)
	case dataset == "ffhq":
		return 256, nil
	}
	return 0, fmt.Errorf("dataset %q: no input size (not mnist, omniglot, cifar10, celeba_N, imagenet_N, lsun_*_N or ffhq)", dataset)
}

// NumOutput is the official utils.num_output: the number of pixel
// dimensions D used for bits/dim: 784 (the 28x28 crop) for mnist and
// omniglot, 3·H·W otherwise.
func NumOutput(dataset string) (int, error) {
	switch {
	case dataset == "mnist" || dataset == "omniglot":
		return 28 * 28, nil
	case dataset == "cifar10":
		return 3 * 32 * 32, nil
	case sizedDataset(dataset):
		n, err := datasetSize(dataset)
		if err != nil {
			return 0, err
		}
		return 3 * n * n, nil
	case dataset == "ffhq":
		return 3 * 256 * 256, nil
	}
	return 0, fmt.Errorf("dataset %q: no output size (not mnist, omniglot, cifar10, celeba_N, imagenet_N, lsun_*_N or ffhq)", dataset)
}

// BitsPerDimCoeff is train.py's bpd_coeff = 1 / ln 2 / num_output: nats per
// image times it gives bits/dim.
func BitsPerDimCoeff(dataset string) (float64, error) {
	n, err := NumOutput(dataset)
	if err != nil {
		return 0, err
	}
	return 1. / math.Ln2 / float64(n), nil
}

// InputChannels is the number of image channels the stem sees: 1 for mnist
// and omniglot, 3 otherwise.
func InputChannels(dataset string) int {
	if dataset == "mnist" || dataset == "omniglot" {
		return 1
	}
	return 3
}

// IsBinary reports whether the dataset is modelled with a Bernoulli decoder
// (dynamically binarised mnist and omniglot).
func IsBinary(dataset string) bool {
	return dataset == "mnist" || dataset == "omniglot"
}

// CropsOutput reports whether the likelihood is evaluated on the central
// 28x28 crop [2:30, 2:30] only (the official crop_output).
func CropsOutput(dataset string) bool {
	return dataset == "mnist" || dataset == "omniglot" || dataset == "stacked_mnist"
}

// NumOutputChannels is the number of output channels of the decoder's
// image_conditional conv: 1 (Bernoulli logits) for mnist and omniglot, 6
// (Normal: 3 means, 3 log-sigmas) with numMixtureDec = 1, else 10·M for a
// mixture of M discretised logistics.
func NumOutputChannels(dataset string, numMixtureDec int) int {
	if IsBinary(dataset) {
		return 1
	}
	if numMixtureDec == 1 {
		return 2 * 3
	}
	return 10 * numMixtureDec
}
