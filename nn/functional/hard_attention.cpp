#include "nn/hard_attention.h"

#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "core/ops.h"

namespace shanshui::nn::functional {

namespace {
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op, const Shape& shape) {
  SS_CHECK(ndim > 0 && dim >= -ndim && dim < ndim, IndexError, op, ": dim ", dim, " is out of range for a tensor of shape ",
           shape);
  return dim < 0 ? dim + ndim : dim;
}

// The one-hot of `index` (keepdim form, int64) along `dim`, shaped like `like`.
Tensor one_hot_along(const Tensor& like, int64_t dim, const Tensor& index) {
  return scatter_add(zeros_like(like), dim, index, ones(index.shape(), like.dtype()));
}
}  // namespace

Tensor gumbel_softmax(const Tensor& logits, double tau, bool hard, int64_t dim) {
  SS_CHECK(logits.is_floating_point(), TypeError, "gumbel_softmax: expected floating-point logits, got ",
           dtype_name(logits.dtype()));
  SS_CHECK(tau > 0.0, ValueError, "gumbel_softmax: tau must be positive, got ", tau);
  dim = wrap_dim(dim, logits.dim(), "gumbel_softmax", logits.shape());
  Tensor gumbels;
  {
    NoGradGuard ng;
    // g = -log(E), E ~ Exp(1) = -log(1 - U); E is clamped away from 0 so a draw of
    // U = 0 gives a large finite g rather than inf.
    Tensor e = neg(log(rsub(rand(logits.shape(), logits.dtype()), 1.0)));
    double tiny = logits.dtype() == DType::Float32 ? double(std::numeric_limits<float>::min())
                                                   : std::numeric_limits<double>::min();
    gumbels = neg(log(clamp(e, tiny, std::nullopt)));
  }
  Tensor y_soft = softmax((logits + gumbels) / tau, dim);
  if (!hard) return y_soft;
  Tensor index = argmax(y_soft.detach(), dim, /*keepdim=*/true);
  Tensor y_hard = one_hot_along(y_soft.detach(), dim, index);
  return y_hard - y_soft.detach() + y_soft;
}

std::pair<Tensor, Tensor> hard_attention(const Tensor& p, int64_t dim, bool straight_through) {
  SS_CHECK(p.is_floating_point(), TypeError, "hard_attention: expected floating-point attention weights, got ",
           dtype_name(p.dtype()));
  dim = wrap_dim(dim, p.dim(), "hard_attention", p.shape());
  const int64_t K = p.size(dim);
  SS_CHECK(K > 0, ValueError, "hard_attention: attention weights of shape ", p.shape(), " have no keys along dim ", dim);
  Tensor index, hard;
  {
    NoGradGuard ng;
    // Move `dim` last (the other dims keep their order) and sample row by row.
    std::vector<int64_t> perm;
    Shape rest;
    for (int64_t d = 0; d < p.dim(); ++d)
      if (d != dim) {
        perm.push_back(d);
        rest.push_back(p.size(d));
      }
    perm.push_back(dim);
    Tensor rows = p.detach().permute(perm).reshape({-1, K});
    SS_CHECK(!any(isnan(rows)).item<bool>() && amin(rows).item_double() >= 0.0, ValueError,
             "hard_attention: attention weights must be non-negative and not NaN");
    index = multinomial(rows, 1, false).reshape(rest);
    hard = one_hot_along(p.detach(), dim, index.unsqueeze(dim));
  }
  if (straight_through) return {index, hard - p.detach() + p};
  return {index, hard};
}

}  // namespace shanshui::nn::functional
