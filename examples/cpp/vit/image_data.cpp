#include "image_data.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>

namespace demo {

namespace {

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// The whole (decompressed) file. Tries `path`, then `path.gz`.
std::vector<uint8_t> read_all(std::string path) {
  if (!exists(path) && exists(path + ".gz")) path += ".gz";
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f.get(), buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  if (n < 0) throw std::runtime_error("cannot read " + path + " (corrupt gzip data?)");
  return out;
}

uint32_t be32(const std::vector<uint8_t>& d, size_t at) {
  return uint32_t(d[at]) << 24 | uint32_t(d[at + 1]) << 16 | uint32_t(d[at + 2]) << 8 | uint32_t(d[at + 3]);
}

// Checks the idx header (magic 0x00000800 | ndim, unsigned bytes) and returns the dims.
std::vector<int64_t> idx_dims(const std::vector<uint8_t>& d, uint32_t ndim, const std::string& path) {
  if (d.size() < 4 + 4 * size_t(ndim) || be32(d, 0) != (0x800u | ndim))
    throw std::runtime_error(path + ": not an idx file of unsigned bytes with " + std::to_string(ndim) + " dims");
  std::vector<int64_t> dims;
  int64_t count = 1;
  for (uint32_t i = 0; i < ndim; ++i) {
    dims.push_back(int64_t(be32(d, 4 + 4 * i)));
    count *= dims.back();
  }
  if (d.size() != 4 + 4 * size_t(ndim) + size_t(count))
    throw std::runtime_error(path + ": header announces " + std::to_string(count) + " bytes of data, file has " +
                             std::to_string(d.size() - 4 - 4 * ndim));
  return dims;
}

}  // namespace

ImageSet ImageSet::head(int64_t count) const {
  if (count <= 0 || count >= n) return *this;
  ImageSet s;
  s.n = count, s.h = h, s.w = w;
  s.pixels.assign(pixels.begin(), pixels.begin() + count * h * w);
  s.labels.assign(labels.begin(), labels.begin() + count);
  return s;
}

ImageSet read_idx(const std::string& images_path, const std::string& labels_path) {
  std::vector<uint8_t> img = read_all(images_path), lab = read_all(labels_path);
  std::vector<int64_t> di = idx_dims(img, 3, images_path), dl = idx_dims(lab, 1, labels_path);
  if (di[0] != dl[0])
    throw std::runtime_error(images_path + " has " + std::to_string(di[0]) + " images but " + labels_path + " has " +
                             std::to_string(dl[0]) + " labels");
  ImageSet s;
  s.n = di[0], s.h = di[1], s.w = di[2];
  s.pixels.resize(size_t(s.n * s.h * s.w));
  for (size_t i = 0; i < s.pixels.size(); ++i) s.pixels[i] = float(img[16 + i]) / 255.0f;
  s.labels.assign(lab.begin() + 8, lab.end());
  return s;
}

ImageSet read_digits_csv(const std::string& path) {
  std::vector<uint8_t> raw = read_all(path);
  std::istringstream in(std::string(raw.begin(), raw.end()));
  ImageSet s;
  s.h = s.w = 8;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<double> v;
    std::istringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) v.push_back(std::stod(cell));
    if (v.size() != 65)
      throw std::runtime_error(path + ": line " + std::to_string(s.n + 1) + " has " + std::to_string(v.size()) +
                               " values, expected 64 pixels and a label");
    for (int i = 0; i < 64; ++i) s.pixels.push_back(float(v[size_t(i)] / 16.0));
    s.labels.push_back(int64_t(v[64]));
    ++s.n;
  }
  if (s.n == 0) throw std::runtime_error(path + ": no data");
  return s;
}

void normalize(ImageSet& s, float mean, float std) {
  for (float& p : s.pixels) p = (p - mean) / std;
}

std::vector<float> gather_batch(const ImageSet& s, const std::vector<int64_t>& idx, int max_shift, float fill,
                                std::mt19937_64& rng) {
  const int64_t hw = s.h * s.w;
  std::vector<float> out(idx.size() * size_t(hw), fill);
  std::uniform_int_distribution<int> shift(-max_shift, max_shift);
  for (size_t b = 0; b < idx.size(); ++b) {
    const int dy = max_shift > 0 ? shift(rng) : 0, dx = max_shift > 0 ? shift(rng) : 0;
    const float* src = s.pixels.data() + idx[b] * hw;
    float* dst = out.data() + int64_t(b) * hw;
    for (int64_t y = std::max<int64_t>(0, dy); y < std::min<int64_t>(s.h, s.h + dy); ++y)
      for (int64_t x = std::max<int64_t>(0, dx); x < std::min<int64_t>(s.w, s.w + dx); ++x)
        dst[y * s.w + x] = src[(y - dy) * s.w + (x - dx)];
  }
  return out;
}

}  // namespace demo
