// Image classification data for the ViT demo: the MNIST-style idx files
// (Fashion-MNIST as Debian's dataset-fashion-mnist ships them, gzip'd or not)
// and scikit-learn's 8x8 digits CSV, read through zlib (gzread passes plain
// files through unchanged), plus the batch assembly with random shifts.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace demo {

// n grayscale images of h x w, row-major floats, and their class labels.
struct ImageSet {
  std::vector<float> pixels;   // n * h * w
  std::vector<int64_t> labels; // n
  int64_t n = 0, h = 0, w = 0;
  // The first `count` images (all when count <= 0 or >= n).
  ImageSet head(int64_t count) const;
};

// images-idx3-ubyte + labels-idx1-ubyte (with or without .gz), pixels scaled to [0, 1].
// Throws std::runtime_error naming the file on a missing file, a bad magic number or a
// count mismatch.
ImageSet read_idx(const std::string& images_path, const std::string& labels_path);

// scikit-learn's digits.csv.gz: 64 pixel values (0..16) and the label per line; pixels scaled to [0, 1].
ImageSet read_digits_csv(const std::string& path);

// Normalise in place: (p - mean) / std.
void normalize(ImageSet& s, float mean, float std);

// Batch `idx` of `s` as a flat [B, 1, h, w] buffer, each image moved by a random
// shift in [-max_shift, max_shift] along both axes (uncovered pixels get `fill`, the
// background value): the light augmentation that keeps a small ViT from memorising.
std::vector<float> gather_batch(const ImageSet& s, const std::vector<int64_t>& idx, int max_shift, float fill,
                                std::mt19937_64& rng);

}  // namespace demo
