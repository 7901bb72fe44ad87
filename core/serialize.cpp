// safetensors writer and strict reader. The reader applies the reference
// implementation's checks (safetensors/src/tensor.rs: header size, JSON,
// known dtypes, shape * itemsize == extent, offsets contiguous and covering the
// whole data section) so a file that loads here loads everywhere.
#include "core/serialize.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

namespace shanshui {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; add byte swapping");

namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference implementation's limit

const char* st_dtype(DType d) {
  switch (d) {
    case DType::Bool: return "BOOL";
    case DType::Int64: return "I64";
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
  }
  return "?";
}

// -------------------------------------------------------------------- saving

// Write everything to a fresh file next to `path`, fsync, then rename over `path`.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path) {
    static std::atomic<uint64_t> counter{0};
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      tmp_ = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
      fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) fail("cannot create a temporary file next to it");
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("write failed");
      p += w;
      n -= size_t(w);
    }
  }
  void commit() {
    if (::fsync(fd_) != 0) fail("fsync failed");
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail("close failed");
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) fail("rename of the temporary file failed");
    committed_ = true;
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw RuntimeError(cat_str("save_safetensors: '", path_, "': ", what, " (", std::strerror(errno), ")"));
  }
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void save_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) {
    ordered_json m = ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  std::vector<Tensor> data;  // contiguous copies where needed, in file order
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SS_CHECK(!name.empty(), ValueError, "save_safetensors: '", path, "': tensor names must be non-empty");
    SS_CHECK(name != "__metadata__", ValueError, "save_safetensors: '", path,
             "': '__metadata__' is reserved and cannot name a tensor");
    SS_CHECK(seen.insert(name).second, ValueError, "save_safetensors: '", path, "': duplicate tensor name '", name,
             "'");
    SS_CHECK(t.defined(), ValueError, "save_safetensors: '", path, "': tensor '", name, "' is undefined");
    Tensor c = t.is_contiguous() ? t : t.contiguous();
    const uint64_t nbytes = uint64_t(c.numel()) * c.element_size();
    header[name] = {{"dtype", st_dtype(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(std::move(c));
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name or metadata value that is not UTF-8
    throw ValueError(cat_str("save_safetensors: '", path, "': cannot encode the header: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // pad as the reference writer does
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));

  AtomicFile f(path);
  f.write(len, 8);
  f.write(text.data(), text.size());
  for (const Tensor& c : data) f.write(c.raw_data(), size_t(c.numel()) * c.element_size());
  f.commit();
}

void save_safetensors(const std::map<std::string, Tensor>& tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  save_safetensors(std::vector<std::pair<std::string, Tensor>>(tensors.begin(), tensors.end()), path, metadata);
}

void save_safetensors(std::initializer_list<std::pair<std::string, Tensor>> tensors, const std::string& path,
                      const std::map<std::string, std::string>& metadata) {
  save_safetensors(std::vector<std::pair<std::string, Tensor>>(tensors), path, metadata);
}

// ------------------------------------------------------------------- loading

namespace {

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

struct Parsed {
  std::vector<Entry> entries;  // sorted by offset
  std::map<std::string, std::string> metadata;
  uint64_t data_start;
};

bool as_u64(const json& j, uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    out = uint64_t(j.get<int64_t>());
    return true;
  }
  return false;
}

Parsed parse_file(std::ifstream& in, const std::string& path, const char* op) {
  auto bad = [&](const auto&... parts) { return ValueError(cat_str(op, ": '", path, "': ", parts...)); };
  SS_CHECK(in.is_open(), RuntimeError, op, ": cannot open '", path, "' (", std::strerror(errno), ")");
  in.seekg(0, std::ios::end);
  const uint64_t size = uint64_t(in.tellg());
  in.seekg(0);
  if (size < 8) throw bad("file has ", size, " bytes, too small for the 8-byte header length (truncated?)");
  uint8_t len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(len[i]) << (8 * i);
  if (n > kMaxHeader) throw bad("header length ", n, " exceeds the limit of ", kMaxHeader, " bytes");
  if (n > size - 8) throw bad("header length ", n, " is larger than the file (", size, " bytes; truncated?)");
  std::string text(size_t(n), '\0');
  in.read(text.data(), std::streamsize(n));
  SS_CHECK(in, RuntimeError, op, ": '", path, "': read error in the header");

  json header = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    throw bad("header is not a valid JSON object (malformed or corrupted file)");

  Parsed p;
  p.data_start = 8 + n;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) throw bad("'__metadata__' must be an object of strings");
      for (const auto& [mk, mv] : v.items()) {
        if (!mv.is_string()) throw bad("'__metadata__' value for '", mk, "' is not a string");
        p.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) throw bad("tensor '", name, "': entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) throw bad("tensor '", name, "': missing or invalid 'dtype'");
    if (!v.contains("shape") || !v["shape"].is_array()) throw bad("tensor '", name, "': missing or invalid 'shape'");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      throw bad("tensor '", name, "': 'data_offsets' must be [begin, end]");
    Entry e;
    e.name = name;
    const std::string dt = v["dtype"].get<std::string>();
    if (dt == "F32") e.dtype = DType::Float32;
    else if (dt == "F64") e.dtype = DType::Float64;
    else if (dt == "I64") e.dtype = DType::Int64;
    else if (dt == "BOOL") e.dtype = DType::Bool;
    else throw bad("tensor '", name, "': dtype '", dt, "' is not supported (F32, F64, I64 and BOOL are)");
    // numel * itemsize, with overflow checks: the shape comes from an untrusted file.
    uint64_t bytes = itemsize(e.dtype);
    bool overflow = false, has_zero = false;
    for (const json& d : v["shape"]) {
      uint64_t s;
      if (!as_u64(d, s) || s > uint64_t(INT64_MAX)) throw bad("tensor '", name, "': shape entries must be non-negative integers");
      e.shape.push_back(int64_t(s));
      has_zero |= s == 0;
      if (s != 0 && bytes > UINT64_MAX / s) overflow = true;
      bytes *= s;
    }
    if (has_zero) bytes = 0;  // an empty tensor, however large its other dims
    if (overflow && !has_zero) throw bad("tensor '", name, "': shape ", e.shape, " is too large");
    if (!as_u64(v["data_offsets"][0], e.begin) || !as_u64(v["data_offsets"][1], e.end) || e.begin > e.end)
      throw bad("tensor '", name, "': data_offsets must be non-negative integers with begin <= end");
    if (e.end - e.begin != bytes)
      throw bad("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin,
                " bytes but ", dt, " shape ", e.shape, " needs ", bytes);
    p.entries.push_back(std::move(e));
  }

  // The tensors must tile the data section exactly: no overlap, no gap, nothing past the end.
  std::sort(p.entries.begin(), p.entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  const uint64_t data_size = size - p.data_start;
  uint64_t expect = 0;
  for (const Entry& e : p.entries) {
    if (e.begin < expect) throw bad("tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end, "] overlap the previous tensor");
    if (e.begin > expect) throw bad("tensor '", e.name, "': gap in the data section before offset ", e.begin);
    if (e.end > data_size)
      throw bad("tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end, "] run past the end of the data section (",
                data_size, " bytes; truncated?)");
    expect = e.end;
  }
  if (expect != data_size)
    throw bad("the data section has ", data_size, " bytes but the header describes ", expect);
  return p;
}

std::vector<std::pair<std::string, Tensor>> read_tensors(const std::string& path) {
  const char* op = "load_safetensors";
  std::ifstream in(path, std::ios::binary);
  Parsed p = parse_file(in, path, op);
  std::vector<std::pair<std::string, Tensor>> out;
  out.reserve(p.entries.size());
  for (const Entry& e : p.entries) {
    Tensor t = empty(e.shape, e.dtype);
    const uint64_t n = e.end - e.begin;
    if (n > 0) {
      in.seekg(std::streamoff(p.data_start + e.begin));
      in.read(static_cast<char*>(t.raw_data()), std::streamsize(n));
      SS_CHECK(in, RuntimeError, op, ": '", path, "': read error in tensor '", e.name, "'");
    }
    if (e.dtype == DType::Bool) {  // any nonzero byte is true; keep C++ bools 0/1
      uint8_t* b = static_cast<uint8_t*>(t.raw_data());
      for (uint64_t i = 0; i < n; ++i) b[i] = b[i] != 0;
    }
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> load_safetensors_ordered(const std::string& path) {
  return read_tensors(path);
}

std::map<std::string, Tensor> load_safetensors(const std::string& path) {
  auto v = read_tensors(path);
  return std::map<std::string, Tensor>(std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
}

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return parse_file(in, path, "load_safetensors_metadata").metadata;
}

}  // namespace shanshui
