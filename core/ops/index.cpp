// Python-style subscripts: index (x[...]) and index_put_ (x[...] = v), plus the
// gather/scatter kernel layer described in core/ops/index_impl.h.
//
// x[i, a:b:c, None, ..., t] is parsed into a basic-indexing program (selects,
// slices, unsqueezes: one view, one autograd node) followed by advanced
// indexing with int64 tensors (bool masks become int64 tensors via nonzero).
// Like PyTorch, integers are applied as selects before the advanced part, so
// x[0, :, t] puts t's dims where the remaining advanced dims are.
#include <algorithm>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "core/dispatch.h"
#include "core/kernels/loops.h"
#include "core/ops.h"
#include "core/ops/index_impl.h"
#include "core/ops/inplace.h"

namespace shanshui {

using autograd::needs_grad;
using autograd::record;
using autograd::SavedTensor;
using autograd::tensor_list;

namespace index_detail {

namespace {

// f(flat, offset) for every position of `shape` in row-major order, `offset`
// following `strides`. Serial: used to read index values (which may throw).
template <class F>
void odometer(const Shape& shape, const Shape& strides, F&& f) {
  int64_t n = numel_of(shape);
  if (n == 0) return;
  std::vector<int64_t> idx(shape.size(), 0);
  int64_t off = 0;
  for (int64_t b = 0; b < n; ++b) {
    f(b, off);
    for (int64_t k = int64_t(shape.size()) - 1; k >= 0; --k) {
      off += strides[size_t(k)];
      if (++idx[size_t(k)] < shape[size_t(k)]) break;
      off -= shape[size_t(k)] * strides[size_t(k)];
      idx[size_t(k)] = 0;
    }
  }
}

struct Geom {
  Shape shape, strides;
  int64_t offset;
};

void apply_op(Geom& g, const BasicOp& op) {
  size_t d = size_t(op.dim);
  switch (op.kind) {
    case BasicOp::Select:
      g.offset += op.start * g.strides[d];
      g.shape.erase(g.shape.begin() + op.dim);
      g.strides.erase(g.strides.begin() + op.dim);
      break;
    case BasicOp::Slice:
      g.offset += op.start * g.strides[d];
      g.shape[d] = op.len;
      g.strides[d] *= op.step;
      break;
    case BasicOp::Unsqueeze: {
      int64_t st = d < g.shape.size() ? g.strides[d] * g.shape[d] : 1;
      g.shape.insert(g.shape.begin() + op.dim, 1);
      g.strides.insert(g.strides.begin() + op.dim, st);
      break;
    }
  }
}

// Where B and the rest dims of R go in the indexing result.
struct Layout {
  Shape B;
  int64_t bpos = 0;
  Shape is_shape;
  std::vector<int64_t> rest_r, rest_o;  // rest dims of R and their positions in the result
};

Layout make_layout(const Shape& rs, const AdvList& adv, const char* op) {
  Layout L;
  L.B = adv[0].idx.shape();
  for (size_t k = 1; k < adv.size(); ++k) {
    const Shape& s = adv[k].idx.shape();
    Shape b(std::max(L.B.size(), s.size()), 1);
    bool ok = true;
    for (size_t i = 0; i < b.size(); ++i) {
      int64_t p = i + L.B.size() >= b.size() ? L.B[i + L.B.size() - b.size()] : 1;
      int64_t q = i + s.size() >= b.size() ? s[i + s.size() - b.size()] : 1;
      ok = ok && (p == q || p == 1 || q == 1);
      b[i] = p == 1 ? q : p;
    }
    if (!ok) {
      std::string shapes;
      for (size_t j = 0; j < adv.size(); ++j) shapes += (j ? ", " : "") + shape_str(adv[j].idx.shape());
      throw IndexError(cat_str(op, ": shape mismatch: indexing tensors could not be broadcast together with shapes ",
                               shapes));
    }
    L.B = b;
  }
  bool adjacent = true;
  for (size_t k = 1; k < adv.size(); ++k) adjacent = adjacent && adv[k].dim == adv[0].dim + int64_t(k);
  // NumPy/PyTorch rule: adjacent advanced dims keep their place; separated ones go first.
  L.bpos = adjacent ? adv[0].dim : 0;
  int64_t nb = int64_t(L.B.size()), na = int64_t(adv.size());
  L.is_shape.assign(rs.begin(), rs.begin() + L.bpos);
  L.is_shape.insert(L.is_shape.end(), L.B.begin(), L.B.end());
  size_t k = 0;
  for (int64_t r = 0; r < int64_t(rs.size()); ++r) {
    if (k < adv.size() && adv[k].dim == r) {
      ++k;
      continue;
    }
    L.rest_r.push_back(r);
    int64_t o = adjacent ? (r < adv[0].dim ? r : r - na + nb) : nb + int64_t(L.rest_r.size()) - 1;
    L.rest_o.push_back(o);
    if (!adjacent || r > adv[0].dim) L.is_shape.push_back(rs[size_t(r)]);
  }
  return L;
}

// For each position of B: the offset in R selected by the index tensors (checked).
std::vector<int64_t> linear_offsets(const AdvList& adv, const Shape& B, const Shape& rs, const Shape& rst,
                                    bool wrap_negative, const char* op) {
  std::vector<int64_t> lin(size_t(numel_of(B)), 0);
  for (const auto& a : adv) {
    const int64_t* p = a.idx.data_ptr<int64_t>();
    int64_t size = rs[size_t(a.dim)], stride = rst[size_t(a.dim)];
    Shape st = kernels::broadcast_strides(a.idx.shape(), a.idx.strides(), B);
    odometer(B, st, [&](int64_t b, int64_t off) {
      int64_t v = p[off];
      SS_CHECK(v < size && (v >= 0 || (wrap_negative && v >= -size)), IndexError, op, ": index ", v,
               " is out of bounds for dimension ", a.dim, " with size ", size);
      lin[size_t(b)] += (v < 0 ? v + size : v) * stride;
    });
  }
  return lin;
}

// Offsets for the two-level loop: per index position (bi: indexed side, bf: flat
// side) and per rest position, the rest split into outer offsets and one inner run.
struct Plan {
  std::vector<int64_t> bi, bf, roi, rof;
  int64_t ri = 1, si = 0, sf = 0;
};

Plan make_plan(const Layout& L, std::vector<int64_t> lin, const Shape& rs, const Shape& rst, const Shape& fst) {
  Plan p;
  p.bi = std::move(lin);
  p.bf.resize(p.bi.size());
  Shape bst(fst.begin() + L.bpos, fst.begin() + L.bpos + int64_t(L.B.size()));
  odometer(L.B, bst, [&](int64_t b, int64_t off) { p.bf[size_t(b)] = off; });
  Shape shape, sti, stf;
  for (size_t k = 0; k < L.rest_r.size(); ++k) {
    shape.push_back(rs[size_t(L.rest_r[k])]);
    sti.push_back(rst[size_t(L.rest_r[k])]);
    stf.push_back(fst[size_t(L.rest_o[k])]);
  }
  auto lp = kernels::plan_loop<2>(shape, {sti, stf});
  p.ri = lp.shape.back();
  p.si = lp.strides[0].back();
  p.sf = lp.strides[1].back();
  Shape outer(lp.shape.begin(), lp.shape.end() - 1);
  Shape oi(lp.strides[0].begin(), lp.strides[0].end() - 1), of(lp.strides[1].begin(), lp.strides[1].end() - 1);
  if (numel_of(shape) == 0) return p;  // nothing to move; empty rest offsets keep the loops empty
  int64_t no = numel_of(outer);
  p.roi.resize(size_t(no));
  p.rof.resize(size_t(no));
  odometer(outer, oi, [&](int64_t r, int64_t off) { p.roi[size_t(r)] = off; });
  odometer(outer, of, [&](int64_t r, int64_t off) { p.rof[size_t(r)] = off; });
  return p;
}

// flat[bf + rof + i*sf] = src[bi + roi + i*si]. Writes go to distinct output
// elements, so any split of (index position, outer rest) rows is race-free.
template <class T>
void gather_kernel(const T* src, T* flat, const Plan& p) {
  int64_t nro = int64_t(p.roi.size()), rows = int64_t(p.bi.size()) * nro;
  parallel_for(rows, std::max<int64_t>(p.ri, 1), [&](int64_t begin, int64_t end) {
    for (int64_t q = begin; q < end; ++q) {
      int64_t b = q / nro, r = q % nro;
      const T* s = src + p.bi[size_t(b)] + p.roi[size_t(r)];
      T* d = flat + p.bf[size_t(b)] + p.rof[size_t(r)];
      if (p.si == 1 && p.sf == 1) {
        for (int64_t i = 0; i < p.ri; ++i) d[i] = s[i];
      } else {
        for (int64_t i = 0; i < p.ri; ++i) d[i * p.sf] = s[i * p.si];
      }
    }
  });
}

// dst[bi + roi + i*si] (+)= alpha * flat[bf + rof + i*sf]. Several index positions
// may hit the same element (duplicate indices), so threads split the REST
// elements, never the index positions: a rest element's writes for every b
// stay on one thread, in order of b (race-free and deterministic).
template <class T, bool Add>
void scatter_kernel(T* dst, const T* flat, const Plan& p, T alpha) {
  int64_t nb = int64_t(p.bi.size()), nr = int64_t(p.roi.size()) * p.ri;
  parallel_for(nr, std::max<int64_t>(nb, 1), [&](int64_t begin, int64_t end) {
    for (int64_t b = 0; b < nb; ++b) {
      T* d = dst + p.bi[size_t(b)];
      const T* s = flat + p.bf[size_t(b)];
      for (int64_t q = begin; q < end;) {
        int64_t r = q / p.ri, i0 = q % p.ri, len = std::min(p.ri - i0, end - q);
        T* dd = d + p.roi[size_t(r)] + i0 * p.si;
        const T* ss = s + p.rof[size_t(r)] + i0 * p.sf;
        if constexpr (Add) {
          for (int64_t i = 0; i < len; ++i) dd[i * p.si] += alpha * ss[i * p.sf];
        } else {
          for (int64_t i = 0; i < len; ++i) dd[i * p.si] = ss[i * p.sf];
        }
        q += len;
      }
    }
  });
}

}  // namespace

Tensor raw_view(const Tensor& t, const Prog& prog) {
  Geom g{t.shape(), t.strides(), t.offset()};
  for (const auto& op : prog) apply_op(g, op);
  return make_view(t, g.shape, g.strides, g.offset);
}

Shape indexed_shape(const Shape& rshape, const AdvList& adv, const char* op) {
  return adv.empty() ? rshape : make_layout(rshape, adv, op).is_shape;
}

void check_index_range(const Tensor& idx, int64_t size, int64_t dim, bool allow_negative, const char* op) {
  const int64_t* p = idx.data_ptr<int64_t>();
  odometer(idx.shape(), idx.strides(), [&](int64_t, int64_t off) {
    int64_t v = p[off];
    SS_CHECK(v < size && (v >= 0 || (allow_negative && v >= -size)), IndexError, op, ": index ", v,
             " is out of bounds for dimension ", dim, " with size ", size);
  });
}

Tensor gather_raw(const Tensor& r, const AdvList& adv, bool wrap_negative, const char* op) {
  Layout L = make_layout(r.shape(), adv, op);
  std::vector<int64_t> lin = linear_offsets(adv, L.B, r.shape(), r.strides(), wrap_negative, op);
  Tensor out = empty(L.is_shape, r.dtype());
  if (out.numel() == 0) return out;
  Plan p = make_plan(L, std::move(lin), r.shape(), r.strides(), out.strides());
  SS_DISPATCH_ALL(r.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T>(static_cast<const T*>(r.raw_data()), static_cast<T*>(out.raw_data()), p);
  });
  return out;
}

void write_region(const Tensor& region, const AdvList& adv, const Tensor& value_in, bool accumulate, double alpha,
                  bool wrap_negative, const char* op) {
  Tensor value = value_in;
  if (value.dtype() != region.dtype()) {
    value = empty(value_in.shape(), region.dtype());
    kernels::copy_strided(value, value_in);
  }
  Layout L;
  if (!adv.empty()) L = make_layout(region.shape(), adv, op);
  const Shape& is = adv.empty() ? region.shape() : L.is_shape;
  SS_CHECK(broadcast_shapes(value.shape(), is, op) == is, ValueError, op, ": shape mismatch: value tensor of shape ",
           value.shape(), " cannot be broadcast to indexing result of shape ", is);
  Shape vst = kernels::broadcast_strides(value.shape(), value.strides(), is);
  if (adv.empty()) {
    if (!accumulate) {
      kernels::copy_strided(region, value);
      return;
    }
    // Accumulating into a basic view: every element is hit once, an ordinary strided add.
    SS_DISPATCH_NUMERIC(region.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      T* d = static_cast<T*>(region.raw_data());
      const T* s = static_cast<const T*>(value.raw_data());
      T a = static_cast<T>(alpha);
      kernels::for_each_run<2>(is, {region.strides(), vst}, 1,
                               [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                                 for (int64_t i = 0; i < n; ++i) d[off[0] + i * st[0]] += a * s[off[1] + i * st[1]];
                               });
    });
    return;
  }
  std::vector<int64_t> lin = linear_offsets(adv, L.B, region.shape(), region.strides(), wrap_negative, op);
  if (numel_of(is) == 0) return;
  Plan p = make_plan(L, std::move(lin), region.shape(), region.strides(), vst);
  if (accumulate) {
    SS_DISPATCH_NUMERIC(region.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      scatter_kernel<T, true>(static_cast<T*>(region.raw_data()), static_cast<const T*>(value.raw_data()), p,
                              static_cast<T>(alpha));
    });
  } else {
    SS_DISPATCH_ALL(region.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      scatter_kernel<T, false>(static_cast<T*>(region.raw_data()), static_cast<const T*>(value.raw_data()), p,
                               T(1));
    });
  }
}

