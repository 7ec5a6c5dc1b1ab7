// Command nvae-fid computes Fréchet Inception Distances the way the official
// NVAE code does (pytorch-fid's FID Inception-v3 and statistics):
//
//	nvae-fid stats   --data D --dataset NAME --fid_dir DIR     dataset statistics DIR/NAME.npz
//	nvae-fid score   --checkpoint C --fid_dir DIR              FID of model samples
//	nvae-fid score   --images DIR|NPZ --fid_dir DIR --dataset NAME
//	nvae-fid compare A.npz B.npz                               FID of two statistics files
//
// The work is done by pkg/fid/pipeline; this file parses the flags.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/pkg/device"
	"github.com/nvaego/nvae/pkg/fid/pipeline"
)

const usage = `usage: nvae-fid <command> [flags]

Commands:
  stats    --data D --dataset NAME --fid_dir DIR    write DIR/NAME.npz (mu, sigma) from the training split
  score    --checkpoint C --fid_dir DIR             FID of 50000 model samples against DIR/<dataset>.npz
  score    --images DIR|NPZ --fid_dir DIR --dataset NAME
                                                    FID of a folder of PNG/JPEG images or an .npz "samples" array
  compare  A.npz B.npz                              FID between two statistics files

The Inception weights are the official pt_inception-2015-12-05-6726825d.pth,
downloaded on first use into $NVAE_CACHE (default ~/.cache/nvae-go) unless
--inception PATH (.pth or .safetensors) is given. --inception test-formula
uses the offline test weights of the FID oracle (a formula, no file): for
smoke tests only, its scores are not comparable with published FIDs.
Run "nvae-fid <command> --help" for the flags of a command.
`

func main() {
	device.TuneGCForInference()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status (cli.Exit);
// errors are one line on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return cli.ExitUsage
	}
	var err error
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return cli.ExitOK
	case "stats":
		err = runStats(args[1:], stdout, stderr)
	case "score":
		err = runScore(args[1:], stdout, stderr)
	case "compare":
		err = runCompare(args[1:], stdout)
	default:
		err = cli.Usagef("unknown command %q (want stats, score or compare; see --help)", args[0])
	}
	return cli.Exit(stderr, "nvae-fid", err)
}

// parse parses args (see cli.Parse); usage errors name the command.
func parse(fs *pflag.FlagSet, args []string, synopsis string, stdout io.Writer) error {
	err := cli.Parse(fs, args, stdout, "usage: "+synopsis+"\n\n")
	if cli.IsUsage(err) {
		return cli.Usagef("%s: %v", fs.Name()[len("nvae-fid "):], err)
	}
	return err
}

const inceptionHelp = "Inception weights (.pth or .safetensors, or test-formula for the offline test weights); default: the official file, downloaded once"

func runStats(args []string, stdout, stderr io.Writer) error {
	var o pipeline.StatsOptions
	fs := cli.NewFlagSet("nvae-fid stats")
	fs.StringVar(&o.Data, "data", "", "location of the data corpus (required)")
	fs.StringVar(&o.Dataset, "dataset", "", "dataset name, e.g. cifar10, celeba_64, ffhq (required)")
	fs.StringVar(&o.FIDDir, "fid_dir", "", "directory the statistics file <dataset>.npz is written to (required)")
	fs.StringVar(&o.Inception, "inception", "", inceptionHelp)
	fs.IntVar(&o.BatchSize, "batch_size", 100, "images per Inception batch")
	fs.IntVar(&o.MaxImages, "max_samples", 50000, "use at most this many training images (0: all), as the official script")
	fs.IntVar(&o.MaxImages, "max_images", 50000, "alias of --max_samples")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the shuffled order and the random training transforms")
	dev := device.Flags(fs)
	if err := parse(fs, args, "nvae-fid stats --data D --dataset NAME --fid_dir DIR [--inception PATH] [--batch_size 100] [--max_samples 50000]", stdout); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return cli.Usagef("stats: unexpected argument %q", fs.Arg(0))
	case o.Data == "" || o.Dataset == "" || o.FIDDir == "":
		return cli.Usagef("stats: --data, --dataset and --fid_dir are required")
	case o.BatchSize < 1 || o.MaxImages < 0:
		return cli.Usagef("stats: --batch_size must be ≥ 1 and --max_samples ≥ 0")
	}
	o.Device = dev.Name
	if _, err := dev.Open(); err != nil {
		return cli.Usage(err)
	}
	out, n, err := pipeline.WriteStats(o, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d images)\n", out, n)
	return nil
}

