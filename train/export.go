package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/ckpt"
	"github.com/nvaego/nvae/pkg/tensor"
)

// runExport is `nvae-train export --checkpoint IN.nvae --out OUT.pt`: the
// checkpoint as an official checkpoint.pt (train.py --cont_training and
// evaluate.py load it with strict key matching).
func runExport(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("nvae-train export", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	in := fs.String("checkpoint", "", "checkpoint.nvae to export")
	out := fs.String("out", "", "official checkpoint.pt to write")
	weights := fs.String("weights", "raw", "weights to export: raw, or ema (the checkpoint's EMA of the weights)")
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "nvae-train export: %v (see --help)\n", err)
		return 2
	}
	if *help {
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, "usage: nvae-train export --checkpoint IN.nvae --out OUT.pt")
		fs.PrintDefaults()
		return 0
	}
	if *in == "" || *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "nvae-train export: --checkpoint and --out are required (see --help)")
		return 2
	}
	ck, err := ckpt.Load(*in, cpu.New(), tensor.Float32)
	if err != nil {
		fmt.Fprintf(stderr, "nvae-train export: %v\n", err)
		return 1
	}
	if _, err := ckpt.SelectWeights(ck, *weights); err != nil {
		fmt.Fprintf(stderr, "nvae-train export: %v\n", err)
		return 2
	}
	if ck.State.StepInEpoch > 0 {
		fmt.Fprintf(stderr, "nvae-train export: the checkpoint is %d steps into epoch %d; the official format records whole epochs, so train.py --cont_training restarts epoch %d\n", ck.State.StepInEpoch, ck.State.Epoch, ck.State.Epoch)
	}
	if err := ckpt.ExportOfficial(*out, ck); err != nil {
		fmt.Fprintf(stderr, "nvae-train export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (epoch %d, global step %d)\n", *out, ck.State.Epoch, ck.State.GlobalStep)
	return 0
}
