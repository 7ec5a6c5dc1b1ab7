// Package dl is the one dlopen/dlsym wrapper of the libraries the binaries
// load at run time (the CUDA libraries, Open MPI, libjpeg-turbo), so that
// they build and run on machines without them.
package dl

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Lib is a loaded shared library.
type Lib struct {
	Path string
	h    unsafe.Pointer
}

// Open loads path (a file name for the dynamic loader's own search, or a
// path) with RTLD_NOW; global makes its symbols available to libraries
// loaded later (RTLD_GLOBAL, e.g. Open MPI's plugins). The error is
// dlerror's text.
func Open(path string, global bool) (*Lib, error) {
	cs := C.CString(path)
	defer C.free(unsafe.Pointer(cs))
	mode := C.int(C.RTLD_NOW | C.RTLD_LOCAL)
	if global {
		mode = C.RTLD_NOW | C.RTLD_GLOBAL
	}
	h := C.dlopen(cs, mode)
	if h == nil {
		return nil, errors.New(C.GoString(C.dlerror()))
	}
	return &Lib{Path: path, h: h}, nil
}

// Sym is the address of symbol name, or nil when the library lacks it.
func (l *Lib) Sym(name string) unsafe.Pointer {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.dlsym(l.h, cs)
}

// Handle is the dlopen handle, for C code that resolves a table of symbols
// itself.
func (l *Lib) Handle() unsafe.Pointer { return l.h }
