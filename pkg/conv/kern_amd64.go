//go:build amd64 && !purego

package conv

//go:generate go run gen_kernels.go

import "golang.org/x/sys/cpu"

// useAVX2 selects the AVX2/FMA assembly kernels for float32.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// fwdKernAVX2 is kernFwd for float32: nvec (a multiple of 8) vectors listed
// as (input, output) element offset pairs at vec, ntaps ≥ 1 tap offsets at
// taps with weights at w.
//
//go:noescape
func fwdKernAVX2(in, out *float32, vec *int, nvec int, taps *int, w *float32, ntaps int, init float32)

// filtKernAVX2 adds, for the 8 tap offsets in taps, the lane-wise sums
// Σ_v gy[vo+l]·in[vi+taps[j]+l] over the nvec vectors at vec to acc[8j+l].
//
//go:noescape
func filtKernAVX2(in, gy *float32, vec *int, nvec int, taps *[8]int, acc *[64]float32)

// useAVX512 selects the 16-lane AVX-512 kernels for float32.
var useAVX512 = cpu.X86.HasAVX512F

// fwdKernAVX512 is fwdKernAVX2 with 16-lane vectors.
//
//go:noescape
func fwdKernAVX512(in, out *float32, vec *int, nvec int, taps *int, w *float32, ntaps int, init float32)

// filtKernAVX512 is filtKernAVX2 with 16-lane vectors.
//
//go:noescape
func filtKernAVX512(in, gy *float32, vec *int, nvec int, taps *[8]int, acc *[128]float32)

// fwdRowsFn is a forward rows kernel (see gen_kernels.go): for each group g
// (input offset ib = grp[2g], output offset ob = grp[2g+1]) and each of 8
// output rows i,
//
//	out[ob+i·ld+l] = init + Σ_ct Σ_k ctW[ct·kh+k]·in[ib+(i+k)·rowLen+ctOff[ct]+l].
type fwdRowsFn func(in, out *float32, grp *int, ngrp int, rowLen, ld int, ctOff *int, ctW *float32, nct int, init float32)

// filtRowsFn is a backward-filter rows kernel: for each group g, column tap
// ct and kernel row k it adds
//
//	Σ_i gy[ob+i·ld+l]·in[ib+(i+k)·rowLen+ctOff[ct]+l]  to  acc[(ct·kh+k)·lanes+l].
type filtRowsFn func(in, gy *float32, grp *int, ngrp int, rowLen, ld int, ctOff *int, nct int, acc *float32)
