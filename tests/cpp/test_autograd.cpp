// Autograd: engine semantics (PyTorch's), hooks, custom functions, deep graphs, memory.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/gradcheck.h"
#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "core/storage.h"

using namespace shanshui;
using autograd::tensor_list;

namespace {
Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector(v, s, DType::Float64); }
Tensor leaf(const std::vector<double>& v, const Shape& s) { return f64(v, s).requires_grad_(); }
std::vector<double> vec(const Tensor& t) { return to_vector(t); }
void require_close(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(t.defined());
  auto got = to_vector(t);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).margin(tol));
}
}  // namespace

TEST_CASE("backward of a scalar fills leaf grads", "[autograd]") {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = x.mul(x).sum();  // d/dx sum(x^2) = 2x
  y.backward();
  require_close(x.grad(), {2, 4, 6});
  REQUIRE(x.is_leaf());
  REQUIRE_FALSE(y.is_leaf());
  REQUIRE(y.requires_grad());
}

TEST_CASE("backward of a non-scalar needs a gradient", "[autograd]") {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = x.mul(x);
  REQUIRE_THROWS_AS(y.backward(), RuntimeError);
  REQUIRE_THROWS_AS(y.backward(f64({1, 1}, {2})), RuntimeError);  // shape mismatch
  y.backward(f64({1, 0, 2}, {3}));  // v * 2x
  require_close(x.grad(), {2, 0, 12});
  // A float32 gradient for a float64 output is converted.
  Tensor z = x.mul(x);
  x.set_grad(Tensor());
  z.backward(from_vector(std::vector<double>{1, 1, 1}, {3}, DType::Float32));
  require_close(x.grad(), {2, 4, 6});
}

TEST_CASE("backward of a tensor without history raises", "[autograd]") {
  Tensor x = f64({1, 2}, {2});
  REQUIRE_THROWS_AS(x.sum().backward(), RuntimeError);
}

TEST_CASE("gradients accumulate across backward calls", "[autograd]") {
  Tensor x = leaf({1, -2}, {2});
  x.mul(f64({3, 3}, {2})).sum().backward();
  x.mul(f64({3, 3}, {2})).sum().backward();
  require_close(x.grad(), {6, 6});
  x.set_grad(Tensor());
  x.sum().backward();
  require_close(x.grad(), {1, 1});
}

TEST_CASE("a second backward through a freed graph raises; retain_graph allows it", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x.mul(x).sum();  // MulBackward saves x
  y.backward();
  REQUIRE_THROWS_AS(y.backward(), RuntimeError);

  Tensor z = x.mul(x).sum();
  x.set_grad(Tensor());
  z.backward(Tensor(), /*retain_graph=*/true);
  z.backward();
  require_close(x.grad(), {4, 8});  // 2 * 2x
  REQUIRE_THROWS_AS(z.backward(), RuntimeError);
}

TEST_CASE("a graph without saved tensors can be reused, as in PyTorch", "[autograd]") {
  Tensor w = leaf({1, 2, 3, 4}, {2, 2});
  Tensor wt = w.t();  // TBackward saves nothing
  wt.sum().backward();
  wt.sum().backward();
  require_close(w.grad(), {2, 2, 2, 2});
}

TEST_CASE("detach shares storage and drops history", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x.mul(f64({2, 2}, {2}));
  Tensor d = y.detach();
  REQUIRE_FALSE(d.requires_grad());
  REQUIRE(d.is_leaf());
  REQUIRE(d.storage() == y.storage());
  REQUIRE(d.version() == y.version());
  Tensor y2 = y.mul(y);
  {
    autograd::NoGradGuard ng;
    d.add_(1.0);  // shares the version counter: y2's saved y is now stale
  }
  REQUIRE_THROWS_AS(y2.sum().backward(), RuntimeError);
  Tensor e = x.mul(x);
  e.detach_();
  REQUIRE(e.is_leaf());
  REQUIRE_FALSE(e.requires_grad());
}

