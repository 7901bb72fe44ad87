// unfold (im2col) and fold (col2im): each is the other's backward, so conv2d
// built on unfold + GEMM gets its input gradient from fold for free.
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/parallel.h"
#include "nn/functional/vision.h"

namespace shanshui::nn::functional {

using autograd::tensor_list;

namespace {

struct Geom {
  int64_t C, H, W, kh, kw, dh, dw, ph, pw, sh, sw, OH, OW;
};

void check_sizes(const char* op, Size2 k, Size2 d, Size2 p, Size2 s, const Shape& shape) {
  SS_CHECK(k[0] > 0 && k[1] > 0, ValueError, op, ": kernel_size must be positive, got (", k[0], ", ", k[1],
           ") for input of shape ", shape);
  SS_CHECK(d[0] > 0 && d[1] > 0, ValueError, op, ": dilation must be positive, got (", d[0], ", ", d[1], ")");
  SS_CHECK(s[0] > 0 && s[1] > 0, ValueError, op, ": stride must be positive, got (", s[0], ", ", s[1], ")");
  SS_CHECK(p[0] >= 0 && p[1] >= 0, ValueError, op, ": padding must be non-negative, got (", p[0], ", ", p[1], ")");
}

// Number of kernel positions along one axis, or an error naming the op when the
// (dilated) kernel does not fit the padded input.
int64_t out_len(const char* op, int64_t in, int64_t k, int64_t d, int64_t p, int64_t s, const Shape& shape) {
  int64_t span = d * (k - 1) + 1;
  SS_CHECK(in + 2 * p >= span, ValueError, op, ": kernel of size ", k, " (dilation ", d, ", effective ", span,
           ") is larger than the padded input of size ", in + 2 * p, " (input shape ", shape, ", padding ", p, ")");
  return (in + 2 * p - span) / s + 1;
}

template <class T>
void im2col(const T* x, T* cols, const Geom& g, int64_t planes) {
  const int64_t K = g.kh * g.kw, L = g.OH * g.OW;
  parallel_for(planes, K * L, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * g.H * g.W;
      T* cp = cols + p * K * L;
      for (int64_t ki = 0; ki < g.kh; ++ki)
        for (int64_t kj = 0; kj < g.kw; ++kj) {
          T* row = cp + (ki * g.kw + kj) * L;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            const int64_t ih = oh * g.sh - g.ph + ki * g.dh;
            T* r = row + oh * g.OW;
            if (ih < 0 || ih >= g.H) {
              for (int64_t ow = 0; ow < g.OW; ++ow) r[ow] = T(0);
              continue;
            }
            const T* xr = xp + ih * g.W;
            for (int64_t ow = 0; ow < g.OW; ++ow) {
              const int64_t iw = ow * g.sw - g.pw + kj * g.dw;
              r[ow] = (iw >= 0 && iw < g.W) ? xr[iw] : T(0);
            }
          }
        }
    }
  });
}

// Each (n, c) plane of the output only receives from its own rows: planes run in parallel.
template <class T>
void col2im(const T* cols, T* x, const Geom& g, int64_t planes) {
  const int64_t K = g.kh * g.kw, L = g.OH * g.OW;
  parallel_for(planes, K * L, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* xp = x + p * g.H * g.W;
      for (int64_t i = 0; i < g.H * g.W; ++i) xp[i] = T(0);
      const T* cp = cols + p * K * L;
      for (int64_t ki = 0; ki < g.kh; ++ki)
        for (int64_t kj = 0; kj < g.kw; ++kj) {
          const T* row = cp + (ki * g.kw + kj) * L;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            const int64_t ih = oh * g.sh - g.ph + ki * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            T* xr = xp + ih * g.W;
            const T* r = row + oh * g.OW;
            for (int64_t ow = 0; ow < g.OW; ++ow) {
              const int64_t iw = ow * g.sw - g.pw + kj * g.dw;
              if (iw >= 0 && iw < g.W) xr[iw] += r[ow];
            }
          }
        }
    }
  });
}

Tensor unfold_impl(const Tensor& x, const Geom& g);
Tensor fold_impl(const Tensor& cols, const Geom& g);

