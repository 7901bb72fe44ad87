// shanshui::distributed: collectives across processes, on MPI (OpenMPI, MPICH).
//
// Launch with `mpirun -np N program`; call init() once in each process. Every
// process then holds a rank in [0, world_size()) and the collectives below act
// on all of them. A process that was not started by an MPI launcher, or a
// build without MPI (is_available() false), is a group of one: rank 0 of 1,
// and every collective is a no-op that still checks its arguments.
//
// Every collective first exchanges a small header (which collective, op or
// source rank, dtype, shape) among all ranks, so tensors whose shapes or
// dtypes differ across ranks, or ranks calling different collectives, raise a
// clear error on EVERY rank instead of corrupting memory or hanging. An error
// in one rank's arguments (a bad src, a mis-shaped output) is raised on that
// rank with its own message and on the other ranks as "rank k raised ...".
//
// Collectives read and write tensor data directly: they are not recorded by
// autograd (as torch.distributed), and they bump the version counter of what
// they write.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace shanshui::distributed {

// MEAN sums and then divides by world_size(). On int64 it is floor division
// (as torch's //); on bool it is an error. On bool, SUM and MAX are logical
// or, PRODUCT and MIN logical and.
enum class ReduceOp { SUM, PRODUCT, MIN, MAX, MEAN };
const char* reduce_op_name(ReduceOp op);

// True when the library was built with MPI (and so can run on several processes).
bool is_available();

// Join the process group. Under an MPI launcher (mpirun, mpiexec, srun: found
// from the environment they set) or when MPI was already initialised by the
// program (mpi4py, the user's own MPI_Init), this initialises MPI with
// MPI_Init_thread if needed and finalises it at exit only when it initialised
// it. Otherwise the process is a group of one. Idempotent, thread-safe.
void init();
bool is_initialized();
// Leave the process group (is_initialized() becomes false; init() rejoins).
// MPI itself stays up until exit: MPI can be initialised only once per process.
void destroy_process_group();
// True when init() joined an MPI group (even one of size 1); false for the
// group of one without MPI.
bool uses_mpi();

// This process's rank and the number of processes. Throw unless initialised.
int rank();
int world_size();

// In place on every rank: tensor = op(tensor of rank 0, ..., tensor of rank N-1).
void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::SUM);
// In place: every rank's tensor becomes rank src's.
void broadcast(const Tensor& tensor, int src = 0);
// Rank i's tensor at index i (new contiguous tensors of tensor's shape and dtype).
std::vector<Tensor> all_gather(const Tensor& tensor);
// As torch.distributed.all_gather: fill tensor_list with every rank's tensor.
// An empty list is filled with new tensors; otherwise it must hold
// world_size() tensors of tensor's shape and dtype, which are written in place.
void all_gather(std::vector<Tensor>& tensor_list, const Tensor& tensor);
// As torch.distributed.all_gather_into_tensor: output is either
// [world_size * d0, d1, ...] (ranks concatenated along dim 0) or
// [world_size, d0, d1, ...] (stacked), of input's dtype.
void all_gather_into_tensor(const Tensor& output, const Tensor& input);
// Wait until every rank has reached the barrier.
void barrier();

// Broadcast many tensors from src in a few flat buffers of at most
// bucket_bytes each (one per dtype run), instead of one call per tensor.
// Used by DistributedDataParallel to give every rank rank 0's weights.
void broadcast_coalesced(const std::vector<Tensor>& tensors, int src = 0, int64_t bucket_bytes = 25 << 20);

}  // namespace shanshui::distributed
