// safetensors: round trips, the exact byte layout, the shared Cora file, and
// every kind of corrupted file the loader must reject with a clear error.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/ops.h"
#include "core/serialize.h"

using namespace shanshui;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed afterwards.
struct TempDir {
  fs::path dir;
  TempDir() {
    static int n = 0;
    dir = fs::temp_directory_path() / ("shanshui_test_serialize_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char(uint8_t(n >> (8 * i)));
  return s;
}
// A file with the given header text and `data_bytes` zero bytes of data.
std::string st_file(const std::string& header, size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\0');
}

bool same(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && to_vector(a) == to_vector(b);
}

std::string data_dir() {
  if (const char* env = std::getenv("SHANSHUI_DATA")) return env;
  // <repo>/tests/cpp/this_file -> <repo>/../shared/data
  return (fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "shared" / "data").string();
}

}  // namespace

TEST_CASE("safetensors round trip of every dtype, 0-d, 0-size and views", "[serialize]") {
  TempDir tmp;
  std::vector<std::pair<std::string, Tensor>> tensors = {
      {"z.f32", from_vector(std::vector<float>{1.5f, -2.0f, 3.25f, 1e-30f, -0.0f, 7.0f}, {2, 3})},
      {"a.f64", from_vector(std::vector<double>{M_PI, -1e300, 4.9e-324}, {3}, DType::Float64)},
      {"m.i64", from_vector(std::vector<int64_t>{INT64_MIN, -1, 0, INT64_MAX}, {2, 1, 2})},
      {"b.bool", from_vector(std::vector<double>{1, 0, 0, 1, 1}, {5}, DType::Bool)},
      {"scalar", scalar_tensor(42.0, DType::Float64)},
      {"empty", zeros({0, 4})},
      {"empty_bool", zeros({0}, DType::Bool)},
      {"view", from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}).t()},  // non-contiguous
  };
  const std::string path = tmp.file("model.safetensors");
  save_safetensors(tensors, path, {{"format", "pt"}, {"note", "héllo"}});

  auto loaded = load_safetensors(path);
  REQUIRE(loaded.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO(name);
    REQUIRE(loaded.count(name) == 1);
    REQUIRE(same(loaded.at(name), t));
    REQUIRE(loaded.at(name).is_contiguous());
  }
  // Tensors are laid out in insertion order.
  auto ordered = load_safetensors_ordered(path);
  REQUIRE(ordered.size() == tensors.size());
  for (size_t i = 0; i < ordered.size(); ++i) REQUIRE(ordered[i].first == tensors[i].first);
  auto meta = load_safetensors_metadata(path);
  REQUIRE(meta == std::map<std::string, std::string>{{"format", "pt"}, {"note", "héllo"}});

  // The std::map overload; overwriting an existing file; nothing temporary left behind.
  std::map<std::string, Tensor> m = {{"w", ones({2, 2})}, {"b", zeros({2}, DType::Int64)}};
  save_safetensors(m, path);
  auto back = load_safetensors(path);
  REQUIRE(back.size() == 2);
  REQUIRE(same(back.at("w"), m.at("w")));
  REQUIRE(same(back.at("b"), m.at("b")));
  REQUIRE(load_safetensors_metadata(path).empty());
  int files = 0;
  for (auto& e : fs::directory_iterator(tmp.dir)) files += e.is_regular_file();
  REQUIRE(files == 1);

  // An empty dict is a valid file too.
  save_safetensors(std::map<std::string, Tensor>{}, path);
  REQUIRE(load_safetensors(path).empty());
}

TEST_CASE("safetensors byte layout follows the spec", "[serialize]") {
  TempDir tmp;
  const std::string path = tmp.file("t.safetensors");
  Tensor a = from_vector(std::vector<float>{1.0f, 2.0f}, {2});
  Tensor b = from_vector(std::vector<int64_t>{7}, {1, 1});
  save_safetensors({{"a", a}, {"b", b}}, path, {{"format", "pt"}});
  std::string bytes = read_bytes(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[size_t(i)])) << (8 * i);
  REQUIRE(n % 8 == 0);  // padded like the reference writer
  const std::string json_text =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]}})";
  std::string header = bytes.substr(8, size_t(n));
  REQUIRE(header.substr(0, json_text.size()) == json_text);
  REQUIRE(header.find_first_not_of(' ', json_text.size()) == std::string::npos);  // padding is spaces
  REQUIRE(bytes.size() == 8 + n + 16);
  float f[2];
  std::memcpy(f, bytes.data() + 8 + n, 8);
  REQUIRE((f[0] == 1.0f && f[1] == 2.0f));
  int64_t i;
  std::memcpy(&i, bytes.data() + 8 + n + 8, 8);
  REQUIRE(i == 7);
}

