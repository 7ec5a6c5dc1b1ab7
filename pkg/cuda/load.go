package cuda

/*
#cgo CFLAGS: -O2
#cgo CXXFLAGS: -std=c++17 -O2 -Wall -Wno-unused-function
#cgo LDFLAGS: -ldl -lpthread -lstdc++
#include <stdlib.h>
#include "api.h"
NV_WRAP_ALL
*/
import "C"

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"
)

//go:embed emu_cuda.h
var emuKernelHeader string

// Device names accepted by Select (and the binaries' --device flag).
const (
	DeviceReal     = "cuda"
	DeviceEmulated = "cuda-emu"
)

var (
	selectMu sync.Mutex
	selected string // "", DeviceReal or DeviceEmulated
	loaded   bool
)

// Select chooses the real device ("cuda") or the emulated one ("cuda-emu")
// before the first use. Without a call, NVAE_CUDA_EMULATE=1 or
// NVAE_CUDA_DEVICE=cuda-emu selects the emulator, else the real driver.
func Select(device string) error {
	selectMu.Lock()
	defer selectMu.Unlock()
	if device != DeviceReal && device != DeviceEmulated {
		return fmt.Errorf("cuda: device %q: want %s or %s", device, DeviceReal, DeviceEmulated)
	}
	if loaded && device != current() {
		return fmt.Errorf("cuda: %s already in use; cannot switch to %s in this process", current(), device)
	}
	selected = device
	return nil
}

func current() string {
	if selected != "" {
		return selected
	}
	if os.Getenv("NVAE_CUDA_EMULATE") == "1" || os.Getenv("NVAE_CUDA_DEVICE") == DeviceEmulated {
		return DeviceEmulated
	}
	return DeviceReal
}

// Emulated reports whether this process uses the emulated device.
func Emulated() bool {
	selectMu.Lock()
	defer selectMu.Unlock()
	return current() == DeviceEmulated
}

// Debug mode (NVAE_CUDA_DEBUG=1): every launch is followed by a
// synchronisation and a check; on the emulated device also guard zones
// around allocations and the thread-order race check.
func Debug() bool { return debugMode.Load() }

var debugMode atomic.Bool

func init() { debugMode.Store(os.Getenv("NVAE_CUDA_DEBUG") == "1") }

// SetDebug switches debug mode on or off (tests; NVAE_CUDA_DEBUG sets the
// initial state).
func SetDebug(on bool) {
	debugMode.Store(on)
	if Emulated() {
		emuInit()
		d := 0
		if on {
			d = 1
		}
		C.emu_configure(nil, nil, C.int(d), 0)
	}
}

// DriverPresent reports whether the real driver library (libcuda.so.1)
// can be loaded, without selecting a device or initialising anything (so
// --device auto on a machine without one leaves the process free to use
// the emulated GPU later).
func DriverPresent() bool {
	_, err := Open("libcuda.so.1", "libcuda.so")
	return err == nil
}

// ErrNoDriver is returned when libcuda.so.1 cannot be loaded.
var ErrNoDriver = errors.New("no CUDA driver (libcuda.so.1) on this machine")

type libState struct {
	once sync.Once
	lib  *Lib
	err  error
}

var (
	driverLib, cublasLib, cudnnLib, ncclLib libState
)

func fill(name string, sonames []string, load func(h unsafe.Pointer, missing *C.char) C.int, st *libState) (*Lib, error) {
	st.once.Do(func() {
		selectMu.Lock()
		emu := current() == DeviceEmulated
		loaded = true
		selectMu.Unlock()
		if emu {
			emuInit()
			st.lib = &Lib{Name: name, Path: "emulated (built into this binary)"}
			return
		}
		l, err := Open(sonames...)
		if err != nil {
			st.err = err
			return
		}
		var missing [256]C.char
		if load(l.lib.Handle(), &missing[0]) != 0 {
			st.err = fmt.Errorf("%s: symbol %s missing", l.Path, C.GoString(&missing[0]))
			return
		}
		st.lib = l
	})
	return st.lib, st.err
}

var emuOnce sync.Once

func emuInit() {
	emuOnce.Do(func() {
		h := C.CString(emuKernelHeader)
		cxx := os.Getenv("CXX")
		if cxx == "" {
			cxx = "c++"
		}
		cx := C.CString(cxx)
		var mem int64
		if v := os.Getenv("NVAE_CUDA_EMU_MEM_MB"); v != "" {
			fmt.Sscan(v, &mem)
			mem <<= 20
		}
		dbg := 0
		if Debug() {
			dbg = 1
		}
		C.emu_configure(h, cx, C.int(dbg), C.longlong(mem))
		C.free(unsafe.Pointer(h))
		C.free(unsafe.Pointer(cx))
		C.nv_emu_fill()
	})
}

