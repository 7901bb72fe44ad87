// Random sampling on the global Philox generator. Every draw reserves its
// blocks up front and element i reads block first + i / K, so the numbers
// depend only on the seed and the order of draws, never on the thread count.
#include "core/ops/random.h"
#include "core/ops/bernoulli_scaled.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

#include "autograd/copy_slices.h"
#include "autograd/grad_mode.h"
#include "core/dispatch.h"
#include "core/ops/inplace.h"
#include "core/parallel.h"

namespace shanshui {

namespace philox {
Block philox4x32_10(const Block& ctr, uint64_t key) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c0 = n0; c1 = uint32_t(p1); c2 = n2; c3 = uint32_t(p0);
    k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
  }
  return {c0, c1, c2, c3};
}
}  // namespace philox

void Generator::manual_seed(uint64_t seed) {
  seed_.store(seed, std::memory_order_relaxed);
  offset_.store(0, std::memory_order_relaxed);
}

Generator::Draw Generator::reserve(uint64_t blocks) {
  return {seed_.load(std::memory_order_relaxed), offset_.fetch_add(blocks, std::memory_order_relaxed)};
}

std::array<uint64_t, 2> Generator::get_state() const {
  return {seed_.load(std::memory_order_relaxed), offset_.load(std::memory_order_relaxed)};
}

void Generator::set_state(const std::array<uint64_t, 2>& s) {
  seed_.store(s[0], std::memory_order_relaxed);
  offset_.store(s[1], std::memory_order_relaxed);
}

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }
uint64_t initial_seed() { return default_generator().initial_seed(); }

Tensor get_rng_state() {
  auto s = default_generator().get_state();
  Tensor t = empty({2}, DType::Int64);
  t.data_ptr<int64_t>()[0] = int64_t(s[0]);  // bit casts: the words are unsigned
  t.data_ptr<int64_t>()[1] = int64_t(s[1]);
  return t;
}

void set_rng_state(const Tensor& state) {
  SS_CHECK(state.defined() && state.dtype() == DType::Int64 && state.dim() == 1 && state.numel() == 2, ValueError,
           "set_rng_state: expected the int64 tensor of shape [2] that get_rng_state returns, got ",
           state.defined() ? dtype_name(state.dtype()) : "an undefined", " tensor of shape ",
           state.defined() ? state.shape() : Shape{});
  Tensor c = state.contiguous();
  const int64_t* d = c.data_ptr<int64_t>();
  default_generator().set_state({uint64_t(d[0]), uint64_t(d[1])});
}

