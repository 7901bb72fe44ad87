// libFuzzer target for the safetensors reader: any byte string must either
// load (and then re-save and re-load to the same tensors) or raise one of the
// library's exceptions; never crash, hang, over-allocate or read out of bounds.
// Build and run: `make fuzz` (clang++ -fsanitize=fuzzer,address,undefined).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/ops.h"
#include "core/serialize.h"

using namespace shanshui;

namespace {
// The reader works on files; one scratch file per fuzzing process, in RAM when /dev/shm exists.
const std::string& scratch(const char* name) {
  static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  static std::string in = dir + "/ss_fuzz_in_" + std::to_string(getpid());
  static std::string out = dir + "/ss_fuzz_out_" + std::to_string(getpid());
  return std::string(name) == "in" ? in : out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& in = scratch("in");
  FILE* f = std::fopen(in.c_str(), "wb");
  if (!f) return 0;
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;
  try {
    tensors = load_safetensors_ordered(in);
    metadata = load_safetensors_metadata(in);
  } catch (const ValueError&) {
    return 0;  // malformed: refused, as it must be
  } catch (const RuntimeError&) {
    return 0;  // I/O
  }
  // Accepted: the tensors must survive a save/load round trip unchanged.
  const std::string& out = scratch("out");
  try {
    save_safetensors(tensors, out, metadata);
  } catch (const ValueError&) {
    return 0;  // e.g. names the writer refuses (not UTF-8) that the JSON parser accepted
  }
  auto again = load_safetensors_ordered(out);
  if (again.size() != tensors.size()) __builtin_trap();
  for (size_t i = 0; i < again.size(); ++i) {
    const Tensor &x = tensors[i].second, &y = again[i].second;
    if (again[i].first != tensors[i].first || x.shape() != y.shape() || x.dtype() != y.dtype()) __builtin_trap();
    const size_t n = size_t(x.numel()) * x.element_size();  // bytes, so NaNs compare too
    if (n && std::memcmp(x.raw_data(), y.raw_data(), n) != 0) __builtin_trap();
  }
  return 0;
}
