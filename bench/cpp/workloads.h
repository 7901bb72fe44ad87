// The reference workloads (DESIGN.md, W1-W5) in the C++ API, mirroring
// bench/workloads.py: the same sizes, FLOP counts and items per step.
#pragma once
#include <functional>
#include <map>
#include <string>

#include <shanshui.h>

namespace shanshui_bench {

struct Workload {
  std::function<void()> step;
  double flops = 0;  // model FLOPs per step (2 per multiply-add; training = 3x forward)
  double items = 1;  // items processed per step
  std::string unit = "step";
};

using Factory = std::function<Workload(bool tiny)>;
// Workload id -> factory, for the workloads the C++ API can express so far.
const std::map<std::string, Factory>& workloads();

}  // namespace shanshui_bench
