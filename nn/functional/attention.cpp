// scaled_dot_product_attention: argument checks, broadcasting, the choice
// between the fused kernel and the composite path, and the composite path.
#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "nn/functional.h"
#include "nn/functional/attention_impl.h"

namespace shanshui::nn::functional {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

struct Prepared {
  Tensor q, k, v, mask;  // broadcast to one batch shape; mask to [batch..., L, S]
  bool causal;
  double scale;
};

Shape batch_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

Prepared prepare(const Tensor& q, const Tensor& k_in, const Tensor& v_in, const Tensor& attn_mask, double dropout_p,
                 bool is_causal, std::optional<double> scale, bool enable_gqa) {
  SS_CHECK(q.defined() && k_in.defined() && v_in.defined(), ValueError, kOp, ": query, key and value are required");
  SS_CHECK(q.dim() >= 2 && k_in.dim() >= 2 && v_in.dim() >= 2, ValueError, kOp,
           ": query, key and value need at least 2 dims ([..., L, E]), got shapes ", q.shape(), ", ", k_in.shape(),
           " and ", v_in.shape());
  SS_CHECK(q.is_floating_point(), TypeError, kOp, ": expected a floating-point query, got ", dtype_name(q.dtype()));
  SS_CHECK(k_in.dtype() == q.dtype() && v_in.dtype() == q.dtype(), TypeError, kOp,
           ": expected query, key and value to have the same dtype, got ", dtype_name(q.dtype()), ", ",
           dtype_name(k_in.dtype()), " and ", dtype_name(v_in.dtype()));
  SS_CHECK(k_in.size(-1) == q.size(-1), ValueError, kOp, ": query of shape ", q.shape(), " and key of shape ",
           k_in.shape(), " must have the same embedding size (last dim)");
  SS_CHECK(k_in.size(-2) == v_in.size(-2), ValueError, kOp, ": key of shape ", k_in.shape(), " and value of shape ",
           v_in.shape(), " must have the same sequence length (dim -2)");
  SS_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, ValueError, kOp, ": dropout_p must be in [0, 1], got ", dropout_p);
  SS_CHECK(!(is_causal && attn_mask.defined()), RuntimeError, kOp,
           ": Explicit attn_mask should not be set when is_causal=True");
  Tensor k = k_in, v = v_in;
  if (enable_gqa && q.dim() >= 3 && k.dim() >= 3 && k.size(-3) != q.size(-3)) {
    const int64_t hq = q.size(-3), hk = k.size(-3), hv = v.size(-3);
    SS_CHECK(hk > 0 && hv == hk && hq % hk == 0, ValueError, kOp, ": with enable_gqa the number of query heads (",
             hq, ", shape ", q.shape(), ") must be a multiple of the key/value heads (shapes ", k.shape(), ", ",
             v.shape(), ")");
    // repeat_interleave over the head dim: each key head serves hq / hk query heads.
    auto rep = [&](const Tensor& t) {
      Shape e = t.shape();
      e.insert(e.end() - 2, hq / hk);
      Shape r = t.shape();
      r[r.size() - 3] = hq;
      return t.unsqueeze(-3).expand(e).reshape(r);
    };
    k = rep(k);
    v = rep(v);
  }
  Shape batch;
  try {
    batch = broadcast_shapes(broadcast_shapes(batch_of(q), batch_of(k), kOp), batch_of(v), kOp);
  } catch (const ValueError&) {
    throw ValueError(cat_str(kOp, ": the batch dims of query ", q.shape(), ", key ", k.shape(), " and value ",
                             v.shape(), " cannot be broadcast together"));
  }
  auto with = [&](const Tensor& t) {
    Shape s = batch;
    s.push_back(t.size(-2));
    s.push_back(t.size(-1));
    return t.shape() == s ? t : t.expand(s);
  };
  Prepared p;
  p.q = with(q);
  p.k = with(k);
  p.v = with(v);
  p.causal = is_causal;
  p.scale = scale ? *scale : 1.0 / std::sqrt(double(q.size(-1)));
  if (attn_mask.defined()) {
    SS_CHECK(attn_mask.dtype() == DType::Bool || attn_mask.dtype() == q.dtype(), TypeError, kOp,
             ": attn_mask must be bool or have the query's dtype (", dtype_name(q.dtype()), "), got ",
             dtype_name(attn_mask.dtype()));
    Shape scores = batch;
    scores.push_back(q.size(-2));
    scores.push_back(k.size(-2));
    bool ok = attn_mask.dim() <= int64_t(scores.size());
    if (ok) {
      try {
        ok = broadcast_shapes(attn_mask.shape(), scores, kOp) == scores;
      } catch (const ValueError&) {
        ok = false;
      }
    }
    SS_CHECK(ok, ValueError, kOp, ": attn_mask of shape ", attn_mask.shape(),
             " cannot be broadcast to the attention scores' shape ", scores, " (query ", q.shape(), ", key ",
             k.shape(), ")");
    p.mask = attn_mask.shape() == scores ? attn_mask : attn_mask.expand(scores);
  }
  return p;
}

