package nvae

import (
	"reflect"
	"testing"
)

// TestArchCellsOracle compares ArchCells with the official get_arch_cells
// output stored in every oracle case.
func TestArchCellsOracle(t *testing.T) {
	for _, c := range loadOracleCases(t) {
		var want map[string][]string
		c.metaJSON(t, "arch_instance", &want)
		var args struct {
			ArchInstance string `json:"arch_instance"`
		}
		c.metaJSON(t, "train_args", &args)
		got, err := ArchCells(args.ArchInstance)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ArchCells(%s) = %v, oracle %v", c.name, args.ArchInstance, got, want)
		}
	}
}

func TestArchCellsTable(t *testing.T) {
	two := func(s string) []string { return []string{s, s} }
	for _, tc := range []struct {
		instance            string
		enc, pre, dec, post []string
	}{
		{"res_mbconv", two("res_bnswish"), two("res_bnswish"), []string{"mconv_e6k5g0"}, []string{"mconv_e3k5g0"}},
		{"res53_mbconv", []string{"res_bnswish5", "res_bnswish"}, []string{"res_bnswish5", "res_bnswish"}, []string{"mconv_e6k5g0"}, []string{"mconv_e3k5g0"}},
		{"res35_mbconv", []string{"res_bnswish", "res_bnswish5"}, []string{"res_bnswish", "res_bnswish5"}, []string{"mconv_e6k5g0"}, []string{"mconv_e3k5g0"}},
		{"res55_mbconv", two("res_bnswish5"), two("res_bnswish5"), []string{"mconv_e6k5g0"}, []string{"mconv_e3k5g0"}},
		{"res_bnswish", two("res_bnswish"), two("res_bnswish"), two("res_bnswish"), two("res_bnswish")},
		{"res_bnelu", two("res_bnelu"), two("res_bnelu"), two("res_bnelu"), two("res_bnelu")},
		{"res_elu", two("res_elu"), two("res_elu"), two("res_elu"), two("res_elu")},
		{"mbconv_sep", []string{"mconv_e6k5g0"}, []string{"mconv_e3k5g0"}, []string{"mconv_e6k5g0"}, []string{"mconv_e3k5g0"}},
		{"mbconv_sep11", []string{"mconv_e6k11g0"}, []string{"mconv_e3k5g0"}, []string{"mconv_e6k11g0"}, []string{"mconv_e3k5g0"}},
		{"res_mbconv9", two("res_bnswish"), two("res_bnswish"), []string{"mconv_e6k9g0"}, []string{"mconv_e3k9g0"}},
		{"mbconv_res", []string{"mconv_e6k5g0"}, []string{"mconv_e3k5g0"}, two("res_bnswish"), two("res_bnswish")},
		{"mbconv_den", []string{"mconv_e6k5g0"}, []string{"mconv_e3k5g8"}, []string{"mconv_e6k5g0"}, []string{"mconv_e3k5g8"}},
	} {
		got, err := ArchCells(tc.instance)
		if err != nil {
			t.Errorf("%s: %v", tc.instance, err)
			continue
		}
		want := map[string][]string{
			"normal_enc": tc.enc, "down_enc": tc.enc, "normal_pre": tc.pre, "down_pre": tc.pre,
			"normal_dec": tc.dec, "up_dec": tc.dec, "normal_post": tc.post, "up_post": tc.post,
			"ar_nn": {""},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ArchCells(%s) = %v, want %v", tc.instance, got, want)
		}
		if len(got) != len(CellTypes) {
			t.Errorf("%s: %d cell types", tc.instance, len(got))
		}
	}
	if n := len(ArchInstances()); n != 12 {
		t.Errorf("%d arch instances, want the official 12", n)
	}
	// Every op of every instance parses; only res_mbconv9 uses ops outside
	// the official OPS table.
	for _, inst := range ArchInstances() {
		cells, _ := ArchCells(inst)
		official := true
		for _, ct := range CellTypes[:8] {
			for _, op := range cells[ct] {
				if _, err := ParseOp(op); err != nil {
					t.Errorf("%s: %v", inst, err)
				}
				official = official && IsOfficialOp(op)
			}
		}
		if official != (inst != "res_mbconv9") {
			t.Errorf("%s: all ops official = %v", inst, official)
		}
	}
	// Fresh copies.
	a, _ := ArchCells("res_mbconv")
	a["normal_enc"][0] = "changed"
	b, _ := ArchCells("res_mbconv")
	if b["normal_enc"][0] != "res_bnswish" || b["down_enc"][0] != "res_bnswish" {
		t.Error("ArchCells returns shared slices")
	}
	if _, err := ArchCells("res_unknown"); err == nil {
		t.Error("unknown instance accepted")
	}
}

