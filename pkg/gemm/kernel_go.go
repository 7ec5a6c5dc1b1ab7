package gemm

import "unsafe"

// goEngine returns the portable engine: a 4×4 micro-kernel in plain Go.
func goEngine[T Float]() *engine[T] {
	e := &engine[T]{name: "go4x4", mr: 4, nr: 4, mc: 128, kc: 256, nc: 1024, masked: true}
	for rows := 1; rows <= 4; rows++ {
		e.kern = append(e.kern, goKernel4x4[T](rows))
	}
	return e
}

// goKernel4x4 returns the plain-Go 4×4 micro-kernel storing the first rows
// rows of the tile.
func goKernel4x4[T Float](rows int) kernelFn[T] {
	return func(kc int, a, b, c unsafe.Pointer, ldc int, mask uint64, alpha, beta T) {
		as := unsafe.Slice((*T)(a), 4*kc)
		bs := unsafe.Slice((*T)(b), 4*kc)
		var c00, c01, c02, c03, c10, c11, c12, c13 T
		var c20, c21, c22, c23, c30, c31, c32, c33 T
		for p := 0; p < kc; p++ {
			av := as[4*p : 4*p+4 : 4*p+4]
			bv := bs[4*p : 4*p+4 : 4*p+4]
			a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
			b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
			c00 += a0 * b0
			c01 += a0 * b1
			c02 += a0 * b2
			c03 += a0 * b3
			c10 += a1 * b0
			c11 += a1 * b1
			c12 += a1 * b2
			c13 += a1 * b3
			c20 += a2 * b0
			c21 += a2 * b1
			c22 += a2 * b2
			c23 += a2 * b3
			c30 += a3 * b0
			c31 += a3 * b1
			c32 += a3 * b2
			c33 += a3 * b3
		}
		acc := [4][4]T{
			{c00, c01, c02, c03},
			{c10, c11, c12, c13},
			{c20, c21, c22, c23},
			{c30, c31, c32, c33},
		}
		cols := 0
		for cols < 4 && mask&(1<<uint(cols)) != 0 {
			cols++
		}
		for i := 0; i < rows; i++ {
			row := unsafe.Slice((*T)(unsafe.Add(c, uintptr(i*ldc)*unsafe.Sizeof(c00))), cols)
			for x := range row {
				if beta == 0 {
					row[x] = alpha * acc[i][x]
				} else {
					row[x] = alpha*acc[i][x] + beta*row[x]
				}
			}
		}
	}
}
