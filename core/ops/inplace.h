// The machinery behind in-place ops (add_, mul_, masked_fill_, x[i] = v, ...).
#pragma once
#include "core/tensor.h"

namespace shanshui {

namespace kernels {
void copy_strided(const Tensor& dst, const Tensor& src);
}

// Throws if `self` may not be modified in place right now, with grad mode on:
// a leaf that requires grad, a view of one, or a view made under no_grad when
// the base or the written value (`value_requires_grad`) requires grad.
void check_inplace_allowed(const Tensor& self, const char* op, bool value_requires_grad = false);
// Throws if several elements of `self` share one memory location (an expanded
// tensor), which an elementwise in-place write would make ambiguous.
void check_no_internal_overlap(const Tensor& self, const char* op);

namespace detail {
// Write `result` (same shape as self) into self's memory, bump the version
// counter, and, when `result` carries history, make self's grad_fn the node
// that produced it (PyTorch's history rebase). When self is a view whose base
// (or the result) requires grad, the base's history is rebased instead
// (CopySlices) and self becomes an as_strided view of it. `cast`: allow only casts that
// PyTorch allows for in-place results (the result type must fit self's dtype).
Tensor& assign_inplace(Tensor& self, const Tensor& result, const char* op, bool cast = true);
}  // namespace detail

}  // namespace shanshui
