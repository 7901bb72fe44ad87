// Fused layer norm: two passes per row for mean and variance (in double), one
// for the output; backward from the saved mean and rstd (never the normalised
// activations), with the weight and bias gradients reduced over rows.
#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/parallel.h"
#include "nn/functional.h"

namespace shanshui::nn::functional {

using autograd::SavedTensor;
using autograd::tensor_list;

namespace {

// Row reductions in double with eight independent partial sums: a single running
// double sum is a chain of dependent adds (about 4 cycles an element), while eight
// chains let the compiler keep them in vector registers.
template <class F>
double row_sum(int64_t n, F term) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += term(i + j);
  double s = 0;
  for (; i < n; ++i) s += term(i);
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

template <class T>
void ln_forward(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, int64_t rows, int64_t d,
                double eps) {
  parallel_for(rows, d * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      // Two passes (mean, then centred squares): no cancellation when |mean| >> std.
      double mean = d ? row_sum(d, [&](int64_t i) { return double(xr[i]); }) / double(d) : 0.0;
      double ss = row_sum(d, [&](int64_t i) {
        double c = double(xr[i]) - mean;
        return c * c;
      });
      double rstd = 1.0 / std::sqrt((d ? ss / double(d) : 0.0) + eps);
      mean_out[r] = T(mean);
      rstd_out[r] = T(rstd);
      T* yr = y + r * d;
      const T m = T(mean), rs = T(rstd);
      if (w && b) {
        for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * rs * w[i] + b[i];
      } else if (w) {
        for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * rs * w[i];
      } else if (b) {
        for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * rs + b[i];
      } else {
        for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * rs;
      }
    }
  });
}

// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = g * w.
template <class T>
void ln_backward(const T* x, const T* g, const T* w, const T* mean, const T* rstd, T* dx, double* dw, double* db,
                 int64_t rows, int64_t d) {
  if (dx) {
    parallel_for(rows, d * 6, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * d;
        const T* gr = g + r * d;
        const double m = double(mean[r]), rs = double(rstd[r]);
        double s1, s2;
        if (w) {
          s1 = row_sum(d, [&](int64_t i) { return double(gr[i]) * double(w[i]); });
          s2 = row_sum(d, [&](int64_t i) { return double(gr[i]) * double(w[i]) * (double(xr[i]) - m); });
        } else {
          s1 = row_sum(d, [&](int64_t i) { return double(gr[i]); });
          s2 = row_sum(d, [&](int64_t i) { return double(gr[i]) * (double(xr[i]) - m); });
        }
        // In T from here: dx = a * dxhat + (b * (x - mean) + c), the row constants in double
        // (x - mean is taken before scaling, so a large mean does not cancel).
        const double bb = -rs * rs * rs * s2 / double(d), c = -rs * s1 / double(d);
        const T ta = T(rs), tb = T(bb), tc = T(c), tm = T(m);
        T* out = dx + r * d;
        if (w) {
          for (int64_t i = 0; i < d; ++i) out[i] = ta * (gr[i] * w[i]) + (tb * (xr[i] - tm) + tc);
        } else {
          for (int64_t i = 0; i < d; ++i) out[i] = ta * gr[i] + (tb * (xr[i] - tm) + tc);
        }
      }
    });
  }
  if (dw || db) {
    // Column sums over rows, split by column blocks so each thread owns its columns
    // (deterministic, no partial buffers); rows are walked in order within a block.
    const int64_t block = 64;
    parallel_for((d + block - 1) / block, rows * block * 3, [&](int64_t c0, int64_t c1) {
      const int64_t lo = c0 * block, hi = std::min(d, c1 * block);
      for (int64_t r = 0; r < rows; ++r) {
        const T* xr = x + r * d;
        const T* gr = g + r * d;
        const double m = double(mean[r]), rs = double(rstd[r]);
        if (dw)
          for (int64_t i = lo; i < hi; ++i) dw[i] += double(gr[i]) * ((double(xr[i]) - m) * rs);
        if (db)
          for (int64_t i = lo; i < hi; ++i) db[i] += double(gr[i]);
      }
    });
  }
}

}  // namespace

