// Fused flash-style scaled dot-product attention on the CPU (forward and backward).
//
// Forward (FlashAttention-2, Dao 2023): for each (batch entry, block of Br
// queries) a thread walks the key blocks of Bc keys, computes the score block
// S = scale * Q_i K_j^T with one GEMM, applies the masks, and keeps an online
// softmax (running row max m and row sum l): the output rows are rescaled by
// exp(m_old - m_new) and P_ij V_j is accumulated with a second GEMM. Only the
// output and the logsumexp lse = m + log(l) per query are kept for backward:
// no L x S matrix survives the forward, the working set is a few blocks per
// thread (S block Br x Bc, plus m and l).
//
// Backward: per batch entry (one thread owns it, so dQ, dK, dV need no
// atomics), for each key block j and each query block i that can see it,
// S and P = exp(S - lse) are recomputed, then
//   dV_j += P^T dO_i,  dP = dO_i V_j^T,  dS = P * (dP - D_i),
//   dQ_i += scale dS K_j,  dK_j += scale dS^T Q_i,   with D_i = rowsum(dO_i * O_i).
//
// Fully masked rows (no key to attend to): l = 0, the output row is zero and
// lse = +inf, so the recomputed P is zero in backward and so are the gradients.
// PyTorch's math path (torch >= 2.5, "safe softmax") also gives zeros there.
//
// Under create_graph the backward is built from differentiable ops instead
// (the composite formulas on the recomputed weights), so higher-order
// gradients are exact.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "nn/functional/attention_impl.h"

namespace shanshui::nn::functional::detail {

using autograd::SavedTensor;
using autograd::tensor_list;

namespace {

// Block sizes: a 64 x 128 float score block is 32 KB, so the score block and
// the Q, K, V blocks stay in L2. Measured on W5 (T=1024, D=64, one thread):
// 128 keys per block cut the fwd+bwd time by ~20% against 64 x 64 (fewer,
// larger GEMM calls); 128 x 128 was no faster and halves the forward's parallelism.
constexpr int64_t kBr = 64;
constexpr int64_t kBc = 128;

inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  set_blas_threads_for_gemm(m, n, k);
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                 const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  set_blas_threads_for_gemm(m, n, k);
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// ---- row primitives ------------------------------------------------------------
template <class T>
T row_max(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}
// x = exp(x - shift) in place; returns the sum.
template <class T>
T exp_shift_sum(T* x, int64_t n, T shift) {
  T s = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    s += x[i];
  }
  return s;
}

#if defined(__AVX2__) && defined(__FMA__)
// GCC does not vectorise float max/exp loops by itself, so the float row
// primitives use vector extensions with the same Cephes expf as
// core/ops/softmax.cpp (~1.5 ulp; -inf gives exactly 0).
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
inline v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
inline v8f exp8(v8f x) {
  const v8f lo = v8f{} - 87.33654f, hi = v8f{} + 88.0f;
  const v8i is_nan = x != x, small = x < lo, big = x > hi;
  v8f xc = small ? lo : x;
  xc = big ? hi : xc;
  xc = is_nan ? v8f{} : xc;
  const v8f magic = v8f{} + 12582912.0f;
  const v8f n = (xc * 1.44269504088896341f + magic) - magic;
  v8f r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  v8f p = v8f{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const v8i bits = (__builtin_convertvector(n, v8i) + 127) << 23;
  v8f y = p * (v8f)bits;
  y = small ? v8f{} : y;
  y = big ? v8f{} + std::numeric_limits<float>::infinity() : y;
  return is_nan ? x : y;
}
template <>
float row_max<float>(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  if (n >= 8) {
    v8f acc = load8(x);
    for (i = 8; i + 8 <= n; i += 8) {
      const v8f v = load8(x + i);
      acc = v > acc ? v : acc;
    }
    for (int j = 0; j < 8; ++j) m = acc[j] > m ? acc[j] : m;
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}
template <>
float exp_shift_sum<float>(float* x, int64_t n, float shift) {
  v8f acc{};
  const v8f sh = v8f{} + shift;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8f e = exp8(load8(x + i) - sh);
    store8(x + i, e);
    acc += e;
  }
  float s = 0;
  for (int j = 0; j < 8; ++j) s += acc[j];
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    s += x[i];
  }
  return s;
}
#endif

// One attention problem over flattened batch entries n in [0, N).
template <class T>
struct Problem {
  int64_t N, L, S, E, Ev;
  const T *q, *k, *v;
  int64_t qs, ks, vs;                 // row strides
  std::vector<int64_t> qo, ko, vo;    // batch-entry offsets (elements)
  const void* mask = nullptr;
  bool mask_bool = false;
  std::vector<int64_t> mo;
  int64_t msL = 0, msS = 0;
  bool causal = false;
  T scale;
};

// Offsets of each batch entry of t (all dims but the last two), row-major.
std::vector<int64_t> batch_offsets(const Tensor& t) {
  const int64_t nb = t.dim() - 2;
  Shape bs(t.shape().begin(), t.shape().begin() + nb);
  const int64_t N = numel_of(bs);
  std::vector<int64_t> off(static_cast<size_t>(N));
  std::vector<int64_t> idx(size_t(nb), 0);
  for (int64_t n = 0; n < N; ++n) {
    int64_t o = 0;
    for (int64_t d = 0; d < nb; ++d) o += idx[size_t(d)] * t.stride(d);
    off[size_t(n)] = o;
    for (int64_t d = nb - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < bs[size_t(d)]) break;
      idx[size_t(d)] = 0;
    }
  }
  return off;
}

