"""Activation and reshaping modules written in Python over nn.functional
(torch.nn.SiLU, Softplus, LogSoftmax, Flatten, ...)."""
from .. import functional as F
from .module import Module


class _Elementwise(Module):
    """A parameter-free module applying `_fn(input, **self._kwargs())`."""

    def forward(self, input):
        return type(self)._fn(input, **self._kwargs())

    def _kwargs(self):
        return {}

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self._kwargs().items() if k != "inplace" or v)


def _simple(name, fn, doc, **defaults):
    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        names = list(defaults)
        if len(args) > len(names):
            raise TypeError(f"{name}: takes at most {len(names)} arguments ({len(args)} given)")
        values = dict(defaults, **dict(zip(names, args)), **kwargs)
        unknown = set(values) - set(defaults)
        if unknown:
            raise TypeError(f"{name}: unexpected keyword argument(s) {sorted(unknown)}")
        for k, v in values.items():
            setattr(self, k, v)

    def _kwargs(self):
        return {k: getattr(self, k) for k in defaults}

    return type(name, (_Elementwise,), {"__init__": __init__, "_kwargs": _kwargs, "_fn": staticmethod(fn),
                                        "__doc__": doc, "__module__": __name__})


SiLU = _simple("SiLU", F.silu, "x * sigmoid(x) (torch.nn.SiLU).", inplace=False)
Mish = _simple("Mish", F.mish, "x * tanh(softplus(x)) (torch.nn.Mish).", inplace=False)
Softplus = _simple("Softplus", F.softplus, "log(1 + exp(beta x)) / beta (torch.nn.Softplus).", beta=1.0,
                   threshold=20.0)
Hardtanh = _simple("Hardtanh", F.hardtanh, "clamp(x, min_val, max_val) (torch.nn.Hardtanh).", min_val=-1.0,
                   max_val=1.0, inplace=False)
ReLU6 = _simple("ReLU6", F.relu6, "clamp(x, 0, 6) (torch.nn.ReLU6).", inplace=False)
LogSigmoid = _simple("LogSigmoid", F.logsigmoid, "log(sigmoid(x)) (torch.nn.LogSigmoid).")
Softsign = _simple("Softsign", F.softsign, "x / (1 + |x|) (torch.nn.Softsign).")
LogSoftmax = _simple("LogSoftmax", F.log_softmax, "log(softmax(x, dim)) (torch.nn.LogSoftmax).", dim=None)


class CosineSimilarity(Module):
    """Cosine similarity of two inputs along dim (torch.nn.CosineSimilarity)."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class Flatten(Module):
    """Flattens dims start_dim..end_dim (torch.nn.Flatten; the batch dim is kept by default)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dim into unflattened_size (torch.nn.Unflatten)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


__all__ = ["SiLU", "Mish", "Softplus", "Hardtanh", "ReLU6", "LogSigmoid", "Softsign", "LogSoftmax", "CosineSimilarity",
           "Flatten", "Unflatten"]
