// Losses. cross_entropy with class-index targets is one fused kernel
// (log-softmax + weighted NLL + label smoothing) whose backward is
// softmax * sum(q) - q per row, with q the weighted target distribution.
#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/parallel.h"
#include "nn/functional.h"

namespace shanshui::nn::functional {

using autograd::SavedTensor;
using autograd::tensor_list;

namespace {

void check_reduction(const char* op, const std::string& r) {
  SS_CHECK(r == "mean" || r == "sum" || r == "none", ValueError, op, ": reduction must be 'mean', 'sum' or 'none', got '",
           r, "'");
}

Tensor reduce(const Tensor& l, const std::string& r) {
  if (r == "none") return l;
  return r == "sum" ? l.sum() : l.mean();
}

// [N, C, d1, ...] -> [N * d1 * ..., C] (class dim last), and the matching target [N, d1, ...] -> [N * d1 * ...].
Tensor classes_last(const Tensor& x) {
  if (x.dim() <= 2) return x.dim() == 1 ? x.unsqueeze(0) : x;
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < x.dim(); ++i) perm.push_back(i);
  perm.push_back(1);
  return x.permute(perm).reshape({-1, x.size(1)});
}

// Fused forward/backward over rows of logits [R, C].
template <class T>
void ce_rows(const T* z, const int64_t* y, const T* w, T* loss_rows, T* probs, double* weight_rows, int64_t R,
             int64_t C, int64_t ignore, double eps) {
  parallel_for(R, C * 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* zr = z + r * C;
      const int64_t t = y[r];
      if (t == ignore) {
        loss_rows[r] = 0;
        weight_rows[r] = 0;
        for (int64_t c = 0; c < C; ++c) probs[r * C + c] = 0;
        continue;
      }
      double mx = -INFINITY;
      for (int64_t c = 0; c < C; ++c) mx = std::max(mx, double(zr[c]));
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += std::exp(double(zr[c]) - mx);
      const double lse = mx + std::log(s);
      const double wt = w ? double(w[t]) : 1.0;
      double l = -(1.0 - eps) * wt * (double(zr[t]) - lse);
      if (eps > 0) {
        double sm = 0;
        for (int64_t c = 0; c < C; ++c) sm += (w ? double(w[c]) : 1.0) * (double(zr[c]) - lse);
        l -= eps * sm / double(C);
      }
      loss_rows[r] = T(l);
      weight_rows[r] = wt;
      for (int64_t c = 0; c < C; ++c) probs[r * C + c] = T(std::exp(double(zr[c]) - lse));
    }
  });
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     const std::string& reduction, double label_smoothing) {
  check_reduction("cross_entropy", reduction);
  SS_CHECK(input.is_floating_point(), TypeError, "cross_entropy: input must be floating point, got ",
           dtype_name(input.dtype()));
  SS_CHECK(input.dim() >= 1, ValueError, "cross_entropy: input must have at least 1 dim (classes), got shape ",
           input.shape());
  SS_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, ValueError,
           "cross_entropy: label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  const int64_t C = input.dim() == 1 ? input.size(0) : input.size(1);
  if (weight.defined())
    SS_CHECK(weight.dim() == 1 && weight.size(0) == C, ValueError, "cross_entropy: weight of shape ", weight.shape(),
             " must be 1-D with one entry per class (", C, ")");

  if (target.is_floating_point()) {
    // Class probabilities: a differentiable composite (PyTorch divides the mean by the batch size here).
    SS_CHECK(target.shape() == input.shape(), ValueError, "cross_entropy: probability target of shape ",
             target.shape(), " must match the input shape ", input.shape());
    int64_t cdim = input.dim() == 1 ? 0 : 1;
    Tensor logp = log_softmax(input, cdim);
    Tensor q = label_smoothing > 0 ? target.mul(1.0 - label_smoothing).add(label_smoothing / double(C)) : target;
    Tensor prod = logp.mul(q);
    if (weight.defined()) {
      Shape ws(size_t(input.dim()), 1);
      ws[size_t(cdim)] = C;
      prod = prod.mul(weight.reshape(ws));
    }
    Tensor l = prod.sum({cdim}).neg();
    return reduce(l, reduction);
  }

  SS_CHECK(target.dtype() == DType::Int64, TypeError, "cross_entropy: class-index target must be int64, got ",
           dtype_name(target.dtype()));
  Shape expected = input.shape();
  if (input.dim() >= 2) expected.erase(expected.begin() + 1);
  else expected.clear();
  SS_CHECK(target.shape() == expected, ValueError, "cross_entropy: target of shape ", target.shape(),
           " does not match input of shape ", input.shape(), " (expected target shape ", expected, ")");

  Tensor z = classes_last(input).contiguous();
  Tensor y = target.reshape({-1}).contiguous();
  const int64_t R = z.size(0);
  {
    const int64_t* yp = y.data_ptr<int64_t>();
    for (int64_t r = 0; r < R; ++r)
      SS_CHECK(yp[r] == ignore_index || (yp[r] >= 0 && yp[r] < C), IndexError, "cross_entropy: target ", yp[r],
               " is out of bounds for ", C, " classes");
  }
  Tensor w = weight.defined() ? weight.to(z.dtype()).contiguous() : Tensor();
  Tensor loss_rows = empty({R}, z.dtype());
  Tensor probs = empty({R, C}, z.dtype());
  std::vector<double> wrow(static_cast<size_t>(R));
  SS_DISPATCH_FLOAT(z.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    ce_rows<T>(z.data_ptr<T>(), y.data_ptr<int64_t>(), w.defined() ? w.data_ptr<T>() : nullptr,
               loss_rows.data_ptr<T>(), probs.data_ptr<T>(), wrow.data(), R, C, ignore_index, label_smoothing);
  });
  double wsum = 0;
  for (double v : wrow) wsum += v;

  Tensor out;
  if (reduction == "none") {
    out = loss_rows.reshape(target.shape());
  } else {
    autograd::NoGradGuard ng;
    out = loss_rows.sum();
    if (reduction == "mean") out = out.div(wsum);  // all ignored: 0/0 = nan, as PyTorch
  }
  if (autograd::needs_grad(input)) {
    SavedTensor sp(probs), sy(y), sw(w);
    Shape in_shape = input.shape();
    autograd::record("CrossEntropyBackward", {input}, out,
                     [sp, sy, sw, in_shape, reduction, wsum, ignore_index, label_smoothing, C, R,
                      nd = input.dim()](const Tensor& g) {
                       Tensor p = sp.unpack(), yy = sy.unpack(), ww = sw.unpack();
                       Tensor grad = empty(p.shape(), p.dtype());
                       Tensor gr = reduction == "none" ? g.reshape({-1}).contiguous().to(p.dtype())
                                                       : g.to(p.dtype()).contiguous();
                       SS_DISPATCH_FLOAT(p.dtype(), "cross_entropy_backward", [&](auto tag) {
                         using T = decltype(tag);
                         const T* pp = p.data_ptr<T>();
                         const int64_t* yp = yy.data_ptr<int64_t>();
                         const T* wp = ww.defined() ? ww.data_ptr<T>() : nullptr;
                         const T* gp = gr.data_ptr<T>();
                         T* out = grad.data_ptr<T>();
                         const double scale_all = reduction == "mean" ? 1.0 / wsum : 1.0;
                         parallel_for(R, C * 4, [&](int64_t r0, int64_t r1) {
                           for (int64_t r = r0; r < r1; ++r) {
                             const int64_t t = yp[r];
                             T* o = out + r * C;
                             if (t == ignore_index) {
                               for (int64_t c = 0; c < C; ++c) o[c] = 0;
                               continue;
                             }
                             const double gs = double(reduction == "none" ? gp[r] : gp[0]) * scale_all;
                             // q_c = (1-eps) w_t [c == t] + eps w_c / C ; grad = gs * (p_c * sum(q) - q_c)
                             const double wt = wp ? double(wp[t]) : 1.0;
                             double qsum = (1.0 - label_smoothing) * wt;
                             if (label_smoothing > 0) {
                               double sw_all = 0;
                               for (int64_t c = 0; c < C; ++c) sw_all += wp ? double(wp[c]) : 1.0;
                               qsum += label_smoothing * sw_all / double(C);
                             }
                             for (int64_t c = 0; c < C; ++c) {
                               double q = label_smoothing * (wp ? double(wp[c]) : 1.0) / double(C);
                               if (c == t) q += (1.0 - label_smoothing) * wt;
                               o[c] = T(gs * (double(pp[r * C + c]) * qsum - q));
                             }
                           }
                         });
                       });
                       // Back to the input layout: [R, C] -> [N, d..., C] -> [N, C, d...].
                       if (nd == 1) return tensor_list{grad.reshape(in_shape)};
                       if (nd == 2) return tensor_list{grad};
                       Shape perm_shape{in_shape[0]};
                       for (size_t i = 2; i < in_shape.size(); ++i) perm_shape.push_back(in_shape[i]);
                       perm_shape.push_back(C);
                       std::vector<int64_t> back{0, int64_t(in_shape.size()) - 1};
                       for (int64_t i = 1; i < int64_t(in_shape.size()) - 1; ++i) back.push_back(i);
                       return tensor_list{grad.reshape(perm_shape).permute(back).contiguous()};
                     });
  }
  return out;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                const std::string& reduction) {
  check_reduction("nll_loss", reduction);
  SS_CHECK(target.dtype() == DType::Int64, TypeError, "nll_loss: target must be int64 class indices, got ",
           dtype_name(target.dtype()));
  SS_CHECK(log_probs.dim() >= 1, ValueError, "nll_loss: input must have at least 1 dim, got shape ", log_probs.shape());
  const int64_t C = log_probs.dim() == 1 ? log_probs.size(0) : log_probs.size(1);
  Shape expected = log_probs.shape();
  if (log_probs.dim() >= 2) expected.erase(expected.begin() + 1);
  else expected.clear();
  SS_CHECK(target.shape() == expected, ValueError, "nll_loss: target of shape ", target.shape(),
           " does not match input of shape ", log_probs.shape(), " (expected target shape ", expected, ")");
  Tensor lp = classes_last(log_probs);
  Tensor y = target.reshape({-1});
  Tensor valid = ne(y, ignore_index);
  Tensor safe_y = where(valid, y, zeros_like(y));
  {
    std::vector<double> yv = to_vector(safe_y);
    for (double v : yv)
      SS_CHECK(v >= 0 && v < double(C), IndexError, "nll_loss: target ", int64_t(v), " is out of bounds for ", C,
               " classes");
  }
  Tensor picked = gather(lp, 1, safe_y.unsqueeze(1)).squeeze(1);
  Tensor wt = weight.defined() ? index_select(weight.to(lp.dtype()), 0, safe_y) : ones({y.size(0)}, lp.dtype());
  wt = wt.mul(valid.to(lp.dtype()));
  Tensor l = picked.mul(wt).neg();
  if (reduction == "none") return l.reshape(target.shape());
  if (reduction == "sum") return l.sum();
  return l.sum().div(wt.sum());
}

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  check_reduction("mse_loss", reduction);
  Tensor d = input.sub(target);
  return reduce(d.mul(d), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  check_reduction("l1_loss", reduction);
  return reduce(input.sub(target).abs(), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& y, const Tensor& weight,
                                        const std::string& reduction, const Tensor& pos_weight) {
  check_reduction("binary_cross_entropy_with_logits", reduction);
  SS_CHECK(x.shape() == y.shape(), ValueError, "binary_cross_entropy_with_logits: target size ", y.shape(),
           " must be the same as input size ", x.shape());
  // Stable form: (1 - y) x + (1 + (pw - 1) y) * log(1 + exp(-x)), with log(1+exp(-x)) = softplus(-x)
  // computed as max(-x, 0) + log(exp(-max(-x,0)) + exp(-x - max(-x,0))).
  Tensor neg_x = x.neg();
  Tensor m = clamp(neg_x, 0.0, std::nullopt);
  Tensor softplus = m.add(exp(m.neg()).add(exp(neg_x.sub(m))).log());
  Tensor coef = pos_weight.defined() ? y.mul(pos_weight.sub(1.0)).add(1.0) : Tensor();
  Tensor l = rsub(y, 1.0).mul(x).add(coef.defined() ? coef.mul(softplus) : softplus);
  if (weight.defined()) l = l.mul(weight);
  return reduce(l, reduction);
}

}  // namespace shanshui::nn::functional