namespace {

// Differentiable x[prog] (one view, one node).
Tensor basic_view(const Tensor& x, const Prog& prog) {
  Tensor out = raw_view(x, prog);
  if (needs_grad(x)) {
    Shape xs = x.shape();
    record("IndexBackward", {x}, out, [xs, prog](const Tensor& g) {
      return tensor_list{put(Tensor(), xs, g.dtype(), prog, {}, g, false, "index_backward")};
    });
  }
  return out;
}

std::vector<SavedTensor> save_indices(const AdvList& adv) {
  std::vector<SavedTensor> s;
  for (const auto& a : adv) s.emplace_back(a.idx);
  return s;
}
AdvList unpack_indices(const AdvList& shape_only, const std::vector<SavedTensor>& saved) {
  AdvList r = shape_only;
  for (size_t k = 0; k < r.size(); ++k) r[k].idx = saved[k].unpack();
  return r;
}
AdvList dims_only(const AdvList& adv) {
  AdvList r;
  for (const auto& a : adv) r.push_back({a.dim, Tensor()});
  return r;
}

// Differentiable R[adv]; the backward accumulates into zeros (duplicates add up).
Tensor adv_gather(const Tensor& r, const AdvList& adv, const char* op) {
  Tensor out = gather_raw(r, adv, true, op);
  if (needs_grad(r)) {
    Shape rs = r.shape();
    auto saved = save_indices(adv);
    AdvList dims = dims_only(adv);
    record("IndexBackward", {r}, out, [rs, saved, dims](const Tensor& g) {
      return tensor_list{put(Tensor(), rs, g.dtype(), {}, unpack_indices(dims, saved), g, true, "index_backward")};
    });
  }
  return out;
}

Tensor gather_region(const Tensor& g, const Prog& prog, const AdvList& adv) {
  Tensor r = prog.empty() ? g : basic_view(g, prog);
  return adv.empty() ? r : adv_gather(r, adv, "index_put_backward");
}

}  // namespace

