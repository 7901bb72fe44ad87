// The C++ benchmark worker: the workloads of bench/workloads.py written against
// the C++ API, speaking the same line protocol as bench/worker.py (see there):
// "ready {json}" after warm-up, "run N" -> "time S", "quit" -> "mem BYTES".
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "bench/cpp/workloads.h"

namespace {

long status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') return std::stol(line.substr(n + 1));
  return -1;
}

bool reset_peak() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  return bool(f);
}

}  // namespace

int main(int argc, char** argv) {
  std::string workload;
  bool tiny = false;
  int threads = 2, warmup = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--workload" && i + 1 < argc) workload = argv[++i];
    else if (a == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
    else if (a == "--warmup" && i + 1 < argc) warmup = std::stoi(argv[++i]);
    else if (a == "--tiny") tiny = true;
    else {
      std::fprintf(stderr, "usage: bench_worker --workload ID [--threads N] [--warmup N] [--tiny]\n");
      return 2;
    }
  }
  shanshui::set_num_threads(threads);
  const auto& table = shanshui_bench::workloads();
  auto it = table.find(workload);
  if (it == table.end()) {
    std::printf("unavailable the C++ worker has no workload '%s'\n", workload.c_str());
    return 0;
  }
  shanshui_bench::Workload w;
  try {
    w = it->second(tiny);
  } catch (const std::exception& e) {
    std::printf("unavailable %s\n", e.what());
    return 0;
  }
  const long rss0 = status_kb("VmRSS");
  const bool can_peak = reset_peak();
  for (int i = 0; i < warmup; ++i) w.step();
  std::printf("ready {\"flops\": %.17g, \"items\": %.17g, \"unit\": \"%s\"}\n", w.flops, w.items, w.unit.c_str());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream is(line);
    std::string cmd;
    long n = 0;
    is >> cmd >> n;
    if (cmd != "run") break;
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) w.step();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / double(n);
    std::printf("time %.9g\n", s);
    std::fflush(stdout);
  }
  long peak = can_peak ? (status_kb("VmHWM") - rss0) * 1024 : -1;
  std::printf("mem %ld\n", can_peak ? (peak > 0 ? peak : 0) : -1L);
  return 0;
}
