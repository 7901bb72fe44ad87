#include "core/shape.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace shanshui {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

int64_t checked_numel(const Shape& shape, const char* op) {
  int64_t n = 1;
  for (auto d : shape) {
    SS_CHECK(d >= 0, ValueError, op, ": negative size ", d, " in shape ", shape);
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      // Keep scanning for a zero: a zero anywhere makes the product valid.
      bool has_zero = std::find(shape.begin(), shape.end(), 0) != shape.end();
      SS_CHECK(has_zero, ValueError, op, ": shape ", shape, " has more elements than int64 can count");
      return 0;
    }
    n *= d;
  }
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    SS_CHECK(da == db || da == 1 || db == 1, ValueError, op, ": shapes ", a, " and ", b,
             " cannot be broadcast (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = std::max<int64_t>(ndim, 1);  // a 0-d tensor accepts dim 0 and -1, as PyTorch
  SS_CHECK(dim >= -n && dim < n, IndexError, op, ": dim ", dim, " out of range for a tensor with ",
           ndim, " dims (expected in [", -n, ", ", n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> r;
  if (dims.empty()) {
    for (int64_t i = 0; i < ndim; ++i) r.push_back(i);
    return r;
  }
  for (auto d : dims) {
    int64_t w = wrap_dim(d, ndim, op);
    SS_CHECK(std::find(r.begin(), r.end(), w) == r.end(), ValueError, op, ": dim ", w,
             " appears more than once in the list of dims");
    r.push_back(w);
  }
  std::sort(r.begin(), r.end());
  if (ndim == 0) r.clear();
  return r;
}

}  // namespace shanshui
