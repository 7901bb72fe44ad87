#include "nn/attention/positional_encoding.h"

#include <cmath>
#include <vector>

#include "core/ops.h"
#include "nn/functional.h"
#include "nn/init.h"

namespace shanshui::nn {

Tensor sinusoidal_positional_encoding(int64_t max_len, int64_t d, DType dtype) {
  SS_CHECK(max_len >= 0 && d > 0, ValueError, "sinusoidal_positional_encoding: expected max_len >= 0 and d_model > 0, got ",
           max_len, " and ", d);
  std::vector<double> pe(size_t(max_len * d));
  for (int64_t i = 0; 2 * i < d; ++i) {
    // 10000^(-2i/d) in double, then the angle for each position.
    const double inv = std::exp(-std::log(10000.0) * double(2 * i) / double(d));
    for (int64_t pos = 0; pos < max_len; ++pos) {
      pe[size_t(pos * d + 2 * i)] = std::sin(double(pos) * inv);
      if (2 * i + 1 < d) pe[size_t(pos * d + 2 * i + 1)] = std::cos(double(pos) * inv);
    }
  }
  return from_vector(pe, {max_len, d}, dtype);
}

namespace {
// The [L, d] table rows for x, shaped to broadcast against x.
Tensor table_for(const Tensor& table, const Tensor& x, bool batch_first, int64_t d, int64_t offset, const char* op) {
  SS_CHECK(x.dim() == 2 || x.dim() == 3, ValueError, op, ": expected a 2-D [L, d] or 3-D input, got shape ", x.shape());
  SS_CHECK(x.size(-1) == d, ValueError, op, ": expected inputs with ", d, " features, got shape ", x.shape());
  const int64_t L = x.dim() == 3 && batch_first ? x.size(1) : x.size(0);
  SS_CHECK(offset >= 0, ValueError, op, ": offset must be non-negative, got ", offset);
  SS_CHECK(offset + L <= table.size(0), ValueError, op, ": positions up to ", offset + L, " (offset ", offset,
           ", sequence length ", L, ") exceed max_len ", table.size(0), " (input shape ", x.shape(), ")");
  Tensor t = table.narrow(0, offset, L);
  if (x.dim() == 3) t = batch_first ? t.unsqueeze(0) : t.unsqueeze(1);
  return t;
}
}  // namespace

PositionalEncoding::PositionalEncoding(int64_t d_model, double dropout, int64_t max_len, bool batch_first, DType dtype)
    : Module("PositionalEncoding"), d_model(d_model), max_len(max_len), dropout(dropout), batch_first(batch_first) {
  SS_CHECK(dropout >= 0.0 && dropout <= 1.0, ValueError, "PositionalEncoding: dropout must be in [0, 1], got ", dropout);
  register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model, dtype), /*persistent=*/false);
}

Tensor PositionalEncoding::forward(const Tensor& x, int64_t offset) {
  Tensor pe = table_for(buffers_["pe"], x, batch_first, d_model, offset, "PositionalEncoding");
  return functional::dropout(x + pe.to(x.dtype()), dropout, is_training());
}

std::string PositionalEncoding::extra_repr() const {
  return cat_str("d_model=", d_model, ", max_len=", max_len, ", dropout=", dropout);
}

LearnedPositionalEmbedding::LearnedPositionalEmbedding(int64_t max_len, int64_t d_model, double dropout,
                                                       bool batch_first, DType dtype)
    : Module("LearnedPositionalEmbedding"), max_len(max_len), d_model(d_model), dropout(dropout),
      batch_first(batch_first) {
  SS_CHECK(max_len > 0 && d_model > 0, ValueError, "LearnedPositionalEmbedding: expected positive max_len and d_model, got ",
           max_len, " and ", d_model);
  register_parameter("weight", empty({max_len, d_model}, dtype));
  init::normal_(weight(), 0.0, 0.02);
}

Tensor LearnedPositionalEmbedding::forward(const Tensor& x, int64_t offset) {
  return functional::dropout(x + table_for(weight(), x, batch_first, d_model, offset, "LearnedPositionalEmbedding"),
                             dropout,
                             is_training());
}

std::string LearnedPositionalEmbedding::extra_repr() const {
  return cat_str("max_len=", max_len, ", d_model=", d_model, ", dropout=", dropout);
}

}  // namespace shanshui::nn