TEST_CASE("requires_grad_ follows PyTorch's leaf rules", "[autograd]") {
  Tensor i = from_vector(std::vector<int64_t>{1, 2}, {2});
  REQUIRE_THROWS_AS(i.requires_grad_(), RuntimeError);
  i.requires_grad_(false);  // allowed
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x.mul(x);
  REQUIRE_THROWS_AS(y.requires_grad_(false), RuntimeError);
  y.requires_grad_(true);  // no-op on a non-leaf
  REQUIRE_FALSE(y.is_leaf());
  x.requires_grad_(false);
  REQUIRE_FALSE(x.requires_grad());
}

TEST_CASE("non-leaf grads are kept only with retain_grad", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor h = x.mul(f64({3, 3}, {2}));
  Tensor k = x.mul(f64({3, 3}, {2}));
  k.retain_grad();
  REQUIRE(k.retains_grad());
  Tensor loss = h.mul(h).sum().add(k.mul(k).sum());
  loss.backward();
  REQUIRE_FALSE(h.grad().defined());
  require_close(k.grad(), {6, 12});  // d/dk k^2 = 2k = 2 * 3x
  require_close(x.grad(), {36, 72});  // 2 * (2 * 9x)
  x.retain_grad();  // no-op on a leaf
  REQUIRE_THROWS_AS(f64({1}, {1}).retain_grad(), RuntimeError);
}

TEST_CASE("in-place change to a saved tensor raises on backward", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor a = x.mul(f64({2, 2}, {2}));
  Tensor b = a.mul(a);  // saves a
  a.add_(1.0);
  REQUIRE(a.version() == 1);
  REQUIRE_THROWS_WITH(b.sum().backward(), Catch::Contains("modified by an inplace operation"));
  // An in-place op on a leaf that requires grad is refused unless grad mode is off.
  REQUIRE_THROWS_AS(x.add_(1.0), RuntimeError);
  {
    autograd::NoGradGuard ng;
    x.add_(1.0);
  }
  require_close(x, {2, 3});
}

TEST_CASE("in-place ops on non-leaves keep the graph", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor w = leaf({3, 4}, {2});
  Tensor y = x.mul(f64({1, 1}, {2}));
  y.mul_(w);  // y = x * w, saved values are the originals
  y.add_(x);  // y = x * w + x
  y.sum().backward();
  require_close(x.grad(), {4, 5});  // w + 1
  require_close(w.grad(), {1, 2});  // x

  // A buffer that did not require grad picks up history in place.
  Tensor buf = zeros({2}, DType::Float64);
  buf.add_(w);
  REQUIRE(buf.requires_grad());
  w.set_grad(Tensor());
  buf.mul(buf).sum().backward();
  require_close(w.grad(), {6, 8});

  // Overwriting a non-leaf with a constant keeps it in the graph with zero gradient.
  Tensor z = x.mul(f64({1, 1}, {2}));
  z.fill_(5.0);
  REQUIRE(z.requires_grad());
  x.set_grad(Tensor());
  z.sum().add(x.sum()).backward();
  require_close(x.grad(), {1, 1});

  // copy_ from a leaf routes the gradient to it.
  Tensor dst = zeros({2, 2}, DType::Float64);
  dst.copy_(w);  // broadcast [2] -> [2, 2]
  w.set_grad(Tensor());
  dst.sum().backward();
  require_close(w.grad(), {2, 2});
}

TEST_CASE("NoGradGuard records no graph and nests", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  {
    autograd::NoGradGuard ng;
    REQUIRE_FALSE(autograd::GradMode::is_enabled());
    Tensor y = x.mul(x);
    REQUIRE_FALSE(y.requires_grad());
    REQUIRE(y.grad_fn() == nullptr);
    {
      autograd::GradModeGuard on(true);
      REQUIRE(x.mul(x).requires_grad());
    }
    REQUIRE_FALSE(autograd::GradMode::is_enabled());
  }
  REQUIRE(autograd::GradMode::is_enabled());
  REQUIRE(x.mul(x).requires_grad());
}