Tensor layer_norm(const Tensor& x_in, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const int64_t k = int64_t(normalized_shape.size());
  SS_CHECK(k >= 1 && x_in.dim() >= k, ValueError, "layer_norm: normalized_shape ", normalized_shape,
           " needs an input with at least ", k, " dims, got shape ", x_in.shape());
  SS_CHECK(Shape(x_in.shape().end() - k, x_in.shape().end()) == normalized_shape, ValueError,
           "layer_norm: input shape ", x_in.shape(), " does not end with normalized_shape ", normalized_shape);
  SS_CHECK(x_in.is_floating_point(), TypeError, "layer_norm: expected a floating-point input, got ",
           dtype_name(x_in.dtype()));
  if (weight.defined())
    SS_CHECK(weight.shape() == normalized_shape && weight.dtype() == x_in.dtype(), ValueError,
             "layer_norm: weight of shape ", weight.shape(), " does not match normalized_shape ", normalized_shape);
  if (bias.defined())
    SS_CHECK(bias.shape() == normalized_shape && bias.dtype() == x_in.dtype(), ValueError,
             "layer_norm: bias of shape ", bias.shape(), " does not match normalized_shape ", normalized_shape);
  const int64_t d = numel_of(normalized_shape);
  const int64_t rows = d ? x_in.numel() / d : 0;
  Tensor x = x_in.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = empty(x.shape(), x.dtype());
  Tensor mean = empty({rows}, x.dtype()), rstd = empty({rows}, x.dtype());
  SS_DISPATCH_FLOAT(x.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    ln_forward<T>(x.data_ptr<T>(), w.defined() ? w.data_ptr<T>() : nullptr, b.defined() ? b.data_ptr<T>() : nullptr,
                  y.data_ptr<T>(), mean.data_ptr<T>(), rstd.data_ptr<T>(), rows, d, eps);
  });
  if (autograd::needs_grad({&x_in, &weight, &bias})) {
    SavedTensor sx(x), sw(w), smean(mean), srstd(rstd);
    bool need_x = x_in.requires_grad(), need_w = weight.defined() && weight.requires_grad(),
         need_b = bias.defined() && bias.requires_grad();
    std::vector<Tensor> inputs{x_in};
    if (weight.defined()) inputs.push_back(weight);
    if (bias.defined()) inputs.push_back(bias);
    bool has_w = weight.defined();
    autograd::record("LayerNormBackward", inputs, y,
                     [sx, sw, smean, srstd, need_x, need_w, need_b, has_w, rows, d, ns = normalized_shape](const Tensor& g_in) {
                       Tensor xs = sx.unpack(), ws = sw.unpack(), m = smean.unpack(), rs = srstd.unpack();
                       Tensor g = g_in.contiguous();
                       Tensor dx = need_x ? empty(xs.shape(), xs.dtype()) : Tensor();
                       std::vector<double> dw(need_w ? size_t(d) : 0, 0.0), db(need_b ? size_t(d) : 0, 0.0);
                       SS_DISPATCH_FLOAT(xs.dtype(), "layer_norm_backward", [&](auto tag) {
                         using T = decltype(tag);
                         ln_backward<T>(xs.data_ptr<T>(), g.data_ptr<T>(), ws.defined() ? ws.data_ptr<T>() : nullptr,
                                        m.data_ptr<T>(), rs.data_ptr<T>(), need_x ? dx.data_ptr<T>() : nullptr,
                                        need_w ? dw.data() : nullptr, need_b ? db.data() : nullptr, rows, d);
                       });
                       tensor_list r{dx};
                       if (has_w) r.push_back(need_w ? from_vector(dw, ns, xs.dtype()) : Tensor());
                       if (need_b) r.push_back(from_vector(db, ns, xs.dtype()));
                       return r;
                     });
  }
  return y;
}

}  // namespace shanshui::nn::functional
