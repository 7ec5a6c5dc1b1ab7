// Package cuda loads the NVIDIA driver and libraries at run time with
// dlopen, through small declarations of our own: the binaries build without
// a CUDA toolkit and run on CPU-only machines, and a GPU node's libraries
// are found wherever they live (see docs/design.md, "CUDA without the toolkit at
// build time"). This file holds the loader and version/device queries; the
// kernels and the backend build on it.
package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef int (*fn_int_intp)(int*);
typedef int (*fn_int_uint)(unsigned int);
typedef int (*fn_int_intp_int)(int*, int);
typedef int (*fn_devname)(char*, int, int);
typedef int (*fn_totalmem)(size_t*, int);
typedef int (*fn_attr)(int*, int, int);
typedef int (*fn_errname)(int, const char**);
typedef int (*fn_nvrtcver)(int*, int*);
typedef size_t (*fn_size)(void);
typedef int (*fn_cublasprop)(int, int*);

static int call_int_intp(void* f, int* a) { return ((fn_int_intp)f)(a); }
static int call_int_uint(void* f, unsigned int a) { return ((fn_int_uint)f)(a); }
static int call_devname(void* f, char* s, int n, int d) { return ((fn_devname)f)(s, n, d); }
static int call_totalmem(void* f, size_t* b, int d) { return ((fn_totalmem)f)(b, d); }
static int call_attr(void* f, int* v, int a, int d) { return ((fn_attr)f)(v, a, d); }
static int call_errname(void* f, int e, const char** s) { return ((fn_errname)f)(e, s); }
static int call_nvrtcver(void* f, int* a, int* b) { return ((fn_nvrtcver)f)(a, b); }
static size_t call_size(void* f) { return ((fn_size)f)(); }
static int call_cublasprop(void* f, int t, int* v) { return ((fn_cublasprop)f)(t, v); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

// Lib is a dlopen'ed shared library.
type Lib struct {
	Name, Path string
	h          unsafe.Pointer
}

// Sym resolves a symbol.
func (l *Lib) Sym(name string) (unsafe.Pointer, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	p := C.dlsym(l.h, cs)
	if p == nil {
		return nil, fmt.Errorf("%s: symbol %s not found", l.Path, name)
	}
	return p, nil
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
			cs := C.CString(path)
			h := C.dlopen(cs, C.RTLD_NOW|C.RTLD_GLOBAL)
			C.free(unsafe.Pointer(cs))
			if h != nil {
				real := path
				if dir == "" {
					real = so + " (via the dynamic loader)"
				}
				return &Lib{Name: so, Path: real, h: h}, nil
			}
		}
	}
	return nil, fmt.Errorf("%s not found (looked in NVAE_CUDA_LIB_PATH, the loader path and %d CUDA/driver/Python directories)", strings.Join(sonames, " or "), len(SearchDirs())-1)
}

// Driver is the loaded CUDA driver API.
type Driver struct {
	Lib     *Lib
	errName unsafe.Pointer
}

var (
	driverOnce sync.Once
	driver     *Driver
	driverErr  error
)

// ErrNoDriver is returned when libcuda.so.1 cannot be loaded.
var ErrNoDriver = errors.New("no CUDA driver (libcuda.so.1) on this machine")

// LoadDriver dlopens libcuda.so.1 and calls cuInit once.
func LoadDriver() (*Driver, error) {
	driverOnce.Do(func() {
		lib, err := Open("libcuda.so.1", "libcuda.so")
		if err != nil {
			driverErr = fmt.Errorf("%w: %v", ErrNoDriver, err)
			return
		}
		d := &Driver{Lib: lib}
		d.errName, _ = lib.Sym("cuGetErrorName")
		if err := d.call("cuInit", func(f unsafe.Pointer) C.int { return C.call_int_uint(f, 0) }); err != nil {
			driverErr = err
			return
		}
		driver = d
	})
	return driver, driverErr
}

// Status is a CUDA driver result code.
type Status int

