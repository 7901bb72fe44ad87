// In-place ops on views of tensors that require grad (PyTorch's CopySlices).
//
// A view V of a root base B shares B's memory, so writing into V changes B.
// After the write, B's history is rebased onto a CopySlices node: its backward
// takes B's gradient gB and sends
//   (a) gB with V's region zeroed to B's previous history (those elements were
//       overwritten, so the old values no longer reach the output), and
//   (b) gB seen through V's geometry to the in-place op's result (whose own
//       history reaches V's old value, and through it B's old history).
// V's grad_fn becomes an as_strided view of B's new history, so V, B and any
// view taken later all backpropagate through the write. Views made earlier
// notice the version change on their next grad_fn() and regenerate the same way.
#pragma once
#include "autograd/node.h"
#include "core/tensor.h"

namespace shanshui::autograd {

// Where a view sits in its base's storage: both geometries in absolute storage offsets.
struct ViewGeometry {
  Shape base_shape, base_strides;
  int64_t base_offset = 0;
  Shape view_shape, view_strides;
  int64_t view_offset = 0;
};
ViewGeometry view_geometry(const Tensor& base, const Tensor& view);

// g (shaped like the base) laid out as the base, read through the view's
// geometry: a contiguous tensor shaped like the view. Differentiable.
Tensor gather_view_region(const Tensor& g, const ViewGeometry& geo);
// The adjoint: zeros shaped like the base with gv added at the view's elements
// (summed where the view maps several elements to one, e.g. expand). Differentiable.
Tensor embed_view_region(const Tensor& gv, const ViewGeometry& geo);

// With grad mode on: does an in-place write into `self` have to rebase the
// history of self's base (self is a differentiable view and the base or the
// written value requires grad)?
bool inplace_rebases_base(const Tensor& self, bool value_requires_grad);

// Call after self's memory was overwritten (and the version bumped) by a value
// whose history is `value_edge` (empty: the value carries no gradient, as for
// fill_). Installs CopySlices on the base and an as_strided grad_fn on self.
void rebase_view_history(const Tensor& self, const Edge& value_edge);

// t's grad_fn is about to change from (old_fn, old_nr) to (new_fn, new_nr) by an
// in-place op: move t's retain_grad hook along, as PyTorch, so t.grad is the
// gradient of t's new value (and the old node no longer writes it).
void move_retains_grad(const TensorImpl& t, const std::shared_ptr<Node>& old_fn, uint32_t old_nr,
                       const std::shared_ptr<Node>& new_fn, uint32_t new_nr);

}  // namespace shanshui::autograd
