// Fused recurrence (see recurrence.h). Buffers are time-ordered: HP[t] is the
// hidden state the step at time t started from (h0 for the first step of the
// direction), so dW_hh = dGH^T @ HP is one GEMM over all steps whatever the
// direction. Saved for backward: the activated gates (GRU: r, z, n and
// W_hn h + b_hn; LSTM: i, f, g, o), HP, and for LSTM the cell states before
// (CP) and after (C) each step; the plain RNN re-derives its activation's
// derivative from the saved output.
#include "nn/recurrent/recurrence.h"

#include <cblas.h>

#include <cmath>
#include <cstring>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "nn/recurrent/fast_math.h"

namespace shanshui::nn::functional {

using autograd::SavedTensor;
using autograd::tensor_list;

int64_t gate_count(RecurrentMode mode) {
  switch (mode) {
    case RecurrentMode::RNN_TANH:
    case RecurrentMode::RNN_RELU: return 1;
    case RecurrentMode::GRU: return 3;
    case RecurrentMode::LSTM: return 4;
  }
  return 1;
}

const char* mode_name(RecurrentMode mode) {
  switch (mode) {
    case RecurrentMode::RNN_TANH: return "RNN_TANH";
    case RecurrentMode::RNN_RELU: return "RNN_RELU";
    case RecurrentMode::GRU: return "GRU";
    case RecurrentMode::LSTM: return "LSTM";
  }
  return "RNN";
}

namespace {

// Row-major C[M,N] = A op B + beta C, with A [M,K] (or [K,M] when ta) and B [K,N] (or [N,K] when tb).
template <class T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T beta, T* C) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (beta == T(0)) std::memset(C, 0, size_t(M * N) * sizeof(T));
    return;
  }
  const int lda = int(ta ? M : K), ldb = int(tb ? K : N), ldc = int(N);
  const auto TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  set_blas_threads_for_gemm(M, N, K);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, TA, TB, int(M), int(N), int(K), 1.0f, A, lda, B, ldb, beta, C, ldc);
  else
    cblas_dgemm(CblasRowMajor, TA, TB, int(M), int(N), int(K), 1.0, A, lda, B, ldb, beta, C, ldc);
}

struct Dims {
  int64_t T, B, H, G;
  bool reverse;
  int64_t time(int64_t step) const { return reverse ? T - 1 - step : step; }
};

// Forward over all steps. act (GRU, LSTM) and ghn (GRU) are always written:
// the inner loops stay branch-free so they vectorise.
template <class T>
void forward_kernel(RecurrentMode mode, const Dims& d, const T* gi, const T* h0, const T* c0, const T* w, const T* bh,
                    T* out, T* hp, T* act, T* ghn, T* cp, T* c) {
  const int64_t B = d.B, H = d.H, GH = d.G * d.H, BH = B * H;
  std::vector<T> gh(static_cast<size_t>(B * GH));
  for (int64_t s = 0; s < d.T; ++s) {
    const int64_t t = d.time(s);
    T* hprev = hp + t * BH;
    if (s == 0) std::memcpy(hprev, h0, size_t(BH) * sizeof(T));
    else std::memcpy(hprev, out + d.time(s - 1) * BH, size_t(BH) * sizeof(T));
    // gh = b_hh + h_{t-1} W_hh^T
    if (bh)
      for (int64_t b = 0; b < B; ++b) std::memcpy(gh.data() + b * GH, bh, size_t(GH) * sizeof(T));
    gemm<T>(false, true, B, GH, H, hprev, w, bh ? T(1) : T(0), gh.data());
    const T* git = gi + t * B * GH;
    T* ht = out + t * BH;
    for (int64_t b = 0; b < B; ++b) {
      const T* __restrict xg = git + b * GH;
      const T* __restrict hg = gh.data() + b * GH;
      const T* __restrict hpb = hprev + b * H;
      T* __restrict hb = ht + b * H;
      switch (mode) {
        case RecurrentMode::RNN_TANH:
          for (int64_t j = 0; j < H; ++j) hb[j] = fast::tanh(xg[j] + hg[j]);
          break;
        case RecurrentMode::RNN_RELU:
          for (int64_t j = 0; j < H; ++j) {
            T a = xg[j] + hg[j];
            hb[j] = a > T(0) ? a : T(0);
          }
          break;
        case RecurrentMode::GRU: {
          T* __restrict ab = act + (t * B + b) * GH;
          T* __restrict nb = ghn + t * BH + b * H;
          for (int64_t j = 0; j < H; ++j) {
            T r = fast::sigmoid(xg[j] + hg[j]);
            T z = fast::sigmoid(xg[H + j] + hg[H + j]);
            T hn = hg[2 * H + j];
            T n = fast::tanh(xg[2 * H + j] + r * hn);
            hb[j] = (T(1) - z) * n + z * hpb[j];
            ab[j] = r;
            ab[H + j] = z;
            ab[2 * H + j] = n;
            nb[j] = hn;
          }
          break;
        }
        case RecurrentMode::LSTM: {
          T* __restrict ab = act + (t * B + b) * GH;
          const T* __restrict cpb = (s == 0 ? c0 : c + d.time(s - 1) * BH) + b * H;
          T* __restrict cpo = cp + t * BH + b * H;
          T* __restrict cb = c + t * BH + b * H;
          for (int64_t j = 0; j < H; ++j) {
            T i = fast::sigmoid(xg[j] + hg[j]);
            T f = fast::sigmoid(xg[H + j] + hg[H + j]);
            T g = fast::tanh(xg[2 * H + j] + hg[2 * H + j]);
            T o = fast::sigmoid(xg[3 * H + j] + hg[3 * H + j]);
            T cn = f * cpb[j] + i * g;
            cpo[j] = cpb[j];
            cb[j] = cn;
            hb[j] = o * fast::tanh(cn);
            ab[j] = i;
            ab[H + j] = f;
            ab[2 * H + j] = g;
            ab[3 * H + j] = o;
          }
          break;
        }
      }
    }
  }
}

