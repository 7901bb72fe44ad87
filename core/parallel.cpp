#include "core/parallel.h"

#include <algorithm>
#include <atomic>

#include "core/error.h"
#ifdef _OPENMP
#include <omp.h>
#endif

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
}

namespace shanshui {

namespace {
int g_threads = [] {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}();
std::atomic<uint64_t> g_regions{0};
}  // namespace

uint64_t parallel_region_count() { return g_regions.load(std::memory_order_relaxed); }
void detail::count_parallel_region() { g_regions.fetch_add(1, std::memory_order_relaxed); }

void set_num_threads(int n) {
  SS_CHECK(n >= 1, ValueError, "set_num_threads: expected a positive number of threads, got ", n);
  g_threads = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  openblas_set_num_threads(n);
}

int get_num_threads() { return g_threads; }

int blas_num_threads() { return openblas_get_num_threads(); }

void set_blas_threads_for_gemm(int64_t m, int64_t n, int64_t k) {
#ifdef _OPENMP
  if (omp_in_parallel()) return;  // OpenBLAS never forks here; its globals must not race
#endif
  const int want = m * n * k < kGemmGrain ? 1 : g_threads;
  if (want > 1) detail::count_parallel_region();
  // OpenMP OpenBLAS follows the calling thread's omp_get_max_threads(), and
  // openblas_set_num_threads sets both; only call it on a change (it re-sizes buffers).
  bool same = openblas_get_num_threads() == want;
#ifdef _OPENMP
  same = same && omp_get_max_threads() == want;
#endif
  if (!same) openblas_set_num_threads(want);
}

}  // namespace shanshui
