//go:build !amd64 || purego

package conv

// useAVX2 is false where there are no assembly kernels; the portable Go
// kernels run instead.
var useAVX2 = false

func fwdKernAVX2(in, out *float32, vec *int, nvec int, taps *int, w *float32, ntaps int, init float32) {
	panic("conv: no assembly kernels on this platform")
}

func filtKernAVX2(in, gy *float32, vec *int, nvec int, taps *[8]int, acc *[64]float32) {
	panic("conv: no assembly kernels on this platform")
}

var useAVX512 = false

func fwdKernAVX512(in, out *float32, vec *int, nvec int, taps *int, w *float32, ntaps int, init float32) {
	panic("conv: no assembly kernels on this platform")
}

func filtKernAVX512(in, gy *float32, vec *int, nvec int, taps *[8]int, acc *[128]float32) {
	panic("conv: no assembly kernels on this platform")
}

const rowsMinKH, rowsMaxKH = 2, 13

type fwdRowsFn func(in, out *float32, grp *int, ngrp int, rowLen, ld int, ctOff *int, ctW *float32, nct int, init float32)

type filtRowsFn func(in, gy *float32, grp *int, ngrp int, rowLen, ld int, ctOff *int, nct int, acc *float32)

var fwdRowsAVX2, fwdRowsAVX512 [rowsMaxKH + 1]fwdRowsFn

var filtRowsAVX2, filtRowsAVX512 [rowsMaxKH + 1]filtRowsFn

func copyRowsAVX512(dst, src *float32, rows, n, dstStride, srcStride int) {
	panic("conv: no assembly kernels on this platform")
}

func deint2AVX512(even, odd, src *float32, rows, chunks, dstStride, srcStride int) {
	panic("conv: no assembly kernels on this platform")
}

func int2AVX512(dst, even, odd *float32, rows, chunks, dstStride, srcStride int) {
	panic("conv: no assembly kernels on this platform")
}

func addRowsAVX512(dst, src *float32, rows, n, dstStride, srcStride int) {
	panic("conv: no assembly kernels on this platform")
}

func addBiasAVX512(c, bias *float32, rows, n, ld int) {
	panic("conv: no assembly kernels on this platform")
}
