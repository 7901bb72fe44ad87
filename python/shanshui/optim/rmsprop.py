"""RMSprop (torch.optim.RMSprop): optionally centered, with momentum."""
from .. import _C
from .optimizer import Optimizer, _flag


class RMSprop(Optimizer):
    """v = alpha * v + (1 - alpha) * g^2; avg = sqrt(v - mean_g^2 if centered else v) + eps;
    p -= lr * g / avg, or with momentum buf = momentum * buf + g / avg and p -= lr * buf (PyTorch's order)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if capturable or differentiable:
            raise NotImplementedError("RMSprop: capturable and differentiable are not supported")
        for name, v in (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                        ("weight_decay value", weight_decay), ("alpha value", alpha)):
            if not 0.0 <= v:
                raise ValueError(f"Invalid {name}: {v}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _make_impl(self, groups):
        return _C._optim.RMSprop(groups)

    @staticmethod
    def _numeric_options(g):
        return {"lr": float(g["lr"]), "alpha": float(g["alpha"]), "eps": float(g["eps"]),
                "weight_decay": float(g["weight_decay"]), "momentum": float(g["momentum"]),
                "centered": _flag(g["centered"]), "maximize": _flag(g["maximize"])}