TEST_CASE("the shared Cora file loads", "[serialize]") {
  const std::string path = data_dir() + "/cora/cora.safetensors";
  if (!fs::exists(path)) {
    WARN("skipping: " << path << " not found (set SHANSHUI_DATA)");
    return;
  }
  auto d = load_safetensors(path);
  REQUIRE(d.at("x").dtype() == DType::Bool);
  REQUIRE(d.at("x").shape() == Shape{2708, 1433});
  REQUIRE(d.at("y").dtype() == DType::Int64);
  REQUIRE(d.at("y").shape() == Shape{2708});
  REQUIRE(d.at("edge_index").shape() == Shape{2, 10556});
  REQUIRE(d.at("train_idx").shape() == Shape{140});
  REQUIRE(d.at("val_idx").shape() == Shape{500});
  REQUIRE(d.at("test_idx").shape() == Shape{1000});
  const int64_t* y = d.at("y").data_ptr<int64_t>();
  for (int64_t k = 0; k < 2708; ++k) REQUIRE((y[k] >= 0 && y[k] < 7));
  const int64_t* ei = d.at("edge_index").data_ptr<int64_t>();
  for (int64_t k = 0; k < 2 * 10556; ++k) REQUIRE((ei[k] >= 0 && ei[k] < 2708));
  const bool* x = d.at("x").data_ptr<bool>();
  int64_t ones_count = 0;
  for (int64_t k = 0; k < 2708 * 1433; ++k) ones_count += x[k];
  REQUIRE(ones_count == 49216);  // Cora's bag-of-words has 49,216 nonzeros
}

TEST_CASE("corrupted safetensors files are rejected with a clear error", "[serialize]") {
  TempDir tmp;
  const std::string path = tmp.file("bad.safetensors");
  auto expect_value_error = [&](const std::string& bytes, const std::string& needle) {
    write_bytes(path, bytes);
    INFO("needle: " << needle);
    try {
      load_safetensors(path);
      FAIL("expected ValueError");
    } catch (const ValueError& e) {
      std::string msg = e.what();
      INFO(msg);
      REQUIRE(msg.find(path) != std::string::npos);  // names the file
      REQUIRE(msg.find(needle) != std::string::npos);
    }
  };
  const std::string ok_entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  expect_value_error("", "too small");
  expect_value_error(std::string("\x10\0\0", 3), "too small");
  expect_value_error(le64(1000) + "{}", "larger than the file");
  expect_value_error(le64(uint64_t(1) << 62) + "{}", "exceeds the limit");
  expect_value_error(le64(100'000'001) + "{}", "exceeds the limit");  // just over the reference's 100 MB
  expect_value_error(st_file("{not json", 0), "not a valid JSON");
  expect_value_error(st_file("[1,2]   ", 0), "not a valid JSON");
  expect_value_error(st_file(R"({"t":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4), "F16");
  expect_value_error(st_file(R"({"t":{"dtype":"XYZ","shape":[2],"data_offsets":[0,4]}})", 4), "'t'");
  expect_value_error(st_file(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8), "dtype");
  expect_value_error(st_file(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "shape");
  expect_value_error(st_file(R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8), "shape");
  expect_value_error(st_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), "data_offsets");
  expect_value_error(st_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "begin <= end");
  expect_value_error(st_file(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12");
  // past the end of the data section (truncated file)
  expect_value_error(st_file("{" + ok_entry + "}", 4), "run past the end");
  // extra bytes after the last tensor
  expect_value_error(st_file("{" + ok_entry + "}", 12), "header describes 8");
  // overlapping and gapped tensors
  expect_value_error(st_file("{" + ok_entry + R"(,"u":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
                     "overlap");
  expect_value_error(st_file("{" + ok_entry + R"(,"u":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", 16),
                     "gap");
  expect_value_error(st_file(R"({"__metadata__":{"k":1},)" + ok_entry + "}", 8), "__metadata__");
  expect_value_error(st_file(R"({"t":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,8]}})", 8),
                     "too large");

  // A valid file truncated by one byte.
  save_safetensors({{"w", ones({3, 3})}}, path);
  std::string good = read_bytes(path);
  expect_value_error(good.substr(0, good.size() - 1), "truncated");
  expect_value_error(good.substr(0, 20), "larger than the file");

  REQUIRE_THROWS_AS(load_safetensors(tmp.file("missing.safetensors")), RuntimeError);
  REQUIRE_THROWS_AS(load_safetensors_metadata(tmp.file("missing.safetensors")), RuntimeError);
}

TEST_CASE("save_safetensors rejects bad input and never leaves a half-written file", "[serialize]") {
  TempDir tmp;
  const std::string path = tmp.file("m.safetensors");
  save_safetensors({{"keep", ones({2})}}, path);
  const std::string before = read_bytes(path);
  REQUIRE_THROWS_AS(save_safetensors({{"a", ones({1})}, {"a", ones({1})}}, path), ValueError);
  REQUIRE_THROWS_AS(save_safetensors({{"__metadata__", ones({1})}}, path), ValueError);
  REQUIRE_THROWS_AS(save_safetensors({{"", ones({1})}}, path), ValueError);
  REQUIRE_THROWS_AS(save_safetensors({{"u", Tensor()}}, path), ValueError);
  REQUIRE_THROWS_AS(save_safetensors({{std::string("\xff\xfe"), ones({1})}}, path), ValueError);  // not UTF-8
  REQUIRE(read_bytes(path) == before);  // the old file is untouched
  // Unwritable destinations: a missing directory, and a path that is a directory.
  REQUIRE_THROWS_AS(save_safetensors({{"a", ones({1})}}, tmp.file("no/such/dir/x.safetensors")), RuntimeError);
  fs::create_directories(tmp.dir / "adir");
  REQUIRE_THROWS_AS(save_safetensors({{"a", ones({1})}}, tmp.file("adir")), RuntimeError);
  int files = 0;
  for (auto& e : fs::directory_iterator(tmp.dir)) files += e.is_regular_file();
  REQUIRE(files == 1);  // no temporary left behind
}