Tensor unfold_impl(const Tensor& x_in, const Geom& g) {
  Tensor x = x_in.contiguous();
  const int64_t N = x.size(0);
  Tensor out = empty({N, g.C * g.kh * g.kw, g.OH * g.OW}, x.dtype());
  SS_DISPATCH_FLOAT(x.dtype(), "unfold", [&](auto tag) {
    using T = decltype(tag);
    im2col<T>(x.data_ptr<T>(), out.data_ptr<T>(), g, N * g.C);
  });
  if (autograd::needs_grad(x_in))
    autograd::record("Im2ColBackward", {x_in}, out, [g](const Tensor& grad) { return tensor_list{fold_impl(grad, g)}; });
  return out;
}

Tensor fold_impl(const Tensor& c_in, const Geom& g) {
  Tensor c = c_in.contiguous();
  const int64_t N = c.size(0);
  Tensor out = empty({N, g.C, g.H, g.W}, c.dtype());
  SS_DISPATCH_FLOAT(c.dtype(), "fold", [&](auto tag) {
    using T = decltype(tag);
    col2im<T>(c.data_ptr<T>(), out.data_ptr<T>(), g, N * g.C);
  });
  if (autograd::needs_grad(c_in))
    autograd::record("Col2ImBackward", {c_in}, out, [g](const Tensor& grad) { return tensor_list{unfold_impl(grad, g)}; });
  return out;
}

}  // namespace

Tensor unfold(const Tensor& input, Size2 k, Size2 d, Size2 p, Size2 s) {
  const char* op = "unfold";
  SS_CHECK(input.defined() && (input.dim() == 3 || input.dim() == 4), ValueError, op,
           ": expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape ",
           input.defined() ? input.shape() : Shape{});
  SS_CHECK(input.is_floating_point(), TypeError, op, ": expected a floating-point input, got ",
           dtype_name(input.dtype()));
  check_sizes(op, k, d, p, s, input.shape());
  Tensor x = input.dim() == 3 ? input.unsqueeze(0) : input;
  Geom g{x.size(1), x.size(2), x.size(3), k[0], k[1], d[0], d[1], p[0], p[1], s[0], s[1], 0, 0};
  g.OH = out_len(op, g.H, g.kh, g.dh, g.ph, g.sh, input.shape());
  g.OW = out_len(op, g.W, g.kw, g.dw, g.pw, g.sw, input.shape());
  Tensor out = unfold_impl(x, g);
  return input.dim() == 3 ? out.squeeze(0) : out;
}

Tensor fold(const Tensor& input, Size2 os, Size2 k, Size2 d, Size2 p, Size2 s) {
  const char* op = "fold";
  SS_CHECK(input.defined() && (input.dim() == 2 || input.dim() == 3), ValueError, op,
           ": expected a 2-D [C * kh * kw, L] or 3-D [N, C * kh * kw, L] input, got shape ",
           input.defined() ? input.shape() : Shape{});
  SS_CHECK(input.is_floating_point(), TypeError, op, ": expected a floating-point input, got ",
           dtype_name(input.dtype()));
  check_sizes(op, k, d, p, s, input.shape());
  SS_CHECK(os[0] > 0 && os[1] > 0, ValueError, op, ": output_size must be positive, got (", os[0], ", ", os[1], ")");
  Tensor c = input.dim() == 2 ? input.unsqueeze(0) : input;
  const int64_t K = k[0] * k[1];
  SS_CHECK(c.size(1) % K == 0, ValueError, op, ": expected size of input's dimension 1 (", c.size(1),
           ") to be divisible by the product of kernel_size (", K, "), input shape ", input.shape());
  Geom g{c.size(1) / K, os[0], os[1], k[0], k[1], d[0], d[1], p[0], p[1], s[0], s[1], 0, 0};
  Shape shp{os[0], os[1]};
  g.OH = out_len(op, g.H, g.kh, g.dh, g.ph, g.sh, shp);
  g.OW = out_len(op, g.W, g.kw, g.dw, g.pw, g.sw, shp);
  SS_CHECK(c.size(2) == g.OH * g.OW, ValueError, op, ": expected input's dimension 2 to match the number of sliding ",
           "blocks ", g.OH * g.OW, " (", g.OH, " x ", g.OW, ") for output_size (", os[0], ", ", os[1],
           "), but got input shape ", input.shape());
  Tensor out = fold_impl(c, g);
  return input.dim() == 2 ? out.squeeze(0) : out;
}

}  // namespace shanshui::nn::functional
