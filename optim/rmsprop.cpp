#include "optim/rmsprop.h"

#include <cmath>

#include "core/dispatch.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace shanshui::optim {

Options RMSpropOptions::to_map() const {
  return {{"lr", lr},           {"alpha", alpha},       {"eps", eps},
          {"weight_decay", weight_decay}, {"momentum", momentum}, {"centered", centered ? 1.0 : 0.0},
          {"maximize", maximize ? 1.0 : 0.0}};
}

RMSprop::RMSprop(std::vector<ParamGroup> groups, RMSpropOptions o)
    : Optimizer(std::move(groups), o.to_map(), "RMSprop") {
  SS_CHECK(o.lr >= 0, ValueError, "RMSprop: invalid learning rate: ", o.lr);
  SS_CHECK(o.eps >= 0, ValueError, "RMSprop: invalid epsilon value: ", o.eps);
  SS_CHECK(o.alpha >= 0, ValueError, "RMSprop: invalid alpha value: ", o.alpha);
  SS_CHECK(o.momentum >= 0, ValueError, "RMSprop: invalid momentum value: ", o.momentum);
  SS_CHECK(o.weight_decay >= 0, ValueError, "RMSprop: invalid weight_decay value: ", o.weight_decay);
}

void RMSprop::update(Tensor& param, const Tensor& grad, ParamState& st, const Options& o) {
  const double lr = opt(o, "lr"), alpha = opt(o, "alpha"), eps = opt(o, "eps"), wd = opt(o, "weight_decay"),
               mom = opt(o, "momentum");
  const bool centered = opt(o, "centered") != 0, maximize = opt(o, "maximize") != 0;
  // Each buffer on its own: a group may turn on momentum or centered after a state was loaded.
  auto ensure = [&](const char* k) {
    if (!st.tensors.count(k)) st.tensors[k] = zeros(param.shape(), param.dtype());
  };
  ensure("square_avg");
  if (mom > 0) ensure("momentum_buffer");
  if (centered) ensure("grad_avg");
  st.step++;
  SS_DISPATCH_FLOAT(param.dtype(), "RMSprop.step", [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    T* sq = st.tensors["square_avg"].template data_ptr<T>();
    T* buf = mom > 0 ? st.tensors["momentum_buffer"].template data_ptr<T>() : nullptr;
    T* ga = centered ? st.tensors["grad_avg"].template data_ptr<T>() : nullptr;
    const T ta = T(alpha), wa = T(1 - alpha), teps = T(eps), twd = T(wd), tmom = T(mom), tlr = T(lr);
    const bool lerp_low = (1 - alpha) < 0.5;
    parallel_for(param.numel(), 10, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        T gi = maximize ? -g[i] : g[i];
        if (wd != 0) gi = std::fma(p[i], twd, gi);  // grad.add(param, alpha=wd)
        sq[i] = std::fma(wa * gi, gi, sq[i] * ta);  // ATen's AVX2 addcmul is a fused multiply-add
        T avg;
        if (ga) {
          ga[i] = lerp_low ? std::fma(wa, gi - ga[i], ga[i]) : std::fma(-(T(1) - wa), gi - ga[i], gi);
          avg = std::sqrt(std::fma(-ga[i], ga[i], sq[i])) + teps;
        } else {
          avg = std::sqrt(sq[i]) + teps;
        }
        if (buf) {
          T scaled = buf[i] * tmom;  // buf.mul_(momentum).addcdiv_(grad, avg)
          buf[i] = scaled + gi / avg;
          p[i] = std::fma(buf[i], -tlr, p[i]);  // param.add_(buf, alpha=-lr)
        } else {
          p[i] = p[i] + ((-tlr) * gi) / avg;  // addcdiv: self + (value * t1) / t2
        }
      }
    });
  });
}

}  // namespace shanshui::optim