// Where the rows of each batch entry of an output or gradient tensor live: batch-entry
// offsets and the row stride (the last dim has unit stride).
struct Layout {
  std::vector<int64_t> off;
  int64_t rs = 0;
};
Layout layout_of(const Tensor& t) { return {batch_offsets(t), std::max(t.stride(-2), t.size(-1))}; }

// An uninitialised dense tensor of `shape` laid out in the dim order of `like`'s
// strides (torch's empty_like rule for permuted inputs). Attention reads q, k, v
// as strided views of the caller's [N, L, H, E] projections; giving the output
// and the gradients the same order makes the caller's permute + reshape back to
// [N, L, H * E] a view instead of a copy.
Tensor empty_in_order_of(const Tensor& like, const Shape& shape) {
  const size_t nd = shape.size();
  // A broadcast input (stride 0) has no memory order to copy: contiguous.
  for (size_t d = 0; d < nd; ++d)
    if (like.stride(int64_t(d)) == 0 && like.size(int64_t(d)) > 1) return empty(shape, like.dtype());
  std::vector<size_t> order(nd);
  for (size_t i = 0; i < nd; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return like.stride(int64_t(a)) > like.stride(int64_t(b));
  });
  Shape strides(nd);
  int64_t running = 1;
  for (size_t i = nd; i-- > 0;) {
    strides[order[i]] = running;
    running *= std::max<int64_t>(shape[order[i]], 1);
  }
  if (nd == 0 || strides.back() != 1) return empty(shape, like.dtype());  // the kernel wants unit-stride rows
  return empty_strided(shape, strides, like.dtype());
}

// Masks on a score block s [br x bc] (row stride bc) for queries i0.. and keys j0..
template <class T>
void apply_masks(const Problem<T>& p, int64_t n, T* s, int64_t i0, int64_t br, int64_t j0, int64_t bc) {
  const T ninf = -std::numeric_limits<T>::infinity();
  if (p.causal && j0 + bc - 1 > i0) {
    for (int64_t r = 0; r < br; ++r) {
      const int64_t c0 = std::max<int64_t>(0, i0 + r - j0 + 1);  // keys j > i are hidden
      T* row = s + r * bc;
      for (int64_t c = c0; c < bc; ++c) row[c] = ninf;
    }
  }
  if (!p.mask) return;
  for (int64_t r = 0; r < br; ++r) {
    T* row = s + r * bc;
    const int64_t base = p.mo[size_t(n)] + (i0 + r) * p.msL + j0 * p.msS;
    if (p.mask_bool) {
      const bool* m = static_cast<const bool*>(p.mask) + base;
      for (int64_t c = 0; c < bc; ++c)
        if (!m[c * p.msS]) row[c] = ninf;
    } else {
      const T* m = static_cast<const T*>(p.mask) + base;
      for (int64_t c = 0; c < bc; ++c) row[c] += m[c * p.msS];
    }
  }
}