TEST_CASE("autograd::grad returns gradients without touching .grad", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor u = leaf({5}, {1});
  Tensor h = x.mul(x);
  Tensor y = h.sum();
  tensor_list g = autograd::grad({y}, {x, h}, {}, /*retain_graph=*/true);
  require_close(g[0], {2, 4});
  require_close(g[1], {1, 1});
  REQUIRE_FALSE(x.grad().defined());
  REQUIRE_THROWS_AS(autograd::grad({y}, {u}, {}, true), RuntimeError);
  tensor_list g2 = autograd::grad({y}, {x, u}, {}, true, false, /*allow_unused=*/true);
  REQUIRE(g2[0].defined());
  REQUIRE_FALSE(g2[1].defined());
  REQUIRE_THROWS_AS(autograd::grad({y}, {f64({1}, {1})}), RuntimeError);  // input does not require grad
}

TEST_CASE("autograd::grad runs only the part of the graph it needs", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor w = leaf({3, 4}, {2});
  Tensor a = x.mul(f64({2, 2}, {2}));
  Tensor b = w.mul(w);
  Tensor y = a.sum().add(b.sum());
  tensor_list g = autograd::grad({y}, {a});
  require_close(g[0], {1, 1});
  // b's branch was not run, so its saved tensors were not freed.
  y.backward();
  require_close(w.grad(), {6, 8});
}

TEST_CASE("create_graph gives differentiable gradients (double backward)", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x.mul(x).mul(x).sum();  // x^3
  tensor_list g = autograd::grad({y}, {x}, {}, false, /*create_graph=*/true);
  require_close(g[0], {3, 12});  // 3x^2
  REQUIRE(g[0].requires_grad());
  tensor_list g2 = autograd::grad({g[0].sum()}, {x});
  require_close(g2[0], {6, 12});  // 6x

  // div saves its own output before record(): unpack must re-attach its history.
  Tensor z = leaf({2, 4}, {2});
  Tensor r = div(ones({2}, DType::Float64), z);  // 1/z; d/dz = -1/z^2; d2/dz2 = 2/z^3
  tensor_list gz = autograd::grad({r.sum()}, {z}, {}, false, true);
  require_close(gz[0], {-0.25, -1.0 / 16});
  tensor_list gz2 = autograd::grad({gz[0].sum()}, {z});
  require_close(gz2[0], {0.25, 2.0 / 64});

  // backward(create_graph) stores a .grad with history.
  Tensor q = leaf({3}, {1});
  q.mul(q).sum().backward(Tensor(), false, true);
  REQUIRE(q.grad().requires_grad());
  tensor_list qq = autograd::grad({q.grad().sum()}, {q});
  require_close(qq[0], {2});
  // As in PyTorch, q -> .grad -> its graph -> q's accumulator -> q is a cycle: break it.
  q.set_grad(Tensor());
}

TEST_CASE("a 100,000-node graph back-propagates and is destroyed without recursion", "[autograd]") {
  const int N = 100000;
  Tensor x = leaf({1, 2}, {2});
  Tensor c = leaf({1}, {1});
  {
    Tensor y = x;
    for (int i = 0; i < N; ++i) y = y.mul(c);  // each node saves y and c
    y.sum().backward();
    require_close(x.grad(), {1, 1});
    REQUIRE(c.grad().item<double>() == Approx(3.0 * N));  // each factor c contributes sum(x) = 3
  }  // the chain is dropped here
  {
    Tensor y = x;
    for (int i = 0; i < N; ++i) y = y.add(c);  // never back-propagated: only destroyed
  }
  {
    // retain_grad hooks and a long in-place chain are destroyed iteratively too.
    Tensor y = x.mul(c);
    y.retain_grad();
    for (int i = 0; i < N; ++i) y.add_(1.0);
  }
  REQUIRE(x.requires_grad());
}

TEST_CASE("saved tensors are released after backward", "[autograd]") {
  Tensor x = leaf({1, 2, 3}, {3});
  std::weak_ptr<Storage> h_storage;
  Tensor loss;
  {
    Tensor h = x.mul(f64({2, 2, 2}, {3}));
    h_storage = h.storage();
    loss = h.mul(h).sum();  // MulBackward keeps h
  }
  REQUIRE_FALSE(h_storage.expired());
  loss.backward(Tensor(), /*retain_graph=*/true);
  REQUIRE_FALSE(h_storage.expired());
  loss.backward();
  REQUIRE(h_storage.expired());
}

