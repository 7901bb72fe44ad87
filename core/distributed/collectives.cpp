// Tensor collectives: argument checks, the cross-rank header check, then the
// raw collective on a contiguous buffer (a copy for non-contiguous tensors,
// written back afterwards).
#include <exception>

#include "autograd/grad_mode.h"
#include "core/distributed/backend.h"
#include "core/distributed/header.h"
#include "core/ops.h"

namespace shanshui::distributed {

using detail::Header;
using detail::Kind;

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::SUM: return "SUM";
    case ReduceOp::PRODUCT: return "PRODUCT";
    case ReduceOp::MIN: return "MIN";
    case ReduceOp::MAX: return "MAX";
    case ReduceOp::MEAN: return "MEAN";
  }
  return "?";
}

namespace {

void require_tensor(const Tensor& t, const char* op, const char* arg) {
  SS_CHECK(t.defined(), ValueError, "distributed.", op, ": ", arg, " is undefined (None)");
}

// Runs `check` (this rank's own argument checks) and exchanges headers, so
// that a bad argument on any rank raises on all of them.
template <class F>
void checked(Kind kind, int64_t arg, const Tensor& t, F&& check) {
  const char* what = detail::kind_name(kind);
  backend::require_initialized(what);
  std::exception_ptr err;
  try {
    check();
  } catch (...) {
    err = std::current_exception();
  }
  detail::check_across_ranks(what, detail::make_header(kind, arg, err ? Tensor() : t), err);
}

// The buffer a collective works on: the tensor itself when contiguous.
Tensor as_buffer(const Tensor& t) { return t.is_contiguous() ? t : t.contiguous(); }

// After writing into `buf` (which is `t` or a copy of it).
void write_back(const Tensor& t, const Tensor& buf) {
  if (buf.is_same(t)) {
    t.storage()->bump_version();
  } else {
    Tensor(t).copy_(buf);
  }
}

void divide_in_place(const Tensor& buf, int64_t n) {
  const int64_t count = buf.numel();
  switch (buf.dtype()) {
    case DType::Float32: {
      float* p = buf.data_ptr<float>();
      for (int64_t i = 0; i < count; ++i) p[i] /= float(n);
      break;
    }
    case DType::Float64: {
      double* p = buf.data_ptr<double>();
      for (int64_t i = 0; i < count; ++i) p[i] /= double(n);
      break;
    }
    case DType::Int64: {  // floor division, as torch's //
      int64_t* p = buf.data_ptr<int64_t>();
      for (int64_t i = 0; i < count; ++i) {
        int64_t q = p[i] / n;
        if (p[i] % n != 0 && p[i] < 0) --q;
        p[i] = q;
      }
      break;
    }
    case DType::Bool: break;  // rejected before
  }
}

}  // namespace

void all_reduce(const Tensor& tensor, ReduceOp op) {
  checked(Kind::AllReduce, int64_t(op), tensor, [&] {
    require_tensor(tensor, "all_reduce", "tensor");
    SS_CHECK(!(op == ReduceOp::MEAN && tensor.dtype() == DType::Bool), TypeError,
             "distributed.all_reduce: ReduceOp.MEAN is not defined for bool tensors (shape ", tensor.shape(), ")");
  });
  NoGradGuard no_grad;
  Tensor buf = as_buffer(tensor);
  backend::all_reduce(buf.raw_data(), buf.numel(), buf.dtype(), op);
  if (op == ReduceOp::MEAN) divide_in_place(buf, world_size());
  write_back(tensor, buf);
}

void broadcast(const Tensor& tensor, int src) {
  checked(Kind::Broadcast, src, tensor, [&] {
    require_tensor(tensor, "broadcast", "tensor");
    SS_CHECK(src >= 0 && src < world_size(), ValueError, "distributed.broadcast: src ", src,
             " is not a rank of the group (world size ", world_size(), ")");
  });
  NoGradGuard no_grad;
  Tensor buf = as_buffer(tensor);
  backend::broadcast(buf.raw_data(), buf.numel() * int64_t(buf.element_size()), src);
  if (rank() != src) write_back(tensor, buf);
}

