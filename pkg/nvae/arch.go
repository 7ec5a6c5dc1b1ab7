package nvae

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// CellTypes lists the cell types of an architecture instance, in the order
// the official utils.get_arch_cells fills its dict. "ar_nn" (the flow cells)
// always holds the single op name "" (unused by the official model).
var CellTypes = []string{"normal_enc", "down_enc", "normal_dec", "up_dec",
	"normal_pre", "down_pre", "normal_post", "up_post", "ar_nn"}

// archInstances is the official get_arch_cells table. Each entry gives the
// ops of the cell types in CellTypes order except ar_nn: enc, pre, dec and
// post ops (the normal and the down/up cell of each part share their ops in
// every official instance).
var archInstances = map[string]struct{ enc, dec, pre, post []string }{
	"res_elu": {
		enc: []string{"res_elu", "res_elu"}, dec: []string{"res_elu", "res_elu"},
		pre: []string{"res_elu", "res_elu"}, post: []string{"res_elu", "res_elu"}},
	"res_bnelu": {
		enc: []string{"res_bnelu", "res_bnelu"}, dec: []string{"res_bnelu", "res_bnelu"},
		pre: []string{"res_bnelu", "res_bnelu"}, post: []string{"res_bnelu", "res_bnelu"}},
	"res_bnswish": {
		enc: []string{"res_bnswish", "res_bnswish"}, dec: []string{"res_bnswish", "res_bnswish"},
		pre: []string{"res_bnswish", "res_bnswish"}, post: []string{"res_bnswish", "res_bnswish"}},
	"mbconv_sep": {
		enc: []string{"mconv_e6k5g0"}, dec: []string{"mconv_e6k5g0"},
		pre: []string{"mconv_e3k5g0"}, post: []string{"mconv_e3k5g0"}},
	"mbconv_sep11": {
		enc: []string{"mconv_e6k11g0"}, dec: []string{"mconv_e6k11g0"},
		pre: []string{"mconv_e3k5g0"}, post: []string{"mconv_e3k5g0"}},
	"res_mbconv": {
		enc: []string{"res_bnswish", "res_bnswish"}, dec: []string{"mconv_e6k5g0"},
		pre: []string{"res_bnswish", "res_bnswish"}, post: []string{"mconv_e3k5g0"}},
	"res53_mbconv": {
		enc: []string{"res_bnswish5", "res_bnswish"}, dec: []string{"mconv_e6k5g0"},
		pre: []string{"res_bnswish5", "res_bnswish"}, post: []string{"mconv_e3k5g0"}},
	"res35_mbconv": {
		enc: []string{"res_bnswish", "res_bnswish5"}, dec: []string{"mconv_e6k5g0"},
		pre: []string{"res_bnswish", "res_bnswish5"}, post: []string{"mconv_e3k5g0"}},
	"res55_mbconv": {
		enc: []string{"res_bnswish5", "res_bnswish5"}, dec: []string{"mconv_e6k5g0"},
		pre: []string{"res_bnswish5", "res_bnswish5"}, post: []string{"mconv_e3k5g0"}},
	"res_mbconv9": {
		enc: []string{"res_bnswish", "res_bnswish"}, dec: []string{"mconv_e6k9g0"},
		pre: []string{"res_bnswish", "res_bnswish"}, post: []string{"mconv_e3k9g0"}},
	"mbconv_res": {
		enc: []string{"mconv_e6k5g0"}, dec: []string{"res_bnswish", "res_bnswish"},
		pre: []string{"mconv_e3k5g0"}, post: []string{"res_bnswish", "res_bnswish"}},
	"mbconv_den": {
		enc: []string{"mconv_e6k5g0"}, dec: []string{"mconv_e6k5g0"},
		pre: []string{"mconv_e3k5g8"}, post: []string{"mconv_e3k5g8"}},
}

