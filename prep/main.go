// Command nvae-prep converts the datasets of the NVAE paper into the files
// the training and evaluation tools read: MNIST and CIFAR-10 in their
// distribution formats, everything else as LMDB environments keyed "0",
// "1", ... like the official scripts. Run "nvae-prep help" for the list of
// subcommands and "nvae-prep <subcommand> --help" for their flags.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// version is the tool version recorded in manifests.
const version = "0.1.0"

type command struct {
	summary string
	run     func(args []string, env *env) error
}

var commands = map[string]command{
	"mnist":    {"download MNIST (idx gz) into --data DIR, checksums verified", runMNIST},
	"cifar10":  {"download CIFAR-10 (binary batches) into --data DIR, checksums verified", runCIFAR10},
	"celeba64": {"CelebA aligned JPEGs + partition file -> L/{train,validation,test}.lmdb", runCelebA64},
	"tfrecord": {"GLOW tfrecords (imagenet-oord_32/64, celeba) -> raw HWC LMDB", runTFRecord},
	"ffhq":     {"FFHQ PNG/JPG folder or zip -> 256x256 raw HWC LMDB", runFFHQ},
	"images":   {"any image folder or zip -> NxN raw HWC LMDB (train/validation)", runImages},
	"lsun":     {"LSUN class LMDBs are read directly; --check validates them", runLSUN},
	"inspect":  {"counts per split, image size and a PNG grid of the first 64 images", runInspect},
}

// env carries the streams and injectable dependencies of one invocation.
type env struct {
	stdout, stderr io.Writer
	cmd            string
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
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(stdout, "nvae-prep", version)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "nvae-prep: unknown subcommand %q (run nvae-prep help)\n", args[0])
		return 2
	}
	e := &env{stdout: stdout, stderr: stderr, cmd: args[0]}
	err := c.run(args[1:], e)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, pflag.ErrHelp):
		return 0
	}
	var ue usageError
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintf(stderr, "nvae-prep %s: %s\n", args[0], msg)
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// usageError marks bad flags or arguments (exit status 2).
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func usage(w io.Writer) {
	fmt.Fprintf(w, "nvae-prep %s: prepare NVAE datasets\n\nUsage: nvae-prep <subcommand> [flags]\n\nSubcommands:\n", version)
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

// newFlags returns a flag set for a subcommand that accepts hyphenated
// spellings of the official underscore names.
func newFlags(e *env, usageLine, description string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(e.cmd, pflag.ContinueOnError)
	fs.SetNormalizeFunc(func(f *pflag.FlagSet, name string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(name, "-", "_"))
	})
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: nvae-prep %s %s\n\n%s\n\nFlags:\n", e.cmd, usageLine, description)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args, turning flag errors into usage errors and printing
// help on --help.
func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err // pflag has already printed the usage
		}
		return usageError{err}
	}
	return nil
}
