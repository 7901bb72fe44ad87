// The machinery behind in-place ops (add_, mul_, masked_fill_, x[i] = v, ...).
#pragma once
#include "core/tensor.h"

namespace shanshui {

namespace kernels {
void copy_strided(const Tensor& dst, const Tensor& src);
}

// Throws if `self` may not be modified in place right now (a leaf that requires grad, with grad mode on).
void check_inplace_allowed(const Tensor& self, const char* op);

namespace detail {
// Write `result` (same shape as self) into self's memory, bump the version
// counter, and, when `result` carries history, make self's grad_fn the node
// that produced it (PyTorch's history rebase). `cast`: allow only casts that
// PyTorch allows for in-place results (the result type must fit self's dtype).
Tensor& assign_inplace(Tensor& self, const Tensor& result, const char* op, bool cast = true);
}  // namespace detail

}  // namespace shanshui
