// The one thread setting: it governs the library's own OpenMP loops and
// OpenBLAS (the OpenMP build, so both share one pool and never oversubscribe).
#pragma once
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace shanshui {

void set_num_threads(int n);
int get_num_threads();

// Elements below which a loop stays on one thread: forking costs ~1-5 us,
// which only pays off when each thread gets tens of microseconds of work.
constexpr int64_t kGrainSize = 32768;

// Run body(begin, end) over [0, n), split across threads when n * cost_per_item
// exceeds the grain size.
template <class Body>
void parallel_for(int64_t n, int64_t cost_per_item, Body&& body) {
  if (n <= 0) return;
#ifdef _OPENMP
  if (n * cost_per_item > kGrainSize && get_num_threads() > 1) {
#pragma omp parallel
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
