#include "autograd/gradcheck.h"

#include <cmath>
#include <random>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "core/ops/inplace.h"

namespace shanshui::autograd {

namespace {
// A fixed random direction v so that the scalar v . f(x) exercises every output element.
Tensor projection(const Shape& shape) {
  std::mt19937_64 rng(1234);
  std::uniform_real_distribution<double> u(0.5, 1.5);
  std::vector<double> v(size_t(numel_of(shape)));
  for (auto& x : v) x = u(rng);
  return from_vector(v, shape, DType::Float64);
}

double project(const Tensor& out, const Tensor& v) {
  std::vector<double> a = to_vector(out), b = to_vector(v);
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  GradcheckResult res;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) {
      SS_CHECK(inputs[i].dtype() == DType::Float64, TypeError, "gradcheck: input ", i,
               " must be float64 for finite differences, got ", dtype_name(inputs[i].dtype()));
      // Perturbing one element of an input whose elements alias (stride 0)
      // would perturb several: the numerical gradient would be wrong.
      for (int64_t d = 0; d < inputs[i].dim(); ++d)
        SS_CHECK(inputs[i].size(d) <= 1 || inputs[i].stride(d) != 0, ValueError, "gradcheck: input ", i,
                 " (shape ", inputs[i].shape(), ") has a dimension with stride 0; pass expanded inputs as "
                 "f(x) = x.expand(...) instead");
    }

  Tensor out = f(inputs);
  SS_CHECK(out.is_floating_point(), TypeError, "gradcheck: the function must return a floating-point tensor");
  Tensor v = projection(out.shape());
  std::vector<Tensor> wrt;
  std::vector<size_t> wrt_index;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) {
      wrt.push_back(inputs[i]);
      wrt_index.push_back(i);
    }
  if (wrt.empty()) return res;
  tensor_list analytical;
  if (out.requires_grad()) {
    analytical = grad({out}, wrt, {v.to(out.dtype())}, false, false, /*allow_unused=*/true);
  } else {
    analytical.resize(wrt.size());
  }

  NoGradGuard ng;
  for (size_t w = 0; w < wrt.size(); ++w) {
    // Perturb a contiguous copy element by element; the function sees it through the same inputs list.
    Tensor x = wrt[w];
    Tensor base = x.detach().clone();
    std::vector<double> ana = analytical[w].defined() ? to_vector(analytical[w]) : std::vector<double>(x.numel(), 0.0);
    std::vector<Tensor> args = inputs;
    Tensor xd = x.detach();  // shares storage with the input, so f sees the perturbation
    Tensor flat_view = base;  // values to restore
    std::vector<double> orig = to_vector(base);
    for (int64_t e = 0; e < x.numel(); ++e) {
      auto set_elem = [&](double val) {
        std::vector<double> cur = orig;
        cur[size_t(e)] = val;
        kernels::copy_strided(xd, from_vector(cur, x.shape(), DType::Float64));
      };
      set_elem(orig[size_t(e)] + eps);
      double fp = project(f(args), v);
      set_elem(orig[size_t(e)] - eps);
      double fm = project(f(args), v);
      set_elem(orig[size_t(e)]);
      double num = (fp - fm) / (2 * eps);
      double a = ana[size_t(e)];
      if (!(std::abs(a - num) <= atol + rtol * std::abs(num))) {
        std::ostringstream os;
        os << "gradcheck: Jacobian mismatch for input " << wrt_index[w] << " (shape " << shape_str(x.shape())
           << ") at element " << e << ": analytical " << a << " vs numerical " << num;
        res.ok = false;
        res.message = os.str();
        return res;
      }
    }
  }
  return res;
}

}  // namespace shanshui::autograd
