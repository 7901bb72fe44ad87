#include "nn/additive_attention.h"

#include <limits>

#include "core/ops.h"

namespace shanshui::nn {

namespace {
struct Prepared {
  Tensor query;  // [B, Tq, Dq]
  Tensor values;
  bool single;  // the query was [B, Dq]
};

Prepared check_inputs(const char* op, const Tensor& query, const Tensor& keys, const Tensor& values, const Tensor& mask,
                      int64_t key_dim, int64_t query_dim, bool keys_projected, int64_t proj_dim) {
  SS_CHECK(query.defined() && (query.dim() == 2 || query.dim() == 3), ValueError, op,
           ": query must be [B, Dq] or [B, Tq, Dq], got shape ", query.defined() ? query.shape() : Shape{});
  SS_CHECK(query.size(-1) == query_dim, ValueError, op, ": query of shape ", query.shape(), " should have last dim ",
           query_dim);
  const int64_t kd = keys_projected ? proj_dim : key_dim;
  SS_CHECK(keys.defined() && keys.dim() == 3 && keys.size(2) == kd, ValueError, op, ": ",
           keys_projected ? "projected keys" : "keys", " of shape ", keys.defined() ? keys.shape() : Shape{},
           " should be [B, S, ", kd, "]");
  const int64_t B = keys.size(0), S = keys.size(1);
  SS_CHECK(query.size(0) == B, ValueError, op, ": query of shape ", query.shape(), " and keys of shape ", keys.shape(),
           " have different batch sizes");
  Tensor v = values.defined() ? values : Tensor();
  if (v.defined())
    SS_CHECK(v.dim() == 3 && v.size(0) == B && v.size(1) == S, ValueError, op, ": values of shape ", v.shape(),
             " should be [", B, ", ", S, ", Dv] to match keys of shape ", keys.shape());
  if (mask.defined()) {
    SS_CHECK(mask.dtype() == DType::Bool, TypeError, op, ": key_padding_mask must be bool (True = padding), got ",
             dtype_name(mask.dtype()));
    SS_CHECK(mask.shape() == Shape({B, S}), ValueError, op, ": key_padding_mask of shape ", mask.shape(),
             " should be [", B, ", ", S, "]");
  }
  for (const Tensor* t : {&keys, &values})
    if (t->defined())
      SS_CHECK(t->dtype() == query.dtype(), TypeError, op, ": query, keys and values must share a dtype, got ",
               dtype_name(query.dtype()), " and ", dtype_name(t->dtype()));
  bool single = query.dim() == 2;
  return {single ? query.unsqueeze(1) : query, v, single};
}

std::pair<Tensor, Tensor> finish(std::pair<Tensor, Tensor> r, bool single) {
  if (single) return {r.first.squeeze(1), r.second.squeeze(1)};
  return r;
}
}  // namespace

namespace functional {
std::pair<Tensor, Tensor> attention_context(const Tensor& scores, const Tensor& values, const Tensor& mask) {
  Tensor w;
  if (mask.defined()) {
    Tensor m = mask.unsqueeze(1).expand(scores.shape());
    // A fully masked row: softmax of all -inf is NaN; masked_fill then sets it to
    // zero and its backward sends no gradient to the masked scores.
    w = softmax(scores.masked_fill(m, -std::numeric_limits<double>::infinity()), -1).masked_fill(m, 0.0);
  } else {
    w = softmax(scores, -1);
  }
  return {bmm(w, values), w};
}
}  // namespace functional

AdditiveAttention::AdditiveAttention(int64_t kd, int64_t qd, int64_t a, bool bias, DType dtype)
    : Module("AdditiveAttention"), key_dim(kd), query_dim(qd), hidden_dim(a) {
  SS_CHECK(kd > 0 && qd > 0 && a > 0, ValueError, "AdditiveAttention: key_dim, query_dim and hidden_dim must be positive, got ",
           kd, ", ", qd, ", ", a);
  key_proj = register_module("key_proj", std::make_shared<Linear>(kd, a, false, dtype));
  query_proj = register_module("query_proj", std::make_shared<Linear>(qd, a, bias, dtype));
  v = register_module("v", std::make_shared<Linear>(a, 1, false, dtype));
}

Tensor AdditiveAttention::project_keys(const Tensor& keys) {
  SS_CHECK(keys.defined() && keys.dim() == 3 && keys.size(2) == key_dim, ValueError,
           "AdditiveAttention: keys of shape ", keys.defined() ? keys.shape() : Shape{}, " should be [B, S, ", key_dim,
           "]");
  return (*key_proj)(keys);
}

std::pair<Tensor, Tensor> AdditiveAttention::attend(const Tensor& query, const Tensor& pk, const Tensor& values,
                                                    const Tensor& mask) {
  auto p = check_inputs("AdditiveAttention", query, pk, values, mask, key_dim, query_dim, true, hidden_dim);
  SS_CHECK(p.values.defined(), ValueError, "AdditiveAttention: attend() needs the values (the unprojected keys)");
  Tensor q = (*query_proj)(p.query);                          // [B, Tq, A]
  Tensor e = tanh(pk.unsqueeze(1) + q.unsqueeze(2));          // [B, Tq, S, A]
  Tensor scores = linear(e, v->weight()).squeeze(-1);         // [B, Tq, S]
  return finish(functional::attention_context(scores, p.values, mask), p.single);
}

std::pair<Tensor, Tensor> AdditiveAttention::forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                                     const Tensor& mask) {
  check_inputs("AdditiveAttention", query, keys, values, mask, key_dim, query_dim, false, 0);
  return attend(query, project_keys(keys), values.defined() ? values : keys, mask);
}