Tensor put(const Tensor& base, const Shape& shape, DType dtype, const Prog& prog, const AdvList& adv,
           const Tensor& value, bool accumulate, const char* op) {
  Tensor out;
  if (base.defined()) {
    out = empty(base.shape(), base.dtype());
    kernels::copy_strided(out, base);
  } else {
    out = zeros(shape, dtype);
  }
  write_region(raw_view(out, prog), adv, value, accumulate, 1.0, true, op);
  bool need_base = base.defined() && needs_grad(base);
  if (need_base || needs_grad(value)) {
    Shape vs = value.shape();
    auto saved = save_indices(adv);
    AdvList dims = dims_only(adv);
    bool need_value = value.requires_grad();
    std::vector<Tensor> inputs = base.defined() ? std::vector<Tensor>{base, value} : std::vector<Tensor>{value};
    record("IndexPutBackward", inputs, out,
           [vs, saved, dims, prog, accumulate, need_base, need_value, has_base = base.defined()](const Tensor& g) {
             AdvList a = unpack_indices(dims, saved);
             Tensor gb, gv;
             // Assigned elements were overwritten: no gradient reaches base there.
             if (need_base)
               gb = accumulate ? g : put(g, {}, g.dtype(), prog, a, zeros({}, g.dtype()), false, "index_put_backward");
             if (need_value) gv = autograd::sum_to(gather_region(g, prog, a), vs);
             return has_base ? tensor_list{gb, gv} : tensor_list{gv};
           });
  }
  return out;
}

