// Command nvae-train trains NVAE with the official train.py flags, on the CPU
// (or a GPU backend when one is available).
//
//	nvae-train --data DIR --root DIR --save ID --dataset mnist ... [--cont_training]
//	nvae-train --dry_run <training flags>     structure summary as JSON
//	nvae-train --benchmark N <training flags> timing of N steps on synthetic data
//	nvae-train export --checkpoint IN.nvae --out OUT.pt   official checkpoint.pt
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nvaego/nvae/internal/cli"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	"github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/device"
	"github.com/nvaego/nvae/pkg/dist"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
	"github.com/nvaego/nvae/pkg/train"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type extra struct {
	dryRun          bool
	benchmark       int
	benchmarkWarmup int
	maxBadSteps     int
	overwrite       bool
	numIWFinal      int
	numIWValid      int
	maxSteps        int
	maxMinutes      float64
	maxValidBatches int
	logEvery        int
	workers         int
	emaDecay        float64
	gradClip        float64
	skipThreshold   float64
	distEngine      string
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "export" {
		return runExport(args[1:], stdout, stderr)
	}
	fs := cli.NewFlagSet("nvae-train")
	var cfg nvae.Config
	cli.RegisterStruct(fs, &cfg, nvae.DefaultConfig(), map[string]string{"dataset": " (one of " + strings.Join(nvae.Datasets, ", ") + ")"})
	var x extra
	dev := device.Flags(fs)
	fs.BoolVar(&x.dryRun, "dry_run", false, "build the model on CPU without data, print {params, conv_layers, bn_layers, groups_per_scale} as JSON and exit")
	fs.IntVar(&x.benchmark, "benchmark", 0, "time N training steps on synthetic data (after warm-up) and print JSON")
	fs.IntVar(&x.benchmarkWarmup, "benchmark_warmup", 3, "warm-up steps before --benchmark timing")
	fs.IntVar(&x.maxBadSteps, "max_bad_steps", 50, "stop after this many consecutive non-finite steps (-1: never stop; 0 is refused)")
	fs.BoolVar(&x.overwrite, "overwrite", false, "start over even if the experiment directory has a checkpoint")
	fs.IntVar(&x.numIWFinal, "num_iw_samples_final", 1000, "importance samples of the final validation")
	fs.IntVar(&x.numIWValid, "num_iw_samples_valid", 10, "importance samples of the per-epoch validation")
	fs.IntVar(&x.maxSteps, "max_steps", 0, "stop after this many global steps (0: all epochs); the run then ends like its last epoch")
	fs.Float64Var(&x.maxMinutes, "max_minutes", 0, "stop training after this many minutes (0: no limit); the run then ends like its last epoch")
	fs.IntVar(&x.maxValidBatches, "max_valid_batches", 0, "evaluate at most this many validation batches (0: all)")
	fs.IntVar(&x.logEvery, "log_every", 50, "print a progress line every N steps")
	fs.IntVar(&x.workers, "workers", 0, "data decode workers (0: all cores)")
	memEstimate := fs.Bool("memory_estimate", false, "with --dry_run: also estimate the memory of one training step at --batch_size (two small probe passes on the CPU) and add it as \"memory\"; training refuses a batch that does not fit")
	fs.Float64Var(&x.emaDecay, "ema_decay", 0, "keep an exponential moving average of the weights with this decay (0: off, the official behaviour; VDVAE uses 0.9999 for CIFAR-10, 0.999 otherwise); eval, sample and fid use it by default")
	fs.Float64Var(&x.gradClip, "grad_clip", 0, "scale gradients whose global L2 norm exceeds this (0: off, the official behaviour)")
	fs.Float64Var(&x.skipThreshold, "skip_threshold", 0, "skip updates whose gradient norm is at least this (0: off, the official behaviour)")
	fs.StringVar(&x.distEngine, "dist_engine", "auto", "data-parallel engine: auto (nccl on a GPU, mpi on the CPU, for several ranks), mpi (Open MPI's libmpi.so.40, host buffers) or nccl (libnccl.so.2, device buffers; also a one-rank communicator when given alone)")
	deviceInfo := fs.Bool("device_info", false, "print the GPU, driver, CUDA, cuDNN, cuBLAS and NCCL versions found, with their paths, and exit")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	header := "usage: nvae-train [flags]   (the official train.py flags; hyphenated spellings work too)\n" +
		"       nvae-train export --checkpoint IN.nvae --out OUT.pt   (an official checkpoint.pt; see export --help)\n"
	if err := cli.Parse(fs, args, stdout, header); err != nil {
		if errors.Is(err, cli.ErrHelp) {
			fmt.Fprintf(stdout, "\n%s\n", train.ResumeHelp)
		}
		return cli.Exit(stderr, "nvae-train", err)
	}
	if *deviceInfo {
		if err := cuda.PrintInfo(stdout, dev.Name); err != nil {
			fmt.Fprintf(stderr, "nvae-train: %v\n", err)
			return 1
		}
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nvae-train: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if x.maxBadSteps == 0 || x.maxBadSteps < -1 {
		fmt.Fprintf(stderr, "nvae-train: --max_bad_steps %d: give a limit of at least 1, or -1 for no limit\n", x.maxBadSteps)
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return 2
	}
	if x.emaDecay < 0 || x.emaDecay >= 1 || x.gradClip < 0 || x.skipThreshold < 0 {
		fmt.Fprintln(stderr, "nvae-train: --ema_decay must be in [0, 1); --grad_clip and --skip_threshold must be ≥ 0")
		return 2
	}
	if x.dryRun {
		s, err := nvae.Summarize(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "nvae-train: %v\n", err)
			return 1
		}
		if !*memEstimate {
			json.NewEncoder(stdout).Encode(s)
			return 0
		}
		e, err := train.DryRunMemory(cfg, cpu.New())
		if err != nil {
			fmt.Fprintf(stderr, "nvae-train: %v\n", err)
			return 1
		}
		json.NewEncoder(stdout).Encode(struct {
			nvae.Summary
			Memory train.MemEstimate `json:"memory"`
		}{s, e})
		return 0
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "nvae-train: %v\n", err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if x.benchmark > 0 {
		b, err := dev.Open()
		if err != nil {
			fmt.Fprintf(stderr, "nvae-train: %v\n", err)
			return 2
		}
		res, err := train.Benchmark(cfg, b, x.benchmark, x.benchmarkWarmup)
		if err != nil {
			fmt.Fprintf(stderr, "nvae-train: %v\n", err)
			return 1
		}
		res.Config = cfg.Dataset
		json.NewEncoder(stdout).Encode(res)
		return 0
	}
	if cfg.Data == "" {
		fmt.Fprintln(stderr, "nvae-train: --data is required (the directory nvae-prep wrote)")
		return 2
	}
	// The communicator first: the official launcher's parent process only
	// spawns the workers and must not hold a GPU context meanwhile.
	if err := dev.Select(); err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return 2
	}
	comm, code := openComm(cfg, x.distEngine, args, stdout, stderr)
	if comm == nil {
		return code
	}
	b, err := dev.Open()
	if err != nil {
		comm.Close()
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return 2
	}
	log := stderr
	if comm.Rank() != 0 {
		log = io.Discard // rank 0 reports progress; the others only errors
	}
	// SIGTERM / SIGUSR1 (Slurm pre-emption): checkpoint at the next step
	// boundary and exit 0; a second signal exits at once.
	var stop atomic.Bool
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGUSR1, os.Interrupt)
	go func() {
		s := <-sig
		fmt.Fprintf(stderr, "nvae-train: %v: writing a checkpoint at the end of this step, or now if validating (send again to exit at once)\n", s)
		stop.Store(true)
		s = <-sig
		fmt.Fprintf(stderr, "nvae-train: %v again: exiting without a checkpoint\n", s)
		os.Exit(130)
	}()
	res, err := train.Run(train.Options{
		Cfg: cfg, Backend: b, DType: tensor.Float32,
		MaxBadSteps: x.maxBadSteps, Overwrite: x.overwrite,
		NumIWSamplesFinal: x.numIWFinal, NumIWSamplesValid: x.numIWValid,
		MaxSteps: x.maxSteps, MaxDuration: time.Duration(x.maxMinutes * float64(time.Minute)), MaxValidBatches: x.maxValidBatches, LogEvery: x.logEvery, Workers: x.workers,
		Log: log, Stop: stop.Load, Comm: comm,
		EMADecay: x.emaDecay, GradClip: x.gradClip, SkipThreshold: x.skipThreshold,
	})
	if errors.Is(err, train.ErrStopped) {
		comm.Close()
		if comm.Rank() == 0 {
			fmt.Fprintf(stderr, "nvae-train: stopped; resume with the same command plus --cont_training\n")
		}
		return 0
	}
	if err != nil {
		// no MPI_Finalize: other ranks may wait in a collective; the
		// launcher ends them when this rank exits non-zero
		fmt.Fprintf(stderr, "nvae-train: rank %d: %v\n", comm.Rank(), err)
		return 1
	}
	comm.Close()
	if comm.Rank() != 0 {
		return 0
	}
	bpdCoeff, _ := nvae.BitsPerDimCoeff(cfg.Dataset)
	fmt.Fprintf(stdout, "trained %d steps; validation NLL %.3f nats (%.4f bits/dim), NELBO %.3f; checkpoint %s\n",
		res.GlobalStep, res.ValidNegLogP, res.ValidNegLogP*bpdCoeff, res.ValidNelbo, res.CheckpointPath)
	return 0
}

// openComm is dist.OpenTraining with the official launch flags of cfg.
func openComm(cfg nvae.Config, engine string, args []string, stdout, stderr io.Writer) (dist.Comm, int) {
	return dist.OpenTraining(dist.TrainingLaunch{NumProcNode: cfg.NumProcNode, NumProcessPerNode: cfg.NumProcessPerNode,
		NodeRank: cfg.NodeRank, MasterAddress: cfg.MasterAddress}, engine, args, stdout, stderr)
}
