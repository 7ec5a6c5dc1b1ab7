//go:build amd64 && !purego

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run gen_kernels.go

var (
	// hasAVX512 reports whether the AVX-512 kernels can run (they use
	// AVX512F instructions and AVX512DQ's KMOVB/KORTESTB).
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ
	// hasAVX2 reports whether the AVX2/FMA kernel and the AVX transpose
	// can run.
	hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// transpose8x8s writes the transposes of nblk 8×8 float32 blocks read
// along a row band of src (stride lds) into dst (stride ldd); see
// pack_amd64.s.
//
//go:noescape
func transpose8x8s(src unsafe.Pointer, lds int, dst unsafe.Pointer, ldd int, nblk int)

// packB48s packs npanels whole 48-column panels of a row-major B; see
// pack_amd64.s.
//
//go:noescape
func packB48s(src unsafe.Pointer, ldb int, dst unsafe.Pointer, kb int, npanels int)

var (
	sEngine = newSEngine(hasAVX512, hasAVX2)
	dEngine = newDEngine(hasAVX512)
)

// newSEngine returns the best float32 engine the CPU allows.
func newSEngine(avx512, avx2 bool) *engine[float32] {
	switch {
	case avx512:
		e := &engine[float32]{name: "avx512", mr: sAVX512MR, nr: sAVX512NR, mc: 256, kc: 256, nc: 480, masked: true}
		e.tr8 = transpose8x8s
		if sAVX512NR == 48 {
			e.packBN = packB48s
		}
		for _, k := range sAVX512Kernels {
			e.kern = append(e.kern, kernelFn[float32](k))
		}
		return e
	case avx2:
		e := &engine[float32]{name: "avx2", mr: sAVX2MR, nr: sAVX2NR, mc: 144, kc: 256, nc: 512}
		e.tr8 = transpose8x8s
		for _, k := range sAVX2Kernels {
			e.kern = append(e.kern, kernelFn[float32](k))
		}
		return e
	}
	return goEngine[float32]()
}

// newDEngine returns the float64 engine: AVX-512 when present, else plain
// Go (float64 speed matters little here).
func newDEngine(avx512 bool) *engine[float64] {
	if !avx512 {
		return goEngine[float64]()
	}
	e := &engine[float64]{name: "avx512", mr: dAVX512MR, nr: dAVX512NR, mc: 256, kc: 256, nc: 240, masked: true}
	for _, k := range dAVX512Kernels {
		e.kern = append(e.kern, kernelFn[float64](k))
	}
	return e
}
