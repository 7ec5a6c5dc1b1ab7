//go:build amd64 && !purego

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_kernels.go

// hasAVX512 reports whether the AVX-512 kernels can run (they use
// AVX512F instructions and AVX512DQ's KMOVB).
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// transpose8x8s writes the transposes of nblk 8×8 float32 blocks read
// along a row band of src (stride lds) into dst (stride ldd); see
// transpose_amd64.s.
//
//go:noescape
func transpose8x8s(src unsafe.Pointer, lds int, dst unsafe.Pointer, ldd int, nblk int)

// packB48s packs npanels whole 48-column panels of a row-major B; see
// pack_amd64.s.
//
//go:noescape
func packB48s(src unsafe.Pointer, ldb int, dst unsafe.Pointer, kb int, npanels int)

var (
	sEngine = newSEngine()
	dEngine = newDEngine()
)

func newSEngine() *engine[float32] {
	if !hasAVX512 {
		return goEngine[float32]()
	}
	e := &engine[float32]{name: "avx512", mr: sMRAVX512, nr: sNRAVX512, mc: 256, kc: 256, nc: 480, aOuter: true}
	e.tr8 = transpose8x8s
	if sNRAVX512 == 48 {
		e.packBN = packB48s
	}
	for _, k := range sKernelsAVX512 {
		e.kern = append(e.kern, kernelFn[float32](k))
	}
	return e
}

func newDEngine() *engine[float64] {
	if !hasAVX512 {
		return goEngine[float64]()
	}
	e := &engine[float64]{name: "avx512", mr: dMRAVX512, nr: dNRAVX512, mc: 256, kc: 256, nc: 240, aOuter: true}
	for _, k := range dKernelsAVX512 {
		e.kern = append(e.kern, kernelFn[float64](k))
	}
	return e
}
