#include "core/parallel.h"

#include <algorithm>

#include "core/error.h"
#ifdef _OPENMP
#include <omp.h>
#endif

extern "C" {
void openblas_set_num_threads(int);
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
}  // namespace

void set_num_threads(int n) {
  SS_CHECK(n >= 1, ValueError, "set_num_threads: expected a positive number of threads, got ", n);
  g_threads = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  openblas_set_num_threads(n);
}

int get_num_threads() { return g_threads; }

}  // namespace shanshui