std::pair<Tensor, Tensor> composite(const Prepared& p, double dropout_p) {
  Tensor w = detail::attention_weights(p.q, p.k, p.mask, p.causal, p.scale);
  if (dropout_p > 0.0) w = dropout(w, dropout_p, true);
  return {matmul(w, p.v), w};
}

}  // namespace

namespace detail {

Tensor attention_weights(const Tensor& q, const Tensor& k, const Tensor& mask, bool is_causal, double scale) {
  const double ninf = -std::numeric_limits<double>::infinity();
  Tensor s = matmul(q, k.mT()) * scale;
  if (is_causal) {
    const int64_t L = q.size(-2), S = k.size(-2);
    Tensor hidden = gt(arange(S).unsqueeze(0), arange(L).unsqueeze(1));  // key j > query i
    s = masked_fill(s, hidden, ninf);
  }
  if (mask.defined()) s = mask.dtype() == DType::Bool ? masked_fill(s, logical_not(mask), ninf) : s + mask;
  Tensor dead;
  {
    NoGradGuard ng;
    dead = s.size(-1) == 0 ? Tensor() : eq(amax(s.detach(), {-1}, true), ninf);
  }
  if (!dead.defined() || !any(dead).item<bool>()) return softmax(s, -1);
  // Rows with no visible key: softmax over zeros, then zeroed, so values and
  // gradients stay finite (a softmax over all -inf would give NaN).
  return masked_fill(softmax(masked_fill(s, dead, 0.0), -1), dead, 0.0);
}

}  // namespace detail

Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale, bool enable_gqa) {
  Prepared p = prepare(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa);
  // A float mask that requires grad gets its gradient (dS) from the composite
  // path; the fused kernel never materialises dS.
  const bool mask_grad = p.mask.defined() && p.mask.requires_grad() && autograd::GradMode::is_enabled();
  if (dropout_p > 0.0 || mask_grad) return composite(p, dropout_p).first;
  return detail::flash_attention(p.q, p.k, p.v, p.mask, p.causal, p.scale);
}

std::pair<Tensor, Tensor> scaled_dot_product_attention_with_weights(const Tensor& query, const Tensor& key,
                                                                    const Tensor& value, const Tensor& attn_mask,
                                                                    double dropout_p, bool is_causal,
                                                                    std::optional<double> scale, bool enable_gqa) {
  return composite(prepare(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa), dropout_p);
}

Tensor scaled_dot_product_attention_math(const Tensor& query, const Tensor& key, const Tensor& value,
                                         const Tensor& attn_mask, double dropout_p, bool is_causal,
                                         std::optional<double> scale, bool enable_gqa) {
  return composite(prepare(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa), dropout_p).first;
}

Tensor scaled_dot_product_attention_flash(const Tensor& query, const Tensor& key, const Tensor& value,
                                          const Tensor& attn_mask, bool is_causal, std::optional<double> scale,
                                          bool enable_gqa) {
  Prepared p = prepare(query, key, value, attn_mask, 0.0, is_causal, scale, enable_gqa);
  return detail::flash_attention(p.q, p.k, p.v, p.mask, p.causal, p.scale);
}

}  // namespace shanshui::nn::functional
