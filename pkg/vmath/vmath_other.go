//go:build !amd64 || purego

package vmath

// hasAVX512 is false where there are no assembly kernels.
const hasAVX512 = false

// useAsm is always false here: the Go loops run.
var useAsm = false

func noAsm() { panic("vmath: no assembly kernels on this platform") }

func affineAVX512(dst, x *float32, n int, a, b float32)              { noAsm() }
func scaleAddAVX512(dst, x, y *float32, n int, a, s float32)         { noAsm() }
func expAVX512(dst, x *float32, n int, c *[nconst]float32)           { noAsm() }
func logAVX512(dst, x *float32, n int, c *[nconst]float32)           { noAsm() }
func sigmoidAVX512(dst, x *float32, n int, c *[nconst]float32)       { noAsm() }
func swishAVX512(dst, x *float32, n int, c *[nconst]float32)         { noAsm() }
func swishGradAVX512(dst, x, gy *float32, n int, c *[nconst]float32) { noAsm() }
func eluAVX512(dst, x *float32, n int, c *[nconst]float32)           { noAsm() }
func eluGradAVX512(dst, x, gy *float32, n int, c *[nconst]float32)   { noAsm() }
func softplusAVX512(dst, x *float32, n int, c *[nconst]float32)      { noAsm() }
func tanhAVX512(dst, x *float32, n int, c *[nconst]float32)          { noAsm() }