std::string AdditiveAttention::extra_repr() const {
  return cat_str("key_dim=", key_dim, ", query_dim=", query_dim, ", hidden_dim=", hidden_dim);
}

LuongAttention::LuongAttention(int64_t kd, int64_t qd, const std::string& sc, DType dtype)
    : Module("LuongAttention"), key_dim(kd), query_dim(qd), score(sc) {
  SS_CHECK(sc == "dot" || sc == "general", ValueError, "LuongAttention: score must be 'dot' or 'general', got '", sc,
           "'");
  SS_CHECK(kd > 0 && qd > 0, ValueError, "LuongAttention: key_dim and query_dim must be positive, got ", kd, " and ", qd);
  SS_CHECK(sc != "dot" || kd == qd, ValueError, "LuongAttention: the 'dot' score needs key_dim == query_dim, got ", kd,
           " and ", qd);
  if (sc == "general") key_proj = register_module("key_proj", std::make_shared<Linear>(kd, qd, false, dtype));
}

Tensor LuongAttention::project_keys(const Tensor& keys) {
  SS_CHECK(keys.defined() && keys.dim() == 3 && keys.size(2) == key_dim, ValueError, "LuongAttention: keys of shape ",
           keys.defined() ? keys.shape() : Shape{}, " should be [B, S, ", key_dim, "]");
  return key_proj ? (*key_proj)(keys) : keys;
}

std::pair<Tensor, Tensor> LuongAttention::attend(const Tensor& query, const Tensor& pk, const Tensor& values,
                                                 const Tensor& mask) {
  auto p = check_inputs("LuongAttention", query, pk, values, mask, key_dim, query_dim, true, query_dim);
  SS_CHECK(p.values.defined(), ValueError, "LuongAttention: attend() needs the values (the unprojected keys)");
  Tensor scores = bmm(p.query, pk.transpose(1, 2));  // [B, Tq, S]
  return finish(functional::attention_context(scores, p.values, mask), p.single);
}

std::pair<Tensor, Tensor> LuongAttention::forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                                  const Tensor& mask) {
  check_inputs("LuongAttention", query, keys, values, mask, key_dim, query_dim, false, 0);
  return attend(query, project_keys(keys), values.defined() ? values : keys, mask);
}

std::string LuongAttention::extra_repr() const {
  return cat_str("key_dim=", key_dim, ", query_dim=", query_dim, ", score='", score, "'");
}

}  // namespace shanshui::nn
