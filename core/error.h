// Exceptions thrown by every public entry point. Each maps to the Python
// exception of the same name in the bindings. Messages name the op, the
// argument and the shapes: "matmul: shapes [2, 3] and [4, 5] cannot be multiplied".
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include <cstdint>

namespace shanshui {

struct ValueError : std::invalid_argument { using std::invalid_argument::invalid_argument; };
struct IndexError : std::out_of_range { using std::out_of_range::out_of_range; };
struct TypeError : std::invalid_argument { using std::invalid_argument::invalid_argument; };
struct RuntimeError : std::runtime_error { using std::runtime_error::runtime_error; };

namespace detail {
inline void stream_all(std::ostringstream&) {}
template <class T, class... R>
void stream_all(std::ostringstream& os, const T& v, const R&... rest);
}  // namespace detail

// "[2, 3]"
std::string shape_str(const std::vector<int64_t>& s);

template <class... Args>
std::string cat_str(const Args&... args) {
  std::ostringstream os;
  detail::stream_all(os, args...);
  return os.str();
}

namespace detail {
inline void put(std::ostringstream& os, const std::vector<int64_t>& v) { os << shape_str(v); }
template <class T> void put(std::ostringstream& os, const T& v) { os << v; }
template <class T, class... R>
void stream_all(std::ostringstream& os, const T& v, const R&... rest) {
  put(os, v);
  stream_all(os, rest...);
}
}  // namespace detail

}  // namespace shanshui

// SS_CHECK(cond, ErrorType, message parts...): throw ErrorType(cat_str(parts...)) unless cond.
#define SS_CHECK(cond, Err, ...)                                   \
  do {                                                             \
    if (!(cond)) throw ::shanshui::Err(::shanshui::cat_str(__VA_ARGS__)); \
  } while (0)
