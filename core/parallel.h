// The one thread setting: it governs the library's own OpenMP loops and
// OpenBLAS (the OpenMP build, so both share one pool and never oversubscribe).
//
// Two threads pay only when each parallel region carries enough work: a fork
// and join costs a few microseconds on a quiet machine, and far more on a
// loaded one, where the region waits for whichever thread the scheduler has
// parked. So loops below kGrainSize and GEMMs below kGemmGrain stay on the
// calling thread, and a model made only of such ops runs exactly as on one
// thread. (How long waiting threads spin before they sleep matters too: see
// "Threads" in the README and the GOMP_SPINCOUNT default the Python package sets.)
#pragma once
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace shanshui {

void set_num_threads(int n);
int get_num_threads();

// Cost units (about one simple float op each) below which a loop stays on one
// thread: 2^18 is ~50-100 us of elementwise work, well above the cost of
// waking a sleeping worker thread (10-50 us).
constexpr int64_t kGrainSize = int64_t(1) << 18;

// Multiply-adds (m * n * k) below which a GEMM runs on one BLAS thread: 2^21
// (128^3) is ~50 us on one core. OpenBLAS alone forks from 2^18 on.
constexpr int64_t kGemmGrain = int64_t(1) << 21;

// True when a loop of n items costing cost_per_item each would be split across threads.
inline bool should_parallelize(int64_t n, int64_t cost_per_item) {
  return get_num_threads() > 1 && n > 1 && n * cost_per_item > kGrainSize;
}

// Call before each cblas_?gemm: sets the BLAS thread count for an m x n x k
// product (one thread below kGemmGrain, get_num_threads() above). A no-op
// inside a parallel region, where OpenBLAS already runs single-threaded.
void set_blas_threads_for_gemm(int64_t m, int64_t n, int64_t k);
// The thread count OpenBLAS currently uses (for tests).
int blas_num_threads();

// Parallel regions entered by parallel_for plus GEMMs handed to more than one
// BLAS thread, since the start (tests check that small work never forks).
uint64_t parallel_region_count();
namespace detail {
void count_parallel_region();
}

// Run body(begin, end) over [0, n), split across threads when n * cost_per_item
// exceeds the grain size, else one call body(0, n) on the calling thread.
template <class Body>
void parallel_for(int64_t n, int64_t cost_per_item, Body&& body) {
  if (n <= 0) return;
#ifdef _OPENMP
  if (should_parallelize(n, cost_per_item) && !omp_in_parallel()) {
    detail::count_parallel_region();
    // num_threads is explicit: OpenBLAS's thread setting (openblas_set_num_threads)
    // also changes this thread's OpenMP default, which must not shrink our loops.
#pragma omp parallel num_threads(get_num_threads())
    {
      int nt = omp_get_num_threads();
      int tid = omp_get_thread_num();
      int64_t chunk = (n + nt - 1) / nt;
      int64_t b = tid * chunk, e = b + chunk < n ? b + chunk : n;
      if (b < e) body(b, e);
    }
    return;
  }
#endif
  body(int64_t(0), n);
}

}  // namespace shanshui
