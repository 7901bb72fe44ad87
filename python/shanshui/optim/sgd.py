"""Stochastic gradient descent (torch.optim.SGD): momentum, dampening, Nesterov, weight decay."""
from .. import _C
from .optimizer import Optimizer, _flag


class SGD(Optimizer):
    """p -= lr * d, with d = g + weight_decay * p, then (momentum) buf = momentum * buf + (1 - dampening) * d
    (buf = d on the first step) and d = buf, or d = d + momentum * buf with nesterov. Same order as PyTorch."""

    _has_step = False

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if differentiable or fused:
            raise NotImplementedError("SGD: differentiable and fused are not supported")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

    def _make_impl(self, groups):
        return _C._optim.SGD(groups)

    def _validate_group(self, g):
        super()._validate_group(g)
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    @staticmethod
    def _numeric_options(g):
        return {"lr": float(g["lr"]), "momentum": float(g["momentum"]), "dampening": float(g["dampening"]),
                "weight_decay": float(g["weight_decay"]), "nesterov": _flag(g["nesterov"]),
                "maximize": _flag(g["maximize"])}
