"""PyTorch parity for ops and modules a PyTorch user reaches for first: sort /
topk / norm, float tests, scatter, Tensor.__format__, the losses and
activations composed in Python, and exception types (shape errors are also
RuntimeErrors, as in torch).

Each case runs the same lambda on torch and on shanshui and compares the
values (and gradients) it returns.
"""
import numpy as np
import pytest
import torch

import shanshui as ss

A = np.random.RandomState(0).randn(3, 4).astype(np.float32)
A[1, 2] = A[1, 0]  # a tie, for the sort order
W = np.arange(12, dtype=np.float32).reshape(3, 4) / 7 - 0.5  # weights so gradients are not all ones


def _np(x):
    if isinstance(x, (tuple, list)):
        return [_np(v) for v in x]
    if isinstance(x, (torch.Tensor, ss.Tensor)):
        assert str(x.dtype).split(".")[-1] in ("float32", "float64", "int64", "bool"), x.dtype
        return (str(x.dtype).split(".")[-1], np.array(x.detach().tolist()))
    return x


def _same(a, b):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    elif isinstance(a, tuple):
        assert a[0] == b[0], f"dtype {a[0]} vs {b[0]}"
        assert a[1].shape == b[1].shape, f"shape {a[1].shape} vs {b[1].shape}"
        np.testing.assert_allclose(b[1].astype(float), a[1].astype(float), rtol=1e-5, atol=1e-6)
    else:
        assert a == b


def _both(fn):
    _same(_np(fn(torch)), _np(fn(ss)))


def _grad(fn, a=A):
    """fn applied to a leaf, the weighted sum backpropagated: (output, leaf.grad) for each library."""
    def run(M):
        x = M.tensor(a, requires_grad=True)
        y = fn(M, x)
        y = y[0] if isinstance(y, tuple) else y
        w = np.resize(W.ravel(), y.numel()).reshape(tuple(y.shape))
        (y * M.tensor(w)).sum().backward()
        return y, x.grad
    _both(run)


# ---- sorting --------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda M, x: x.sort(dim=1),
    lambda M, x: M.sort(x, dim=0, descending=True),
    lambda M, x: x.sort(descending=True, stable=True),
    lambda M, x: x.topk(2),
    lambda M, x: M.topk(x, 2, dim=0, largest=False),
    lambda M, x: x.topk(3, dim=-1).values,
], ids=["sort", "sort_desc_dim0", "sort_stable", "topk", "topk_smallest", "topk_values"])
def test_sort_topk_values_and_grads(fn):
    _grad(fn)


def test_sort_topk_indices_and_argsort():
    _both(lambda M: M.tensor(A).sort(dim=1).indices)
    _both(lambda M: M.tensor(A).topk(2, dim=0).indices)
    _both(lambda M: M.tensor(A).argsort(dim=1, descending=True))
    _both(lambda M: M.argsort(M.tensor([3, 1, 3, 1]), stable=True))
    _both(lambda M: M.tensor([True, False, True]).sort(descending=True, stable=True))
    _both(lambda M: tuple(M.tensor(A).sort(1)))  # unpacks as (values, indices)


def test_topk_k_out_of_range_is_runtime_error():
    for M in (torch, ss):
        with pytest.raises(RuntimeError):
            M.tensor([3.0, 1.0]).topk(3)


# ---- norms ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda M, x: x.norm(),
    lambda M, x: x.norm(dim=1),
    lambda M, x: x.norm(p=1, dim=0),
    lambda M, x: x.norm(2, dim=1, keepdim=True),
    lambda M, x: x.norm(p=float("inf"), dim=1),
    lambda M, x: x.norm(p=3, dim=1),
    lambda M, x: M.norm(x, p="fro"),
    lambda M, x: M.linalg.norm(x, dim=1),
    lambda M, x: M.linalg.vector_norm(x, ord=1, dim=(0, 1)),
], ids=["all", "dim1", "p1", "keepdim", "inf", "p3", "fro", "linalg_norm", "vector_norm"])
def test_norm_values_and_grads(fn):
    _grad(fn)


def test_norm_of_zeros_has_zero_grad():
    _grad(lambda M, x: x.norm(dim=1), np.zeros((3, 4), np.float32))


def test_normalize_and_cosine_similarity():
    _grad(lambda M, x: M.nn.functional.normalize(x, dim=1))
    _grad(lambda M, x: M.nn.functional.normalize(x, p=1, dim=0))
    _grad(lambda M, x: M.nn.functional.cosine_similarity(x, x.flip(0) if M is torch else x[[2, 1, 0]]))
    _both(lambda M: M.nn.CosineSimilarity(dim=0)(M.tensor(A), M.tensor(W)))


def test_std_mean_var_mean():
    _both(lambda M: M.std_mean(M.tensor(A), dim=1))
    _both(lambda M: M.var_mean(M.tensor(A), dim=0, keepdim=True))
    _both(lambda M: M.var_mean(M.tensor(A), correction=0))