template <class T>
void flash_forward(const Problem<T>& p, T* out, const Layout& ol, T* lse) {
  const int64_t nqb = (p.L + kBr - 1) / kBr;
  const T ninf = -std::numeric_limits<T>::infinity();
  parallel_for(p.N * nqb, kBr * p.S * (p.E + p.Ev), [&](int64_t t0, int64_t t1) {
    std::vector<T> sbuf(static_cast<size_t>(kBr * kBc)), m(static_cast<size_t>(kBr)), l(static_cast<size_t>(kBr));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / nqb, i0 = (t % nqb) * kBr, br = std::min(kBr, p.L - i0);
      const T* Q = p.q + p.qo[size_t(n)] + i0 * p.qs;
      const T* K = p.k + p.ko[size_t(n)];
      const T* V = p.v + p.vo[size_t(n)];
      T* O = out + ol.off[size_t(n)] + i0 * ol.rs;
      for (int64_t r = 0; r < br; ++r) std::fill(O + r * ol.rs, O + r * ol.rs + p.Ev, T(0));
      std::fill(m.begin(), m.end(), ninf);
      std::fill(l.begin(), l.end(), T(0));
      const int64_t kend = p.causal ? std::min(p.S, i0 + br) : p.S;
      for (int64_t j0 = 0; j0 < kend; j0 += kBc) {
        const int64_t bc = std::min(kBc, kend - j0);
        T* s = sbuf.data();
        gemm(false, true, br, bc, p.E, p.scale, Q, p.qs, K + j0 * p.ks, p.ks, T(0), s, bc);
        apply_masks(p, n, s, i0, br, j0, bc);
        for (int64_t r = 0; r < br; ++r) {
          T* row = s + r * bc;
          const T mnew = std::max(m[size_t(r)], row_max(row, bc));
          if (mnew == ninf) {  // nothing visible yet in this row
            std::fill(row, row + bc, T(0));
            continue;
          }
          const T alpha = std::exp(m[size_t(r)] - mnew);  // 0 when m was -inf
          const T sum = exp_shift_sum(row, bc, mnew);
          l[size_t(r)] = l[size_t(r)] * alpha + sum;
          m[size_t(r)] = mnew;
          if (alpha != T(1)) {
            T* o = O + r * ol.rs;
            for (int64_t d = 0; d < p.Ev; ++d) o[d] *= alpha;
          }
        }
        gemm(false, false, br, p.Ev, bc, T(1), s, bc, V + j0 * p.vs, p.vs, T(1), O, ol.rs);
      }
      for (int64_t r = 0; r < br; ++r) {
        T* o = O + r * ol.rs;
        const T lr = l[size_t(r)];
        if (lr > T(0)) {
          const T inv = T(1) / lr;
          for (int64_t d = 0; d < p.Ev; ++d) o[d] *= inv;
          lse[n * p.L + i0 + r] = m[size_t(r)] + std::log(lr);
        } else {
          std::fill(o, o + p.Ev, T(0));
          lse[n * p.L + i0 + r] = std::numeric_limits<T>::infinity();
        }
      }
    }
  });
}

