#include "core/kernels/gemm.h"

#include <cblas.h>

#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "core/ops/inplace.h"
#include "core/parallel.h"

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
  autograd::NoGradGuard ng;  // layout copies below are not part of any graph
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
  // One product of rows [m0, m0 + mi) and columns [n0, n0 + ni) of C: the row offset
  // into A is along its dim 0 and the column offset into B along its dim 1, whatever
  // their BLAS layouts.
  auto block = [&](int64_t m0, int64_t mi, int64_t n0, int64_t ni) {
    const int64_t ao = m0 * a.stride(0), bo = n0 * b.stride(1), co = m0 * ldc + n0;
    if (c.dtype() == DType::Float32) {
      cblas_sgemm(CblasRowMajor, ta, tb, int(mi), int(ni), int(k), float(alpha),
                  static_cast<const float*>(a.raw_data()) + ao, int(lda), static_cast<const float*>(b.raw_data()) + bo,
                  int(ldb), float(beta), static_cast<float*>(c.raw_data()) + co, int(ldc));
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, int(mi), int(ni), int(k), alpha,
                  static_cast<const double*>(a.raw_data()) + ao, int(lda),
                  static_cast<const double*>(b.raw_data()) + bo, int(ldb), beta,
                  static_cast<double*>(c.raw_data()) + co, int(ldc));
    }
  };
  // Above the grain, the threads split C themselves (by rows if it is tall, else by
  // columns, in whole 32-wide panels), each running a one-thread GEMM: measured on
  // W1's and W2's shapes, 3-14% faster than OpenBLAS's own two-thread split, which
  // loses most on the smaller of them (1024 x 256 x 256: 266 -> 305 GFLOP/s).
  const int nt = get_num_threads();
  const bool split = nt > 1 && m * n * k >= kGemmGrain && (m >= 64 || n >= 64);
#ifdef _OPENMP
  if (split && !omp_in_parallel()) {
    const bool by_rows = m >= n;
    const int64_t len = by_rows ? m : n;
    const int64_t piece = ((len + nt - 1) / nt + 31) / 32 * 32;
    const int64_t pieces = (len + piece - 1) / piece;
    set_blas_threads_for_gemm(1, 1, 1);  // one BLAS thread inside each of ours
    parallel_for(pieces, kGrainSize, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t lo = p * piece, hi = std::min(len, lo + piece);
        if (by_rows) block(lo, hi - lo, 0, n);
        else block(0, m, lo, hi - lo);
      }
    });
    return;
  }
#endif
  set_blas_threads_for_gemm(m, n, k);
  block(0, m, 0, n);
}

void gemm_batched(const Tensor& a_in, const Tensor& b_in, const Tensor& c) {
  const int64_t nd = a_in.dim();
  const int64_t m = a_in.size(-2), k = a_in.size(-1), n = b_in.size(-1);
  Shape batch(a_in.shape().begin(), a_in.shape().end() - 2);
  const int64_t B = numel_of(batch);
  if (B == 0 || m == 0 || n == 0) return;
  autograd::NoGradGuard ng;
  if (c.dtype() == DType::Int64 || k == 0) {
    // Rare: one 2-D product per batch entry through the flat views.
    Tensor a3 = a_in.reshape({B, m, k}), b3 = b_in.reshape({B, k, n}), c3 = c.reshape({B, m, n});
    for (int64_t i = 0; i < B; ++i) gemm(a3.select(0, i), b3.select(0, i), c3.select(0, i));
    return;
  }
  // One 2-D geometry for every batch entry; copy the whole operand if BLAS cannot read it.
  auto plan = [&](Tensor t, CBLAS_TRANSPOSE& tr, int64_t& ld) {
    auto matrix = [&](const Tensor& u) {
      return make_view(u, {u.size(-2), u.size(-1)}, {u.stride(-2), u.stride(-1)}, u.offset());
    };
    if (blas_layout(matrix(t), tr, ld)) return t;
    t = t.contiguous();
    blas_layout(matrix(t), tr, ld);
    return t;
  };
  CBLAS_TRANSPOSE ta, tb;
  int64_t lda, ldb;
  Tensor a = plan(a_in, ta, lda), b = plan(b_in, tb, ldb);
  // Element offsets of each batch entry (any batch strides, 0 for broadcast dims):
  // a permuted [N, H, L, E] view needs no copy into [N * H, L, E].
  auto offsets = [&](const Tensor& t) {
    std::vector<int64_t> off(size_t(B), 0);
    std::vector<int64_t> idx(size_t(nd - 2), 0);
    for (int64_t i = 0; i < B; ++i) {
      int64_t o = 0;
      for (int64_t d = 0; d < nd - 2; ++d) o += idx[size_t(d)] * t.stride(d);
      off[size_t(i)] = o;
      for (int64_t d = nd - 3; d >= 0; --d) {
        if (++idx[size_t(d)] < batch[size_t(d)]) break;
        idx[size_t(d)] = 0;
      }
    }
    return off;
  };
  const std::vector<int64_t> oa = offsets(a), ob = offsets(b);
  const int64_t sc = m * n, ldc = n;
  // Large products: one GEMM at a time, each using every thread. Small ones
  // (attention heads): one thread per GEMM, the batch split across threads.
  set_blas_threads_for_gemm(m, n, k);
  const int64_t per_gemm_cost = std::max<int64_t>(1, m * n * k / 16);  // ~16 multiply-adds per cost unit
  const bool split_batch = m * n * k < kGemmGrain;
  auto run = [&](auto* A, auto* Bp, auto* C, auto one) {
    auto body = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) one(A + oa[size_t(i)], Bp + ob[size_t(i)], C + i * sc);
    };
    if (split_batch) parallel_for(B, per_gemm_cost, body);
    else body(0, B);
  };
  if (c.dtype() == DType::Float32) {
    run(static_cast<const float*>(a.raw_data()), static_cast<const float*>(b.raw_data()),
        static_cast<float*>(c.raw_data()), [&](const float* A, const float* Bp, float* C) {
          cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), 1.0f, A, int(lda), Bp, int(ldb), 0.0f, C,
                      int(ldc));
        });
  } else {
    run(static_cast<const double*>(a.raw_data()), static_cast<const double*>(b.raw_data()),
        static_cast<double*>(c.raw_data()), [&](const double* A, const double* Bp, double* C) {
          cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), 1.0, A, int(lda), Bp, int(ldb), 0.0, C,
                      int(ldc));
        });
  }
}

}  // namespace shanshui::kernels