namespace {
// Every rank's tensor, stacked: [world_size, *tensor.shape()].
Tensor gather_stacked(const Tensor& tensor) {
  Shape s = tensor.shape();
  s.insert(s.begin(), world_size());
  Tensor out = empty(s, tensor.dtype());
  Tensor in = as_buffer(tensor);
  backend::all_gather(in.raw_data(), out.raw_data(), in.numel() * int64_t(in.element_size()));
  return out;
}
}  // namespace

std::vector<Tensor> all_gather(const Tensor& tensor) {
  checked(Kind::AllGather, 0, tensor, [&] { require_tensor(tensor, "all_gather", "tensor"); });
  NoGradGuard no_grad;
  Tensor all = gather_stacked(tensor);
  std::vector<Tensor> out;
  for (int r = 0; r < world_size(); ++r) out.push_back(all.select(0, r));
  return out;
}

void all_gather(std::vector<Tensor>& tensor_list, const Tensor& tensor) {
  checked(Kind::AllGather, 0, tensor, [&] {
    require_tensor(tensor, "all_gather", "tensor");
    if (tensor_list.empty()) return;
    SS_CHECK(int64_t(tensor_list.size()) == world_size(), ValueError, "distributed.all_gather: tensor_list has ",
             tensor_list.size(), " tensors but the world size is ", world_size());
    for (size_t i = 0; i < tensor_list.size(); ++i) {
      const Tensor& t = tensor_list[i];
      SS_CHECK(t.defined() && t.shape() == tensor.shape() && t.dtype() == tensor.dtype(), ValueError,
               "distributed.all_gather: tensor_list[", i, "] is ",
               t.defined() ? cat_str(dtype_name(t.dtype()), " ", shape_str(t.shape())) : std::string("undefined"),
               " but the input is ", dtype_name(tensor.dtype()), " ", tensor.shape());
    }
  });
  NoGradGuard no_grad;
  Tensor all = gather_stacked(tensor);
  if (tensor_list.empty()) {
    for (int r = 0; r < world_size(); ++r) tensor_list.push_back(all.select(0, r));
    return;
  }
  for (int r = 0; r < world_size(); ++r) tensor_list[size_t(r)].copy_(all.select(0, r));
}

void all_gather_into_tensor(const Tensor& output, const Tensor& input) {
  checked(Kind::AllGatherIntoTensor, 0, input, [&] {
    require_tensor(input, "all_gather_into_tensor", "input_tensor");
    require_tensor(output, "all_gather_into_tensor", "output_tensor");
    SS_CHECK(output.dtype() == input.dtype(), TypeError, "distributed.all_gather_into_tensor: output_tensor has dtype ",
             dtype_name(output.dtype()), " but input_tensor has dtype ", dtype_name(input.dtype()));
    Shape stacked = input.shape();
    stacked.insert(stacked.begin(), world_size());
    Shape concat = input.shape();
    if (concat.empty()) concat = {1};
    concat[0] *= world_size();
    SS_CHECK(output.shape() == stacked || output.shape() == concat, ValueError,
             "distributed.all_gather_into_tensor: output_tensor has shape ", output.shape(), " but input_tensor of shape ",
             input.shape(), " on ", world_size(), " ranks needs ", concat, " (concatenated) or ", stacked, " (stacked)");
  });
  NoGradGuard no_grad;
  Tensor in = as_buffer(input);
  Tensor buf = output.is_contiguous() ? output : empty(output.shape(), output.dtype());
  backend::all_gather(in.raw_data(), buf.raw_data(), in.numel() * int64_t(in.element_size()));
  write_back(output, buf);
}

void barrier() {
  // The header exchange is itself an all-gather, so it already waits for every
  // rank; it also catches a rank that is in a different collective.
  checked(Kind::Barrier, 0, Tensor(), [] {});
}

}  // namespace shanshui::distributed