# ---- float classification, clamp, where, conveniences ---------------------------------------
def test_isinf_isfinite_isclose():
    v = [1.0, float("inf"), -float("inf"), float("nan")]
    _both(lambda M: M.tensor(v).isinf())
    _both(lambda M: M.isfinite(M.tensor(v)))
    _both(lambda M: M.isinf(M.tensor([1, 2])))
    _both(lambda M: M.isclose(M.tensor(A), M.tensor(A) + 1e-7))
    _both(lambda M: M.tensor(v).isclose(M.tensor(v), equal_nan=True))


def test_clamp_with_tensor_bounds_and_where_condition_only():
    _grad(lambda M, x: x.clamp(min=M.zeros(4)))
    _grad(lambda M, x: M.clamp(x, min=M.full((3, 1), -0.2), max=M.tensor(0.5)))
    _both(lambda M: M.where(M.tensor(A) > 0))


def test_new_tensor_type_as_format():
    _both(lambda M: M.tensor(A).new_tensor([1, 2]))
    _both(lambda M: M.tensor([1, 2]).type_as(M.tensor(A)))
    for M in (torch, ss):
        assert f"{M.tensor(2.5):.3f} {M.tensor(3):d}" == "2.500 3"
        with pytest.raises(TypeError):
            f"{M.tensor([2.5]):.3f}"


def test_inference_mode():
    for M in (torch, ss):
        x = M.ones(2, requires_grad=True)
        with M.inference_mode():
            assert not (x * 2).requires_grad
        assert M.inference_mode()(lambda: (x * 2).requires_grad)() is False
        assert (x * 2).requires_grad


# ---- scatter --------------------------------------------------------------------------------
def test_scatter_values_and_grads():
    idx = [[0, 1], [3, 2], [1, 0]]

    def run(M):
        x = M.tensor(A, requires_grad=True)
        s = M.tensor(A[:, :2] * 3, requires_grad=True)
        y = x.scatter(1, M.tensor(idx), s)
        (y * M.tensor(W)).sum().backward()
        return y, x.grad, s.grad
    _both(run)
    _both(lambda M: M.scatter(M.zeros(3, 4), 1, M.tensor([[0], [1], [2]]), 2.5))
    _both(lambda M: M.zeros(3, 4, dtype=M.int64).scatter(1, M.tensor([[0], [1], [2]]), 2))
    _both(lambda M: M.zeros(3, 4).scatter_(0, M.tensor([[0, 1, 2, 0]]), M.tensor(A)))


# ---- nn.functional and modules composed in Python -------------------------------------------
@pytest.mark.parametrize("name,kw", [
    ("silu", {}), ("softplus", {}), ("softplus", {"beta": 2.0, "threshold": 1.0}), ("logsigmoid", {}),
    ("relu6", {}), ("hardtanh", {"min_val": -0.5, "max_val": 0.5}), ("softsign", {}), ("mish", {}),
])
def test_activations(name, kw):
    _grad(lambda M, x: getattr(M.nn.functional, name)(x * 4, **kw))


@pytest.mark.parametrize("fn", [
    lambda M, x: M.nn.functional.smooth_l1_loss(x, M.zeros(3, 4)),
    lambda M, x: M.nn.functional.smooth_l1_loss(x, M.zeros(3, 4), beta=0.5, reduction="sum"),
    lambda M, x: M.nn.functional.smooth_l1_loss(x, M.ones(3, 4), beta=0.0),
    lambda M, x: M.nn.functional.huber_loss(x, M.zeros(3, 4), delta=0.5),
    lambda M, x: M.nn.functional.binary_cross_entropy(x.sigmoid(), M.full((3, 4), 0.3)),
    lambda M, x: M.nn.functional.binary_cross_entropy(x.sigmoid(), M.full((3, 4), 0.3), weight=M.arange(4.0),
                                                      reduction="none"),
    lambda M, x: M.nn.functional.kl_div(x.log_softmax(-1), M.tensor(W).softmax(-1), reduction="batchmean"),
    lambda M, x: M.nn.functional.kl_div(x.log_softmax(-1), M.tensor([[0.0, 0.5, 0.5, 0.0]] * 3), reduction="sum"),
    lambda M, x: M.nn.functional.kl_div(x.log_softmax(-1), M.tensor(W).log_softmax(-1), log_target=True),
    lambda M, x: M.nn.SmoothL1Loss(beta=0.3)(x, M.zeros(3, 4)),
    lambda M, x: M.nn.HuberLoss(delta=2.0)(x, M.ones(3, 4)),
    lambda M, x: M.nn.BCELoss()(x.sigmoid(), M.full((3, 4), 0.7)),
    lambda M, x: M.nn.KLDivLoss(reduction="batchmean")(x.log_softmax(1), M.tensor(W).softmax(1)),
], ids=["smooth_l1", "smooth_l1_beta_sum", "smooth_l1_beta0", "huber", "bce", "bce_weight_none", "kl_batchmean",
        "kl_zero_target", "kl_log_target", "SmoothL1Loss", "HuberLoss", "BCELoss", "KLDivLoss"])
def test_losses(fn):
    _grad(fn)


