#include "bench/cpp/workloads.h"

namespace ss = shanshui;

namespace shanshui_bench {

namespace {

Workload sgemm(bool tiny) {
  const int64_t n = tiny ? 32 : 1024;
  ss::manual_seed(0);
  ss::Tensor a = ss::randn({n, n}), b = ss::randn({n, n});
  return {[a, b] { ss::matmul(a, b); }, 2.0 * double(n) * double(n) * double(n), 1, "call"};
}

}  // namespace

const std::map<std::string, Factory>& workloads() {
  static const std::map<std::string, Factory> table = {
      {"SGEMM", sgemm},
  };
  return table;
}

}  // namespace shanshui_bench
