package cuda

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/tensor"
)

// MatMul implements backend.Backend with cuBLAS: rank-2 operands are one
// GEMM, rank-3 ones a strided batched GEMM over axis 0. The tensors are
// row-major and cuBLAS is column-major, so the product is computed as
// Cᵀ = op(B)ᵀ·op(A)ᵀ (the operands swap, the layouts need no copy). TF32
// tensor cores are used only when SetTF32(true) switched them on.
func (b *Backend) MatMul(x, y *tensor.Tensor, transA, transB bool) *tensor.Tensor {
	f32("MatMul", x, y)
	as, bs := x.Shape(), y.Shape()
	if len(as) != len(bs) || (len(as) != 2 && len(as) != 3) {
		panic(fmt.Sprintf("cuda backend: MatMul of %v and %v (rank 2 or 3, equal ranks)", as, bs))
	}
	batch := 1
	if len(as) == 3 {
		if as[0] != bs[0] {
			panic(fmt.Sprintf("cuda backend: MatMul batch %v vs %v", as, bs))
		}
		batch = as[0]
	}
	ar, ac := as[len(as)-2], as[len(as)-1]
	br, bc := bs[len(bs)-2], bs[len(bs)-1]
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	k2, n := br, bc
	if transB {
		k2, n = bc, br
	}
	if k != k2 {
		panic(fmt.Sprintf("cuda backend: MatMul inner sizes differ: %v (T=%v) x %v (T=%v)", as, transA, bs, transB))
	}
	os := tensor.Shape{m, n}
	if len(as) == 3 {
		os = tensor.Shape{batch, m, n}
	}
	if batch == 0 || m == 0 || n == 0 || k == 0 {
		return b.zeros(os...) // an empty sum is 0 (cuBLAS rejects some empty shapes)
	}
	out := b.alloc(os...)
	A, B, C := ptr(x), ptr(y), ptr(out)
	// Leading dimensions are the row lengths of the stored (untransposed)
	// matrices: column-major views of row-major data are their transposes.
	var err error
	if batch == 1 {
		err = b.blas.SgemmRowMajor(transA, transB, m, n, k, 1, A, ac, B, bc, 0, C, n)
	} else {
		err = b.blas.SgemmStridedBatched(transB, transA, n, m, k, 1, B, bc, br*bc, A, ac, ar*ac, 0, C, n, m*n, batch)
	}
	if err != nil {
		panic(fmt.Sprintf("cuda backend: MatMul %v x %v: %v", as, bs, err))
	}
	return out
}
