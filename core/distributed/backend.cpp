// Process-group state and the raw collectives, on MPI when the build has it
// (SHANSHUI_HAVE_MPI) and as a group of one otherwise.
#include "core/distributed/backend.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#ifdef SHANSHUI_HAVE_MPI
#include <mpi.h>
#endif

namespace shanshui::distributed {

namespace {

struct State {
  std::mutex mu;
  bool initialized = false;
  bool mpi = false;
  int rank = 0;
  int size = 1;
#ifdef SHANSHUI_HAVE_MPI
  bool comm_made = false;
  bool owns_mpi = false;  // we called MPI_Init, so we call MPI_Finalize
  MPI_Comm comm = MPI_COMM_NULL;
#endif
};

State& state() {
  static State* s = new State();  // never destroyed: the atexit finaliser may run after static destructors
  return *s;
}

#ifdef SHANSHUI_HAVE_MPI
// Launchers announce themselves in the environment: OpenMPI's mpirun
// (OMPI_COMM_WORLD_SIZE), PMIx (OpenMPI 4+, Slurm), PMI (MPICH's hydra, Intel MPI).
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

void check_mpi(int rc, const char* op) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw RuntimeError(cat_str("distributed.", op, ": MPI error: ", std::string(msg, size_t(len))));
}

void finalize_at_exit() {
  State& s = state();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (s.comm_made) MPI_Comm_free(&s.comm);
  if (s.owns_mpi) MPI_Finalize();
}

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::Int64: return MPI_INT64_T;
    case DType::Bool: return MPI_UNSIGNED_CHAR;  // 0/1 bytes: max is or, min is and
  }
  return MPI_BYTE;
}

MPI_Op mpi_op(ReduceOp op, DType t) {
  if (t == DType::Bool) return op == ReduceOp::SUM || op == ReduceOp::MAX ? MPI_MAX : MPI_MIN;
  switch (op) {
    case ReduceOp::SUM:
    case ReduceOp::MEAN: return MPI_SUM;
    case ReduceOp::PRODUCT: return MPI_PROD;
    case ReduceOp::MIN: return MPI_MIN;
    case ReduceOp::MAX: return MPI_MAX;
  }
  return MPI_SUM;
}

// MPI counts are int: larger buffers go in pieces.
constexpr int64_t kMaxChunk = int64_t(1) << 30;
#endif

}  // namespace

bool is_available() {
#ifdef SHANSHUI_HAVE_MPI
  return true;
#else
  return false;
#endif
}

void init() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.initialized) return;
#ifdef SHANSHUI_HAVE_MPI
  if (!s.comm_made) {
    int finalized = 0, already = 0;
    MPI_Finalized(&finalized);
    SS_CHECK(!finalized, RuntimeError, "distributed.init: MPI has already been finalized in this process");
    MPI_Initialized(&already);
    if (already || launched_by_mpi()) {
      if (!already) {
        // SERIALIZED: any thread may call us, one at a time; our OpenMP loops never do.
        int provided = 0;
        check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "init");
        s.owns_mpi = true;
      }
      // Our own communicator, so the user's MPI traffic never matches ours, and
      // errors come back as codes (thrown as RuntimeError) instead of aborting.
      check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &s.comm), "init");
      MPI_Comm_set_errhandler(s.comm, MPI_ERRORS_RETURN);
      MPI_Comm_rank(s.comm, &s.rank);
      MPI_Comm_size(s.comm, &s.size);
      s.comm_made = true;
      s.mpi = true;
      std::atexit(finalize_at_exit);
    }
  }
#endif
  s.initialized = true;
}

bool is_initialized() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.initialized;
}

void destroy_process_group() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.initialized = false;
}

bool uses_mpi() {
  backend::require_initialized("uses_mpi");
  return state().mpi;
}

int rank() {
  backend::require_initialized("rank");
  return state().rank;
}

int world_size() {
  backend::require_initialized("world_size");
  return state().size;
}

namespace backend {

void require_initialized(const char* op) {
  SS_CHECK(is_initialized(), RuntimeError, "distributed.", op,
           ": the process group is not initialized; call shanshui::distributed::init() "
           "(Python: shanshui.distributed.init_process_group()) first");
}

#ifdef SHANSHUI_HAVE_MPI
void all_reduce(void* buf, int64_t count, DType dtype, ReduceOp op) {
  State& s = state();
  if (s.size == 1) return;
  char* p = static_cast<char*>(buf);
  const int64_t item = int64_t(itemsize(dtype));
  for (int64_t done = 0; done < count; done += kMaxChunk) {
    int n = int(std::min(kMaxChunk, count - done));
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, p + done * item, n, mpi_type(dtype), mpi_op(op, dtype), s.comm),
              "all_reduce");
  }
}

void broadcast(void* buf, int64_t nbytes, int src) {
  State& s = state();
  if (s.size == 1) return;
  char* p = static_cast<char*>(buf);
  for (int64_t done = 0; done < nbytes; done += kMaxChunk)
    check_mpi(MPI_Bcast(p + done, int(std::min(kMaxChunk, nbytes - done)), MPI_BYTE, src, s.comm), "broadcast");
}

void all_gather(const void* send, void* recv, int64_t nbytes) {
  State& s = state();
  if (s.size == 1) {
    if (nbytes) std::memcpy(recv, send, size_t(nbytes));
    return;
  }
  if (nbytes <= kMaxChunk) {
    check_mpi(MPI_Allgather(send, int(nbytes), MPI_BYTE, recv, int(nbytes), MPI_BYTE, s.comm), "all_gather");
    return;
  }
  // Larger than an int count: gather from each rank in turn by broadcast.
  char* out = static_cast<char*>(recv);
  std::memcpy(out + int64_t(s.rank) * nbytes, send, size_t(nbytes));
  for (int r = 0; r < s.size; ++r) broadcast(out + int64_t(r) * nbytes, nbytes, r);
}

void barrier() {
  State& s = state();
  if (s.size == 1) return;
  check_mpi(MPI_Barrier(s.comm), "barrier");
}
#else
void all_reduce(void*, int64_t, DType, ReduceOp) {}
void broadcast(void*, int64_t, int) {}
void all_gather(const void* send, void* recv, int64_t nbytes) {
  if (nbytes) std::memcpy(recv, send, size_t(nbytes));
}
void barrier() {}
#endif

}  // namespace backend
}  // namespace shanshui::distributed
