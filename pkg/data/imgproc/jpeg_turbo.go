//go:build cgo

package imgproc

/*
#include <stdlib.h>

typedef void* (*fn_init)(void);
typedef int (*fn_header3)(void*, const unsigned char*, unsigned long, int*, int*, int*, int*);
typedef int (*fn_decompress2)(void*, const unsigned char*, unsigned long, unsigned char*, int, int, int, int, int);
typedef int (*fn_destroy)(void*);
typedef char* (*fn_errstr2)(void*);
typedef int (*fn_errcode)(void*);

static void* call_init(void* f) { return ((fn_init)f)(); }
static int call_header3(void* f, void* h, const unsigned char* b, unsigned long n, int* w, int* ht, int* ss, int* cs) {
	return ((fn_header3)f)(h, b, n, w, ht, ss, cs);
}
static int call_decompress2(void* f, void* h, const unsigned char* b, unsigned long n, unsigned char* dst, int w, int pitch, int ht, int pf, int flags) {
	return ((fn_decompress2)f)(h, b, n, dst, w, pitch, ht, pf, flags);
}
static int call_destroy(void* f, void* h) { return ((fn_destroy)f)(h); }
static char* call_errstr2(void* f, void* h) { return ((fn_errstr2)f)(h); }
static int call_errcode(void* f, void* h) { return ((fn_errcode)f)(h); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/nvaego/nvae/internal/dl"
)

// libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0), loaded with dlopen
// at run time so that the binaries build and run without it: Pillow
// decodes JPEG with libjpeg-turbo, so using the same library (default
// settings: accurate integer IDCT, fancy upsampling) gives the same pixels.

const (
	tjpfRGB    = 0
	tjcsGray   = 2
	tjcsCMYK   = 3
	tjcsYCCK   = 4
	tjerrWarn  = 0
	tjMaxPixel = 1 << 28
)

type turboLib struct {
	path                                              string
	init, header3, decompress2, destroy, errstr, code unsafe.Pointer
	handles                                           sync.Pool
}

var (
	turboOnce sync.Once
	turbo     *turboLib
	turboErr  error
)

func loadTurbo() (*turboLib, error) {
	turboOnce.Do(func() {
		var h *dl.Lib
		var tried []string
		for _, name := range []string{"libturbojpeg.so.0", "libturbojpeg.so", "/usr/lib/x86_64-linux-gnu/libturbojpeg.so.0", "/usr/lib/aarch64-linux-gnu/libturbojpeg.so.0", "libturbojpeg.0.dylib"} {
			var err error
			if h, err = dl.Open(name, false); err == nil {
				turbo = &turboLib{path: name}
				break
			}
			tried = append(tried, name)
		}
		if h == nil {
			turboErr = fmt.Errorf("libturbojpeg not found (tried %v; Debian: apt-get install libturbojpeg0)", tried)
			return
		}
		sym := h.Sym
		t := turbo
		t.init, t.header3, t.decompress2, t.destroy = sym("tjInitDecompress"), sym("tjDecompressHeader3"), sym("tjDecompress2"), sym("tjDestroy")
		t.errstr, t.code = sym("tjGetErrorStr2"), sym("tjGetErrorCode")
		if t.init == nil || t.header3 == nil || t.decompress2 == nil || t.destroy == nil {
			turbo, turboErr = nil, fmt.Errorf("%s lacks the TurboJPEG 1.4+ decompression API", t.path)
		}
	})
	return turbo, turboErr
}

type turboHandle struct{ h unsafe.Pointer }

func (t *turboLib) get() (*turboHandle, error) {
	if v := t.handles.Get(); v != nil {
		return v.(*turboHandle), nil
	}
	h := C.call_init(t.init)
	if h == nil {
		return nil, errors.New("tjInitDecompress failed")
	}
	// handles live for the process (pooled per worker); none is destroyed
	return &turboHandle{h}, nil
}

func (t *turboLib) errorString(h *turboHandle) string {
	if t.errstr == nil {
		return "TurboJPEG error"
	}
	return C.GoString(C.call_errstr2(t.errstr, h.h))
}

// decodeJPEGTurbo decodes a JPEG with libjpeg-turbo. ok is false when the
// library is unavailable or the image is CMYK/YCCK (left to the Go path).
func decodeJPEGTurbo(b []byte) (img *RGB, ok bool, err error) {
	t, lerr := loadTurbo()
	if lerr != nil || len(b) == 0 {
		return nil, false, nil
	}
	h, err := t.get()
	if err != nil {
		return nil, false, nil
	}
	defer t.handles.Put(h)
	src := (*C.uchar)(unsafe.Pointer(&b[0]))
	var w, ht, ss, cs C.int
	if C.call_header3(t.header3, h.h, src, C.ulong(len(b)), &w, &ht, &ss, &cs) != 0 {
		return nil, true, fmt.Errorf("jpeg: %s", t.errorString(h))
	}
	if cs == tjcsCMYK || cs == tjcsYCCK {
		return nil, false, nil
	}
	if w <= 0 || ht <= 0 || int64(w)*int64(ht) > tjMaxPixel {
		return nil, true, fmt.Errorf("jpeg: invalid size %dx%d", int(w), int(ht))
	}
	out := NewRGB(int(w), int(ht))
	dst := (*C.uchar)(unsafe.Pointer(&out.Pix[0]))
	if C.call_decompress2(t.decompress2, h.h, src, C.ulong(len(b)), dst, w, w*3, ht, tjpfRGB, 0) != 0 {
		// warnings (e.g. extraneous bytes) leave a complete image
		if t.code == nil || C.call_errcode(t.code, h.h) != tjerrWarn {
			return nil, true, fmt.Errorf("jpeg: %s", t.errorString(h))
		}
	}
	return out, true, nil
}

// turboStatus names the JPEG decoder in use.
func turboStatus() (string, error) {
	t, err := loadTurbo()
	if err != nil {
		return "", err
	}
	return "libjpeg-turbo (" + t.path + ")", nil
}
