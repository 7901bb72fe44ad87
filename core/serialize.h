// Tensors to and from safetensors files (https://github.com/huggingface/safetensors),
// exactly to the format: an 8-byte little-endian header length N, N bytes of
// JSON header {"__metadata__": {str: str}, name: {"dtype", "shape",
// "data_offsets": [begin, end]}} padded with spaces to a multiple of 8, then
// the tensors' bytes packed back to back (offsets relative to the data section).
// Files load in PyTorch / Hugging Face tools and theirs load here (dtypes F32,
// F64, I64, BOOL).
#pragma once
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace shanshui {

// Writes to a temporary file in the same directory and renames it over `path`,
// so a failed save never leaves a half-written file. Tensors are laid out in
// the given order (a state dict keeps its insertion order).
void save_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});
void save_safetensors(const std::map<std::string, Tensor>& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});
// save_safetensors({{"weight", w}, {"bias", b}}, path): a braced list keeps its order.
void save_safetensors(std::initializer_list<std::pair<std::string, Tensor>> tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {});

// Validates the whole file (sizes, JSON, dtypes, shapes, offsets) and throws
// ValueError naming the file and the key on anything malformed, RuntimeError on I/O failure.
std::map<std::string, Tensor> load_safetensors(const std::string& path);
// The same tensors in file order (the order they were saved in by this library).
std::vector<std::pair<std::string, Tensor>> load_safetensors_ordered(const std::string& path);
// The optional "__metadata__" string map (empty when absent).
std::map<std::string, std::string> load_safetensors_metadata(const std::string& path);

}  // namespace shanshui
