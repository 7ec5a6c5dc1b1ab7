package cuda

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/backend"
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
	d, err := backend.MatMulShape(as, bs, transA, transB)
	if err != nil {
		panic("cuda backend: " + err.Error())
	}
	batch, m, n, k, os := d.Batch, d.M, d.N, d.K, d.Out
	if batch == 0 || m == 0 || n == 0 || k == 0 {
		return b.zeros(os...) // an empty sum is 0 (cuBLAS rejects some empty shapes)
	}
	out := b.alloc(os...)
	A, B, C := ptr(x), ptr(y), ptr(out)
	// Leading dimensions are the row lengths of the stored (untransposed)
	// matrices: column-major views of row-major data are their transposes.
	if batch == 1 {
		err = b.blas.SgemmRowMajor(transA, transB, m, n, k, 1, A, d.LdA, B, d.LdB, 0, C, n)
	} else {
		err = b.blas.SgemmStridedBatched(transB, transA, n, m, k, 1, B, d.LdB, d.StrideB, A, d.LdA, d.StrideA, 0, C, n, m*n, batch)
	}
	if err != nil {
		panic(fmt.Sprintf("cuda backend: MatMul %v x %v: %v", as, bs, err))
	}
	return out
}
