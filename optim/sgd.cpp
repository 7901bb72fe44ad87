#include "optim/sgd.h"

#include <cmath>

#include "core/dispatch.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace shanshui::optim {

Options SGDOptions::to_map() const {
  return {{"lr", lr}, {"momentum", momentum}, {"dampening", dampening}, {"weight_decay", weight_decay},
          {"nesterov", nesterov ? 1.0 : 0.0}, {"maximize", maximize ? 1.0 : 0.0}};
}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions o) : Optimizer(std::move(groups), o.to_map(), "SGD") {
  SS_CHECK(o.lr >= 0, ValueError, "SGD: invalid learning rate: ", o.lr);
  SS_CHECK(o.momentum >= 0, ValueError, "SGD: invalid momentum value: ", o.momentum);
  SS_CHECK(o.weight_decay >= 0, ValueError, "SGD: invalid weight_decay value: ", o.weight_decay);
  SS_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError,
           "SGD: Nesterov momentum requires a momentum and zero dampening");
}

void SGD::update(Tensor& param, const Tensor& grad, ParamState& st, const Options& o) {
  const double lr = opt(o, "lr"), mom = opt(o, "momentum"), damp = opt(o, "dampening"), wd = opt(o, "weight_decay");
  const bool nesterov = opt(o, "nesterov") != 0, maximize = opt(o, "maximize") != 0;
  const bool first = mom != 0 && !st.tensors.count("momentum_buffer");
  if (mom != 0 && first) st.tensors["momentum_buffer"] = empty(param.shape(), param.dtype());
  st.step++;
  SS_DISPATCH_FLOAT(param.dtype(), "SGD.step", [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    T* buf = mom != 0 ? st.tensors["momentum_buffer"].template data_ptr<T>() : nullptr;
    const T tlr = T(lr), tmom = T(mom), tdamp = T(1 - damp), twd = T(wd);
    parallel_for(param.numel(), 4, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        // ATen's AVX2 add(a, b, alpha) is fma(b, alpha, a); the same fused steps here.
        T d = maximize ? -g[i] : g[i];
        if (wd != 0) d = std::fma(p[i], twd, d);
        if (buf) {
          // buf.mul_(momentum) rounded on its own, then add_(d, alpha=1 - dampening);
          // the first step copies d (PyTorch).
          buf[i] = first ? d : std::fma(d, tdamp, buf[i] * tmom);
          d = nesterov ? std::fma(buf[i], tmom, d) : buf[i];
        }
        p[i] = std::fma(d, -tlr, p[i]);
      }
    });
  });
}

}  // namespace shanshui::optim
