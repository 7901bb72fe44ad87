#include "image.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace demo {

void write_heatmap_png(const std::string& path, const std::vector<double>& values, int rows, int cols, int cell,
                       double lo, double hi) {
  if (rows <= 0 || cols <= 0 || cell <= 0 || values.size() != size_t(rows) * size_t(cols))
    throw std::invalid_argument("write_heatmap_png: values has " + std::to_string(values.size()) +
                                " entries for a " + std::to_string(rows) + " x " + std::to_string(cols) +
                                " matrix (cell " + std::to_string(cell) + ")");
  if (hi <= lo) {
    auto [mn, mx] = std::minmax_element(values.begin(), values.end());
    lo = *mn;
    hi = *mx > *mn ? *mx : *mn + 1.0;
  }
  const int w = cols * cell, h = rows * cell;
  std::vector<uint8_t> rgb(size_t(w) * size_t(h) * 3);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      double t = std::clamp((values[size_t(r) * cols + c] - lo) / (hi - lo), 0.0, 1.0);
      // white (255, 255, 255) -> dark blue (8, 48, 107), the end points of matplotlib's "Blues"
      uint8_t px[3] = {uint8_t(255 - t * 247), uint8_t(255 - t * 207), uint8_t(255 - t * 148)};
      for (int y = r * cell; y < (r + 1) * cell; ++y)
        for (int x = c * cell; x < (c + 1) * cell; ++x)
          std::copy(px, px + 3, &rgb[(size_t(y) * w + x) * 3]);
    }
  if (!stbi_write_png(path.c_str(), w, h, 3, rgb.data(), w * 3))
    throw std::runtime_error("write_heatmap_png: cannot write " + path);
}

}  // namespace demo
