// Package cuda is the CUDA library: the driver API (device properties,
// the primary context, memory and copies, streams, events, modules and
// launches, occupancy, CUDA graphs), NVRTC, cuBLAS, cuDNN and NCCL, all
// loaded at run time with dlopen through small declarations of our own
// (api.h): the binaries build without a CUDA toolkit and run on CPU-only
// machines, and a GPU node's libraries are found wherever they live (see
// docs/design.md, "CUDA without the toolkit at build time").
//
// Each library is a table of C function pointers, filled from dlsym on the
// real library or from the emulated GPU built into the binary (emu_*.cc,
// selected with Select("cuda-emu") or NVAE_CUDA_EMULATE=1), so the code
// under test on the emulator is the code that runs on a GPU. Kernels are
// the .cu files in kernels/, compiled by NVRTC on first use (Kernels) and
// cached on disk. This file holds the dlopen search.
package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nvaego/nvae/internal/dl"
)

// Lib is a dlopen'ed shared library.
type Lib struct {
	Name, Path string
	lib        *dl.Lib
}

// SearchDirs lists where libraries are looked for, in order:
// NVAE_CUDA_LIB_PATH (colon-separated), then the dynamic loader's own
// search (LD_LIBRARY_PATH, ld.so.cache), then the usual driver and toolkit
// directories, then the nvidia/*/lib folders of Python environments.
func SearchDirs() []string {
	var dirs []string
	if p := os.Getenv("NVAE_CUDA_LIB_PATH"); p != "" {
		dirs = append(dirs, filepath.SplitList(p)...)
	}
	dirs = append(dirs, "") // the loader's own search
	dirs = append(dirs, "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu",
		"/usr/local/cuda/targets/x86_64-linux/lib", "/usr/local/cuda/lib64", "/opt/cuda/lib64")
	if m, _ := filepath.Glob("/usr/local/cuda-*/targets/x86_64-linux/lib"); len(m) > 0 {
		dirs = append(dirs, m...)
	}
	for _, pat := range []string{"/usr/lib/python3*/site-packages/nvidia/*/lib", "/usr/local/lib/python3*/dist-packages/nvidia/*/lib",
		"/usr/local/lib/python3*/site-packages/nvidia/*/lib", os.ExpandEnv("$HOME/.local/lib/python3*/site-packages/nvidia/*/lib")} {
		m, _ := filepath.Glob(pat)
		dirs = append(dirs, m...)
	}
	return dirs
}

// Open loads the first of the given sonames found in SearchDirs.
func Open(sonames ...string) (*Lib, error) {
	for _, dir := range SearchDirs() {
		for _, so := range sonames {
			path := so
			if dir != "" {
				path = filepath.Join(dir, so)
				if _, err := os.Stat(path); err != nil {
					continue
				}
			}
			if lib, err := dl.Open(path, true); err == nil {
				real := path
				if dir == "" {
					real = so + " (via the dynamic loader)"
				}
				return &Lib{Name: so, Path: real, lib: lib}, nil
			}
		}
	}
	return nil, fmt.Errorf("%s not found (looked in NVAE_CUDA_LIB_PATH, the loader path and %d CUDA/driver/Python directories)", strings.Join(sonames, " or "), len(SearchDirs())-1)
}