TEST_CASE("memory stays flat over 10,000 small training steps", "[autograd][memory]") {
  // Linear regression y = x w + b with hand-written MSE.
  Tensor xb = f64({0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2}, {4, 3});
  Tensor yb = f64({1, 2, 3, 4}, {4, 1});
  Tensor w = zeros({3, 1}, DType::Float64).requires_grad_();
  Tensor b = zeros({1}, DType::Float64).requires_grad_();
  size_t warm = 0;
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 10000; ++step) {
    Tensor err = matmul(xb, w).add(b).sub(yb);
    Tensor loss = err.mul(err).mean();
    loss.backward();
    {
      autograd::NoGradGuard ng;
      w.sub_(w.grad().mul(0.1));
      b.sub_(b.grad().mul(0.1));
      w.grad().zero_();
      b.grad().zero_();
    }
    if (step == 0) first_loss = loss.item<double>();
    last_loss = loss.item<double>();
    if (step == 100) warm = allocator::stats().bytes_in_use;
  }
  REQUIRE(allocator::stats().bytes_in_use <= warm);
  REQUIRE(last_loss < first_loss * 0.01);
}

TEST_CASE("tensor hooks on leaves and non-leaves", "[autograd][hooks]") {
  Tensor x = leaf({1, 2}, {2});
  int seen = 0;
  x.register_hook([&](const Tensor& g) { return g.mul(2.0); });
  unsigned h2 = x.register_hook([&](const Tensor& g) { ++seen; });  // observer
  x.mul(f64({3, 3}, {2})).sum().backward();
  require_close(x.grad(), {6, 6});
  REQUIRE(seen == 1);
  x.remove_hook(h2);
  x.set_grad(Tensor());
  x.sum().backward();
  require_close(x.grad(), {2, 2});
  REQUIRE(seen == 1);

  // Non-leaf: the hook changes the gradient flowing on; retain_grad sees the hooked value.
  Tensor z = leaf({1, 2}, {2});
  Tensor h = z.mul(f64({1, 1}, {2}));
  h.retain_grad();
  Tensor seen_grad;
  h.register_hook([&](const Tensor& g) {
    seen_grad = g;
    return g.add(1.0);
  });
  h.mul(f64({5, 5}, {2})).sum().backward();
  require_close(seen_grad, {5, 5});
  require_close(h.grad(), {6, 6});
  require_close(z.grad(), {6, 6});

  // Hooks run in autograd::grad too (leaf hooks as well).
  Tensor p = leaf({1}, {1});
  p.register_hook([](const Tensor& g) { return g.mul(10.0); });
  tensor_list gp = autograd::grad({p.mul(p).sum()}, {p});
  require_close(gp[0], {20});

  // A hook may not change the shape; one needs requires_grad.
  Tensor q = leaf({1, 2}, {2});
  q.register_hook([](const Tensor& g) { return g.sum(); });
  REQUIRE_THROWS_AS(q.sum().backward(), RuntimeError);
  REQUIRE_THROWS_AS(f64({1}, {1}).register_hook([](const Tensor& g) { return g; }), RuntimeError);
}

// ---- custom functions -----------------------------------------------------------

namespace {
using autograd::AutogradContext;

struct MulConst : autograd::Function<MulConst> {
  static Tensor forward(AutogradContext* ctx, Tensor x, double c) {
    ctx->saved_data["c"] = c;
    ctx->saved_data["n"] = int64_t(7);
    REQUIRE_FALSE(autograd::GradMode::is_enabled());  // forward runs under no-grad
    return x.mul(c);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    REQUIRE(ctx->saved_data["n"].toInt() == 7);
    return {g[0].mul(ctx->saved_data["c"].toDouble()), Tensor()};
  }
};

struct Exp : autograd::Function<Exp> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    // exp through x^k/k! is not needed: build exp from pow with a 0-d base e.
    Tensor y = pow(scalar_tensor(std::exp(1.0), DType::Float64), x);
    ctx->save_for_backward({y});  // saving an output must not make a cycle
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    Tensor y = ctx->get_saved_variables()[0];
    return {g[0].mul(y)};  // d exp(x) = exp(x)
  }
};

