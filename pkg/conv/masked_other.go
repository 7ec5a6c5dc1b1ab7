//go:build !amd64 || purego

package conv

func maskPanelAVX512(dst *float32, ldd int, src *float32, n, rows, t, ntap, P int, offs *int, masks *uint64, bit int) {
	panic("conv: no AVX-512 kernels")
}
