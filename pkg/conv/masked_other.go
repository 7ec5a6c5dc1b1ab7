//go:build !amd64 || purego

package conv

func maskPanelAVX512(dst *float32, ldd int, src *float32, n, rows, t, ntap, P int, offs *int, masks *uint64, bit int) {
	panic("conv: no AVX-512 kernels")
}

func dwSmallAVX512(buf, w, out *float32, nvec int, offs *int, masks *uint16, ntaps int, init float32) {
	panic("conv: no AVX-512 kernels")
}
