//go:build !amd64 || purego

package gemm

var (
	sEngine = goEngine[float32]()
	dEngine = goEngine[float64]()
)