// Back-propagation through time. dgh may alias dgi (RNN, LSTM: the two
// projections get the same gradient); for the GRU they differ in the n block.
template <class T>
void backward_kernel(RecurrentMode mode, const Dims& d, const T* w, const T* out, const T* hp, const T* act,
                     const T* ghn, const T* cp, const T* c, const T* dout, const T* dhn, const T* dcn, T* dgi, T* dgh,
                     T* dh0, T* dc0) {
  const int64_t B = d.B, H = d.H, GH = d.G * d.H, BH = B * H;
  std::vector<T> dh(dhn, dhn + BH), dc;
  if (mode == RecurrentMode::LSTM) dc.assign(dcn, dcn + BH);
  std::vector<T> direct(static_cast<size_t>(BH));  // the part of dh_{t-1} that bypasses W_hh (GRU: z * dh)
  for (int64_t s = d.T - 1; s >= 0; --s) {
    const int64_t t = d.time(s);
    const T* dot = dout + t * BH;
    T* dgit = dgi + t * B * GH;
    T* dght = dgh + t * B * GH;
    for (int64_t b = 0; b < B; ++b) {
      T* dhb = dh.data() + b * H;
      const T* dob = dot + b * H;
      T* gi_b = dgit + b * GH;
      T* gh_b = dght + b * GH;
      switch (mode) {
        case RecurrentMode::RNN_TANH: {
          const T* hb = out + t * BH + b * H;
          for (int64_t j = 0; j < H; ++j) gi_b[j] = (dhb[j] + dob[j]) * (T(1) - hb[j] * hb[j]);
          break;
        }
        case RecurrentMode::RNN_RELU: {
          const T* hb = out + t * BH + b * H;
          for (int64_t j = 0; j < H; ++j) gi_b[j] = hb[j] > T(0) ? dhb[j] + dob[j] : T(0);
          break;
        }
        case RecurrentMode::GRU: {
          const T* ab = act + (t * B + b) * GH;
          const T* nb = ghn + t * BH + b * H;
          const T* hpb = hp + t * BH + b * H;
          T* db = direct.data() + b * H;
          for (int64_t j = 0; j < H; ++j) {
            const T r = ab[j], z = ab[H + j], n = ab[2 * H + j];
            const T g = dhb[j] + dob[j];
            const T dan = g * (T(1) - z) * (T(1) - n * n);
            const T dar = dan * nb[j] * r * (T(1) - r);
            const T daz = g * (hpb[j] - n) * z * (T(1) - z);
            gi_b[j] = gh_b[j] = dar;
            gi_b[H + j] = gh_b[H + j] = daz;
            gi_b[2 * H + j] = dan;
            gh_b[2 * H + j] = dan * r;
            db[j] = g * z;
          }
          break;
        }
        case RecurrentMode::LSTM: {
          const T* ab = act + (t * B + b) * GH;
          const T* cb = c + t * BH + b * H;
          const T* cpb = cp + t * BH + b * H;
          T* dcb = dc.data() + b * H;
          for (int64_t j = 0; j < H; ++j) {
            const T i = ab[j], f = ab[H + j], g = ab[2 * H + j], o = ab[3 * H + j];
            const T tc = fast::tanh(cb[j]);
            const T dht = dhb[j] + dob[j];
            const T dct = dcb[j] + dht * o * (T(1) - tc * tc);
            gi_b[j] = dct * g * i * (T(1) - i);
            gi_b[H + j] = dct * cpb[j] * f * (T(1) - f);
            gi_b[2 * H + j] = dct * i * (T(1) - g * g);
            gi_b[3 * H + j] = dht * tc * o * (T(1) - o);
            dcb[j] = dct * f;
          }
          break;
        }
      }
    }
    // dh_{t-1} = dGH_t @ W_hh (+ the direct path of the GRU).
    if (mode == RecurrentMode::GRU) {
      std::memcpy(dh.data(), direct.data(), size_t(BH) * sizeof(T));
      gemm<T>(false, false, B, H, GH, dght, w, T(1), dh.data());
    } else {
      gemm<T>(false, false, B, H, GH, dght, w, T(0), dh.data());
    }
  }
  if (dh0) std::memcpy(dh0, dh.data(), size_t(BH) * sizeof(T));
  if (dc0 && mode == RecurrentMode::LSTM) std::memcpy(dc0, dc.data(), size_t(BH) * sizeof(T));
}

}  // namespace

