// Shape ops built on views or a single copy: cat, stack, split, chunk,
// unbind, repeat, tril, triu. split/chunk/unbind return views (narrow/select)
// so their pieces share memory with the input; cat/stack/repeat/tril/triu copy.
#include <algorithm>

#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/parallel.h"
#include "core/ops.h"
#include "core/ops/inplace.h"

namespace shanshui {

using autograd::needs_grad;
using autograd::record;
using autograd::tensor_list;

// ---- cat / stack ---------------------------------------------------------------

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  SS_CHECK(!xs.empty(), ValueError, "cat: expected a non-empty list of tensors");
  // PyTorch's legacy rule: 1-D tensors of shape [0] are skipped whatever the other shapes.
  auto skipped = [](const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; };
  int64_t ref = -1;
  DType dt = xs[0].dtype();
  for (size_t i = 0; i < xs.size(); ++i) {
    SS_CHECK(xs[i].defined(), ValueError, "cat: tensor number ", i, " in the list is undefined");
    SS_CHECK(xs[i].dim() > 0, ValueError, "cat: zero-dimensional tensor (at position ", i,
             ") cannot be concatenated");
    dt = promote_types(dt, xs[i].dtype());
    if (ref < 0 && !skipped(xs[i])) ref = int64_t(i);
  }
  if (ref < 0) return empty({0}, dt);  // every input is an empty 1-D tensor
  const Shape& rs = xs[ref].shape();
  int64_t d = wrap_dim(dim, int64_t(rs.size()), "cat");
  Shape out_shape = rs;
  out_shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (skipped(xs[i])) continue;
    const Shape& s = xs[i].shape();
    SS_CHECK(s.size() == rs.size(), ValueError, "cat: tensors must have the same number of dimensions: tensor ",
             ref, " has shape ", rs, " but tensor ", i, " has shape ", s);
    for (size_t k = 0; k < s.size(); ++k)
      SS_CHECK(int64_t(k) == d || s[k] == rs[k], ValueError, "cat: sizes of tensors must match except in dimension ",
               d, "; expected size ", rs[k], " but got size ", s[k], " for tensor number ", i,
               " in the list (shapes ", rs, " and ", s, ")");
    out_shape[d] += s[d];
  }
  checked_numel(out_shape, "cat");
  Tensor out = empty(out_shape, dt);
  std::vector<int64_t> starts(xs.size(), 0);
  int64_t pos = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (skipped(xs[i])) continue;
    starts[i] = pos;
    int64_t len = xs[i].size(d);
    if (len > 0 && xs[i].numel() > 0) {
      Shape st = out.strides();
      Tensor window = make_view(out, xs[i].shape(), st, pos * st[d]);
      kernels::copy_strided(window, xs[i]);  // converts to the promoted dtype
    }
    pos += len;
  }
  if (needs_grad(xs)) {
    std::vector<int64_t> lens(xs.size(), -1);  // -1: skipped input, gets an empty gradient
    for (size_t i = 0; i < xs.size(); ++i)
      if (!skipped(xs[i])) lens[i] = xs[i].size(d);
    record("CatBackward", xs, out, [starts, lens, d](const Tensor& g) {
      tensor_list r(lens.size());
      for (size_t i = 0; i < lens.size(); ++i)
        r[i] = lens[i] < 0 ? zeros({0}, g.dtype()) : narrow(g, d, starts[i], lens[i]);
      return r;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  SS_CHECK(!xs.empty(), ValueError, "stack: expected a non-empty list of tensors");
  for (size_t i = 0; i < xs.size(); ++i) {
    SS_CHECK(xs[i].defined(), ValueError, "stack: tensor number ", i, " in the list is undefined");
    SS_CHECK(xs[i].shape() == xs[0].shape(), ValueError, "stack: expects each tensor to be equal size, but got ",
             xs[0].shape(), " at entry 0 and ", xs[i].shape(), " at entry ", i);
  }
  int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  us.reserve(xs.size());
  for (const auto& x : xs) us.push_back(unsqueeze(x, d));
  return cat(us, d);
}

// ---- split / chunk / unbind (views) ----------------------------------------------

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  SS_CHECK(x.dim() > 0, ValueError, "split: expects at least a 1-dimensional tensor, got shape ", x.shape());
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t n = x.size(d);
  SS_CHECK(split_size >= 0, ValueError, "split: split_size must be non-negative, got ", split_size);
  SS_CHECK(split_size > 0 || n == 0, ValueError, "split: split_size can only be 0 if dimension size is 0, but got ",
           "dimension size of ", n, " (shape ", x.shape(), ", dim ", d, ")");
  int64_t pieces = split_size == 0 ? 1 : std::max<int64_t>((n + split_size - 1) / split_size, 1);
  std::vector<Tensor> r;
  r.reserve(size_t(pieces));
  for (int64_t i = 0; i < pieces; ++i) {
    int64_t start = i * split_size;
    r.push_back(narrow(x, d, start, std::min(split_size, n - start)));
  }
  return r;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  SS_CHECK(x.dim() > 0, ValueError, "split: expects at least a 1-dimensional tensor, got shape ", x.shape());
  int64_t d = wrap_dim(dim, x.dim(), "split");
  int64_t n = x.size(d), total = 0;
  for (auto s : sizes) {
    SS_CHECK(s >= 0, ValueError, "split: split_sizes must be non-negative, got ", sizes);
    total += s;
  }
  SS_CHECK(total == n, ValueError, "split: split_sizes must sum exactly to ", n, " (the size of dim ", d,
           " of the input of shape ", x.shape(), "), but got split_sizes=", sizes);
  std::vector<Tensor> r;
  r.reserve(sizes.size());
  int64_t start = 0;
  for (auto s : sizes) {
    r.push_back(narrow(x, d, start, s));
    start += s;
  }
  return r;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  SS_CHECK(x.dim() > 0, ValueError, "chunk: expects at least a 1-dimensional tensor, got shape ", x.shape());
  SS_CHECK(chunks > 0, ValueError, "chunk: expects `chunks` to be greater than 0, got ", chunks);
  int64_t d = wrap_dim(dim, x.dim(), "chunk");
  int64_t n = x.size(d);
  if (n == 0) return split(x, std::vector<int64_t>(size_t(chunks), 0), d);  // PyTorch: `chunks` empty pieces
  return split(x, (n + chunks - 1) / chunks, d);
}

std::vector<Tensor> unbind(const Tensor& x, int64_t dim) {
  SS_CHECK(x.dim() > 0, ValueError, "unbind: dimension specified as ", dim, " but tensor has no dimensions");
  int64_t d = wrap_dim(dim, x.dim(), "unbind");
  std::vector<Tensor> r;
  r.reserve(size_t(x.size(d)));
  for (int64_t i = 0; i < x.size(d); ++i) r.push_back(select(x, d, i));
  return r;
}

std::vector<Tensor> Tensor::split(int64_t split_size, int64_t dim) const {
  return shanshui::split(*this, split_size, dim);
}
std::vector<Tensor> Tensor::split(const std::vector<int64_t>& sizes, int64_t dim) const {
  return shanshui::split(*this, sizes, dim);
}
std::vector<Tensor> Tensor::chunk(int64_t chunks, int64_t dim) const { return shanshui::chunk(*this, chunks, dim); }

// ---- repeat --------------------------------------------------------------------

// Composite of differentiable views: [s0, s1] -> [1, s0, 1, s1] -> expand to
// [r0, s0, r1, s1] -> materialise as [r0*s0, r1*s1]. The backward (sum over the
// expanded dims) comes from expand's.
Tensor repeat(const Tensor& x, const Shape& repeats) {
  SS_CHECK(int64_t(repeats.size()) >= x.dim(), ValueError, "repeat: number of dimensions of repeat dims (",
           repeats.size(), ") can not be smaller than number of dimensions of tensor (", x.dim(), "), shape ",
           x.shape());
  for (auto r : repeats)
    SS_CHECK(r >= 0, ValueError, "repeat: repeats must be non-negative, got ", repeats);
  size_t pad = repeats.size() - size_t(x.dim());
  Shape inter, expanded, out_shape;
  for (size_t i = 0; i < repeats.size(); ++i) {
    int64_t s = i < pad ? 1 : x.shape()[i - pad];
    inter.push_back(1);
    inter.push_back(s);
    expanded.push_back(repeats[i]);
    expanded.push_back(s);
    out_shape.push_back(repeats[i] * s);
  }
  checked_numel(out_shape, "repeat");
  Tensor out = reshape(expand(reshape(x, inter), expanded), out_shape);
  // All-ones repeats leave a view; repeat always returns fresh memory.
  if (out.storage() == x.storage()) out = out.clone();
  return out;
}

// ---- tril / triu ----------------------------------------------------------------

namespace {

// Keep element (i, j) of every matrix when lower ? j - i <= diagonal : j - i >= diagonal.
Tensor triangle(const char* op, const Tensor& x, int64_t diagonal, bool lower) {
  SS_CHECK(x.dim() >= 2, ValueError, op, ": input tensor must have at least 2 dimensions, got shape ", x.shape());
  int64_t nd = x.dim(), rows = x.size(-2), cols = x.size(-1);
  Shape batch(x.shape().begin(), x.shape().end() - 2);
  int64_t nb = numel_of(batch);
  // Offsets of each matrix of x (strided); the output is contiguous.
  std::vector<int64_t> xoff(size_t(nb), 0);
  {
    std::vector<int64_t> idx(batch.size(), 0);
    for (int64_t b = 0, off = 0; b < nb; ++b) {
      xoff[size_t(b)] = off;
      for (int64_t k = int64_t(batch.size()) - 1; k >= 0; --k) {
        off += x.stride(k);
        if (++idx[size_t(k)] < batch[size_t(k)]) break;
        off -= batch[size_t(k)] * x.stride(k);
        idx[size_t(k)] = 0;
      }
    }
  }
  Tensor out = empty(x.shape(), x.dtype());
  int64_t rs = x.stride(nd - 2), cs = x.stride(nd - 1);
  SS_DISPATCH_ALL(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(x.raw_data());
    T* dst = static_cast<T*>(out.raw_data());
    parallel_for(nb * rows, cols, [&](int64_t begin, int64_t end) {
      for (int64_t q = begin; q < end; ++q) {
        int64_t b = q / rows, i = q % rows;
        const T* s = src + xoff[size_t(b)] + i * rs;
        T* o = dst + q * cols;
        // Columns [lo, hi) are kept.
        int64_t lo = lower ? 0 : std::clamp<int64_t>(i + diagonal, 0, cols);
        int64_t hi = lower ? std::clamp<int64_t>(i + diagonal + 1, 0, cols) : cols;
        for (int64_t j = 0; j < lo; ++j) o[j] = T(0);
        if (cs == 1) {
          for (int64_t j = lo; j < hi; ++j) o[j] = s[j];
        } else {
          for (int64_t j = lo; j < hi; ++j) o[j] = s[j * cs];
        }
        for (int64_t j = hi; j < cols; ++j) o[j] = T(0);
      }
    });
  });
  if (needs_grad(x)) {
    record(lower ? "TrilBackward" : "TriuBackward", {x}, out, [diagonal, lower](const Tensor& g) {
      return tensor_list{lower ? tril(g, diagonal) : triu(g, diagonal)};
    });
  }
  return out;
}

}  // namespace

Tensor tril(const Tensor& x, int64_t diagonal) { return triangle("tril", x, diagonal, true); }
Tensor triu(const Tensor& x, int64_t diagonal) { return triangle("triu", x, diagonal, false); }

}  // namespace shanshui