namespace {

struct Parsed {
  Prog prog;
  AdvList adv;
  Shape rshape;  // shape after the basic part
};

Parsed parse(const Tensor& x, const std::vector<TensorIndex>& idx, const char* op) {
  SS_CHECK(x.defined(), ValueError, op, ": the indexed tensor is undefined");
  int64_t consumed = 0, ellipses = 0;
  for (size_t i = 0; i < idx.size(); ++i) {
    const auto& v = idx[i].v;
    if (std::holds_alternative<int64_t>(v) || std::holds_alternative<Slice>(v)) {
      ++consumed;
    } else if (std::holds_alternative<Ellipsis>(v)) {
      ++ellipses;
    } else if (const Tensor* t = std::get_if<Tensor>(&v)) {
      SS_CHECK(t->defined(), ValueError, op, ": index tensor at position ", i, " is undefined");
      SS_CHECK(t->dtype() == DType::Int64 || t->dtype() == DType::Bool, TypeError, op,
               ": tensors used as indices must be int64 or bool tensors, got ", dtype_name(t->dtype()),
               " at position ", i);
      consumed += t->dtype() == DType::Bool ? t->dim() : 1;
    }
  }
  SS_CHECK(ellipses <= 1, IndexError, op, ": an index can only have a single ellipsis ('...')");
  SS_CHECK(consumed <= x.dim(), IndexError, op, ": too many indices for tensor of dimension ", x.dim(), " (shape ",
           x.shape(), ")");
  Parsed p;
  Geom g{x.shape(), x.strides(), 0};
  int64_t d = 0;
  auto push = [&](BasicOp op_) {
    apply_op(g, op_);
    p.prog.push_back(op_);
  };
  auto select_at = [&](int64_t v) {
    int64_t n = g.shape[size_t(d)];
    SS_CHECK(v >= -n && v < n, IndexError, op, ": index ", v, " is out of bounds for dimension ", d, " with size ", n);
    push({BasicOp::Select, d, v < 0 ? v + n : v, 0, 1});
  };
  for (size_t i = 0; i < idx.size(); ++i) {
    const auto& v = idx[i].v;
    if (const int64_t* iv = std::get_if<int64_t>(&v)) {
      select_at(*iv);
    } else if (const Slice* s = std::get_if<Slice>(&v)) {
      SS_CHECK(s->step > 0, ValueError, op, ": slice step must be greater than zero, got ", s->step);
      int64_t n = g.shape[size_t(d)];
      auto clampi = [n](int64_t q) { return q < 0 ? std::max<int64_t>(q + n, 0) : std::min(q, n); };
      int64_t b = s->start ? clampi(*s->start) : 0, e = s->stop ? clampi(*s->stop) : n;
      int64_t len = e > b ? (e - b + s->step - 1) / s->step : 0;
      if (!(b == 0 && len == n && s->step == 1)) push({BasicOp::Slice, d, b, len, s->step});  // skip full slices
      ++d;
    } else if (std::holds_alternative<NewAxis>(v)) {
      push({BasicOp::Unsqueeze, d, 0, 0, 1});
      ++d;
    } else if (std::holds_alternative<Ellipsis>(v)) {
      d += x.dim() - consumed;
    } else {
      const Tensor& t = std::get<Tensor>(v);
      if (t.dtype() == DType::Int64 && t.dim() == 0) {
        select_at(t.item<int64_t>());  // a 0-d integer tensor acts like an int (a view), as in PyTorch
      } else if (t.dtype() == DType::Int64) {
        p.adv.push_back({d, t});
        ++d;
      } else if (t.dim() == 0) {
        // x[True] adds a dim of size 1, x[False] one of size 0.
        push({BasicOp::Unsqueeze, d, 0, 0, 1});
        p.adv.push_back({d, t.item<bool>() ? zeros({1}, DType::Int64) : empty({0}, DType::Int64)});
        ++d;
      } else {
        for (int64_t j = 0; j < t.dim(); ++j)
          SS_CHECK(t.size(j) == g.shape[size_t(d + j)], IndexError, op, ": the shape of the mask ", t.shape(),
                   " at index ", j, " does not match the shape of the indexed tensor ", g.shape, " at index ", d + j);
        Tensor nz = nonzero(t);  // [n, k]
        for (int64_t j = 0; j < t.dim(); ++j) p.adv.push_back({d + j, select(nz, 1, j)});
        d += t.dim();
      }
    }
  }
  p.rshape = g.shape;
  return p;
}

}  // namespace
}  // namespace index_detail

