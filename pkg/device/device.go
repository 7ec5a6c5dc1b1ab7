// Package device is the one place that names concrete backends: binaries
// ask it for "auto", "cpu" or "cuda".
package device

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/backend/cpu"
)

// Names lists the accepted --device values.
var Names = []string{"auto", "cpu", "cuda"}

// cudaOpen is set by a CUDA backend when one is compiled in.
var cudaOpen func() (backend.Backend, error)

// Open returns the backend for name. "auto" takes the GPU when one works,
// else the CPU.
func Open(name string) (backend.Backend, error) {
	switch name {
	case "cpu":
		return cpu.New(), nil
	case "cuda":
		if cudaOpen == nil {
			return nil, fmt.Errorf("--device cuda: this build has no CUDA backend yet (the CUDA backend is pending); use --device cpu")
		}
		return cudaOpen()
	case "auto", "":
		if cudaOpen != nil {
			if b, err := cudaOpen(); err == nil {
				return b, nil
			}
		}
		return cpu.New(), nil
	}
	return nil, fmt.Errorf("--device %q: want auto, cpu or cuda", name)
}