func loadDriver() (*Lib, error) {
	l, err := fill("driver", []string{"libcuda.so.1", "libcuda.so"}, func(h unsafe.Pointer, m *C.char) C.int {
		return C.nv_load_driver(h, m, 256)
	}, &driverLib)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDriver, err)
	}
	return l, nil
}

func loadCublas() (*Lib, error) {
	return fill("cublas", []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}, func(h unsafe.Pointer, m *C.char) C.int {
		return C.nv_load_cublas(h, m, 256)
	}, &cublasLib)
}

func loadCudnn() (*Lib, error) {
	return fill("cudnn", []string{"libcudnn.so.9", "libcudnn.so.8"}, func(h unsafe.Pointer, m *C.char) C.int {
		return C.nv_load_cudnn(h, m, 256)
	}, &cudnnLib)
}

// newHandle loads a library with load, then creates a handle with create,
// reporting its status through check as call's.
func newHandle(load func() (*Lib, error), check func(call string, st C.int) error, call string, create func() C.int) error {
	if _, err := load(); err != nil {
		return err
	}
	return check(call, create())
}

func loadNccl() (*Lib, error) {
	return fill("nccl", []string{"libnccl.so.2"}, func(h unsafe.Pointer, m *C.char) C.int {
		return C.nv_load_nccl(h, m, 256)
	}, &ncclLib)
}

// Error is a non-success status of a CUDA library call: the call, the
// status name and code, and (on the emulated device) what went wrong.
type Error struct {
	Call   string
	Lib    string // "cuda", "nvrtc", "cublas", "cudnn", "nccl"
	Status int
	Name   string
	Detail string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Call, e.Name)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Is matches errors of the same library and status, so
// errors.Is(err, cuda.ErrOutOfMemory) works whatever the call.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Call == "" && t.Lib == e.Lib && t.Status == e.Status
}

// Driver statuses the package and its tests name.
var (
	ErrInvalidValue   = &Error{Lib: "cuda", Status: 1, Name: "CUDA_ERROR_INVALID_VALUE"}
	ErrOutOfMemory    = &Error{Lib: "cuda", Status: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY"}
	ErrInvalidImage   = &Error{Lib: "cuda", Status: 200, Name: "CUDA_ERROR_INVALID_IMAGE"}
	ErrInvalidHandle  = &Error{Lib: "cuda", Status: 400, Name: "CUDA_ERROR_INVALID_HANDLE"}
	ErrNotFound       = &Error{Lib: "cuda", Status: 500, Name: "CUDA_ERROR_NOT_FOUND"}
	ErrNotReady       = &Error{Lib: "cuda", Status: 600, Name: "CUDA_ERROR_NOT_READY"}
	ErrIllegalAddress = &Error{Lib: "cuda", Status: 700, Name: "CUDA_ERROR_ILLEGAL_ADDRESS"}
	ErrLaunchFailed   = &Error{Lib: "cuda", Status: 719, Name: "CUDA_ERROR_LAUNCH_FAILED"}
	ErrCaptureInvalid = &Error{Lib: "cuda", Status: 901, Name: "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"}
	ErrCaptureUnsupp  = &Error{Lib: "cuda", Status: 900, Name: "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"}
)

func emuDetail() string {
	if !Emulated() {
		return ""
	}
	return C.GoString(C.emu_last_error_detail())
}

// check turns a driver status into an *Error naming the call.
func check(call string, st C.int) error {
	if st == 0 {
		return nil
	}
	var p *C.char
	name := fmt.Sprintf("CUDA_ERROR_%d", int(st))
	if C.call_cuGetErrorName(st, &p) == 0 && p != nil {
		name = C.GoString(p)
	}
	return &Error{Call: call, Lib: "cuda", Status: int(st), Name: name, Detail: emuDetail()}
}

var cublasNames = map[int]string{0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR"}

func checkCublas(call string, st C.int) error {
	if st == 0 {
		return nil
	}
	name, ok := cublasNames[int(st)]
	if !ok {
		name = fmt.Sprintf("CUBLAS_STATUS_%d", int(st))
	}
	return &Error{Call: call, Lib: "cublas", Status: int(st), Name: name, Detail: emuDetail()}
}

func checkCudnn(call string, st C.int) error {
	if st == 0 {
		return nil
	}
	return &Error{Call: call, Lib: "cudnn", Status: int(st), Name: C.GoString(C.call_cudnnGetErrorString(st)), Detail: emuDetail()}
}

func checkNccl(call string, st C.int) error {
	if st == 0 {
		return nil
	}
	names := []string{"ncclSuccess", "ncclUnhandledCudaError", "ncclSystemError", "ncclInternalError", "ncclInvalidArgument", "ncclInvalidUsage", "ncclRemoteError", "ncclInProgress"}
	name := fmt.Sprintf("ncclResult_%d", int(st))
	if int(st) < len(names) {
		name = names[st]
	}
	return &Error{Call: call, Lib: "nccl", Status: int(st), Name: name, Detail: emuDetail()}
}
