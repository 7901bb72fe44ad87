// GEMM on OpenBLAS: C[m,n] = alpha * A[m,k] @ B[k,n] + beta * C, where A and B
// are 2-D views whose transposes are read from their strides; only layouts
// BLAS cannot take (neither dim unit-stride) are copied.
#pragma once
#include "core/tensor.h"

namespace shanshui::kernels {

// a, b, c: 2-D views of the same floating dtype (or int64, computed with a plain loop).
// c must be writable with unit stride in its last dim.
void gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha = 1.0, double beta = 0.0);
// c[i] = a[i] @ b[i] for views a [batch..., m, k], b [batch..., k, n] with the same
// batch dims (any strides, 0 for broadcast) and a contiguous c [batch..., m, n].
// The layout is read once for the whole batch (no per-batch tensor objects).
void gemm_batched(const Tensor& a, const Tensor& b, const Tensor& c);

}  // namespace shanshui::kernels