namespace {

using philox::Block;

// Fill out[0, n): block j of a fresh draw yields values j*K .. j*K+K-1 via make(block, vals, j*K).
template <int K, class T, class Make>
void generate(T* out, int64_t n, int64_t cost_per_block, Make make) {
  if (n <= 0) return;
  const int64_t nblocks = (n + K - 1) / K;
  const Generator::Draw d = default_generator().reserve(uint64_t(nblocks));
  parallel_for(nblocks, cost_per_block, [&](int64_t b, int64_t e) {
    auto emit = [&](int64_t j, const Block& r) {
      T vals[K];
      const int64_t base = j * K, m = std::min<int64_t>(K, n - base);
      make(r, vals, base);
      for (int64_t i = 0; i < m; ++i) out[base + i] = vals[i];
    };
    int64_t j = b;
    // kLanes blocks at a time: the same rounds on arrays, which the compiler
    // vectorises (one block alone is a chain of dependent scalar multiplies).
    constexpr int kLanes = 16;
    for (; j + kLanes <= e; j += kLanes) {
      uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
      for (int i = 0; i < kLanes; ++i) {
        const uint64_t c = d.first + uint64_t(j + i);
        c0[i] = uint32_t(c), c1[i] = uint32_t(c >> 32), c2[i] = 0, c3[i] = 0;
      }
      uint32_t k0 = uint32_t(d.key), k1 = uint32_t(d.key >> 32);
      for (int r = 0; r < 10; ++r) {  // philox::philox4x32_10, lane by lane
        for (int i = 0; i < kLanes; ++i) {
          const uint64_t p0 = uint64_t(0xD2511F53u) * c0[i], p1 = uint64_t(0xCD9E8D57u) * c2[i];
          const uint32_t n0 = uint32_t(p1 >> 32) ^ c1[i] ^ k0, n2 = uint32_t(p0 >> 32) ^ c3[i] ^ k1;
          c0[i] = n0, c1[i] = uint32_t(p1), c2[i] = n2, c3[i] = uint32_t(p0);
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
      }
      for (int i = 0; i < kLanes; ++i) emit(j + i, Block{c0[i], c1[i], c2[i], c3[i]});
    }
    for (; j < e; ++j) emit(j, philox::philox4x32_10(d.first + uint64_t(j), d.key));
  });
}

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr double kInv2Pow32 = 1.0 / 4294967296.0;

// U[lo, hi) into contiguous memory. The affine map can round up to `hi`; pull such values back below it.
template <class T>
void fill_uniform(T* out, int64_t n, double lo, double hi) {
  const T a = T(lo), w = T(hi - lo), top = T(hi);
  const T below = std::nextafter(top, a);
  auto fix = [=](T u) {
    T v = a + w * u;
    return (v >= top && top > a) ? below : v;
  };
  if constexpr (std::is_same_v<T, float>) {
    generate<4>(out, n, 16, [&](const Block& r, float* v, int64_t) {
      for (int i = 0; i < 4; ++i) v[i] = fix(philox::to_unit_float(r[i]));
    });
  } else {
    generate<2>(out, n, 16, [&](const Block& r, double* v, int64_t) {
      v[0] = fix(philox::to_unit_double(r[0], r[1]));
      v[1] = fix(philox::to_unit_double(r[2], r[3]));
    });
  }
}

#if defined(__clang__)  // clang has no __builtin_sincos; glibc's sincos is what GCC's builtin calls
inline void sincos_(float x, float& s, float& c) { ::sincosf(x, &s, &c); }
inline void sincos_(double x, double& s, double& c) { ::sincos(x, &s, &c); }
#else
inline void sincos_(float x, float& s, float& c) { __builtin_sincosf(x, &s, &c); }
inline void sincos_(double x, double& s, double& c) { __builtin_sincos(x, &s, &c); }
#endif

// N(mean, std) by Box-Muller; u1 is taken in (0, 1] so log(u1) is finite.
template <class T>
void fill_normal(T* out, int64_t n, double mean, double stdv) {
  // Computed in T: float32 output needs only float accuracy, and float log/sincos are much cheaper.
  auto pair = [=](T u1, T u2, T* v) {
    T rad = std::sqrt(T(-2) * std::log(u1)), s, c;
    sincos_(T(kTwoPi) * u2, s, c);
    v[0] = T(mean) + T(stdv) * rad * c;
    v[1] = T(mean) + T(stdv) * rad * s;
  };
  if constexpr (std::is_same_v<T, float>) {
    // u1 = 1 - k / 2^24 is exact in float and lies in (0, 1].
    generate<4>(out, n, 64, [&](const Block& r, float* v, int64_t) {
      pair(1.0f - philox::to_unit_float(r[0]), philox::to_unit_float(r[1]), v);
      pair(1.0f - philox::to_unit_float(r[2]), philox::to_unit_float(r[3]), v + 2);
    });
  } else {
    generate<2>(out, n, 64, [&](const Block& r, double* v, int64_t) {
      pair(1.0 - philox::to_unit_double(r[0], r[1]), philox::to_unit_double(r[2], r[3]), v);
    });
  }
}

// 64 random bits per value.
void fill_u64(uint64_t* out, int64_t n) {
  generate<2>(out, n, 16, [](const Block& r, uint64_t* v, int64_t) {
    v[0] = (uint64_t(r[0]) << 32) | r[1];
    v[1] = (uint64_t(r[2]) << 32) | r[3];
  });
}

// Unbiased enough for every range (bias <= range / 2^64): Lemire's multiply-shift.
inline uint64_t bounded(uint64_t r, uint64_t range) {
  return uint64_t((unsigned __int128)r * range >> 64);
}

void require_float(DType dt, const char* op) {
  SS_CHECK(is_floating(dt), TypeError, op, ": expected a floating-point dtype (float32 or float64), got ",
           dtype_name(dt));
}

// Run fill(ptr, n) on t's memory; a non-contiguous t is filled through a contiguous temporary.
template <class Fill>
void fill_tensor(Tensor& t, Fill fill) {
  Tensor dst = t.is_contiguous() ? t : empty(t.shape(), t.dtype());
  SS_DISPATCH_FLOAT(t.dtype(), "random", [&](auto tag) {
    using T = decltype(tag);
    fill(static_cast<T*>(dst.raw_data()), dst.numel());
  });
  if (!dst.is_same(t)) kernels::copy_strided(t, dst);
}

// In-place fills bump the version and drop history, as fill_ does (on a view,
// the base's history is rebased with no gradient for the filled region).
void finish_inplace(Tensor& t) {
  t.impl()->storage->bump_version();
  if (autograd::inplace_rebases_base(t, false))
    autograd::rebase_view_history(t, {});
  else if (autograd::GradMode::is_enabled() && t.grad_fn())
    t.impl()->grad_fn = nullptr;
}

}  // namespace

Tensor rand(const Shape& shape, DType dtype) {
  checked_numel(shape, "rand");
  require_float(dtype, "rand");
  Tensor t = empty(shape, dtype);
  fill_tensor(t, [](auto* p, int64_t n) { fill_uniform(p, n, 0.0, 1.0); });
  return t;
}

Tensor randn(const Shape& shape, DType dtype) {
  checked_numel(shape, "randn");
  require_float(dtype, "randn");
  Tensor t = empty(shape, dtype);
  fill_tensor(t, [](auto* p, int64_t n) { fill_normal(p, n, 0.0, 1.0); });
  return t;
}

Tensor rand_like(const Tensor& t) {
  SS_CHECK(t.defined(), ValueError, "rand_like: input tensor is undefined");
  return rand(t.shape(), t.dtype());
}

Tensor randn_like(const Tensor& t) {
  SS_CHECK(t.defined(), ValueError, "randn_like: input tensor is undefined");
  return randn(t.shape(), t.dtype());
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype) {
  checked_numel(shape, "randint");
  SS_CHECK(low < high, ValueError, "randint: random_ expects 'from' to be less than 'to', but got from=", low,
           " >= to=", high);
  // Every value in [low, high) must be representable in the output dtype.
  if (dtype == DType::Bool)
    SS_CHECK(low >= 0 && high <= 2, ValueError, "randint: range [", low, ", ", high, ") does not fit dtype bool");
  if (is_floating(dtype)) {
    const int64_t lim = dtype == DType::Float32 ? (int64_t(1) << 24) : (int64_t(1) << 53);
    SS_CHECK(low >= -lim && high - 1 <= lim, ValueError, "randint: range [", low, ", ", high,
             ") is not exactly representable in dtype ", dtype_name(dtype));
  }
  const uint64_t range = uint64_t(high) - uint64_t(low);
  Tensor out = empty(shape, dtype);
  const int64_t n = out.numel();
  std::vector<uint64_t> bits(size_t(n > 0 ? n : 0));
  fill_u64(bits.data(), n);
  SS_DISPATCH_ALL(dtype, "randint", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(out.raw_data());
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(int64_t(uint64_t(low) + bounded(bits[i], range)));
  });
  return out;
}

