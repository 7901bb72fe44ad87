// 2-D pooling: max (with torch's flat argmax indices, kept for backward),
// average (count_include_pad, divisor_override, ceil_mode as torch) and
// adaptive average. Planes (n, c) are independent, so loops run over planes.
#include <cmath>
#include <limits>

#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/parallel.h"
#include "nn/functional/vision.h"

namespace shanshui::nn::functional {

using autograd::SavedTensor;
using autograd::tensor_list;

namespace {

struct PoolGeom {
  int64_t planes, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW;
};

// torch's pooling_output_shape: with ceil_mode the last window must start inside the input or left padding.
int64_t pool_out(const char* op, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode,
                 const Shape& shape) {
  const int64_t span = d * (k - 1) + 1;
  SS_CHECK(in + 2 * p >= span, ValueError, op, ": kernel of size ", k, " (effective ", span,
           ") is larger than the padded input of size ", in + 2 * p, " (input shape ", shape, ", padding ", p, ")");
  int64_t num = in + 2 * p - span + (ceil_mode ? s - 1 : 0);
  int64_t out = num / s + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

PoolGeom make_geom(const char* op, const Tensor& x, Size2 k, std::optional<Size2> stride, Size2 p, Size2 d,
                   bool ceil_mode) {
  SS_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), ValueError, op,
           ": expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape ", x.defined() ? x.shape() : Shape{});
  SS_CHECK(x.is_floating_point(), TypeError, op, ": expected a floating-point input, got ", dtype_name(x.dtype()));
  Size2 s = stride ? *stride : k;
  SS_CHECK(k[0] > 0 && k[1] > 0, ValueError, op, ": kernel_size must be positive, got (", k[0], ", ", k[1],
           ") for input of shape ", x.shape());
  SS_CHECK(s[0] > 0 && s[1] > 0, ValueError, op, ": stride must be positive, got (", s[0], ", ", s[1], ")");
  SS_CHECK(d[0] > 0 && d[1] > 0, ValueError, op, ": dilation must be positive, got (", d[0], ", ", d[1], ")");
  SS_CHECK(p[0] >= 0 && p[1] >= 0 && p[0] * 2 <= k[0] && p[1] * 2 <= k[1], ValueError, op,
           ": padding must be non-negative and at most half the kernel size, got padding (", p[0], ", ", p[1],
           ") for kernel_size (", k[0], ", ", k[1], ")");
  const int64_t H = x.size(-2), W = x.size(-1);
  PoolGeom g{x.numel() / std::max<int64_t>(H * W, 1), H, W, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], 0, 0};
  if (H * W == 0) g.planes = 0;
  g.OH = pool_out(op, H, g.kh, g.sh, g.ph, g.dh, ceil_mode, x.shape());
  g.OW = pool_out(op, W, g.kw, g.sw, g.pw, g.dw, ceil_mode, x.shape());
  return g;
}