def test_binary_cross_entropy_rejects_out_of_range():
    for M in (torch, ss):
        with pytest.raises(RuntimeError):
            M.nn.functional.binary_cross_entropy(M.tensor([1.5]), M.tensor([1.0]))


@pytest.mark.parametrize("pad,mode", [
    ((1, 2), "constant"), ((1, 1, 2, 0), "constant"), ((-1, 2), "constant"), ((2, 1), "reflect"),
    ((2, 3), "replicate"), ((1, 2), "circular"), ((1, 1, 1, 1), "reflect"),
])
def test_pad(pad, mode):
    def fn(M, x):
        y = x[None] if mode != "constant" else x
        out = M.nn.functional.pad(y, pad, mode=mode)
        return out[0] if mode != "constant" else out
    _grad(fn)
    _both(lambda M: M.nn.functional.pad(M.tensor(A), (1, 1), value=-1.0))


def test_activation_and_shape_modules():
    def run(M):
        net = M.nn.Sequential(M.nn.Flatten(), M.nn.SiLU(), M.nn.Softplus(beta=2.0), M.nn.Mish(), M.nn.Hardtanh(-2, 2),
                              M.nn.ReLU6(), M.nn.LogSigmoid(), M.nn.Softsign(), M.nn.Unflatten(1, (2, 6)),
                              M.nn.LogSoftmax(dim=-1))
        x = M.tensor(np.concatenate([A, W]).reshape(2, 3, 4), requires_grad=True)
        y = net(x)
        (y * M.arange(24.0).view(2, 2, 6)).sum().backward()
        return y, x.grad, repr(net)
    _both(run)


# ---- exception types --------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda M: M.ones(2) + M.ones(3),
    lambda M: M.ones(3, 4).view(5, 3),
    lambda M: M.ones(2, 3) @ M.ones(4, 5),
    lambda M: M.cat([M.ones(2, 3), M.ones(2, 4)]),
    lambda M: M.tensor([1, 2]).mean(),
], ids=["broadcast", "view", "matmul", "cat", "mean_int"])
def test_shape_and_dtype_errors_are_runtime_errors(fn):
    for M in (torch, ss):
        with pytest.raises(RuntimeError):
            fn(M)


def test_shape_errors_are_still_value_errors():
    with pytest.raises(ValueError, match="view"):
        ss.ones(3, 4).view(5, 3)
    with pytest.raises(TypeError, match="mean"):
        ss.tensor([1, 2]).mean()


# ---- shape and linear-algebra conveniences ----------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda M, x: M.flip(x, [0]),
    lambda M, x: x.flip((0, -1)),
    lambda M, x: M.roll(x, 1, 1),
    lambda M, x: x.roll((-1, 2), (0, 1)),
    lambda M, x: x.roll(3),
    lambda M, x: x.repeat_interleave(2, dim=0),
    lambda M, x: x.repeat_interleave(M.tensor([1, 0, 2]), dim=0),
    lambda M, x: M.repeat_interleave(x, 2),
    lambda M, x: x[None].movedim(0, -1),
    lambda M, x: M.masked_select(x, x > 0),
    lambda M, x: x.masked_select(M.tensor([True, False, True, False])),
    lambda M, x: M.hstack([x, x * 2]),
    lambda M, x: M.vstack([x, x[0]]),
    lambda M, x: M.outer(x[0], x[1]),
    lambda M, x: M.dot(x[0], x[1]),
    lambda M, x: M.diag(x[0]),
    lambda M, x: M.diag(x),
    lambda M, x: M.trace(x),
    lambda M, x: M.broadcast_tensors(x, x[0])[1],
    lambda M, x: M.take_along_dim(x, M.tensor([[0], [1], [2]]), dim=1),
    lambda M, x: x.reciprocal(),
], ids=["flip", "flip2", "roll", "roll_multi", "roll_flat", "repeat_interleave", "repeat_interleave_tensor",
        "repeat_interleave_flat", "movedim", "masked_select", "masked_select_bcast", "hstack", "vstack", "outer",
        "dot", "diag_1d", "diag_2d", "trace", "broadcast_tensors", "take_along_dim", "reciprocal"])
def test_shape_extras_values_and_grads(fn):
    _grad(fn)


def test_shape_extras_non_float():
    _both(lambda M: M.movedim(M.zeros(2, 3, 4), (0, 1), (2, 0)).shape)
    _both(lambda M: M.zeros(2, 3, 4).swapdims(0, 2).shape)
    _both(lambda M: M.meshgrid(M.arange(2), M.arange(3), indexing="ij"))
    _both(lambda M: M.meshgrid(M.arange(2), M.arange(3), M.arange(4), indexing="xy"))
    _both(lambda M: M.count_nonzero(M.tensor([[0, 1], [2, 3]]), dim=0))
    _both(lambda M: M.argwhere(M.tensor(A) > 0))
    _both(lambda M: M.hstack([M.arange(2), M.arange(3)]))
    for M in (torch, ss):
        with pytest.raises(RuntimeError):
            M.dot(M.arange(3.0), M.arange(2.0))