func runCompare(args []string, stdout io.Writer) error {
	fs := cli.NewFlagSet("nvae-fid compare")
	if err := parse(fs, args, "nvae-fid compare A.npz B.npz", stdout); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return cli.Usagef("compare: want two statistics files, got %d arguments", fs.NArg())
	}
	a, err := pipeline.ReadStats(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := pipeline.ReadStats(fs.Arg(1))
	if err != nil {
		return err
	}
	d, err := pipeline.Distance(a, b)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "FID: %.6f\n", pipeline.Printable(d))
	return nil
}

func runScore(args []string, stdout, stderr io.Writer) error {
	var o pipeline.ScoreOptions
	fs := cli.NewFlagSet("nvae-fid score")
	fs.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint.nvae or official checkpoint.pt to sample from")
	fs.StringVar(&o.Weights, "weights", "auto", "weights of a checkpoint.nvae: auto (its EMA of the weights when it has one, else the trained weights), ema or raw")
	fs.StringVar(&o.Images, "images", "", "folder of PNG/JPEG images, or an .npz file with a samples array, to score instead of a model")
	fs.StringVar(&o.FIDDir, "fid_dir", "", "directory holding the reference statistics <dataset>.npz (required)")
	fs.StringVar(&o.Dataset, "dataset", "", "reference dataset name (default with --checkpoint: the checkpoint's dataset)")
	fs.Float64Var(&o.Temp, "temp", 1.0, "temperature of the --readjust_bn sampling (the official evaluate.py --temp)")
	fs.Float64Var(&o.SampleTemp, "sample_temp", 1.0, "temperature of the FID samples (the official create_generator_vae samples at 1.0)")
	fs.BoolVar(&o.ReadjustBN, "readjust_bn", false, "re-adjust BN statistics first (sampling batches in BN training mode, as the official evaluate_fid)")
	fs.IntVar(&o.ReadjustIters, "readjust_iters", 500, "sampling batches of the BN re-adjustment (official: 500)")
	fs.IntVar(&o.ReadjustBatch, "readjust_batch", 2, "images per sampling batch of the BN re-adjustment (official: 2)")
	fs.IntVar(&o.NumSamples, "num_samples", 50000, "number of model samples")
	fs.IntVar(&o.BatchSize, "batch_size", 100, "samples per model / Inception batch")
	fs.StringVar(&o.Inception, "inception", "", inceptionHelp)
	fs.Uint64Var(&o.Seed, "seed", 1, "sampling seed")
	fs.StringVar(&o.Out, "out", "", "where to write fid.json (default: beside the checkpoint; with --images only when given)")
	fs.StringVar(&o.SaveStats, "save_stats", "", "also write the scored images' statistics to this .npz")
	dev := device.Flags(fs)
	if err := parse(fs, args, "nvae-fid score (--checkpoint C | --images DIR|NPZ --dataset NAME) --fid_dir DIR [--temp 1.0] [--sample_temp 1.0] [--readjust_bn [--readjust_iters 500] [--readjust_batch 2]] [--num_samples 50000] [--batch_size 100] [--out fid.json]", stdout); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return cli.Usagef("score: unexpected argument %q", fs.Arg(0))
	case (o.Checkpoint == "") == (o.Images == ""):
		return cli.Usagef("score: give exactly one of --checkpoint and --images")
	case o.FIDDir == "":
		return cli.Usagef("score: --fid_dir is required")
	case o.Images != "" && o.Dataset == "":
		return cli.Usagef("score: --images needs --dataset to find the reference statistics")
	case o.BatchSize < 1 || o.NumSamples < 2 || !(o.Temp > 0) || !(o.SampleTemp > 0):
		return cli.Usagef("score: --batch_size must be ≥ 1, --num_samples ≥ 2, --temp > 0 and --sample_temp > 0")
	case o.ReadjustIters < 1 || o.ReadjustBatch < 1:
		return cli.Usagef("score: --readjust_iters and --readjust_batch must be ≥ 1")
	}
	o.Device = dev.Name
	if _, err := dev.Open(); err != nil {
		return cli.Usage(err)
	}
	return pipeline.Score(o, stdout, stderr)
}
