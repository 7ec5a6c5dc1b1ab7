package cli_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/spf13/pflag"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/pkg/nvae"
)

// TestRegisterStruct: the official train.py options of nvae.Config as
// flags (moved here from pkg/nvae with RegisterFlags).
func TestRegisterStruct(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	c := nvae.Config{Seed: 99} // reset to the official defaults by RegisterStruct
	cli.RegisterStruct(fs, &c, nvae.DefaultConfig(), nil)
	if c != nvae.DefaultConfig() {
		t.Errorf("RegisterStruct did not set the defaults: %+v", c)
	}
	def := nvae.DefaultConfig().ArgsMap()
	n := 0
	fs.VisitAll(func(f *pflag.Flag) {
		n++
		v, ok := def[f.Name]
		if !ok {
			t.Errorf("unexpected flag %s", f.Name)
			return
		}
		var want string
		switch x := v.(type) {
		case float64:
			want = fmt.Sprint(x)
		default:
			want = fmt.Sprint(x)
		}
		if f.DefValue != want {
			t.Errorf("flag %s default %q, want %q", f.Name, f.DefValue, want)
		}
		if f.Usage == "" {
			t.Errorf("flag %s has no help", f.Name)
		}
		_, isBool := v.(bool)
		if isBool != (f.NoOptDefVal == "true") {
			t.Errorf("flag %s: bool %v but NoOptDefVal %q", f.Name, isBool, f.NoOptDefVal)
		}
	})
	if n != 44 {
		t.Errorf("%d flags registered, want 44", n)
	}
	if u := fs.Lookup("weight_decay_norm").Usage; u != "The lambda parameter for spectral regularization." {
		t.Errorf("help of weight_decay_norm = %q", u)
	}
	err := fs.Parse([]string{"--num-channels-enc", "64", "--num_channels_dec=48", "--ada-groups",
		"--use_se", "--learning_rate", "1.", "--seed", "010", "--weight-decay-norm", "1e-2",
		"--dataset", "celeba_64", "--node_rank", "-0", "--num_latent_scales= 3 "})
	if err != nil {
		t.Fatal(err)
	}
	want := nvae.DefaultConfig()
	want.NumChannelsEnc, want.NumChannelsDec, want.AdaGroups, want.UseSE = 64, 48, true, true
	want.LearningRate, want.Seed, want.WeightDecayNorm, want.Dataset = 1, 10, 0.01, "celeba_64"
	want.NumLatentScales = 3
	if c != want {
		t.Errorf("parsed:\n got %+v\nwant %+v", c, want)
	}
	if v, err := fs.GetInt("seed"); err != nil || v != 10 {
		t.Errorf("GetInt(seed) = %v, %v", v, err)
	}
	if v, err := fs.GetFloat64("weight_decay_norm"); err != nil || v != 0.01 {
		t.Errorf("GetFloat64(weight_decay_norm) = %v, %v", v, err)
	}

	for _, bad := range [][]string{
		{"--num_nf", "1.5"}, {"--num_nf", "0x10"}, {"--num_nf", "1__0"}, {"--learning_rate", "fast"},
		{"--no_such_flag"}, {"positional"}, {"--use_se", "true"},
	} {
		if _, err := cli.ParseStruct(bad, nvae.DefaultConfig()); err == nil {
			t.Errorf("ParseStruct(%q) succeeded", bad)
		}
	}
	if c, err := cli.ParseStruct([]string{"--num_nf", "1_0", "--seed=-7", "--master-address", "h"}, nvae.DefaultConfig()); err != nil ||
		c.NumNF != 10 || c.Seed != -7 || c.MasterAddress != "h" {
		t.Errorf("ParseStruct: %+v %v", c, err)
	}
	if cli.NormalizeFlagName(nil, "num-channels-enc") != "num_channels_enc" {
		t.Error("NormalizeFlagName")
	}
}