// z = x * y with two outputs: (x * y, x + y); the second is marked non-differentiable.
struct MulAdd : autograd::Function<MulAdd> {
  static tensor_list forward(AutogradContext* ctx, Tensor x, Tensor y) {
    ctx->save_for_backward({x, y});
    Tensor s = x.add(y);
    ctx->mark_non_differentiable({s});
    REQUIRE(ctx->needs_input_grad(0));
    REQUIRE_FALSE(ctx->needs_input_grad(1));
    return {x.mul(y), s};
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    auto s = ctx->get_saved_variables();
    return {g[0].mul(s[1]), g[0].mul(s[0])};
  }
};

struct Identity : autograd::Function<Identity> {
  static Tensor forward(AutogradContext*, Tensor x) { return x; }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0].mul(3.0)}; }
};

struct WrongCount : autograd::Function<WrongCount> {
  static Tensor forward(AutogradContext*, Tensor x) { return x.mul(1.0); }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0], g[0]}; }
};

struct WrongGrad : autograd::Function<WrongGrad> {
  static Tensor forward(AutogradContext*, Tensor x) { return x.mul(x); }
  static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0]}; }  // should be 2x g
};
}  // namespace

TEST_CASE("custom Function: saved_data, non-tensor arguments", "[autograd][function]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = MulConst::apply(x, 3.0);
  REQUIRE(y.grad_fn() != nullptr);
  REQUIRE(y.grad_fn()->name() == "MulConstBackward");
  y.sum().backward();
  require_close(x.grad(), {3, 3});
  y.sum().backward();  // nothing saved: a second backward works, as PyTorch
  require_close(x.grad(), {6, 6});
  // Without grad, apply just runs forward.
  Tensor n = MulConst::apply(f64({1}, {1}), 2.0);
  REQUIRE_FALSE(n.requires_grad());
  require_close(n, {2});
}

TEST_CASE("custom Function: saved outputs, release, double backward, gradcheck", "[autograd][function]") {
  Tensor x = leaf({0.5, -1}, {2});
  std::weak_ptr<autograd::Node> node;
  {
    Tensor y = Exp::apply(x);
    node = y.grad_fn();
    y.sum().backward();
    require_close(x.grad(), {std::exp(0.5), std::exp(-1.0)});
    REQUIRE_THROWS_AS(y.sum().backward(), RuntimeError);  // saved tensors were freed
  }
  REQUIRE(node.expired());  // no cycle through the saved output

  Tensor z = Exp::apply(x);
  tensor_list g = autograd::grad({z.sum()}, {x}, {}, false, /*create_graph=*/true);
  tensor_list g2 = autograd::grad({g[0].sum()}, {x});
  require_close(g2[0], {std::exp(0.5), std::exp(-1.0)});

  auto r = autograd::gradcheck([](const tensor_list& in) { return Exp::apply(in[0]); }, {leaf({0.1, 0.7, -0.3}, {3})});
  REQUIRE(r.ok);
  auto bad = autograd::gradcheck([](const tensor_list& in) { return WrongGrad::apply(in[0]); },
                                 {leaf({0.1, 0.7}, {2})});
  REQUIRE_FALSE(bad.ok);
  REQUIRE_THAT(bad.message, Catch::Contains("Jacobian mismatch"));
}

TEST_CASE("custom Function: multiple outputs, non-differentiable, aliasing, errors", "[autograd][function]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = f64({3, 4}, {2});
  tensor_list out = MulAdd::apply(x, y);
  REQUIRE(out[0].requires_grad());
  REQUIRE_FALSE(out[1].requires_grad());
  out[0].sum().backward();
  require_close(x.grad(), {3, 4});

  Tensor a = leaf({1, 2}, {2});
  Tensor b = Identity::apply(a);
  REQUIRE_FALSE(b.is_same(a));
  REQUIRE(b.storage() == a.storage());
  REQUIRE(a.is_leaf());
  b.sum().backward();
  require_close(a.grad(), {3, 3});

  REQUIRE_THROWS_WITH(WrongCount::apply(a).sum().backward(), Catch::Contains("incorrect number of gradients"));
}

