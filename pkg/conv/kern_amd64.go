//go:build amd64 && !purego

package conv

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
