// Tensor repr, a line-by-line port of torch/_tensor_str.py so the text matches
// PyTorch's: one number format shared by the whole tensor (chosen from the
// values that will be shown), summarisation with "..." past the threshold, and
// the dtype / requires_grad / grad_fn suffixes wrapped at the line width.
#include "core/print.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "autograd/node.h"

namespace shanshui {

PrintOptions& print_options() {
  static PrintOptions opts;
  return opts;
}

namespace {

// Python's "{:.{p}f}" / "{:.{p}e}" for a float: printf agrees except that
// Python never prints a sign on NaN.
std::string py_format(double v, int precision, char conv) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char fmt[16], buf[512];
  std::snprintf(fmt, sizeof fmt, "%%.%d%c", precision, conv);
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string pad_left(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

class Printer {
 public:
  Printer(const Tensor& t, const PrintOptions& o) : t_(t), o_(o) {
    summarize_ = t.numel() > o.threshold;
    floating_ = t.is_floating_point();
    std::vector<int64_t> shown;
    collect(0, 0, shown);
    choose_format(shown);
  }

  std::string body(int64_t indent) const { return render(0, 0, indent); }

 private:
  const Tensor& t_;
  const PrintOptions& o_;
  bool summarize_ = false, floating_ = false;
  bool int_mode_ = true, sci_mode_ = false;
  size_t max_width_ = 1;

  bool elided(int64_t d) const { return summarize_ && t_.size(d) > 2 * o_.edgeitems; }

  // Indices along dim d that are printed, with -1 marking the "..." gap.
  std::vector<int64_t> indices(int64_t d) const {
    std::vector<int64_t> idx;
    const int64_t n = t_.size(d);
    if (elided(d)) {
      for (int64_t i = 0; i < o_.edgeitems; ++i) idx.push_back(i);
      idx.push_back(-1);
      for (int64_t i = n - o_.edgeitems; i < n; ++i) idx.push_back(i);
    } else {
      for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    }
    return idx;
  }

  // Element offsets (relative to raw_data) of every value that will be shown
  // (get_summarized_data in PyTorch).
  void collect(int64_t d, int64_t off, std::vector<int64_t>& out) const {
    if (d == t_.dim()) {
      out.push_back(off);
      return;
    }
    for (int64_t i : indices(d))
      if (i >= 0) collect(d + 1, off + i * t_.stride(d), out);
  }

  double value(int64_t off) const {
    const void* p = static_cast<const char*>(t_.raw_data()) + off * int64_t(t_.element_size());
    switch (t_.dtype()) {
      case DType::Float32: return *static_cast<const float*>(p);
      case DType::Float64: return *static_cast<const double*>(p);
      case DType::Int64: return double(*static_cast<const int64_t*>(p));
      case DType::Bool: return *static_cast<const bool*>(p) ? 1.0 : 0.0;
    }
    return 0;
  }

  std::string raw_string(int64_t off) const {  // Python's f"{value}" for ints and bools
    const void* p = static_cast<const char*>(t_.raw_data()) + off * int64_t(t_.element_size());
    if (t_.dtype() == DType::Bool) return *static_cast<const bool*>(p) ? "True" : "False";
    return std::to_string(*static_cast<const int64_t*>(p));
  }

  // _Formatter.__init__
  void choose_format(const std::vector<int64_t>& shown) {
    if (!floating_) {
      for (int64_t off : shown) max_width_ = std::max(max_width_, raw_string(off).size());
      return;
    }
    std::vector<double> vals;
    for (int64_t off : shown) {
      double v = value(off);
      if (std::isfinite(v) && v != 0) vals.push_back(v);
    }
    if (vals.empty()) return;  // nothing to infer a format from: integer mode, width 1
    double amin = INFINITY, amax = 0;
    for (double v : vals) {
      amin = std::min(amin, std::abs(v));
      amax = std::max(amax, std::abs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    auto widest = [&](auto fmt) {
      for (double v : vals) max_width_ = std::max(max_width_, fmt(v).size());
    };
    const int p = o_.precision;
    if (int_mode_) {
      if (amax / amin > 1000.0 || amax > 1e8) {
        sci_mode_ = true;
        widest([&](double v) { return py_format(v, p, 'e'); });
      } else {
        widest([&](double v) { return py_format(v, 0, 'f') + " "; });  // room for the trailing "."
      }
    } else {
      if (amax / amin > 1000.0 || amax > 1e8 || amin < 1e-4) {
        sci_mode_ = true;
        widest([&](double v) { return py_format(v, p, 'e'); });
      } else {
        widest([&](double v) { return py_format(v, p, 'f'); });
      }
    }
  }

  // _Formatter.format
  std::string format(int64_t off) const {
    if (!floating_) return pad_left(raw_string(off), max_width_);
    double v = value(off);
    std::string s;
    if (sci_mode_) {
      s = py_format(v, o_.precision, 'e');
    } else if (int_mode_) {
      s = py_format(v, 0, 'f');
      if (std::isfinite(v)) s += ".";
    } else {
      s = py_format(v, o_.precision, 'f');
    }
    return pad_left(s, max_width_);
  }

  // _tensor_str_with_formatter / _vector_str
  std::string render(int64_t d, int64_t off, int64_t indent) const {
    const int64_t nd = t_.dim();
    if (nd == 0) return format(off);
    if (d == nd - 1) {
      const int64_t per_line = std::max<int64_t>(1, (o_.linewidth - indent) / int64_t(max_width_ + 2));
      std::string out = "[";
      int64_t k = 0;
      for (int64_t i : indices(d)) {
        if (k > 0 && k % per_line == 0)
          out.append(",\n").append(size_t(indent + 1), ' ');
        else if (k > 0)
          out += ", ";
        out += i < 0 ? " ..." : format(off + i * t_.stride(d));
        ++k;
      }
      return out + "]";
    }
    std::string sep = ",";
    sep.append(size_t(nd - d - 1), '\n').append(size_t(indent + 1), ' ');
    std::string out = "[";
    bool first = true;
    for (int64_t i : indices(d)) {
      if (!first) out += sep;
      first = false;
      out += i < 0 ? "..." : render(d + 1, off + i * t_.stride(d), indent + 1);
    }
    return out + "]";
  }
};

std::string shape_tuple(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

}  // namespace

// _str_intern + _add_suffixes
std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  const PrintOptions& o = print_options();
  const std::string prefix = "tensor(";
  const int64_t indent = int64_t(prefix.size());
  std::vector<std::string> suffixes;
  const std::string dtype_suffix = std::string("dtype=shanshui.") + dtype_name(dtype());
  // Float32 is the default dtype; int64 and bool are recognisable from their values.
  const bool default_dtype = dtype() == default_float() || dtype() == DType::Int64 || dtype() == DType::Bool;
  std::string body;
  if (numel() == 0) {
    if (dim() != 1) suffixes.push_back("size=" + shape_tuple(shape()));
    if (dtype() != default_float()) suffixes.push_back(dtype_suffix);  // no values to tell the type by
    body = "[]";
  } else {
    if (!default_dtype) suffixes.push_back(dtype_suffix);
    body = Printer(*this, o).body(indent);
  }
  if (grad_fn())
    suffixes.push_back("grad_fn=<" + grad_fn()->name() + ">");
  else if (requires_grad())
    suffixes.push_back("requires_grad=True");

  std::string out = prefix + body;
  const size_t nl = out.rfind('\n');
  // Python: len(s) - s.rfind("\n") + 1, where rfind gives -1 without a newline.
  int64_t last_line = int64_t(out.size()) - (nl == std::string::npos ? -1 : int64_t(nl)) + 1;
  for (const std::string& s : suffixes) {
    if (last_line + int64_t(s.size()) + 2 > o.linewidth) {
      out.append(",\n").append(size_t(indent), ' ').append(s);
      last_line = indent + int64_t(s.size());
    } else {
      out += ", " + s;
      last_line += int64_t(s.size()) + 2;
    }
  }
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace shanshui
