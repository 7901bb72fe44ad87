// Fused layer norm: one pass per row for mean and variance (in double), one
// for the output; backward from the saved mean and rstd (never the normalised
// activations), with the weight and bias gradients reduced over rows.
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

template <class T>
void ln_forward(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, int64_t rows, int64_t d,
                double eps) {
  parallel_for(rows, d * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      double s = 0, ss = 0;
      for (int64_t i = 0; i < d; ++i) s += double(xr[i]);
      double mean = d ? s / double(d) : 0.0;
      for (int64_t i = 0; i < d; ++i) {
        double c = double(xr[i]) - mean;
        ss += c * c;
      }
      double rstd = 1.0 / std::sqrt((d ? ss / double(d) : 0.0) + eps);
      mean_out[r] = T(mean);
      rstd_out[r] = T(rstd);
      T* yr = y + r * d;
      const T m = T(mean), rs = T(rstd);
      if (w && b) {
        for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * rs * w[i] + b[i];
      } else if (w) {
        for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * rs * w[i];
      } else {
        for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * rs + (b ? b[i] : T(0));
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
        double s1 = 0, s2 = 0;
        for (int64_t i = 0; i < d; ++i) {
          double dxh = double(gr[i]) * (w ? double(w[i]) : 1.0);
          s1 += dxh;
          s2 += dxh * (double(xr[i]) - m) * rs;
        }
        s1 /= double(d);
        s2 /= double(d);
        T* out = dx + r * d;
        for (int64_t i = 0; i < d; ++i) {
          double xh = (double(xr[i]) - m) * rs;
          double dxh = double(gr[i]) * (w ? double(w[i]) : 1.0);
          out[i] = T(rs * (dxh - s1 - xh * s2));
        }
      }
    });
  }
  if (dw || db) {
    // Column sums over rows: rows are walked in order, so memory access stays sequential.
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * d;
      const T* gr = g + r * d;
      const double m = double(mean[r]), rs = double(rstd[r]);
      if (dw)
        for (int64_t i = 0; i < d; ++i) dw[i] += double(gr[i]) * (double(xr[i]) - m) * rs;
      if (db)
        for (int64_t i = 0; i < d; ++i) db[i] += double(gr[i]);
    }
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