func TestParseOp(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Op
	}{
		{"res_elu", Op{Name: "res_elu", Kind: OpELUConv, Kernel: 3, Dilation: 1, Padding: 1}},
		{"res_bnelu", Op{Name: "res_bnelu", Kind: OpBNELUConv, Kernel: 3, Dilation: 1, Padding: 1}},
		{"res_bnswish", Op{Name: "res_bnswish", Kind: OpBNSwishConv, Kernel: 3, Dilation: 1, Padding: 1}},
		{"res_bnswish5", Op{Name: "res_bnswish5", Kind: OpBNSwishConv, Kernel: 3, Dilation: 2, Padding: 2}},
		{"mconv_e6k5g0", Op{Name: "mconv_e6k5g0", Kind: OpInvertedResidual, Kernel: 5, Dilation: 1, Padding: 2, Expansion: 6}},
		{"mconv_e3k5g0", Op{Name: "mconv_e3k5g0", Kind: OpInvertedResidual, Kernel: 5, Dilation: 1, Padding: 2, Expansion: 3}},
		{"mconv_e3k5g8", Op{Name: "mconv_e3k5g8", Kind: OpInvertedResidual, Kernel: 5, Dilation: 1, Padding: 2, Expansion: 3, Groups: 8}},
		{"mconv_e6k11g0", Op{Name: "mconv_e6k11g0", Kind: OpInvertedResidual, Kernel: 11, Dilation: 1, Padding: 5, Expansion: 6}},
		{"mconv_e6k9g0", Op{Name: "mconv_e6k9g0", Kind: OpInvertedResidual, Kernel: 9, Dilation: 1, Padding: 4, Expansion: 6}},
	} {
		got, err := ParseOp(tc.name)
		if err != nil || got != tc.want {
			t.Errorf("ParseOp(%s) = %+v, %v, want %+v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "res_swish", "mconv_e6k4g0", "mconv_ek5g0", "mconv_e6k5", "mconv_e6k5g",
		"mconv_e6k5g0x", "mconv_e0k5g0", "mconv_e6kg0", "mconv_e-6k5g0", "mconv_e6k5g0 ", "mconv_e6k1111111g0"} {
		if _, err := ParseOp(bad); err == nil {
			t.Errorf("ParseOp(%q) succeeded", bad)
		}
	}
	for _, op := range OfficialOps {
		if _, err := ParseOp(op); err != nil {
			t.Errorf("official op %s: %v", op, err)
		}
	}
	op, _ := ParseOp("mconv_e6k5g0")
	if op.Hidden(16) != 96 || op.ConvGroups(16) != 96 {
		t.Errorf("mconv_e6k5g0 on 16 channels: hidden %d groups %d", op.Hidden(16), op.ConvGroups(16))
	}
	op, _ = ParseOp("mconv_e3k5g8")
	if op.Hidden(16) != 48 || op.ConvGroups(16) != 8 {
		t.Errorf("mconv_e3k5g8 on 16 channels: hidden %d groups %d", op.Hidden(16), op.ConvGroups(16))
	}
	op, _ = ParseOp("res_bnswish")
	if op.Hidden(16) != 0 || op.ConvGroups(16) != 1 || op.Kind.String() != "BNSwishConv" {
		t.Errorf("res_bnswish: %+v", op)
	}
}

func TestCellStride(t *testing.T) {
	for ct, want := range map[string]int{"normal_enc": 1, "normal_post": 1, "combiner_dec": 1,
		"down_pre": 2, "down_enc": 2, "up_dec": -1, "up_post": -1} {
		if got, err := CellStride(ct); err != nil || got != want {
			t.Errorf("CellStride(%s) = %d, %v, want %d", ct, got, err, want)
		}
	}
	if _, err := CellStride("ar_nn"); err == nil {
		t.Error("CellStride(ar_nn) succeeded")
	}
}