TEST_CASE("make_custom_node wires a type-erased backward", "[autograd][function]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor w = leaf({3}, {1});
  tensor_list outs;
  {
    autograd::NoGradGuard ng;
    outs = {x.mul(w)};
  }
  REQUIRE_FALSE(outs[0].requires_grad());
  autograd::CustomNodeOptions opt;
  opt.to_save = {x, w, outs[0]};
  std::weak_ptr<autograd::CustomNode> weak;
  auto node = autograd::make_custom_node(
      "MyMulBackward", {x, w}, outs,
      [&weak](const tensor_list& g) {
        tensor_list s = weak.lock()->saved_tensors();
        return tensor_list{g[0].mul(s[1]), g[0].mul(s[0]).sum().reshape({1})};
      },
      opt);
  weak = node;
  REQUIRE(node->needs_input_grad(0));
  REQUIRE(outs[0].grad_fn() == node);
  node.reset();
  outs[0].sum().backward();
  require_close(x.grad(), {3, 3});
  require_close(w.grad(), {3});
  REQUIRE_THROWS_AS(weak.lock()->saved_tensors(), RuntimeError);

  // No input requires grad: nothing is attached.
  tensor_list plain{f64({1}, {1})};
  REQUIRE(autograd::make_custom_node("X", {f64({1}, {1})}, plain, [](const tensor_list& g) { return g; }) ==
          nullptr);

  // A backward returning the wrong shape is caught.
  Tensor v = leaf({1, 2}, {2});
  tensor_list o2{f64({1, 2}, {2})};
  autograd::make_custom_node("BadShapeBackward", {v}, o2,
                             [](const tensor_list& g) { return tensor_list{g[0].sum()}; });
  REQUIRE_THROWS_WITH(o2[0].sum().backward(), Catch::Contains("BadShapeBackward"));
}

TEST_CASE("gradcheck refuses aliased inputs and non-float64", "[autograd]") {
  Tensor e = f64({1}, {1}).expand({3}).detach().requires_grad_();
  REQUIRE_THROWS_AS(autograd::gradcheck([](const tensor_list& in) { return in[0].mul(in[0]); }, {e}), ValueError);
  Tensor f = from_vector(std::vector<float>{1, 2}, {2}).requires_grad_();
  REQUIRE_THROWS_AS(autograd::gradcheck([](const tensor_list& in) { return in[0]; }, {f}), TypeError);
}

TEST_CASE("several roots, root retain_grad and gradients w.r.t. a root", "[autograd]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor a = x.mul(x);  // grad 2x
  Tensor b = x.mul(f64({3, 3}, {2}));  // grad 3
  a.retain_grad();
  autograd::backward({a, b.sum()}, {f64({1, 1}, {2}), Tensor()});
  require_close(x.grad(), {5, 7});
  require_close(a.grad(), {1, 1});
  REQUIRE_THROWS_AS(autograd::backward({a, b}, {Tensor()}), ValueError);  // counts differ
  Tensor c = x.mul(f64({2, 2}, {2}));
  tensor_list g = autograd::grad({c}, {c}, {f64({4, 5}, {2})});
  require_close(g[0], {4, 5});
}

TEST_CASE("custom nodes can ask for undefined instead of zero gradients", "[autograd][function]") {
  Tensor x = leaf({1, 2}, {2});
  tensor_list outs;
  {
    autograd::NoGradGuard ng;
    outs = {x.mul(2.0), x.mul(3.0)};
  }
  autograd::CustomNodeOptions opt;
  opt.materialize_grads = false;
  bool second_undefined = false;
  autograd::make_custom_node(
      "TwoOutBackward", {x}, outs,
      [&](const tensor_list& g) {
        second_undefined = !g[1].defined();
        return tensor_list{g[0].mul(2.0)};
      },
      opt);
  outs[0].sum().backward();
  REQUIRE(second_undefined);
  require_close(x.grad(), {2, 2});
}

TEST_CASE("hooks on non-leaves can be removed", "[autograd][hooks]") {
  Tensor x = leaf({1, 2}, {2});
  Tensor h = x.mul(f64({1, 1}, {2}));
  unsigned id = h.register_hook([](const Tensor& g) { return g.mul(100.0); });
  h.remove_hook(id);
  REQUIRE_THROWS_AS(h.remove_hook(id + 5), IndexError);
  h.sum().backward();
  require_close(x.grad(), {1, 1});
}
