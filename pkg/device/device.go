// Package device is the one place that names concrete backends: binaries
// register --device and --tf32 with Flags and open what the user chose.
package device

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/pflag"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/backend/cpu"
	cudab "github.com/nvaego/nvae/pkg/backend/cuda"
	cu "github.com/nvaego/nvae/pkg/cuda"
)

// Names lists the accepted --device values.
var Names = []string{"auto", "cpu", "cuda", "cuda-emu"}

// Help is the --device flag's help text.
const Help = "compute device: auto (the GPU when one works, else the CPU), cpu, cuda, or cuda-emu (the emulated GPU: the CUDA code path run on the CPU, for testing)"

// Choice is what --device and --tf32 selected.
type Choice struct {
	Name string
	TF32 bool
}

// Flags registers --device (default auto) and --tf32 on fs.
func Flags(fs *pflag.FlagSet) *Choice {
	c := &Choice{}
	fs.StringVar(&c.Name, "device", "auto", Help)
	fs.BoolVar(&c.TF32, "tf32", false, "allow TF32 tensor-core math in GEMMs and convolutions on the GPU (faster, ~1e-3 relative error; off: full float32, as the official code with TF32 disabled)")
	return c
}

// Select fixes the GPU (real or emulated) for this process without
// opening it, so that code running before Open (the NCCL engine's
// bootstrap) uses the same one; it does nothing for cpu and auto.
func (c *Choice) Select() error {
	if c.Name == cu.DeviceReal || c.Name == cu.DeviceEmulated {
		return cu.Select(c.Name)
	}
	return nil
}

// Open opens the chosen backend.
func (c *Choice) Open() (backend.Backend, error) {
	b, err := Open(c.Name)
	if err != nil {
		return nil, err
	}
	if g, ok := b.(*cudab.Backend); ok {
		if err := g.SetTF32(c.TF32); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Open returns the backend for name. "auto" takes the GPU when one works
// (a driver, a device, cuBLAS and cuDNN), else the CPU.
func Open(name string) (backend.Backend, error) {
	switch name {
	case "cpu":
		return cpu.New(), nil
	case "cuda", "cuda-emu":
		return cudab.Open(name)
	case "auto", "":
		if cu.DriverPresent() && !cu.Emulated() {
			if b, err := cudab.Open("cuda"); err == nil {
				return b, nil
			}
		}
		return cpu.New(), nil
	}
	return nil, fmt.Errorf("--device %q: want auto, cpu, cuda or cuda-emu", name)
}

// TuneGCForInference raises the garbage-collection target to 400% unless
// GOGC is set. Inference allocates large short-lived activations; at the
// default target the runtime keeps returning their pages to the OS and
// faulting them back in (an IW evaluation of mnist_small ran 1.5x faster
// at 400%, for about twice the peak memory).
func TuneGCForInference() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
