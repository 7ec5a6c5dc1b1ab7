// Command nvae-train trains NVAE with the official train.py flags, on the CPU
// (or a GPU backend when one is available).
//
//	nvae-train --data DIR --root DIR --save ID --dataset mnist ... [--cont_training]
//	nvae-train --dry_run <training flags>     structure summary as JSON
//	nvae-train --benchmark N <training flags> timing of N steps on synthetic data
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/nvaego/nvae/pkg/cuda"
	"github.com/nvaego/nvae/pkg/device"
	"github.com/nvaego/nvae/pkg/nvae"
	"github.com/nvaego/nvae/pkg/tensor"
	"github.com/nvaego/nvae/pkg/train"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type extra struct {
	device          string
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
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("nvae-train", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := nvae.DefaultConfig()
	cfg.RegisterFlags(fs)
	var x extra
	fs.StringVar(&x.device, "device", "auto", "compute device: auto, cpu, cuda, or cuda-emu (the emulated GPU; --device_info only until the CUDA backend exists)")
	fs.BoolVar(&x.dryRun, "dry_run", false, "build the model on CPU without data, print {params, conv_layers, bn_layers, groups_per_scale} as JSON and exit")
	fs.IntVar(&x.benchmark, "benchmark", 0, "time N training steps on synthetic data (after warm-up) and print JSON")
	fs.IntVar(&x.benchmarkWarmup, "benchmark_warmup", 3, "warm-up steps before --benchmark timing")
	fs.IntVar(&x.maxBadSteps, "max_bad_steps", 50, "stop after this many consecutive non-finite steps")
	fs.BoolVar(&x.overwrite, "overwrite", false, "start over even if the experiment directory has a checkpoint")
	fs.IntVar(&x.numIWFinal, "num_iw_samples_final", 1000, "importance samples of the final validation")
	fs.IntVar(&x.numIWValid, "num_iw_samples_valid", 10, "importance samples of the per-epoch validation")
	fs.IntVar(&x.maxSteps, "max_steps", 0, "stop after this many global steps (0: all epochs); the run then ends like its last epoch")
	fs.Float64Var(&x.maxMinutes, "max_minutes", 0, "stop training after this many minutes (0: no limit); the run then ends like its last epoch")
	fs.IntVar(&x.maxValidBatches, "max_valid_batches", 0, "evaluate at most this many validation batches (0: all)")
	fs.IntVar(&x.logEvery, "log_every", 50, "print a progress line every N steps")
	fs.IntVar(&x.workers, "workers", 0, "data decode workers (0: all cores)")
	deviceInfo := fs.Bool("device_info", false, "print the GPU, driver, CUDA, cuDNN, cuBLAS and NCCL versions found, with their paths, and exit")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v (see --help)\n", err)
		return 2
	}
	if *help {
		fs.SetOutput(stdout)
		fmt.Fprintln(stdout, "usage: nvae-train [flags]   (the official train.py flags; hyphenated spellings work too)")
		fs.PrintDefaults()
		return 0
	}
	if *deviceInfo {
		return printDeviceInfo(x.device, stdout, stderr)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nvae-train: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return 2
	}
	if x.dryRun {
		s, err := nvae.Summarize(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "nvae-train: %v\n", err)
			return 1
		}
		json.NewEncoder(stdout).Encode(s)
		return 0
	}
	b, err := device.Open(x.device)
	if err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return 2
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
	// SIGTERM / SIGUSR1 (Slurm pre-emption): checkpoint at the next step
	// boundary and exit 0; a second signal exits at once.
	var stop atomic.Bool
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGUSR1, os.Interrupt)
	go func() {
		s := <-sig
		fmt.Fprintf(stderr, "nvae-train: %v: writing a checkpoint at the end of this step (send again to exit at once)\n", s)
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
		Log: stderr, Stop: stop.Load,
	})
	if errors.Is(err, train.ErrStopped) {
		fmt.Fprintf(stderr, "nvae-train: stopped; resume with the same command plus --cont_training\n")
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		return 1
	}
	bpdCoeff, _ := nvae.BitsPerDimCoeff(cfg.Dataset)
	fmt.Fprintf(stdout, "trained %d steps; validation NLL %.3f nats (%.4f bits/dim), NELBO %.3f; checkpoint %s\n",
		res.GlobalStep, res.ValidNegLogP, res.ValidNegLogP*bpdCoeff, res.ValidNelbo, res.CheckpointPath)
	return 0
}

func printDeviceInfo(dev string, stdout, stderr io.Writer) int {
	if dev == cuda.DeviceEmulated || dev == cuda.DeviceReal {
		if err := cuda.Select(dev); err != nil {
			fmt.Fprintf(stderr, "nvae-train: %v\n", err)
			return 1
		}
	}
	devs, ver, libs, err := cuda.Info()
	if err != nil {
		fmt.Fprintf(stderr, "nvae-train: %v\n", err)
		fmt.Fprintln(stdout, "device: cpu (no usable GPU)")
		return 1
	}
	for _, d := range devs {
		kind := "GPU"
		if d.Emulated {
			kind = "emulated GPU"
		}
		fmt.Fprintf(stdout, "%s %d: %s, %.1f GiB, compute capability %d.%d\n", kind, d.Index, d.Name, float64(d.TotalMem)/(1<<30), d.Major, d.Minor)
	}
	fmt.Fprintf(stdout, "driver CUDA version: %d.%d\n", ver/1000, ver%1000/10)
	for _, l := range libs {
		if l.Err != nil {
			fmt.Fprintf(stdout, "%-7s missing: %v\n", l.Name, l.Err)
			continue
		}
		fmt.Fprintf(stdout, "%-7s %-10s %s\n", l.Name, l.Version, l.Path)
	}
	return 0
}
