package cuda

/*
#include <stdlib.h>
#include "api.h"
NV_WRAP_ALL
static nv_nvrtc_t* nv_nvrtc_new(void) { return (nv_nvrtc_t*)calloc(1, sizeof(nv_nvrtc_t)); }
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// NVRTC is a loaded runtime compiler: the real libnvrtc or the emulator's.
type NVRTC struct {
	t            *C.nv_nvrtc_t
	Path         string
	Major, Minor int
	Emulated     bool
}

var (
	nvrtcOnce sync.Once
	nvrtcVal  *NVRTC
	nvrtcErr  error
)

// nvrtcSonames is the search order for the real NVRTC: the GPU machines'
// CUDA 13/12, then Debian's CUDA 11.8 package (libnvrtc11.2).
var nvrtcSonames = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"}

// LoadNVRTC returns the compiler of the selected device (emulated or real).
func LoadNVRTC() (*NVRTC, error) {
	nvrtcOnce.Do(func() {
		if Emulated() {
			emuInit()
			t := C.nv_nvrtc_new()
			C.nv_emu_fill_nvrtc(t)
			nvrtcVal, nvrtcErr = finishNVRTC(&NVRTC{t: t, Path: "emulated (host C++ compiler)", Emulated: true})
			return
		}
		nvrtcVal, nvrtcErr = LoadRealNVRTC()
	})
	return nvrtcVal, nvrtcErr
}

// LoadRealNVRTC loads the real libnvrtc whatever device is selected (the
// compile check of the kernels runs it beside the emulator).
func LoadRealNVRTC() (*NVRTC, error) {
	l, err := Open(nvrtcSonames...)
	if err != nil {
		return nil, err
	}
	t := C.nv_nvrtc_new()
	var missing [256]C.char
	if C.nv_load_nvrtc(t, l.lib.Handle(), &missing[0], 256) != 0 {
		C.free(unsafe.Pointer(t))
		return nil, fmt.Errorf("%s: symbol %s missing", l.Path, C.GoString(&missing[0]))
	}
	return finishNVRTC(&NVRTC{t: t, Path: l.Path})
}

func finishNVRTC(n *NVRTC) (*NVRTC, error) {
	var a, b C.int
	if err := n.check("nvrtcVersion", C.call_nvrtcVersion(n.t, &a, &b)); err != nil {
		return nil, err
	}
	n.Major, n.Minor = int(a), int(b)
	return n, nil
}

// Version is "major.minor" (with "emu" for the emulator), part of the cache key.
func (n *NVRTC) Version() string {
	v := fmt.Sprintf("%d.%d", n.Major, n.Minor)
	if n.Emulated {
		v += "-emu"
	}
	return v
}

func (n *NVRTC) check(call string, st C.int) error {
	if st == 0 {
		return nil
	}
	return &Error{Call: call, Lib: "nvrtc", Status: int(st), Name: C.GoString(C.call_nvrtcGetErrorString(n.t, st))}
}

// CompileError is a failed compilation with NVRTC's log.
type CompileError struct {
	Program string
	Err     error
	Log     string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("compiling %s: %v\n%s", e.Program, e.Err, strings.TrimRight(e.Log, "\n\x00"))
}

func (e *CompileError) Unwrap() error { return e.Err }

// Compiled is NVRTC's output.
type Compiled struct {
	PTX     []byte            // PTX text (real) or the emulator's image
	Log     string            // warnings, if any
	Lowered map[string]string // name expression -> lowered name
}

// Compile compiles src (named name) with options, resolving the name
// expressions to lowered names. headers maps include names to sources.
func (n *NVRTC) Compile(src, name string, headers map[string]string, opts, nameExprs []string) (*Compiled, error) {
	csrc, cname := C.CString(src), C.CString(name)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cname))
	var hs, hn []*C.char
	for k, v := range headers {
		hn = append(hn, C.CString(k))
		hs = append(hs, C.CString(v))
	}
	defer func() {
		for i := range hs {
			C.free(unsafe.Pointer(hs[i]))
			C.free(unsafe.Pointer(hn[i]))
		}
	}()
	cArr := func(s []*C.char) **C.char {
		if len(s) == 0 {
			return nil
		}
		a := (**C.char)(C.malloc(C.size_t(len(s)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
		copy(unsafe.Slice(a, len(s)), s)
		return a
	}
	ha, na := cArr(hs), cArr(hn)
	defer C.free(unsafe.Pointer(ha))
	defer C.free(unsafe.Pointer(na))
	var prog C.nvrtcProgram
	if err := n.check("nvrtcCreateProgram", C.call_nvrtcCreateProgram(n.t, &prog, csrc, cname, C.int(len(hs)), ha, na)); err != nil {
		return nil, err
	}
	defer C.call_nvrtcDestroyProgram(n.t, &prog)
	cexprs := make([]*C.char, len(nameExprs))
	for i, e := range nameExprs {
		cexprs[i] = C.CString(e)
		defer C.free(unsafe.Pointer(cexprs[i]))
		if err := n.check("nvrtcAddNameExpression", C.call_nvrtcAddNameExpression(n.t, prog, cexprs[i])); err != nil {
			return nil, err
		}
	}
	copts := make([]*C.char, len(opts))
	for i, o := range opts {
		copts[i] = C.CString(o)
		defer C.free(unsafe.Pointer(copts[i]))
	}
	oa := cArr(copts)
	defer C.free(unsafe.Pointer(oa))
	cerr := n.check("nvrtcCompileProgram", C.call_nvrtcCompileProgram(n.t, prog, C.int(len(copts)), oa))
	var logSize C.size_t
	log := ""
	if C.call_nvrtcGetProgramLogSize(n.t, prog, &logSize) == 0 && logSize > 1 {
		buf := make([]byte, logSize)
		if C.call_nvrtcGetProgramLog(n.t, prog, (*C.char)(unsafe.Pointer(&buf[0]))) == 0 {
			log = strings.TrimRight(string(buf), "\x00")
		}
	}
	if cerr != nil {
		return nil, &CompileError{Program: name, Err: cerr, Log: log}
	}
	var size C.size_t
	if err := n.check("nvrtcGetPTXSize", C.call_nvrtcGetPTXSize(n.t, prog, &size)); err != nil {
		return nil, err
	}
	ptx := make([]byte, size)
	if size > 0 {
		if err := n.check("nvrtcGetPTX", C.call_nvrtcGetPTX(n.t, prog, (*C.char)(unsafe.Pointer(&ptx[0])))); err != nil {
			return nil, err
		}
	}
	out := &Compiled{PTX: ptx, Log: log, Lowered: map[string]string{}}
	for i, e := range nameExprs {
		var low *C.char
		if err := n.check("nvrtcGetLoweredName", C.call_nvrtcGetLoweredName(n.t, prog, cexprs[i], &low)); err != nil {
			return nil, fmt.Errorf("%s: %w", e, err)
		}
		out.Lowered[e] = C.GoString(low)
	}
	return out, nil
}