Tensor randperm(int64_t n) {
  SS_CHECK(n >= 0, ValueError, "randperm: n must be non-negative, got ", n);
  Tensor out = empty({n}, DType::Int64);
  int64_t* p = static_cast<int64_t*>(out.raw_data());
  std::iota(p, p + n, int64_t(0));
  std::vector<uint64_t> bits(static_cast<size_t>(n));
  fill_u64(bits.data(), n);
  // Fisher-Yates from the top: position i swaps with a uniform j in [0, i].
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[bounded(bits[i], uint64_t(i) + 1)]);
  return out;
}

Tensor bernoulli(const Tensor& p) {
  SS_CHECK(p.defined(), ValueError, "bernoulli: input tensor is undefined");
  SS_CHECK(p.is_floating_point(), TypeError, "bernoulli: expected a floating-point probability tensor, got ",
           dtype_name(p.dtype()), " (shape ", p.shape(), ")");
  Tensor pc = p.contiguous();
  Tensor out = empty(p.shape(), p.dtype());
  const int64_t n = out.numel();
  SS_DISPATCH_FLOAT(p.dtype(), "bernoulli", [&](auto tag) {
    using T = decltype(tag);
    const T* pp = static_cast<const T*>(pc.raw_data());
    for (int64_t i = 0; i < n; ++i)
      SS_CHECK(pp[i] >= T(0) && pp[i] <= T(1), ValueError, "bernoulli: probabilities must be in [0, 1], got ",
               double(pp[i]), " at flat index ", i, " of a tensor of shape ", p.shape());
    // u = bits / 2^32 in double: exact, so p = 0 never and p = 1 always fires.
    generate<4>(static_cast<T*>(out.raw_data()), n, 8, [pp, n](const Block& r, T* v, int64_t base) {
      for (int64_t k = 0; k < 4 && base + k < n; ++k) v[k] = r[k] * kInv2Pow32 < double(pp[base + k]) ? T(1) : T(0);
    });
  });
  return out;
}

