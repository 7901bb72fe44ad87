// matmul family. mm, bmm and linear are the primitives with their own
// backward; matmul composes them with views (PyTorch's dispatch rules).
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/kernels/gemm.h"
#include "core/ops.h"
#include "core/ops/inplace.h"

namespace shanshui {

using autograd::needs_grad;
using autograd::record;
using autograd::SavedTensor;
using autograd::tensor_list;

namespace {

void check_matmul_dtypes(const char* op, const Tensor& a, const Tensor& b) {
  SS_CHECK(a.dtype() == b.dtype(), TypeError, op, ": expected both operands to have the same dtype, but got ",
           dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  SS_CHECK(a.dtype() != DType::Bool, TypeError, op, ": not supported for bool tensors");
}

// a [batch..., m, k] @ b [batch..., k, n] with equal batch dims and any strides
// (expanded or permuted views are read in place): bmm and matmul's batched case.
Tensor batched_matmul(const Tensor& a, const Tensor& b) {
  Shape out_shape(a.shape().begin(), a.shape().end() - 1);
  out_shape.push_back(b.size(-1));
  Tensor out = empty(out_shape, a.dtype());
  {
    autograd::NoGradGuard ng;
    kernels::gemm_batched(a, b, out);
  }
  if (needs_grad(a, b)) {
    SavedTensor sa(b.requires_grad() ? a : Tensor()), sb(a.requires_grad() ? b : Tensor());
    record("BmmBackward", {a, b}, out, [sa, sb](const Tensor& g) {
      Tensor ga = sb.defined() ? batched_matmul(g, sb.unpack().mT()) : Tensor();
      Tensor gb = sa.defined() ? batched_matmul(sa.unpack().mT(), g) : Tensor();
      return tensor_list{ga, gb};
    });
  }
  return out;
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  SS_CHECK(a.dim() == 2 && b.dim() == 2, ValueError, "mm: expected 2-D tensors, got shapes ", a.shape(), " and ",
           b.shape());
  check_matmul_dtypes("mm", a, b);
  SS_CHECK(a.size(1) == b.size(0), ValueError, "mm: shapes ", a.shape(), " and ", b.shape(),
           " cannot be multiplied (", a.size(1), " != ", b.size(0), ")");
  Tensor out = empty({a.size(0), b.size(1)}, a.dtype());
  kernels::gemm(a, b, out);
  if (needs_grad(a, b)) {
    SavedTensor sa(b.requires_grad() ? a : Tensor()), sb(a.requires_grad() ? b : Tensor());
    record("MmBackward", {a, b}, out, [sa, sb](const Tensor& g) {
      Tensor ga = sb.defined() ? mm(g, sb.unpack().t()) : Tensor();
      Tensor gb = sa.defined() ? mm(sa.unpack().t(), g) : Tensor();
      return tensor_list{ga, gb};
    });
  }
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  SS_CHECK(a.dim() == 3 && b.dim() == 3, ValueError, "bmm: expected 3-D tensors, got shapes ", a.shape(), " and ",
           b.shape());
  check_matmul_dtypes("bmm", a, b);
  SS_CHECK(a.size(0) == b.size(0), ValueError, "bmm: batch sizes differ: shapes ", a.shape(), " and ", b.shape());
  SS_CHECK(a.size(2) == b.size(1), ValueError, "bmm: shapes ", a.shape(), " and ", b.shape(),
           " cannot be multiplied (", a.size(2), " != ", b.size(1), ")");
  return batched_matmul(a, b);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  SS_CHECK(a.dim() >= 1 && b.dim() >= 1, ValueError, "matmul: both arguments need at least 1 dimension, got shapes ",
           a.shape(), " and ", b.shape());
  const int64_t da = a.dim(), db = b.dim();
  auto mismatch = [&](int64_t ka, int64_t kb) {
    SS_CHECK(ka == kb, ValueError, "matmul: shapes ", a.shape(), " and ", b.shape(), " cannot be multiplied (", ka,
             " != ", kb, ")");
  };
  if (da == 1 && db == 1) {
    mismatch(a.size(0), b.size(0));
    return mm(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  }
  if (da == 2 && db == 1) {
    mismatch(a.size(1), b.size(0));
    return mm(a, b.unsqueeze(1)).squeeze(1);
  }
  if (da == 1 && db == 2) {
    mismatch(a.size(0), b.size(0));
    return mm(a.unsqueeze(0), b).squeeze(0);
  }
  if (da == 2 && db == 2) {
    mismatch(a.size(1), b.size(0));
    return mm(a, b);
  }
  if (da >= 3 && db <= 2) {
    // Fold the batch dims of a into rows: one GEMM instead of a batch of small ones.
    const int64_t k = a.size(-1);
    mismatch(k, b.size(0));
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    const int64_t rows = numel_of(out_shape);  // explicit: -1 cannot be inferred when k == 0
    Tensor bm = db == 1 ? b.unsqueeze(1) : b;
    if (db == 2) out_shape.push_back(b.size(1));
    return mm(a.reshape({rows, k}), bm).reshape(out_shape);
  }
  // General batched case with broadcast batch dims.
  Tensor a2 = da == 1 ? a.unsqueeze(0) : a;
  Tensor b2 = db == 1 ? b.unsqueeze(1) : b;
  const int64_t m = a2.size(-2), k = a2.size(-1), n = b2.size(-1);
  mismatch(k, b2.size(-2));
  Shape ba(a2.shape().begin(), a2.shape().end() - 2), bb(b2.shape().begin(), b2.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape ea = batch, eb = batch;
  ea.insert(ea.end(), {m, k});
  eb.insert(eb.end(), {k, n});
  Tensor out = batched_matmul(a2.expand(ea), b2.expand(eb));
  Shape out_shape = batch;
  if (da > 1) out_shape.push_back(m);
  if (db > 1) out_shape.push_back(n);
  return out.reshape(out_shape);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  SS_CHECK(x.dim() >= 1 && w.dim() == 2, ValueError, "linear: expected input with >= 1 dims and a 2-D weight, got ",
           x.shape(), " and ", w.shape());
  SS_CHECK(x.size(-1) == w.size(1), ValueError, "linear: input has ", x.size(-1), " features (shape ", x.shape(),
           ") but the weight expects ", w.size(1), " (weight shape ", w.shape(), ")");
  check_matmul_dtypes("linear", x, w);
  if (b.defined()) {
    SS_CHECK(b.dim() == 1 && b.size(0) == w.size(0), ValueError, "linear: bias of shape ", b.shape(),
             " does not match the weight's ", w.size(0), " output features");
    check_matmul_dtypes("linear", x, b);
  }
  const int64_t in = w.size(1), outf = w.size(0);
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  // Explicit row count: -1 cannot be inferred when in_features or out_features is 0.
  const int64_t rows = numel_of(out_shape);
  out_shape.push_back(outf);
  Tensor x2 = x.detach().reshape({rows, in});
  Tensor out2 = empty({x2.size(0), outf}, x.dtype());
  if (b.defined()) kernels::copy_strided(out2, b);  // bias in C, beta = 1: one pass over the output
  kernels::gemm(x2, w.detach().t(), out2, 1.0, b.defined() ? 1.0 : 0.0);
  Tensor out = out2.reshape(out_shape);
  if (needs_grad({&x, &w, &b})) {
    SavedTensor sx(w.requires_grad() ? x : Tensor()), sw(x.requires_grad() ? w : Tensor());
    bool need_b = b.defined() && b.requires_grad();
    Shape xs = x.shape();
    std::vector<Tensor> inputs{x, w};
    if (b.defined()) inputs.push_back(b);
    record("LinearBackward", inputs, out, [sx, sw, need_b, xs, rows, in, outf](const Tensor& g) {
      Tensor g2 = g.reshape({rows, outf});
      tensor_list r(need_b ? 3 : 2);
      if (sw.defined()) r[0] = mm(g2, sw.unpack()).reshape(xs);
      if (sx.defined()) r[1] = mm(g2.t(), sx.unpack().reshape({rows, in}));
      if (need_b) r[2] = g2.sum({0});
      return r;
    });
  }
  return out;
}

}  // namespace shanshui
