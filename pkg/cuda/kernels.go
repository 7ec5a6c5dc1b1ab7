package cuda

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

//go:embed kernels/*.cu kernels/*.cuh
var kernelFS embed.FS

// KernelSources returns the embedded kernel sources by file name
// ("elementwise.cu", ...).
func KernelSources() map[string]string { return embedded(".cu") }

// KernelHeaders returns the embedded headers (*.cuh) that kernel sources
// may #include by name; every compile gets all of them.
func KernelHeaders() map[string]string { return embedded(".cuh") }

func embedded(ext string) map[string]string {
	out := map[string]string{}
	ents, _ := fs.ReadDir(kernelFS, "kernels")
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ext) {
			continue
		}
		b, err := kernelFS.ReadFile("kernels/" + e.Name())
		if err == nil {
			out[e.Name()] = string(b)
		}
	}
	return out
}

// KernelFiles lists the embedded sources in order.
func KernelFiles() []string {
	var names []string
	for k := range KernelSources() {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// KernelOptions are the NVRTC options every kernel is compiled with, after
// -arch=compute_XY. No --use_fast_math: the backend's kernels are held to
// the CPU reference's accuracy; a kernel that wants an intrinsic (__expf)
// says so.
var KernelOptions = []string{"-std=c++17", "-default-device"}

// CacheDir is where compiled kernels are kept: NVAE_CUDA_CACHE, else the
// user cache directory's nvae/cuda-kernels.
func CacheDir() string {
	if d := os.Getenv("NVAE_CUDA_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "nvae", "cuda-kernels")
}

// CacheKey identifies a compiled kernel: source hash, architecture,
// compiler version and options.
func CacheKey(src, arch, nvrtcVersion string, opts []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", arch, nvrtcVersion, strings.Join(opts, "\x01"))
	h.Write([]byte(src))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

var (
	modMu    sync.Mutex
	modCache = map[string]*Module{}
)

// CompileStats counts compilations and disk-cache hits (for tests).
var CompileStats struct {
	sync.Mutex
	Compiled, DiskHits int
}

// Kernels returns the module built from the embedded source file (e.g.
// "reduce.cu"): compiled by NVRTC on first use for this device and cached
// on disk, loaded once per process.
func (c *Context) Kernels(file string) (*Module, error) {
	modMu.Lock()
	defer modMu.Unlock()
	if m, ok := modCache[file]; ok {
		return m, nil
	}
	src, err := kernelFS.ReadFile("kernels/" + file)
	if err != nil {
		return nil, fmt.Errorf("cuda: no embedded kernel source %q", file)
	}
	image, err := c.compileCached(file, string(src))
	if err != nil {
		return nil, err
	}
	m, err := c.LoadModule(file, image)
	if err != nil {
		return nil, err
	}
	modCache[file] = m
	return m, nil
}

func (c *Context) compileCached(name, src string) ([]byte, error) {
	nv, err := LoadNVRTC()
	if err != nil {
		return nil, fmt.Errorf("cuda: compiling %s: %w", name, err)
	}
	arch := c.Arch()
	opts := append([]string{"-arch=" + arch}, KernelOptions...)
	headers := KernelHeaders()
	key := CacheKey(src+headerText(headers), arch, nv.Version(), opts)
	ext := ".ptx"
	if nv.Emulated {
		ext = ".emu"
	}
	path := filepath.Join(CacheDir(), strings.TrimSuffix(name, ".cu")+"-"+key+ext)
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		CompileStats.Lock()
		CompileStats.DiskHits++
		CompileStats.Unlock()
		return b, nil
	}
	out, err := nv.Compile(src, name, headers, opts, nil)
	if err != nil {
		return nil, err
	}
	CompileStats.Lock()
	CompileStats.Compiled++
	CompileStats.Unlock()
	// Best effort: a read-only cache only costs a recompile next time.
	if os.MkdirAll(filepath.Dir(path), 0o755) == nil {
		tmp := path + fmt.Sprintf(".tmp%d", os.Getpid())
		if os.WriteFile(tmp, out.PTX, 0o644) == nil {
			os.Rename(tmp, path)
		}
	}
	return out.PTX, nil
}

// headerText is the headers in name order, for the cache key.
func headerText(h map[string]string) string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k + "\x00" + h[k] + "\x00")
	}
	return b.String()
}
