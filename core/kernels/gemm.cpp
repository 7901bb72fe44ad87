#include "core/kernels/gemm.h"

#include <cblas.h>

#include "core/ops.h"
#include "core/ops/inplace.h"

namespace shanshui::kernels {

namespace {

// How BLAS can read a 2-D view: (transpose flag, leading dimension), or false if it cannot.
bool blas_layout(const Tensor& t, CBLAS_TRANSPOSE& trans, int64_t& ld) {
  int64_t rows = t.size(0), cols = t.size(1), s0 = t.stride(0), s1 = t.stride(1);
  if ((s1 == 1 || cols == 1) && s0 >= std::max<int64_t>(cols, 1)) {
    trans = CblasNoTrans;
    ld = std::max<int64_t>(s0, std::max<int64_t>(cols, 1));
    if (rows == 1) ld = std::max<int64_t>(cols, 1);
    return true;
  }
  if ((s0 == 1 || rows == 1) && s1 >= std::max<int64_t>(rows, 1)) {
    trans = CblasTrans;
    ld = std::max<int64_t>(s1, std::max<int64_t>(rows, 1));
    if (cols == 1) ld = std::max<int64_t>(rows, 1);
    return true;
  }
  return false;
}

}  // namespace

void gemm(const Tensor& a_in, const Tensor& b_in, const Tensor& c, double alpha, double beta) {
  const int64_t m = a_in.size(0), k = a_in.size(1), n = b_in.size(1);
  if (m == 0 || n == 0) return;
  if (c.dtype() == DType::Int64) {
    Tensor a = a_in.contiguous(), b = b_in.contiguous();
    const int64_t* A = a.data_ptr<int64_t>();
    const int64_t* B = b.data_ptr<int64_t>();
    int64_t* C = c.data_ptr<int64_t>();
    int64_t ldc = c.stride(0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += A[i * k + p] * B[p * n + j];
        C[i * ldc + j] = int64_t(alpha) * acc + int64_t(beta) * C[i * ldc + j];
      }
    return;
  }
  CBLAS_TRANSPOSE ta, tb;
  int64_t lda, ldb;
  Tensor a = a_in, b = b_in;
  if (!blas_layout(a, ta, lda)) {
    a = a.clone();
    blas_layout(a, ta, lda);
  }
  if (!blas_layout(b, tb, ldb)) {
    b = b.clone();
    blas_layout(b, tb, ldb);
  }
  const int64_t ldc = std::max<int64_t>(c.stride(0), std::max<int64_t>(n, 1));
  if (k == 0) {
    // BLAS leaves C untouched when k == 0 only if beta handling is right; do it explicitly.
    if (beta == 0.0) const_cast<Tensor&>(c).zero_();
    else if (beta != 1.0) kernels::copy_strided(c, shanshui::mul(c, Scalar(beta)));
    return;
  }
  if (c.dtype() == DType::Float32) {
    cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), float(alpha), static_cast<const float*>(a.raw_data()),
                int(lda), static_cast<const float*>(b.raw_data()), int(ldb), float(beta),
                static_cast<float*>(c.raw_data()), int(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, static_cast<const double*>(a.raw_data()),
                int(lda), static_cast<const double*>(b.raw_data()), int(ldb), beta,
                static_cast<double*>(c.raw_data()), int(ldc));
  }
}

}  // namespace shanshui::kernels
