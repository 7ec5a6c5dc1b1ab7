//go:build amd64 && !purego

package vmath

//go:generate go run gen_asm.go

import "golang.org/x/sys/cpu"

// hasAVX512 reports whether the AVX-512 kernels can run (AVX512F only).
var hasAVX512 = cpu.X86.HasAVX512F

// useAsm selects the assembly kernels; tests switch it off to check the Go
// fallback.
var useAsm = hasAVX512

//go:noescape
func affineAVX512(dst, x *float32, n int, a, b float32)

//go:noescape
func scaleAddAVX512(dst, x, y *float32, n int, a, s float32)

//go:noescape
func expAVX512(dst, x *float32, n int, c *[nconst]float32)

//go:noescape
func logAVX512(dst, x *float32, n int, c *[nconst]float32)

//go:noescape
func sigmoidAVX512(dst, x *float32, n int, c *[nconst]float32)

//go:noescape
func swishAVX512(dst, x *float32, n int, c *[nconst]float32)

//go:noescape
func swishGradAVX512(dst, x, gy *float32, n int, c *[nconst]float32)

//go:noescape
func eluAVX512(dst, x *float32, n int, c *[nconst]float32)

//go:noescape
func eluGradAVX512(dst, x, gy *float32, n int, c *[nconst]float32)

//go:noescape
func softplusAVX512(dst, x *float32, n int, c *[nconst]float32)

//go:noescape
func tanhAVX512(dst, x *float32, n int, c *[nconst]float32)
