// Matrix products on OpenBLAS (cblas_sgemm / cblas_dgemm), transposes read from strides.
#pragma once
#include "core/tensor.h"

namespace shanshui {

// torch.matmul: 1-D dot, 2-D mm, batched with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
// x @ w^T + b with w [out, in] (nn.functional.linear), in one GEMM.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

}  // namespace shanshui