// ArchInstances returns the names of every architecture instance the
// official utils.get_arch_cells defines, sorted. One of them, res_mbconv9,
// names ops the official OPS table lacks, so the official model cannot be
// built with it (Config.Validate rejects it).
func ArchInstances() []string {
	names := make([]string, 0, len(archInstances))
	for n := range archInstances {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ArchCells is the official utils.get_arch_cells(instance): for every cell
// type of CellTypes the list of op names of that cell, e.g. "normal_enc" →
// ["res_bnswish", "res_bnswish"] for res_mbconv. The map and its slices are
// fresh copies.
func ArchCells(instance string) (map[string][]string, error) {
	a, ok := archInstances[instance]
	if !ok {
		return nil, fmt.Errorf("unknown arch_instance %q (want one of %s)", instance, strings.Join(ArchInstances(), ", "))
	}
	cp := func(s []string) []string { return append([]string(nil), s...) }
	return map[string][]string{
		"normal_enc":  cp(a.enc),
		"down_enc":    cp(a.enc),
		"normal_dec":  cp(a.dec),
		"up_dec":      cp(a.dec),
		"normal_pre":  cp(a.pre),
		"down_pre":    cp(a.pre),
		"normal_post": cp(a.post),
		"up_post":     cp(a.post),
		"ar_nn":       {""},
	}, nil
}

// OfficialOps lists the op names of the official neural_operations.OPS
// table, in its order.
var OfficialOps = []string{"res_elu", "res_bnelu", "res_bnswish", "res_bnswish5",
	"mconv_e6k5g0", "mconv_e3k5g0", "mconv_e3k5g8", "mconv_e6k11g0"}

// IsOfficialOp reports whether name is in the official OPS table.
func IsOfficialOp(name string) bool {
	for _, op := range OfficialOps {
		if op == name {
			return true
		}
	}
	return false
}

// OpKind is the family of a cell op.
type OpKind int

// The op families of the official OPS table.
const (
	// OpELUConv (res_elu): ELU → [upsample] → Conv with data-dependent init.
	OpELUConv OpKind = iota + 1
	// OpBNELUConv (res_bnelu): BN → ELU → [upsample] → Conv.
	OpBNELUConv
	// OpBNSwishConv (res_bnswish, res_bnswish5): BNSwish → [upsample] → Conv.
	OpBNSwishConv
	// OpInvertedResidual (mconv_e{X}k{K}g{G}): the inverted residual block.
	OpInvertedResidual
)

// String returns the name of the official module class of the op kind.
func (k OpKind) String() string {
	switch k {
	case OpELUConv:
		return "ELUConv"
	case OpBNELUConv:
		return "BNELUConv"
	case OpBNSwishConv:
		return "BNSwishConv"
	case OpInvertedResidual:
		return "InvertedResidual"
	}
	return "OpKind(" + strconv.Itoa(int(k)) + ")"
}

// Op describes a cell op as the official OPS table builds it.
type Op struct {
	Name string
	Kind OpKind
	// Kernel, Dilation and Padding of the op's main conv: 3, 1, 1 for
	// res_elu, res_bnelu and res_bnswish; 3, 2, 2 for res_bnswish5; K, 1,
	// (K-1)/2 for the depthwise conv of mconv_e{X}k{K}g{G}.
	Kernel, Dilation, Padding int
	// Expansion is X of mconv_e{X}k{K}g{G}: hidden = round(Cin·X). Zero for
	// the res_* ops.
	Expansion int
	// Groups is G of mconv_e{X}k{K}g{G}: the groups of the KxK conv, 0
	// meaning depthwise (groups = hidden). Zero for the res_* ops.
	Groups int
}

// Hidden is the hidden width of an inverted residual op for cin input
// channels: int(round(cin·X)); 0 for other kinds.
func (o Op) Hidden(cin int) int {
	if o.Kind != OpInvertedResidual {
		return 0
	}
	return cin * o.Expansion
}

// ConvGroups is the group count of an inverted residual's KxK conv for cin
// input channels: the hidden width when G = 0, else G; 1 for other kinds.
func (o Op) ConvGroups(cin int) int {
	if o.Kind != OpInvertedResidual {
		return 1
	}
	if o.Groups == 0 {
		return o.Hidden(cin)
	}
	return o.Groups
}

// ParseOp parses an op name: res_elu, res_bnelu, res_bnswish, res_bnswish5,
// or mconv_e{X}k{K}g{G} with decimal X ≥ 1, odd K ≥ 1 and G ≥ 0. It accepts
// well-formed inverted-residual names outside the official table too (use
// IsOfficialOp to tell).
func ParseOp(name string) (Op, error) {
	switch name {
	case "res_elu":
		return Op{Name: name, Kind: OpELUConv, Kernel: 3, Dilation: 1, Padding: 1}, nil
	case "res_bnelu":
		return Op{Name: name, Kind: OpBNELUConv, Kernel: 3, Dilation: 1, Padding: 1}, nil
	case "res_bnswish":
		return Op{Name: name, Kind: OpBNSwishConv, Kernel: 3, Dilation: 1, Padding: 1}, nil
	case "res_bnswish5":
		return Op{Name: name, Kind: OpBNSwishConv, Kernel: 3, Dilation: 2, Padding: 2}, nil
	}
	rest, ok := strings.CutPrefix(name, "mconv_e")
	if !ok {
		return Op{}, fmt.Errorf("unknown op %q", name)
	}
	x, rest, okX := cutNumber(rest, 'k')
	k, rest, okK := cutNumber(rest, 'g')
	g, rest, okG := cutNumber(rest, 0)
	if !okX || !okK || !okG || rest != "" {
		return Op{}, fmt.Errorf("op %q: want mconv_e{expansion}k{kernel}g{groups} with decimal numbers", name)
	}
	if x < 1 {
		return Op{}, fmt.Errorf("op %q: expansion must be at least 1", name)
	}
	if k < 1 || k%2 == 0 {
		return Op{}, fmt.Errorf("op %q: kernel must be odd and positive", name)
	}
	return Op{Name: name, Kind: OpInvertedResidual, Kernel: k, Dilation: 1, Padding: (k - 1) / 2,
		Expansion: x, Groups: g}, nil
}

// cutNumber reads the decimal digits at the start of s up to the byte stop
// (0: to the end) and returns the number and what follows stop.
func cutNumber(s string, stop byte) (int, string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 6 {
		return 0, s, false
	}
	n, _ := strconv.Atoi(s[:i])
	if stop == 0 {
		return n, s[i:], true
	}
	if i >= len(s) || s[i] != stop {
		return 0, s, false
	}
	return n, s[i+1:], true
}

// CellStride is the official get_stride_for_cell_type: 1 for normal_* and
// combiner_*, 2 for down_*, -1 (upsampling) for up_*.
func CellStride(cellType string) (int, error) {
	switch {
	case strings.HasPrefix(cellType, "normal"), strings.HasPrefix(cellType, "combiner"):
		return 1, nil
	case strings.HasPrefix(cellType, "down"):
		return 2, nil
	case strings.HasPrefix(cellType, "up"):
		return -1, nil
	}
	return 0, fmt.Errorf("cell type %q: not normal_*, combiner_*, down_* or up_*", cellType)
}
