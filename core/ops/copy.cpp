// Copies and dtype conversion: to, contiguous, clone, copy_, and the strided
// copy kernel everything else uses to materialise views.
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/kernels/loops.h"
#include "core/ops.h"
#include "core/ops/inplace.h"

namespace shanshui {

namespace kernels {
// dst[...] = src[...] with src broadcast to dst's shape and converted to dst's dtype.
void copy_strided(const Tensor& dst, const Tensor& src) {
  Shape sst = broadcast_strides(src.shape(), src.strides(), dst.shape());
  SS_DISPATCH_ALL(dst.dtype(), "copy_", [&](auto dt) {
    using D = decltype(dt);
    SS_DISPATCH_ALL(src.dtype(), "copy_", [&](auto st) {
      using S = decltype(st);
      D* d = static_cast<D*>(dst.raw_data());
      const S* s = static_cast<const S*>(src.raw_data());
      for_each_run<2>(dst.shape(), {dst.strides(), sst}, 1,
                      [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st2) {
                        D* dp = d + off[0];
                        const S* sp = s + off[1];
                        if (st2[0] == 1 && st2[1] == 1) {
                          for (int64_t i = 0; i < n; ++i) dp[i] = static_cast<D>(sp[i]);
                        } else {
                          for (int64_t i = 0; i < n; ++i) dp[i * st2[0]] = static_cast<D>(sp[i * st2[1]]);
                        }
                      });
    });
  });
}
}  // namespace kernels

Tensor Tensor::to(DType t, bool copy) const {
  if (t == dtype() && !copy) return *this;
  Tensor out = empty(shape(), t);
  kernels::copy_strided(out, *this);
  if (autograd::needs_grad(*this) && is_floating(t)) {
    DType from = dtype();
    autograd::record("ToCopyBackward", {*this}, out,
                     [from](const Tensor& g) { return autograd::tensor_list{g.to(from)}; });
  }
  return out;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  kernels::copy_strided(out, *this);
  if (autograd::needs_grad(*this))
    autograd::record("CloneBackward", {*this}, out, [](const Tensor& g) { return autograd::tensor_list{g}; });
  return out;
}

Tensor& Tensor::copy_(const Tensor& src) {
  broadcast_shapes(shape(), src.shape(), "copy_");  // validates
  SS_CHECK(broadcast_shapes(shape(), src.shape(), "copy_") == shape(), ValueError, "copy_: source of shape ",
           src.shape(), " cannot be broadcast to the destination shape ", shape());
  if (autograd::needs_grad(src) || (autograd::GradMode::is_enabled() && requires_grad())) {
    // Differentiable path: the new value is a copy of src (converted, broadcast);
    // rebase history onto it. (A fresh node even when src is a leaf, so the
    // gradient reaches src's accumulator.)
    Tensor v = src.to(dtype(), /*copy=*/true);
    v = v.shape() == shape() ? v : v.expand(shape());
    return detail::assign_inplace(*this, v, "copy_", /*cast=*/false);
  }
  check_inplace_allowed(*this, "copy_");
  check_no_internal_overlap(*this, "copy_");
  if (src.storage() == storage() && !(src.offset() == offset() && src.strides() == strides() && src.shape() == shape())) {
    // Overlapping source (e.g. x.copy_(x.t())): read from a snapshot.
    kernels::copy_strided(*this, src.clone());
  } else {
    kernels::copy_strided(*this, src);
  }
  impl()->storage->bump_version();
  return *this;
}

}  // namespace shanshui
