// Command nvae-prep converts the datasets of the NVAE paper into the files
// the training and evaluation tools read: MNIST and CIFAR-10 in their
// distribution formats, everything else as LMDB environments keyed "0",
// "1", ... like the official scripts. Run "nvae-prep help" for the list of
// subcommands and "nvae-prep <subcommand> --help" for their flags. The
// conversions are pkg/data/convert; this file parses the flags.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/spf13/pflag"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/pkg/data"
	"github.com/nvaego/nvae/pkg/data/cifar"
	"github.com/nvaego/nvae/pkg/data/convert"
)

// command is one subcommand: its summary line, its usage line and help
// text, and flags, which defines its flags and returns the action to run
// once they are parsed.
type command struct {
	summary, synopsis, about string
	flags                    func(fs *pflag.FlagSet) func(e *convert.Env, fs *pflag.FlagSet) error
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one nvae-prep command line and returns the exit status:
// 0 on success, 1 on a failed conversion, 2 on a usage error. Every
// failure is reported as a single line on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return cli.ExitUsage
		}
		return cli.ExitOK
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(stdout, "nvae-prep", convert.Version)
		return cli.ExitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "nvae-prep: unknown subcommand %q (run nvae-prep help)\n", args[0])
		return cli.ExitUsage
	}
	e := &convert.Env{Stdout: stdout, Stderr: stderr, Cmd: args[0], Args: args[1:]}
	fs := cli.NewFlagSet(e.Cmd)
	fs.Usage = func() {
		cli.PrintDefaults(stdout, fs, fmt.Sprintf("Usage: nvae-prep %s %s\n\n%s\n\nFlags:\n", e.Cmd, c.synopsis, c.about))
	}
	action := c.flags(fs)
	err := fs.Parse(args[1:])
	if err != nil && !errors.Is(err, cli.ErrHelp) { // pflag has printed the usage for --help
		err = cli.Usage(err)
	} else if err == nil {
		err = action(e, fs)
	}
	if errors.As(err, new(convert.OptionError)) {
		err = cli.Usage(err)
	}
	return cli.Exit(stderr, "nvae-prep "+e.Cmd, err)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "nvae-prep %s: prepare NVAE datasets\n\nUsage: nvae-prep <subcommand> [flags]\n\nSubcommands:\n", convert.Version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nFlags use the official scripts' names (--lmdb_path); --lmdb-path works too.")
	fmt.Fprintln(w, "Run nvae-prep <subcommand> --help for details.")
}

// cmd defines a subcommand whose flags are the tagged fields of its
// options struct O (defaults from def); setDir, when not nil, takes the
// single directory argument.
func cmd[O any](summary, synopsis, about string, def O, setDir func(*O, string), do func(*convert.Env, O) error) command {
	return command{summary, synopsis, about, func(fs *pflag.FlagSet) func(*convert.Env, *pflag.FlagSet) error {
		var o O
		cli.RegisterStruct(fs, &o, def, nil)
		return func(e *convert.Env, fs *pflag.FlagSet) error {
			if setDir != nil {
				if fs.NArg() != 1 {
					return cli.Usagef("want exactly one directory argument, got %d", fs.NArg())
				}
				setDir(&o, fs.Arg(0))
			}
			return do(e, o)
		}
	}}
}