Tensor bernoulli(const Tensor& like, double prob) { return bernoulli_scaled(like, prob, 1.0); }

Tensor bernoulli_scaled(const Tensor& like, double prob, double value) {
  SS_CHECK(like.defined(), ValueError, "bernoulli: input tensor is undefined");
  SS_CHECK(prob >= 0.0 && prob <= 1.0, ValueError, "bernoulli: p must be in [0, 1], got ", prob);
  Tensor out = empty(like.shape(), like.dtype());
  const int64_t n = out.numel();
  // Compare 32 raw bits against p * 2^32: exact for p = 0 and p = 1.
  // For an integer r, r < t exactly when r < ceil(t): an integer compare.
  const uint64_t thresh = uint64_t(std::ceil(prob * 4294967296.0));
  SS_DISPATCH_ALL(like.dtype(), "bernoulli", [&](auto tag) {
    using T = decltype(tag);
    const T one = static_cast<T>(value);
    generate<4>(static_cast<T*>(out.raw_data()), n, 8, [thresh, one](const Block& r, T* v, int64_t) {
      for (int k = 0; k < 4; ++k) v[k] = uint64_t(r[k]) < thresh ? one : T(0);
    });
  });
  return out;
}

Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement) {
  SS_CHECK(probs.defined(), ValueError, "multinomial: input tensor is undefined");
  SS_CHECK(probs.dim() == 1 || probs.dim() == 2, ValueError,
           "multinomial: prob_dist must be 1 or 2 dim, got shape ", probs.shape());
  SS_CHECK(probs.is_floating_point(), TypeError, "multinomial: only supports floating-point dtypes for input, got ",
           dtype_name(probs.dtype()));
  SS_CHECK(num_samples > 0, ValueError, "multinomial: cannot sample num_samples <= 0 samples (got ", num_samples,
           ")");
  const int64_t ncat = probs.size(-1), rows = probs.dim() == 2 ? probs.size(0) : 1;
  SS_CHECK(replacement || num_samples <= ncat, ValueError, "multinomial: cannot sample num_samples=", num_samples,
           " > number of categories ", ncat, " without replacement (shape ", probs.shape(), ")");
  Shape out_shape = probs.dim() == 2 ? Shape{rows, num_samples} : Shape{num_samples};
  Tensor out = empty(out_shape, DType::Int64);
  if (rows == 0) return out;

  // Weights as doubles, validated per row.
  Tensor w = probs.detach().to(DType::Float64).contiguous();
  const double* wp = static_cast<const double*>(w.raw_data());
  for (int64_t r = 0; r < rows; ++r) {
    double total = 0;
    int64_t nonzero = 0;
    for (int64_t c = 0; c < ncat; ++c) {
      double v = wp[r * ncat + c];
      SS_CHECK(std::isfinite(v) && v >= 0, ValueError, "multinomial: probability tensor contains either inf, "
               "nan or element < 0 (row ", r, ", category ", c, ", value ", v, ")");
      total += v;
      nonzero += v > 0;
    }
    SS_CHECK(total > 0, ValueError, "multinomial: invalid distribution in row ", r,
             " (sum of probabilities <= 0), shape ", probs.shape());
    SS_CHECK(replacement || num_samples <= nonzero, ValueError, "multinomial: cannot sample num_samples=",
             num_samples, " without replacement from row ", r, " which has only ", nonzero,
             " categories with nonzero probability");
  }

  const int64_t per_row = replacement ? num_samples : ncat;
  std::vector<double> u(size_t(rows * per_row));
  generate<2>(u.data(), rows * per_row, 16, [](const Block& r, double* v, int64_t) {
    v[0] = philox::to_unit_double(r[0], r[1]);
    v[1] = philox::to_unit_double(r[2], r[3]);
  });
  int64_t* op = static_cast<int64_t*>(out.raw_data());
  parallel_for(rows, ncat * 8 + num_samples * 16, [&](int64_t b, int64_t e) {
    std::vector<double> buf(static_cast<size_t>(ncat));
    std::vector<int64_t> idx(static_cast<size_t>(ncat));
    for (int64_t r = b; r < e; ++r) {
      const double* row = wp + r * ncat;
      const double* ur = u.data() + r * per_row;
      int64_t* o = op + r * num_samples;
      if (replacement) {
        // Inverse CDF: the first category whose cumulative weight exceeds u * total. A zero-weight
        // category never qualifies, since its cdf equals its predecessor's.
        std::partial_sum(row, row + ncat, buf.begin());
        const double total = buf.back();
        int64_t last = ncat - 1;
        while (row[last] == 0) --last;
        for (int64_t s = 0; s < num_samples; ++s) {
          int64_t c = std::upper_bound(buf.begin(), buf.end(), ur[s] * total) - buf.begin();
          o[s] = c < ncat ? c : last;  // u * total can round up to total
        }
      } else {
        // Exponential race (Efraimidis-Spirakis): key_c = E_c / w_c; the k smallest keys, in
        // order, are distributed as k sequential draws without replacement.
        for (int64_t c = 0; c < ncat; ++c)
          buf[c] = row[c] > 0 ? -std::log1p(-ur[c]) / row[c] : std::numeric_limits<double>::infinity();
        std::iota(idx.begin(), idx.end(), int64_t(0));
        std::partial_sort(idx.begin(), idx.begin() + num_samples, idx.end(), [&](int64_t a, int64_t b2) {
          return buf[a] < buf[b2] || (buf[a] == buf[b2] && a < b2);
        });
        std::copy(idx.begin(), idx.begin() + num_samples, o);
      }
    }
  });
  return out;
}

Tensor& uniform_(Tensor& t, double from, double to) {
  SS_CHECK(t.defined(), ValueError, "uniform_: tensor is undefined");
  check_inplace_allowed(t, "uniform_");
  require_float(t.dtype(), "uniform_");
  SS_CHECK(std::isfinite(from) && std::isfinite(to), ValueError, "uniform_: from and to must be finite, got from=",
           from, ", to=", to);
  SS_CHECK(from <= to, ValueError, "uniform_: expects to return a [from, to) range, but found from=", from,
           " > to=", to);
  fill_tensor(t, [=](auto* p, int64_t n) { fill_uniform(p, n, from, to); });
  finish_inplace(t);
  return t;
}

Tensor& normal_(Tensor& t, double mean, double stdv) {
  SS_CHECK(t.defined(), ValueError, "normal_: tensor is undefined");
  check_inplace_allowed(t, "normal_");
  require_float(t.dtype(), "normal_");
  SS_CHECK(stdv >= 0.0, ValueError, "normal_: expects std >= 0.0, but found std ", stdv);
  fill_tensor(t, [=](auto* p, int64_t n) { fill_normal(p, n, mean, stdv); });
  finish_inplace(t);
  return t;
}

}  // namespace shanshui
