"""Every loss, functional and module, against torch with its options: values and
input gradients; state_dict of weighted losses; bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import shanshui as ss
import shanshui.nn.functional as F
from shanshui import nn
from nn_torch_helpers import assert_close

rng = np.random.default_rng(1)
RTOL, ATOL = 1e-5, 1e-6


def run(ours_fn, ref_fn, x, *rest):
    """Apply both losses to the same logits x (differentiable) and extra args; compare value and dL/dx."""
    xs, xt = ss.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    conv_s = [ss.tensor(a) if isinstance(a, np.ndarray) else a for a in rest]
    conv_t = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in rest]
    ls, lt = ours_fn(xs, *conv_s), ref_fn(xt, *conv_t)
    assert_close(ls, lt, RTOL, ATOL)
    g = rng.standard_normal(tuple(lt.shape)).astype(x.dtype)
    ls.backward(ss.tensor(g))
    lt.backward(torch.tensor(g))
    assert_close(xs.grad, xt.grad, RTOL, ATOL)


def logits(*shape):
    return (rng.standard_normal(shape) * 2).astype(np.float32)


def targets(n_classes, *shape, ignore=None):
    t = rng.integers(0, n_classes, size=shape).astype(np.int64)
    if ignore is not None:
        t.flat[::3] = ignore
    return t


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [None, 1, -100])
def test_cross_entropy_class_indices(reduction, weighted, smoothing, ignore):
    w = rng.uniform(0.5, 2.0, size=5).astype(np.float32) if weighted else None
    y = targets(5, 6, ignore=ignore)
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=-100 if ignore is None else ignore)
    run(lambda x, y, w: F.cross_entropy(x, y, weight=w, **kw), lambda x, y, w: TF.cross_entropy(x, y, weight=w, **kw),
        logits(6, 5), y, w)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_and_unbatched(reduction):
    w = rng.uniform(0.5, 2.0, size=4).astype(np.float32)
    kw = dict(reduction=reduction, ignore_index=2, label_smoothing=0.1)
    run(lambda x, y, w: F.cross_entropy(x, y, w, **kw), lambda x, y, w: TF.cross_entropy(x, y, w, **kw),
        logits(2, 4, 3, 5), targets(4, 2, 3, 5), w)
    run(lambda x, y: F.cross_entropy(x, y, reduction=reduction), lambda x, y: TF.cross_entropy(x, y, reduction=reduction),
        logits(4), np.array(3, dtype=np.int64))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_class_probabilities(reduction, weighted, smoothing):
    p = rng.uniform(size=(6, 5)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    w = rng.uniform(0.5, 2.0, size=5).astype(np.float32) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    run(lambda x, y, w: F.cross_entropy(x, y, weight=w, **kw), lambda x, y, w: TF.cross_entropy(x, y, weight=w, **kw),
        logits(6, 5), p, w)


def test_cross_entropy_float64_and_legacy_reduce_args():
    x = logits(4, 3).astype(np.float64)
    y = targets(3, 4)
    run(lambda x, y: F.cross_entropy(x, y), lambda x, y: TF.cross_entropy(x, y), x, y)
    with pytest.warns(UserWarning):
        s = F.cross_entropy(ss.tensor(x), ss.tensor(y), size_average=False)
    assert_close(s, TF.cross_entropy(torch.tensor(x), torch.tensor(y), reduction="sum"))


def test_cross_entropy_all_ignored_mean_is_nan_like_torch():
    x, y = logits(3, 4), np.full(3, -100, dtype=np.int64)
    ref = TF.cross_entropy(torch.tensor(x), torch.tensor(y))
    ours = F.cross_entropy(ss.tensor(x), ss.tensor(y))
    assert np.isnan(ref.item()) == np.isnan(ours.item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, 0])
def test_nll_loss(reduction, weighted, ignore):
    w = rng.uniform(0.5, 2.0, size=4).astype(np.float32) if weighted else None
    kw = dict(reduction=reduction, ignore_index=-100 if ignore is None else ignore)
    lp = np.log(rng.uniform(0.05, 1, size=(5, 4))).astype(np.float32)
    run(lambda x, y, w: F.nll_loss(x, y, w, **kw), lambda x, y, w: TF.nll_loss(x, y, w, **kw), lp,
        targets(4, 5, ignore=ignore), w)
    run(lambda x, y, w: F.nll_loss(x, y, w, **kw), lambda x, y, w: TF.nll_loss(x, y, w, **kw),
        np.log(rng.uniform(0.05, 1, size=(2, 4, 3))).astype(np.float32), targets(4, 2, 3, ignore=ignore), w)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_and_l1(reduction):
    x, y = logits(3, 4), logits(3, 4)
    run(lambda x, y: F.mse_loss(x, y, reduction=reduction), lambda x, y: TF.mse_loss(x, y, reduction=reduction), x, y)
    run(lambda x, y: F.l1_loss(x, y, reduction=reduction), lambda x, y: TF.l1_loss(x, y, reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
def test_bce_with_logits(reduction, weighted, pos):
    x = logits(4, 3) * 3
    y = rng.uniform(size=(4, 3)).astype(np.float32)
    w = rng.uniform(0.5, 2, size=(4, 3)).astype(np.float32) if weighted else None
    pw = rng.uniform(0.5, 3, size=3).astype(np.float32) if pos else None
    run(lambda x, y, w, pw: F.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=pw),
        lambda x, y, w, pw: TF.binary_cross_entropy_with_logits(x, y, w, reduction=reduction, pos_weight=pw),
        x, y, w, pw)


def test_loss_modules_match_torch_and_keep_weights_as_buffers():
    w = rng.uniform(0.5, 2, size=5).astype(np.float32)
    x, y = logits(6, 5), targets(5, 6, ignore=4)
    pairs = [
        (nn.CrossEntropyLoss(weight=ss.tensor(w), ignore_index=4, label_smoothing=0.1, reduction="sum"),
         torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=4, label_smoothing=0.1, reduction="sum"), y),
        (nn.NLLLoss(weight=ss.tensor(w)), torch.nn.NLLLoss(weight=torch.tensor(w)), np.where(y == 4, 0, y)),
        (nn.MSELoss(reduction="none"), torch.nn.MSELoss(reduction="none"), logits(6, 5)),
        (nn.L1Loss(), torch.nn.L1Loss(), logits(6, 5)),
        (nn.BCEWithLogitsLoss(pos_weight=ss.ones(5) * 2), torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(5) * 2),
         rng.uniform(size=(6, 5)).astype(np.float32)),
    ]
    for ours, ref, target in pairs:
        assert list(ours.state_dict()) == list(ref.state_dict())
        assert repr(ours) == repr(ref)
        run(ours, ref, x, target)


def test_loss_bad_inputs_raise():
    x = ss.randn(4, 3)
    with pytest.raises(ValueError, match="cross_entropy"):
        F.cross_entropy(x, ss.tensor([0, 1, 2]))  # batch mismatch
    with pytest.raises(IndexError, match="cross_entropy"):
        F.cross_entropy(x, ss.tensor([0, 1, 2, 3]))  # class out of range
    with pytest.raises(ValueError, match="probability target"):
        F.cross_entropy(x, ss.tensor([0.0, 1.0, 2.0, 1.0]))  # float target of the wrong shape for probabilities
    with pytest.raises(ValueError):
        F.cross_entropy(x, ss.tensor([0, 1, 2, 1]), weight=ss.ones(4))
    with pytest.raises(ValueError):
        F.cross_entropy(x, ss.tensor([0, 1, 2, 1]), reduction="avg")
    with pytest.raises(ValueError):
        F.cross_entropy(x, ss.tensor([0, 1, 2, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError):
        nn.CrossEntropyLoss(reduction="bogus")
    with pytest.raises(IndexError):
        F.nll_loss(x, ss.tensor([0, 5, 1, 1]))
    with pytest.raises(ValueError):
        F.binary_cross_entropy_with_logits(x, ss.rand(4, 2))
    with pytest.raises(ValueError):
        F.mse_loss(x, ss.randn(5, 3))