Shape out_shape(const Tensor& x, int64_t OH, int64_t OW) {
  Shape s = x.shape();
  s[s.size() - 2] = OH;
  s[s.size() - 1] = OW;
  return s;
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, Size2 k, std::optional<Size2> stride,
                                                  Size2 p, Size2 d, bool ceil_mode) {
  const char* op = "max_pool2d";
  PoolGeom g = make_geom(op, input, k, stride, p, d, ceil_mode);
  Tensor x = input.contiguous();
  Tensor out = empty(out_shape(x, g.OH, g.OW), x.dtype());
  Tensor ind = empty(out.shape(), DType::Int64);
  SS_DISPATCH_FLOAT(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    T* op_ = out.data_ptr<T>();
    int64_t* ip = ind.data_ptr<int64_t>();
    parallel_for(g.planes, g.OH * g.OW * g.kh * g.kw, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl) {
        const T* xpl = xp + pl * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            T best = -std::numeric_limits<T>::infinity();
            int64_t bi = -1;
            for (int64_t i = 0; i < g.kh; ++i) {
              const int64_t ih = oh * g.sh - g.ph + i * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t iw = ow * g.sw - g.pw + j * g.dw;
                if (iw < 0 || iw >= g.W) continue;
                const T v = xpl[ih * g.W + iw];
                if (bi < 0 || v > best || std::isnan(v)) {  // NaN wins, as torch
                  best = v;
                  bi = ih * g.W + iw;
                  if (std::isnan(v)) goto done;
                }
              }
            }
          done:
            const int64_t o = (pl * g.OH + oh) * g.OW + ow;
            op_[o] = best;
            ip[o] = bi < 0 ? 0 : bi;
          }
      }
    });
  });
  if (autograd::needs_grad(input)) {
    SavedTensor si(ind);
    Shape in_shape = input.shape();
    autograd::record("MaxPool2DBackward", {input}, out, [si, in_shape, g](const Tensor& g_in) {
      Tensor gr = g_in.contiguous(), idx = si.unpack();
      Tensor dx = zeros(in_shape, gr.dtype());
      const int64_t* ip = idx.data_ptr<int64_t>();
      SS_DISPATCH_FLOAT(gr.dtype(), "max_pool2d_backward", [&](auto tag) {
        using T = decltype(tag);
        const T* gp = gr.data_ptr<T>();
        T* dp = dx.data_ptr<T>();
        parallel_for(g.planes, g.OH * g.OW, [&](int64_t p0, int64_t p1) {
          for (int64_t pl = p0; pl < p1; ++pl)
            for (int64_t o = 0; o < g.OH * g.OW; ++o)
              dp[pl * g.H * g.W + ip[pl * g.OH * g.OW + o]] += gp[pl * g.OH * g.OW + o];
        });
      });
      return tensor_list{dx};
    });
  }
  return {out, ind};
}

Tensor max_pool2d(const Tensor& input, Size2 k, std::optional<Size2> stride, Size2 p, Size2 d, bool ceil_mode) {
  return max_pool2d_with_indices(input, k, stride, p, d, ceil_mode).first;
}