using namespace index_detail;

Tensor index(const Tensor& x, const std::vector<TensorIndex>& idx) {
  Parsed p = parse(x, idx, "index");
  // x[()] and x[...] give an alias (a view), like PyTorch.
  Tensor r = p.prog.empty() && !p.adv.empty() ? x : basic_view(x, p.prog);
  return p.adv.empty() ? r : adv_gather(r, p.adv, "index");
}

Tensor& index_put_(Tensor& x, const std::vector<TensorIndex>& idx, const Tensor& value_in) {
  const char* op = "index_put_";
  Parsed p = parse(x, idx, op);
  SS_CHECK(value_in.defined(), ValueError, op, ": the value tensor is undefined");
  check_inplace_allowed(x, op);
  Shape is = indexed_shape(p.rshape, p.adv, op);
  Tensor value = value_in;
  // PyTorch drops leading size-1 dims of the value beyond the indexed rank (x[0] = t[None]).
  if (value.dim() > int64_t(is.size())) {
    size_t extra = size_t(value.dim()) - is.size();
    for (size_t k = 0; k < extra; ++k)
      SS_CHECK(value.shape()[k] == 1, ValueError, op, ": shape mismatch: value tensor of shape ", value.shape(),
               " cannot be broadcast to indexing result of shape ", is);
    value = value.reshape(Shape(value.shape().begin() + int64_t(extra), value.shape().end()));
  }
  SS_CHECK(broadcast_shapes(value.shape(), is, op) == is, ValueError, op, ": shape mismatch: value tensor of shape ",
           value.shape(), " cannot be broadcast to indexing result of shape ", is);
  if (autograd::GradMode::is_enabled() && (x.requires_grad() || value.requires_grad())) {
    // With history: compute the new x out of place and rebase x's history onto it.
    Tensor v = value.dtype() == x.dtype() ? value : value.to(x.dtype());
    return detail::assign_inplace(x, put(x, x.shape(), x.dtype(), p.prog, p.adv, v, false, op), op);
  }
  check_no_internal_overlap(x, op);
  // A value that shares memory with x (x[1:] = x[:-1]) is copied first so the write cannot read itself.
  if (value.storage() == x.storage()) value = value.clone();
  write_region(raw_view(x, p.prog), p.adv, value, false, 1.0, true, op);
  x.impl()->storage->bump_version();
  return x;
}

Tensor Tensor::index(const std::vector<TensorIndex>& idx) const { return shanshui::index(*this, idx); }
Tensor& Tensor::index_put_(const std::vector<TensorIndex>& idx, const Tensor& value) {
  return shanshui::index_put_(*this, idx, value);
}

}  // namespace shanshui