std::vector<Tensor> recurrent_layer(RecurrentMode mode, const Tensor& gi_in, const Tensor& h0_in, const Tensor& c0_in,
                                    const Tensor& w_in, const Tensor& b_in, bool reverse) {
  const char* op = mode_name(mode);
  const bool lstm = mode == RecurrentMode::LSTM;
  SS_CHECK(w_in.defined() && w_in.dim() == 2, ValueError, op, ": weight_hh must be 2-D, got ",
           w_in.defined() ? w_in.shape() : Shape{});
  const int64_t G = gate_count(mode), H = w_in.size(1);
  SS_CHECK(w_in.size(0) == G * H, ValueError, op, ": weight_hh of shape ", w_in.shape(), " should be [", G * H, ", ",
           H, "]");
  SS_CHECK(gi_in.dim() == 3 && gi_in.size(2) == G * H, ValueError, op, ": input projections of shape ", gi_in.shape(),
           " should be [T, B, ", G * H, "]");
  const int64_t T = gi_in.size(0), B = gi_in.size(1);
  SS_CHECK(h0_in.defined() && h0_in.shape() == Shape({B, H}), ValueError, op, ": hidden state of shape ",
           h0_in.defined() ? h0_in.shape() : Shape{}, " should be ", Shape({B, H}));
  if (lstm)
    SS_CHECK(c0_in.defined() && c0_in.shape() == Shape({B, H}), ValueError, op, ": cell state of shape ",
             c0_in.defined() ? c0_in.shape() : Shape{}, " should be ", Shape({B, H}));
  if (b_in.defined())
    SS_CHECK(b_in.shape() == Shape({G * H}), ValueError, op, ": bias_hh of shape ", b_in.shape(), " should be [",
             G * H, "]");
  const DType dt = gi_in.dtype();
  for (const Tensor* t : {&h0_in, &c0_in, &w_in, &b_in})
    if (t->defined())
      SS_CHECK(t->dtype() == dt, TypeError, op, ": all tensors must have the same dtype, got ", dtype_name(dt),
               " and ", dtype_name(t->dtype()));

  Tensor gi = gi_in.contiguous(), h0 = h0_in.contiguous(), w = w_in.contiguous();
  Tensor c0 = lstm ? c0_in.contiguous() : Tensor();
  Tensor bh = b_in.defined() ? b_in.contiguous() : Tensor();
  const bool grad = autograd::needs_grad({&gi_in, &h0_in, &c0_in, &w_in, &b_in});
  const Dims d{T, B, H, G, reverse};

  Tensor out = empty({T, B, H}, dt), hp = empty({T, B, H}, dt);
  Tensor act, ghn, cp, c;
  if (mode == RecurrentMode::GRU || lstm) act = empty({T, B, G * H}, dt);
  if (mode == RecurrentMode::GRU) ghn = empty({T, B, H}, dt);
  if (lstm) {
    cp = empty({T, B, H}, dt);
    c = empty({T, B, H}, dt);
  }
  SS_DISPATCH_FLOAT(dt, op, [&](auto tag) {
    using S = decltype(tag);
    auto ptr = [](const Tensor& x) { return x.defined() ? x.data_ptr<S>() : nullptr; };
    forward_kernel<S>(mode, d, gi.data_ptr<S>(), h0.data_ptr<S>(), ptr(c0), w.data_ptr<S>(), ptr(bh),
                      out.data_ptr<S>(), hp.data_ptr<S>(), ptr(act), ptr(ghn), ptr(cp), ptr(c));
  });
  const int64_t last = T == 0 ? -1 : d.time(T - 1);
  Tensor hn = last < 0 ? h0.clone() : out.select(0, last).clone();
  std::vector<Tensor> outputs{out, hn};
  if (lstm) outputs.push_back(last < 0 ? c0.clone() : c.select(0, last).clone());
  if (!grad) return outputs;

  std::vector<Tensor> inputs{gi_in, h0_in};
  if (lstm) inputs.push_back(c0_in);
  inputs.push_back(w_in);
  if (b_in.defined()) inputs.push_back(b_in);
  const bool need_w = w_in.requires_grad(), need_b = b_in.defined() && b_in.requires_grad();
  const bool need_h0 = h0_in.requires_grad(), need_c0 = lstm && c0_in.requires_grad();
  const bool has_b = b_in.defined();
  SavedTensor s_w(w), s_hp(hp), s_act(act), s_ghn(ghn), s_cp(cp), s_c(c);
  // The plain RNN needs its output; saved as an output (no reference cycle).
  SavedTensor s_out = (mode == RecurrentMode::RNN_TANH || mode == RecurrentMode::RNN_RELU) ? SavedTensor(out, true)
                                                                                          : SavedTensor();
  autograd::record_multi(
      lstm ? "LSTMBackward" : mode == RecurrentMode::GRU ? "GRUBackward" : "RNNBackward", inputs, outputs,
      [=](const tensor_list& grads) {
        // The backward is raw kernels: with create_graph its results would carry
        // no history, so second-order gradients would be silently wrong.
        SS_CHECK(!autograd::GradMode::is_enabled(), RuntimeError, op,
                 ": double backward (create_graph=True) through the fused recurrence is not supported");
        Tensor wv = s_w.unpack(), hpv = s_hp.unpack(), actv = s_act.unpack(), ghnv = s_ghn.unpack();
        Tensor cpv = s_cp.unpack(), cv = s_c.unpack(), outv = s_out.unpack();
        Tensor dout = grads[0].contiguous(), dhn = grads[1].contiguous();
        Tensor dcn = lstm ? grads[2].contiguous() : Tensor();
        Tensor dgi = empty({T, B, G * H}, dt);
        Tensor dgh = mode == RecurrentMode::GRU ? empty({T, B, G * H}, dt) : dgi;
        Tensor dh0 = empty({B, H}, dt), dc0 = lstm ? empty({B, H}, dt) : Tensor();
        Tensor dw = need_w ? empty({G * H, H}, dt) : Tensor();
        Tensor db;
        SS_DISPATCH_FLOAT(dt, op, [&](auto tag) {
          using S = decltype(tag);
          auto ptr = [](const Tensor& x) { return x.defined() ? x.data_ptr<S>() : nullptr; };
          backward_kernel<S>(mode, d, wv.data_ptr<S>(), ptr(outv), hpv.data_ptr<S>(), ptr(actv), ptr(ghnv), ptr(cpv),
                             ptr(cv), dout.data_ptr<S>(), dhn.data_ptr<S>(), ptr(dcn), dgi.data_ptr<S>(),
                             dgh.data_ptr<S>(), dh0.data_ptr<S>(), ptr(dc0));
          // dW_hh = sum_t dGH_t^T HP_t: one GEMM over all T*B rows.
          if (need_w) gemm<S>(true, false, G * H, H, T * B, dgh.data_ptr<S>(), hpv.data_ptr<S>(), S(0), dw.data_ptr<S>());
          if (need_b) {
            // db_hh = column sums of dGH over all T*B rows, accumulated in double.
            std::vector<double> acc(size_t(G * H), 0.0);
            const S* g = dgh.data_ptr<S>();
            for (int64_t r = 0; r < T * B; ++r)
              for (int64_t j = 0; j < G * H; ++j) acc[size_t(j)] += double(g[r * G * H + j]);
            db = from_vector(acc, {G * H}, dt);
          }
        });
        tensor_list r{dgi, need_h0 ? dh0 : Tensor()};
        if (lstm) r.push_back(need_c0 ? dc0 : Tensor());
        r.push_back(dw);
        if (has_b) r.push_back(db);
        return r;
      });
  return outputs;
}

}  // namespace shanshui::nn::functional