// out, dout, dq/dk/dv: [N, L|S, E|Ev] matrices at their layouts' offsets and row
// strides; dq/dk/dv null when not needed.
template <class T>
void flash_backward(const Problem<T>& p, const T* out, const Layout& ol, const T* lse, const T* dout,
                    const Layout& gl, T* dq, const Layout& dql, T* dk, const Layout& dkl, T* dv, const Layout& dvl) {
  const T inf = std::numeric_limits<T>::infinity();
  parallel_for(p.N, p.L * p.S * (2 * p.E + 3 * p.Ev), [&](int64_t n0, int64_t n1) {
    std::vector<T> pbuf(static_cast<size_t>(kBr * kBc)), dpbuf(static_cast<size_t>(kBr * kBc)), D(static_cast<size_t>(p.L));
    for (int64_t n = n0; n < n1; ++n) {
      const T* Qn = p.q + p.qo[size_t(n)];
      const T* Kn = p.k + p.ko[size_t(n)];
      const T* Vn = p.v + p.vo[size_t(n)];
      const T* On = out + ol.off[size_t(n)];
      const T* dOn = dout + gl.off[size_t(n)];
      const T* lsen = lse + n * p.L;
      T* dQn = dq ? dq + dql.off[size_t(n)] : nullptr;
      T* dKn = dk ? dk + dkl.off[size_t(n)] : nullptr;
      T* dVn = dv ? dv + dvl.off[size_t(n)] : nullptr;
      auto zero_rows = [](T* m, int64_t rows, int64_t cols, int64_t rs) {
        for (int64_t r = 0; r < rows; ++r) std::fill(m + r * rs, m + r * rs + cols, T(0));
      };
      if (dQn) zero_rows(dQn, p.L, p.E, dql.rs);
      if (dKn) zero_rows(dKn, p.S, p.E, dkl.rs);
      if (dVn) zero_rows(dVn, p.S, p.Ev, dvl.rs);
      for (int64_t i = 0; i < p.L; ++i) {
        T s = 0;
        for (int64_t d = 0; d < p.Ev; ++d) s += dOn[i * gl.rs + d] * On[i * ol.rs + d];
        D[size_t(i)] = s;
      }
      for (int64_t j0 = 0; j0 < p.S; j0 += kBc) {
        const int64_t bc = std::min(kBc, p.S - j0);
        const T* Kj = Kn + j0 * p.ks;
        const T* Vj = Vn + j0 * p.vs;
        // Causal: queries before j0 see none of these keys.
        const int64_t istart = p.causal ? (j0 / kBr) * kBr : 0;
        for (int64_t i0 = istart; i0 < p.L; i0 += kBr) {
          const int64_t br = std::min(kBr, p.L - i0);
          const T* Qi = Qn + i0 * p.qs;
          const T* dOi = dOn + i0 * gl.rs;
          T* P = pbuf.data();
          T* dS = dpbuf.data();
          gemm(false, true, br, bc, p.E, p.scale, Qi, p.qs, Kj, p.ks, T(0), P, bc);
          apply_masks(p, n, P, i0, br, j0, bc);
          for (int64_t r = 0; r < br; ++r) {
            T* row = P + r * bc;
            const T lr = lsen[i0 + r];
            if (lr == inf) std::fill(row, row + bc, T(0));
            else exp_shift_sum(row, bc, lr);
          }
          if (dVn) gemm(true, false, bc, p.Ev, br, T(1), P, bc, dOi, gl.rs, T(1), dVn + j0 * dvl.rs, dvl.rs);
          if (!dQn && !dKn) continue;
          gemm(false, true, br, bc, p.Ev, T(1), dOi, gl.rs, Vj, p.vs, T(0), dS, bc);
          for (int64_t r = 0; r < br; ++r) {
            const T Di = D[size_t(i0 + r)];
            T* ds = dS + r * bc;
            const T* pr = P + r * bc;
            for (int64_t c = 0; c < bc; ++c) ds[c] = pr[c] * (ds[c] - Di);
          }
          if (dQn) gemm(false, false, br, p.E, bc, p.scale, dS, bc, Kj, p.ks, T(1), dQn + i0 * dql.rs, dql.rs);
          if (dKn) gemm(true, false, bc, p.E, br, p.scale, dS, bc, Qi, p.qs, T(1), dKn + j0 * dkl.rs, dkl.rs);
        }
      }
    }
  });
}

template <class T>
Problem<T> make_problem(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                        double scale) {
  Problem<T> p;
  p.L = q.size(-2);
  p.S = k.size(-2);
  p.E = q.size(-1);
  p.Ev = v.size(-1);
  p.q = q.data_ptr<T>();
  p.k = k.data_ptr<T>();
  p.v = v.data_ptr<T>();
  // A row stride below the row length (size-1 dims) is legal but BLAS wants ld >= cols.
  p.qs = std::max(q.stride(-2), p.E);
  p.ks = std::max(k.stride(-2), p.E);
  p.vs = std::max(v.stride(-2), p.Ev);
  p.qo = batch_offsets(q);
  p.ko = batch_offsets(k);
  p.vo = batch_offsets(v);
  p.N = int64_t(p.qo.size());
  if (mask.defined()) {
    p.mask = mask.raw_data();
    p.mask_bool = mask.dtype() == DType::Bool;
    p.mo = batch_offsets(mask);
    p.msL = mask.stride(-2);
    p.msS = mask.stride(-1);
  }
  p.causal = causal;
  p.scale = T(scale);
  return p;
}

// A view usable by the kernel as BLAS matrices per batch entry: unit stride in
// the last dim and a row stride of at least the row length (else a copy).
Tensor kernel_view(const Tensor& t) {
  const bool ok = (t.stride(-1) == 1 || t.size(-1) <= 1) && (t.stride(-2) >= t.size(-1) || t.size(-2) <= 1);
  return ok ? t.detach() : t.detach().contiguous();
}

}  // namespace

