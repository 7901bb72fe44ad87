// shanshui.distributed: the collectives bound directly under torch.distributed's
// names and argument orders (submodule _C._distributed, re-exported by
// python/shanshui/distributed), plus the pieces the Python
// DistributedDataParallel and DistributedSampler are built on: the C++
// GradReducer, broadcast_coalesced, the sampler's index logic, and
// Tensor.register_post_accumulate_grad_hook.
//
// group= accepts only None (the default group: every rank) and async_op only
// False: collectives are blocking. The GIL is released while a collective
// waits for the other ranks.
#include <memory>

#include "bindings.h"
#include "core/distributed/distributed.h"
#include "nn/parallel/distributed_sampler.h"
#include "nn/parallel/reducer.h"

namespace shanshui::python {
namespace {

namespace dist = shanshui::distributed;

void check_group(const py::object& group, const char* op) {
  SS_CHECK(group.is_none(), ValueError, "distributed.", op,
           ": only the default group (group=None, every rank) is supported, got ", type_name(group));
}
void check_sync(bool async_op, const char* op) {
  SS_CHECK(!async_op, ValueError, "distributed.", op, ": async_op=True is not supported; collectives are blocking");
}

void init_process_group(const py::object& backend, const py::object& init_method, const py::object& timeout,
                        int64_t world_size, int64_t rank) {
  if (!backend.is_none()) {
    std::string b = py::str(backend);
    SS_CHECK(b == "mpi", ValueError, "init_process_group: backend '", b,
             "' is not available; shanshui's process group runs on MPI (backend='mpi' or None), launched with mpirun");
  }
  SS_CHECK(init_method.is_none() || std::string(py::str(init_method)) == "env://", ValueError,
           "init_process_group: init_method is not supported; the ranks come from the MPI launcher (mpirun)");
  {
    py::gil_scoped_release nogil;
    dist::init();
  }
  SS_CHECK(world_size == -1 || world_size == dist::world_size(), ValueError, "init_process_group: world_size=",
           world_size, " but the MPI launcher started ", dist::world_size(), " process(es)");
  SS_CHECK(rank == -1 || rank == dist::rank(), ValueError, "init_process_group: rank=", rank,
           " but this process has MPI rank ", dist::rank());
}

// Returned by Tensor.register_post_accumulate_grad_hook; remove() unregisters it.
struct PostAccumulateHandle {
  std::weak_ptr<TensorImpl> tensor;
  unsigned id;
  void remove() const {
    if (auto impl = tensor.lock()) Tensor(impl).remove_post_accumulate_grad_hook(id);
  }
};

PostAccumulateHandle register_post_accumulate_grad_hook(const Tensor& t, py::function fn) {
  // The hook lives in the tensor, which may die without the GIL held.
  std::shared_ptr<py::object> f(new py::object(std::move(fn)), [](py::object* p) {
    if (!Py_IsInitialized()) return;
    py::gil_scoped_acquire gil;
    delete p;
  });
  unsigned id = Tensor(t).register_post_accumulate_grad_hook([f](const Tensor& leaf) {
    py::gil_scoped_acquire gil;
    (*f)(leaf);
  });
  return {t.impl_ptr(), id};
}

std::vector<Tensor> tensors_from(const py::iterable& seq, const char* op) {
  std::vector<Tensor> out;
  for (py::handle h : seq) {
    SS_CHECK(py::isinstance<Tensor>(h), TypeError, "distributed.", op, ": expected tensors, got ", type_name(h));
    out.push_back(py::cast<Tensor>(h));
  }
  return out;
}

}  // namespace

void init_distributed(py::module_& root) {
  py::module_ m = root.def_submodule("_distributed", "shanshui.distributed: collectives on MPI");

  py::enum_<dist::ReduceOp>(m, "ReduceOp", "Reduction of all_reduce (torch.distributed.ReduceOp).")
      .value("SUM", dist::ReduceOp::SUM)
      .value("PRODUCT", dist::ReduceOp::PRODUCT)
      .value("MIN", dist::ReduceOp::MIN)
      .value("MAX", dist::ReduceOp::MAX)
      .value("MEAN", dist::ReduceOp::MEAN)
      .value("AVG", dist::ReduceOp::MEAN);  // torch's name for the mean

  m.def("is_available", &dist::is_available, "True when shanshui was built with MPI.");
  m.def("is_mpi_available", &dist::is_available, "True when shanshui was built with MPI.");
  m.def("init_process_group", &init_process_group,
        "Join the process group: MPI under mpirun, a group of one otherwise. Idempotent.\n"
        "backend must be 'mpi' or None; world_size and rank, when given, are checked against the launcher's.",
        py::arg("backend") = py::none(), py::arg("init_method") = py::none(), py::arg("timeout") = py::none(),
        py::arg("world_size") = -1, py::arg("rank") = -1);
  m.def("init", [] {
    py::gil_scoped_release nogil;
    dist::init();
  }, "Join the process group (init_process_group with its defaults).");
  m.def("is_initialized", &dist::is_initialized, "True once init_process_group() has run.");
  m.def("destroy_process_group", [](const py::object& group) {
    check_group(group, "destroy_process_group");
    dist::destroy_process_group();
  }, "Leave the process group (MPI itself stays up until exit).", py::arg("group") = py::none());
  m.def("get_rank", [](const py::object& group) {
    check_group(group, "get_rank");
    return dist::rank();
  }, "This process's rank.", py::arg("group") = py::none());
  m.def("get_world_size", [](const py::object& group) {
    check_group(group, "get_world_size");
    return dist::world_size();
  }, "The number of processes.", py::arg("group") = py::none());
  m.def("get_backend", [](const py::object& group) {
    check_group(group, "get_backend");
    dist::world_size();  // raises unless initialised
    return std::string("mpi");
  }, "The backend of the group: 'mpi'.", py::arg("group") = py::none());

  m.def("all_reduce", [](const Tensor& tensor, dist::ReduceOp op, const py::object& group, bool async_op) {
    check_group(group, "all_reduce");
    check_sync(async_op, "all_reduce");
    py::gil_scoped_release nogil;
    dist::all_reduce(tensor, op);
  }, "In place on every rank: tensor = op over the ranks' tensors (SUM, PRODUCT, MIN, MAX, AVG/MEAN;\n"
     "MEAN on int64 is floor division, on bool an error; on bool SUM/MAX are or, PRODUCT/MIN and).",
        py::arg("tensor"), py::arg("op") = dist::ReduceOp::SUM, py::arg("group") = py::none(),
        py::arg("async_op") = false);
  m.def("broadcast", [](const Tensor& tensor, const py::object& src, const py::object& group, bool async_op) {
    check_group(group, "broadcast");
    check_sync(async_op, "broadcast");
    SS_CHECK(!src.is_none(), ValueError, "distributed.broadcast: src (the rank to broadcast from) is required");
    int s = src.cast<int>();
    py::gil_scoped_release nogil;
    dist::broadcast(tensor, s);
  }, "In place: every rank's tensor becomes rank src's.", py::arg("tensor"), py::arg("src") = py::none(),
        py::arg("group") = py::none(), py::arg("async_op") = false);
  m.def("all_gather", [](py::list tensor_list, const Tensor& tensor, const py::object& group, bool async_op) {
    check_group(group, "all_gather");
    check_sync(async_op, "all_gather");
    std::vector<Tensor> list = tensors_from(tensor_list, "all_gather");
    const bool fill = list.empty();
    {
      py::gil_scoped_release nogil;
      dist::all_gather(list, tensor);
    }
    if (fill)
      for (const Tensor& t : list) tensor_list.append(py::cast(t));
  }, "Fill tensor_list with every rank's tensor (rank i's at index i). The list holds world_size\n"
     "tensors of tensor's shape and dtype, written in place; an empty list is filled with new tensors.",
        py::arg("tensor_list"), py::arg("tensor"), py::arg("group") = py::none(), py::arg("async_op") = false);
  m.def("all_gather_into_tensor", [](const Tensor& output, const Tensor& input, const py::object& group, bool async_op) {
    check_group(group, "all_gather_into_tensor");
    check_sync(async_op, "all_gather_into_tensor");
    py::gil_scoped_release nogil;
    dist::all_gather_into_tensor(output, input);
  }, "Gather every rank's input into output: [world_size * d0, ...] (concatenated) or\n"
     "[world_size, d0, ...] (stacked).", py::arg("output_tensor"), py::arg("input_tensor"),
        py::arg("group") = py::none(), py::arg("async_op") = false);
  m.def("barrier", [](const py::object& group, bool async_op, const py::object& device_ids) {
    check_group(group, "barrier");
    check_sync(async_op, "barrier");
    py::gil_scoped_release nogil;
    dist::barrier();
  }, "Wait until every rank has reached the barrier.", py::arg("group") = py::none(), py::arg("async_op") = false,
        py::arg("device_ids") = py::none());
  m.def("_broadcast_coalesced", [](const py::iterable& tensors, int src, int64_t bucket_bytes) {
    std::vector<Tensor> ts = tensors_from(tensors, "broadcast_coalesced");
    py::gil_scoped_release nogil;
    dist::broadcast_coalesced(ts, src, bucket_bytes);
  }, "Broadcast many tensors from src in a few flat buffers (DistributedDataParallel's start).",
        py::arg("tensors"), py::arg("src") = 0, py::arg("bucket_bytes") = int64_t(25) << 20);

  py::class_<nn::GradReducer>(m, "_GradReducer",
                              "Averages the gradients of parameters across ranks in flat buckets, from\n"
                              "post-accumulate-grad hooks (the engine of DistributedDataParallel).")
      .def(py::init([](const py::iterable& params, int64_t bucket_bytes, std::vector<std::string> names) {
             return std::make_unique<nn::GradReducer>(tensors_from(params, "GradReducer"), bucket_bytes, names);
           }), py::arg("params"), py::arg("bucket_bytes") = int64_t(25) << 20,
           py::arg("names") = std::vector<std::string>{})
      .def("sync", [](nn::GradReducer& r) {
        py::gil_scoped_release nogil;
        r.sync();
      }, "Average every bucket not yet averaged.")
      .def_property("require_sync", &nn::GradReducer::require_sync, &nn::GradReducer::set_require_sync)
      .def_property_readonly("num_buckets", &nn::GradReducer::num_buckets)
      .def_property_readonly("num_reductions", &nn::GradReducer::num_reductions)
      .def("bucket_indices", &nn::GradReducer::bucket_indices);

  py::class_<nn::DistributedSampler>(m, "_DistributedSampler", "The index logic of DistributedSampler.")
      .def(py::init<int64_t, std::optional<int64_t>, std::optional<int64_t>, bool, uint64_t, bool>(),
           py::arg("dataset_len"), py::arg("num_replicas") = py::none(), py::arg("rank") = py::none(),
           py::arg("shuffle") = true, py::arg("seed") = 0, py::arg("drop_last") = false)
      .def("set_epoch", &nn::DistributedSampler::set_epoch, py::arg("epoch"))
      .def("indices", &nn::DistributedSampler::indices)
      .def_property_readonly("epoch", &nn::DistributedSampler::epoch)
      .def_property_readonly("num_samples", &nn::DistributedSampler::size)
      .def_property_readonly("total_size", &nn::DistributedSampler::total_size)
      .def_property_readonly("num_replicas", &nn::DistributedSampler::num_replicas)
      .def_property_readonly("rank", &nn::DistributedSampler::rank);
  m.def("_seeded_permutation", &nn::seeded_permutation, py::arg("n"), py::arg("seed"));

  py::class_<PostAccumulateHandle>(m, "_PostAccumulateHandle", "Handle of a post-accumulate-grad hook.")
      .def("remove", &PostAccumulateHandle::remove, "Unregister the hook.");
  TensorClass cls = tensor_class(root);
  cls.def("register_post_accumulate_grad_hook", &register_post_accumulate_grad_hook,
          "hook(tensor) runs each time backward has accumulated into this leaf's .grad (leaves only).",
          py::arg("hook"));
}

}  // namespace shanshui::python