var commands = map[string]command{
	"mnist": cmd("download MNIST (idx gz) into --data DIR, checksums verified", "--data DIR [--source DIR] [--url BASE]",
		"Downloads the four MNIST idx gz files into DIR/"+data.MNISTRawDir+"/ (torchvision's layout, which\n"+
			"nvae-train --dataset mnist --data DIR reads), verifying the published MD5 checksums.\n"+
			"With --source the files are copied from a local folder instead (no network).",
		convert.DownloadOptions{}, nil, convert.MNIST),
	"cifar10": cmd("download CIFAR-10 (binary batches) into --data DIR, checksums verified", "--data DIR [--source DIR] [--url BASE]",
		"Downloads cifar-10-binary.tar.gz into DIR, verifies its published MD5 and unpacks\n"+
			"DIR/"+cifar.Dir+"/ (read by nvae-train --dataset cifar10 --data DIR).\n"+
			"With --source the tarball is copied from a local folder instead (no network).",
		convert.CIFAR10Options{}, nil, convert.CIFAR10),
	"celeba64": cmd("CelebA aligned JPEGs + partition file -> L/{train,validation,test}.lmdb", "--split train|valid|test --img_path P --lmdb_path L",
		"Stores the original aligned CelebA JPEGs of one split, in the order of\n"+
			"list_eval_partition.txt, under keys \"0\", \"1\", ... in L/train.lmdb, L/validation.lmdb\n"+
			"or L/test.lmdb, exactly like the official create_celeba64_lmdb.py. P holds\n"+
			"img_align_celeba.zip or the unzipped img_align_celeba/ folder plus\n"+
			"list_eval_partition.txt (.txt or Kaggle's .csv), directly or in P/celeba/ (torchvision's\n"+
			"layout). Works offline; every JPEG is decoded once to verify it.",
		convert.CelebA64Options{Split: "train"}, nil, convert.CelebA64),
	"tfrecord": cmd("GLOW tfrecords (imagenet-oord_32/64, celeba) -> raw HWC LMDB", "--dataset imagenet-oord_32|imagenet-oord_64|celeba --tfr_path P --lmdb_path L --split train|validation",
		"Converts GLOW's tfrecord shards (P/<split>/<split>-r05|r06|r08-s-NNNN-of-MMMM.tfrecords,\n"+
			"2000/80 shards for imagenet-oord, 120/40 for celeba) into L/<split>.lmdb like the official\n"+
			"convert_tfrecord_to_lmdb.py: the raw HWC uint8 `data` bytes of every tf.train.Example\n"+
			"under consecutive keys across shards. Both masked CRC32C checksums of every record are\n"+
			"verified and every image must have the dataset's size; TensorFlow is not needed.",
		convert.TFRecordOptions{Dataset: "imagenet-oord_32", Split: "train"}, nil, convert.TFRecord),
	"ffhq": cmd("FFHQ PNG/JPG folder or zip -> 256x256 raw HWC LMDB", "--ffhq_img_path P --ffhq_lmdb_path L --split train|validation [--seed S]",
		"Resizes the FFHQ images (a folder, searched recursively, or a zip; PNG or JPG) to\n"+
			"256x256 with Pillow's bilinear filter and stores them raw (HWC uint8 RGB) in\n"+
			"L/<split>.lmdb like the official create_ffhq_lmdb.py. The split (63,000/7,000 of\n"+
			"70,000; 90%/10% for other counts) is a seeded permutation saved as\n"+
			"L/train_test_ind.json by the first run and reused by the second split's run.",
		convert.FFHQOptions{Split: "train"}, nil, convert.FFHQ),
	"images": cmd("any image folder or zip -> NxN raw HWC LMDB (train/validation)", "--src DIR|ZIP --lmdb_path L --size N [--valid_fraction f] [--seed S]",
		"Builds a custom dataset from any folder (recursive) or zip of images: each image's\n"+
			"shorter side is resized to N (Pillow bilinear), the centre NxN is cut out and stored\n"+
			"raw (HWC uint8 RGB) in L/train.lmdb and, when --valid_fraction > 0, L/validation.lmdb.\n"+
			"Files are sorted by name and split by a seeded permutation saved as L/split_ind.json.\n"+
			"The loader reads it with the generic transforms (Resize N, random flip).",
		convert.ImagesOptions{ValidFraction: 0.1}, nil, convert.Images),
	"lsun": cmd("LSUN class LMDBs are read directly; --check validates them", "[--check] DIR",
		"LSUN classes come as LMDBs of WebP/JPEG images (bedroom_train_lmdb/, church_outdoor_val_lmdb/,\n"+
			"tower_train_lmdb/ ...). They need no conversion: nvae-train --dataset lsun_bedroom_128\n"+
			"--data DIR reads DIR/bedroom_train_lmdb directly (keys in database order, like the\n"+
			"official loader). Without --check this lists the class LMDBs in DIR with their counts;\n"+
			"with --check every image is decoded and the first unreadable one is reported.",
		convert.LSUNOptions{}, func(o *convert.LSUNOptions, dir string) { o.Dir = dir }, convert.LSUN),
	"inspect": cmd("counts per split, image size and a PNG grid of the first 64 images", "DIR [--out FILE]",
		"Prints the number of images per split and the image size of a prepared dataset folder\n"+
			"(train.lmdb/validation.lmdb/test.lmdb, LSUN *_lmdb, MNIST/raw, cifar-10-batches-bin) and\n"+
			"writes an 8x8 PNG grid of the first 64 images of the first split.",
		convert.InspectOptions{}, func(o *convert.InspectOptions, dir string) { o.Dir = dir }, convert.Inspect),
}