Tensor flash_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& mask, bool causal,
                       double scale) {
  Tensor q = kernel_view(q_in), k = kernel_view(k_in), v = kernel_view(v_in);
  Shape out_shape = q.shape();
  out_shape.back() = v.size(-1);
  Shape lse_shape(q.shape().begin(), q.shape().end() - 1);
  Tensor out = empty_in_order_of(q, out_shape);
  Tensor lse = empty(lse_shape, q.dtype());
  if (out.numel() == 0) {
    out.zero_();
  } else {
    SS_DISPATCH_FLOAT(q.dtype(), "scaled_dot_product_attention", [&](auto tag) {
      using T = decltype(tag);
      Problem<T> p = make_problem<T>(q, k, v, mask, causal, scale);
      if (p.S == 0) {  // no keys at all: every row is fully masked
        out.zero_();
        lse.fill_(std::numeric_limits<double>::infinity());
        return;
      }
      flash_forward<T>(p, out.data_ptr<T>(), layout_of(out), lse.data_ptr<T>());
    });
  }
  if (!autograd::needs_grad({&q_in, &k_in, &v_in})) return out;
  // The inputs themselves (not the detached kernel views), so a create_graph
  // backward can differentiate through them.
  SavedTensor sq(q_in), sk(k_in), sv(v_in), so(out, true), slse(lse);
  const bool need_q = q_in.requires_grad(), need_k = k_in.requires_grad(), need_v = v_in.requires_grad();
  Tensor m = mask;
  autograd::record("ScaledDotProductFlashAttentionBackward", {q_in, k_in, v_in}, out,
                   [sq, sk, sv, so, slse, m, causal, scale, need_q, need_k, need_v](const Tensor& g_in) {
                     Tensor q = sq.unpack(), k = sk.unpack(), v = sv.unpack();
                     if (autograd::GradMode::is_enabled()) {
                       // create_graph: the same formulas from differentiable ops.
                       Tensor P = attention_weights(q, k, m, causal, scale);
                       Tensor dP = matmul(g_in, v.mT());
                       Tensor dS = P * (dP - (dP * P).sum({-1}, true));
                       return tensor_list{need_q ? matmul(dS, k) * scale : Tensor(),
                                          need_k ? matmul(dS.mT(), q) * scale : Tensor(),
                                          need_v ? matmul(P.mT(), g_in) : Tensor()};
                     }
                     q = kernel_view(q);
                     k = kernel_view(k);
                     v = kernel_view(v);
                     Tensor o = so.unpack(), l = slse.unpack(), g = kernel_view(g_in);
                     Shape ks = k.shape(), vs = v.shape();
                     Shape batch(q.shape().begin(), q.shape().end() - 2);
                     // Gradients in their inputs' dim order (a k or v broadcast over batch dims
                     // gets a contiguous full-batch buffer, summed back below).
                     auto full = [&](Shape s, const Tensor& like) {
                       Shape r = batch;
                       r.push_back(s[s.size() - 2]);
                       r.push_back(s.back());
                       return r == like.shape() ? empty_in_order_of(like, r) : empty(r, like.dtype());
                     };
                     Tensor dq = need_q ? full(q.shape(), q) : Tensor();
                     Tensor dk = need_k ? full(ks, k) : Tensor();
                     Tensor dv = need_v ? full(vs, v) : Tensor();
                     if (o.numel() > 0 && k.size(-2) > 0) {
                       SS_DISPATCH_FLOAT(q.dtype(), "scaled_dot_product_attention_backward", [&](auto tag) {
                         using T = decltype(tag);
                         Problem<T> p = make_problem<T>(q, k, v, m, causal, scale);
                         auto lay = [](const Tensor& t) { return t.defined() ? layout_of(t) : Layout{}; };
                         flash_backward<T>(p, o.data_ptr<T>(), layout_of(o), l.data_ptr<T>(), g.data_ptr<T>(),
                                           layout_of(g), need_q ? dq.data_ptr<T>() : nullptr, lay(dq),
                                           need_k ? dk.data_ptr<T>() : nullptr, lay(dk),
                                           need_v ? dv.data_ptr<T>() : nullptr, lay(dv));
                       });
                     } else {
                       for (Tensor* t : {&dq, &dk, &dv})
                         if (t->defined()) t->zero_();
                     }
                     // k and v may be broadcast over batch dims: sum back to their own shapes.
                     if (dk.defined() && dk.shape() != ks) dk = autograd::sum_to(dk, ks);
                     if (dv.defined() && dv.shape() != vs) dv = autograd::sum_to(dv, vs);
                     return tensor_list{dq, dk, dv};
                   });
  return out;
}

}  // namespace shanshui::nn::functional::detail
