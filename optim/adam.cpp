#include "optim/adam.h"

#include <cmath>

#include "core/dispatch.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace shanshui::optim {

Options AdamOptions::to_map() const {
  return {{"lr", lr}, {"beta1", beta1}, {"beta2", beta2}, {"eps", eps}, {"weight_decay", weight_decay},
          {"amsgrad", amsgrad ? 1.0 : 0.0}, {"maximize", maximize ? 1.0 : 0.0}};
}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions o, bool decoupled, const char* name)
    : Optimizer(std::move(groups), o.to_map(), name), decoupled_(decoupled) {
  SS_CHECK(o.lr >= 0, ValueError, name, ": invalid learning rate: ", o.lr);
  SS_CHECK(o.eps >= 0, ValueError, name, ": invalid epsilon value: ", o.eps);
  SS_CHECK(o.beta1 >= 0 && o.beta1 < 1, ValueError, name, ": invalid beta parameter at index 0: ", o.beta1);
  SS_CHECK(o.beta2 >= 0 && o.beta2 < 1, ValueError, name, ": invalid beta parameter at index 1: ", o.beta2);
  SS_CHECK(o.weight_decay >= 0, ValueError, name, ": invalid weight_decay value: ", o.weight_decay);
}

void Adam::update(Tensor& param, const Tensor& grad, ParamState& st, const Options& o) {
  const double lr = opt(o, "lr"), b1 = opt(o, "beta1"), b2 = opt(o, "beta2"), eps = opt(o, "eps"),
               wd = opt(o, "weight_decay");
  const bool amsgrad = opt(o, "amsgrad") != 0, maximize = opt(o, "maximize") != 0;
  // Each buffer on its own: a group may switch amsgrad on after loading a state without it.
  for (const char* k : {"exp_avg", "exp_avg_sq"})
    if (!st.tensors.count(k)) st.tensors[k] = zeros(param.shape(), param.dtype());
  if (amsgrad && !st.tensors.count("max_exp_avg_sq")) st.tensors["max_exp_avg_sq"] = zeros(param.shape(), param.dtype());
  const int64_t step = ++st.step;
  // The same operations, in the same order and precision, as PyTorch's single-tensor Adam.
  const double bc1 = 1.0 - std::pow(b1, double(step));
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(b2, double(step)));
  const double step_size = lr / bc1;
  SS_DISPATCH_FLOAT(param.dtype(), "Adam.step", [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    T* m = st.tensors["exp_avg"].template data_ptr<T>();
    T* v = st.tensors["exp_avg_sq"].template data_ptr<T>();
    T* vmax = amsgrad ? st.tensors["max_exp_avg_sq"].template data_ptr<T>() : nullptr;
    const T decay = T(1.0 - lr * wd), twd = T(wd), w1 = T(1.0 - b1), tb2 = T(b2), w2 = T(1.0 - b2),
            tbc2 = T(bc2_sqrt), teps = T(eps), tstep = T(-step_size);
    const bool lerp_low = (1.0 - b1) < 0.5;
    // torch >= 2.6 keeps decoupled_weight_decay per group (AdamW sets it); absent means the class default.
    auto dit = o.find("decoupled_weight_decay");
    const bool decoupled = dit != o.end() ? dit->second != 0 : decoupled_;
    parallel_for(param.numel(), 12, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        T gi = maximize ? -g[i] : g[i];
        if (wd != 0) {
          if (decoupled) p[i] = p[i] * decay;
          else gi = std::fma(p[i], twd, gi);  // grad.add(param, alpha=wd)
        }
        // exp_avg.lerp_(grad, 1 - beta1), with lerp's two-sided formula; ATen's AVX2
        // lerp and addcmul kernels use fused multiply-adds, so these do too.
        m[i] = lerp_low ? std::fma(w1, gi - m[i], m[i]) : std::fma(-(T(1) - w1), gi - m[i], gi);
        v[i] = std::fma(w2 * gi, gi, v[i] * tb2);
        T vv = v[i];
        if (vmax) {
          vmax[i] = vmax[i] > vv ? vmax[i] : vv;
          vv = vmax[i];
        }
        T denom = std::sqrt(vv) / tbc2 + teps;
        p[i] = p[i] + (tstep * m[i]) / denom;  // addcdiv: self + (value * t1) / t2
      }
    });
  });
}

}  // namespace shanshui::optim
