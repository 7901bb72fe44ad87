// The transport under shanshui::distributed (internal): process-group state
// and raw collectives on contiguous buffers. backend.cpp is the only file that
// includes <mpi.h>; without SHANSHUI_HAVE_MPI it is the group of one.
#pragma once
#include <cstdint>

#include "core/distributed/distributed.h"

namespace shanshui::distributed::backend {

// Throws RuntimeError naming `op` unless init() has run.
void require_initialized(const char* op);

// In place, `count` elements of `dtype` (bool as bytes: SUM/MAX -> or, PRODUCT/MIN -> and).
// MEAN is not handled here: the caller sums and divides.
void all_reduce(void* buf, int64_t count, DType dtype, ReduceOp op);
void broadcast(void* buf, int64_t nbytes, int src);
// recv holds world_size() blocks of nbytes, rank i's at i * nbytes.
void all_gather(const void* send, void* recv, int64_t nbytes);
void barrier();

}  // namespace shanshui::distributed::backend