Tensor avg_pool2d(const Tensor& input, Size2 k, std::optional<Size2> stride, Size2 p, bool ceil_mode,
                  bool count_include_pad, std::optional<int64_t> divisor_override) {
  const char* op = "avg_pool2d";
  PoolGeom g = make_geom(op, input, k, stride, p, {1, 1}, ceil_mode);
  if (divisor_override) SS_CHECK(*divisor_override != 0, ValueError, op, ": divisor_override must be non-zero");
  Tensor x = input.contiguous();
  Tensor out = empty(out_shape(x, g.OH, g.OW), x.dtype());
  // The window of output (oh, ow) and its divisor, as torch's avg_pool2d kernel.
  auto window = [g, count_include_pad, divisor_override](int64_t oh, int64_t ow, int64_t& h0, int64_t& h1, int64_t& w0,
                                                         int64_t& w1) {
    h0 = oh * g.sh - g.ph;
    w0 = ow * g.sw - g.pw;
    h1 = std::min(h0 + g.kh, g.H + g.ph);
    w1 = std::min(w0 + g.kw, g.W + g.pw);
    const int64_t pool = (h1 - h0) * (w1 - w0);
    h0 = std::max<int64_t>(h0, 0);
    w0 = std::max<int64_t>(w0, 0);
    h1 = std::min(h1, g.H);
    w1 = std::min(w1, g.W);
    if (divisor_override) return double(*divisor_override);
    return double(count_include_pad ? pool : (h1 - h0) * (w1 - w0));
  };
  SS_DISPATCH_FLOAT(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    T* o = out.data_ptr<T>();
    parallel_for(g.planes, g.OH * g.OW * g.kh * g.kw, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl)
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            int64_t h0, h1, w0, w1;
            const double div = window(oh, ow, h0, h1, w0, w1);
            double s = 0;
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) s += double(xp[(pl * g.H + ih) * g.W + iw]);
            o[(pl * g.OH + oh) * g.OW + ow] = T(s / div);
          }
    });
  });
  if (autograd::needs_grad(input)) {
    Shape in_shape = input.shape();
    autograd::record("AvgPool2DBackward", {input}, out, [in_shape, g, window](const Tensor& g_in) {
      Tensor gr = g_in.contiguous();
      Tensor dx = zeros(in_shape, gr.dtype());
      SS_DISPATCH_FLOAT(gr.dtype(), "avg_pool2d_backward", [&](auto tag) {
        using T = decltype(tag);
        const T* gp = gr.data_ptr<T>();
        T* dp = dx.data_ptr<T>();
        parallel_for(g.planes, g.OH * g.OW * g.kh * g.kw, [&](int64_t p0, int64_t p1) {
          for (int64_t pl = p0; pl < p1; ++pl)
            for (int64_t oh = 0; oh < g.OH; ++oh)
              for (int64_t ow = 0; ow < g.OW; ++ow) {
                int64_t h0, h1, w0, w1;
                const T v = T(double(gp[(pl * g.OH + oh) * g.OW + ow]) / window(oh, ow, h0, h1, w0, w1));
                for (int64_t ih = h0; ih < h1; ++ih)
                  for (int64_t iw = w0; iw < w1; ++iw) dp[(pl * g.H + ih) * g.W + iw] += v;
              }
        });
      });
      return tensor_list{dx};
    });
  }
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& input, Size2 os) {
  const char* op = "adaptive_avg_pool2d";
  SS_CHECK(input.defined() && (input.dim() == 3 || input.dim() == 4), ValueError, op,
           ": expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape ",
           input.defined() ? input.shape() : Shape{});
  SS_CHECK(input.is_floating_point(), TypeError, op, ": expected a floating-point input, got ",
           dtype_name(input.dtype()));
  SS_CHECK(os[0] > 0 && os[1] > 0, ValueError, op, ": output_size must be positive, got (", os[0], ", ", os[1], ")");
  const int64_t H = input.size(-2), W = input.size(-1);
  SS_CHECK(H > 0 && W > 0, ValueError, op, ": input of shape ", input.shape(), " has an empty spatial dim");
  const int64_t planes = input.numel() / (H * W), OH = os[0], OW = os[1];
  Tensor x = input.contiguous();
  Tensor out = empty(out_shape(x, OH, OW), x.dtype());
  // Window i covers [floor(i * H / OH), ceil((i + 1) * H / OH)).
  auto start = [](int64_t i, int64_t in, int64_t o) { return (i * in) / o; };
  auto end = [](int64_t i, int64_t in, int64_t o) { return ((i + 1) * in + o - 1) / o; };
  SS_DISPATCH_FLOAT(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    T* o = out.data_ptr<T>();
    parallel_for(planes, H * W, [&](int64_t p0, int64_t p1) {
      for (int64_t pl = p0; pl < p1; ++pl)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t h0 = start(oh, H, OH), h1 = end(oh, H, OH), w0 = start(ow, W, OW), w1 = end(ow, W, OW);
            double s = 0;
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) s += double(xp[(pl * H + ih) * W + iw]);
            o[(pl * OH + oh) * OW + ow] = T(s / double((h1 - h0) * (w1 - w0)));
          }
    });
  });
  if (autograd::needs_grad(input)) {
    Shape in_shape = input.shape();
    autograd::record("AdaptiveAvgPool2DBackward", {input}, out,
                     [in_shape, planes, H, W, OH, OW, start, end](const Tensor& g_in) {
      Tensor gr = g_in.contiguous();
      Tensor dx = zeros(in_shape, gr.dtype());
      SS_DISPATCH_FLOAT(gr.dtype(), "adaptive_avg_pool2d_backward", [&](auto tag) {
        using T = decltype(tag);
        const T* gp = gr.data_ptr<T>();
        T* dp = dx.data_ptr<T>();
        parallel_for(planes, H * W, [&](int64_t p0, int64_t p1) {
          for (int64_t pl = p0; pl < p1; ++pl)
            for (int64_t oh = 0; oh < OH; ++oh)
              for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t h0 = start(oh, H, OH), h1 = end(oh, H, OH), w0 = start(ow, W, OW), w1 = end(ow, W, OW);
                const T v = T(double(gp[(pl * OH + oh) * OW + ow]) / double((h1 - h0) * (w1 - w0)));
                for (int64_t ih = h0; ih < h1; ++ih)
                  for (int64_t iw = w0; iw < w1; ++iw) dp[(pl * H + ih) * W + iw] += v;
              }
        });
      });
      return tensor_list{dx};
    });
  }
  return out;
}

}  // namespace shanshui::nn::functional