// Error carries the status, its name and the failing call.
type Error struct {
	Call   string
	Status int
	Name   string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s (%d)", e.Call, e.Name, e.Status) }

func (d *Driver) statusName(s C.int) string {
	if d.errName == nil {
		return "CUDA_ERROR"
	}
	var p *C.char
	if C.call_errname(d.errName, s, &p) != 0 || p == nil {
		return "CUDA_ERROR_UNKNOWN"
	}
	return C.GoString(p)
}

func (d *Driver) call(name string, f func(unsafe.Pointer) C.int) error {
	sym, err := d.Lib.Sym(name)
	if err != nil {
		return err
	}
	if s := f(sym); s != 0 {
		return &Error{Call: name, Status: int(s), Name: d.statusName(s)}
	}
	return nil
}

// Version is the driver's CUDA version (e.g. 13000 for 13.0).
func (d *Driver) Version() (int, error) {
	var v C.int
	err := d.call("cuDriverGetVersion", func(f unsafe.Pointer) C.int { return C.call_int_intp(f, &v) })
	return int(v), err
}

// Device describes one GPU.
type Device struct {
	Index        int
	Name         string
	TotalMem     uint64
	Major, Minor int
}

// Devices lists the GPUs the driver sees.
func (d *Driver) Devices() ([]Device, error) {
	var n C.int
	if err := d.call("cuDeviceGetCount", func(f unsafe.Pointer) C.int { return C.call_int_intp(f, &n) }); err != nil {
		return nil, err
	}
	var out []Device
	for i := 0; i < int(n); i++ {
		dev := Device{Index: i}
		buf := make([]byte, 256)
		if err := d.call("cuDeviceGetName", func(f unsafe.Pointer) C.int {
			return C.call_devname(f, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)), C.int(i))
		}); err != nil {
			return nil, err
		}
		dev.Name = C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
		var mem C.size_t
		if err := d.call("cuDeviceTotalMem_v2", func(f unsafe.Pointer) C.int { return C.call_totalmem(f, &mem, C.int(i)) }); err != nil {
			return nil, err
		}
		dev.TotalMem = uint64(mem)
		var v C.int
		// CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76
		if err := d.call("cuDeviceGetAttribute", func(f unsafe.Pointer) C.int { return C.call_attr(f, &v, 75, C.int(i)) }); err != nil {
			return nil, err
		}
		dev.Major = int(v)
		if err := d.call("cuDeviceGetAttribute", func(f unsafe.Pointer) C.int { return C.call_attr(f, &v, 76, C.int(i)) }); err != nil {
			return nil, err
		}
		dev.Minor = int(v)
		out = append(out, dev)
	}
	return out, nil
}

// LibInfo is a library's path and version (or why it is missing).
type LibInfo struct {
	Name, Path, Version string
	Err                 error
}

// Info reports the driver, devices and the libraries the backend uses.
func Info() (devices []Device, driverVersion int, libs []LibInfo, err error) {
	d, err := LoadDriver()
	if err != nil {
		return nil, 0, nil, err
	}
	if driverVersion, err = d.Version(); err != nil {
		return nil, 0, nil, err
	}
	if devices, err = d.Devices(); err != nil {
		return nil, 0, nil, err
	}
	libs = append(libs, LibInfo{Name: "driver", Path: d.Lib.Path, Version: cudaVersion(driverVersion)})
	probe := func(name string, sonames []string, ver func(*Lib) (string, error)) {
		l, err := Open(sonames...)
		if err != nil {
			libs = append(libs, LibInfo{Name: name, Err: err})
			return
		}
		v, err := ver(l)
		libs = append(libs, LibInfo{Name: name, Path: l.Path, Version: v, Err: err})
	}
	probe("nvrtc", []string{"libnvrtc.so.13", "libnvrtc.so.12"}, func(l *Lib) (string, error) {
		f, err := l.Sym("nvrtcVersion")
		if err != nil {
			return "", err
		}
		var a, b C.int
		C.call_nvrtcver(f, &a, &b)
		return fmt.Sprintf("%d.%d", a, b), nil
	})
	probe("cublas", []string{"libcublas.so.13", "libcublas.so.12"}, func(l *Lib) (string, error) {
		f, err := l.Sym("cublasGetProperty")
		if err != nil {
			return "", err
		}
		var v [3]C.int
		for i := range v {
			C.call_cublasprop(f, C.int(i), &v[i])
		}
		return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]), nil
	})
	probe("cudnn", []string{"libcudnn.so.9"}, func(l *Lib) (string, error) {
		f, err := l.Sym("cudnnGetVersion")
		if err != nil {
			return "", err
		}
		v := int(C.call_size(f))
		return fmt.Sprintf("%d.%d.%d", v/10000, v%10000/100, v%100), nil
	})
	probe("nccl", []string{"libnccl.so.2"}, func(l *Lib) (string, error) {
		f, err := l.Sym("ncclGetVersion")
		if err != nil {
			return "", err
		}
		var v C.int
		C.call_int_intp(f, &v)
		return fmt.Sprintf("%d.%d.%d", int(v)/10000, int(v)%10000/100, int(v)%100), nil
	})
	return devices, driverVersion, libs, nil
}

func cudaVersion(v int) string { return fmt.Sprintf("CUDA %d.%d", v/1000, v%1000/10) }
