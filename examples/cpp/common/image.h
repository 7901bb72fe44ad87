// Pictures for the C++ demos, written with stb_image_write (Debian libstb-dev):
// a matrix as a heatmap (attention weights, confusion matrices), each cell a
// square block of pixels, coloured on a white -> dark blue ramp.
#pragma once
#include <string>
#include <vector>

namespace demo {

// values: rows x cols, row-major. Values are scaled from [lo, hi] (hi <= lo:
// the matrix's own min and max). cell: pixels per cell side. Throws
// std::runtime_error naming the path if the file cannot be written.
void write_heatmap_png(const std::string& path, const std::vector<double>& values, int rows, int cols,
                       int cell = 16, double lo = 0.0, double hi = -1.0);

}  // namespace demo
