"""Conv1d, BatchNorm1d, GroupNorm and Upsample written in Python over nn.functional
(torch.nn names, arguments, parameter shapes and initialisation)."""
import math

from ... import _C
from ...autograd import no_grad as _no_grad
from .. import functional as F
from ..parameter import Parameter
from .module import Module


def _uniform(shape, bound, dtype):
    return (_C.rand(list(shape), dtype=dtype or _C.dtype.float32) * (2 * bound) - bound)


class Conv1d(Module):
    """1-D convolution over [N, C, L], weight [out, in / groups, kernel_size] (torch.nn.Conv1d)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                             f"divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError("Conv1d: only padding_mode='zeros' is supported")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"Invalid padding string '{padding}', should be one of ['valid', 'same']")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = (F._single(kernel_size, "Conv1d", "kernel_size"),)
        self.stride = (F._single(stride, "Conv1d", "stride"),)
        self.padding = padding if isinstance(padding, str) else (F._single(padding, "Conv1d", "padding"),)
        self.dilation = (F._single(dilation, "Conv1d", "dilation"),)
        self._dtype = dtype
        self.weight = Parameter(_C.zeros([out_channels, in_channels // groups, self.kernel_size[0]],
                                         dtype=dtype or _C.dtype.float32))
        self.bias = Parameter(_C.zeros([out_channels], dtype=dtype or _C.dtype.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        # kaiming_uniform_(a=sqrt(5)) and torch's bias rule: both U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        fan_in = self.in_channels // self.groups * self.kernel_size[0]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        with _no_grad():
            self.weight.copy_(_uniform(self.weight.shape, bound, self.weight.dtype))
            if self.bias is not None:
                self.bias.copy_(_uniform(self.bias.shape, bound, self.bias.dtype))

    def forward(self, input):
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,):
            s += f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class BatchNorm1d(Module):
    """Batch norm over [N, C] or [N, C, L] with running statistics (torch.nn.BatchNorm1d)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats, self._has_bias = affine, track_running_stats, bias
        dt = dtype or _C.dtype.float32
        self.weight = Parameter(_C.ones([num_features], dtype=dt)) if affine else None
        self.bias = Parameter(_C.zeros([num_features], dtype=dt)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", _C.zeros([num_features], dtype=dt))
            self.register_buffer("running_var", _C.ones([num_features], dtype=dt))
            self.register_buffer("num_batches_tracked", _C.zeros([], dtype=_C.dtype.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            with _no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1.0)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        with _no_grad():
            if self.weight is not None:
                self.weight.fill_(1.0)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, input):
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with _no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.item())
        use_batch = self.training or self.running_mean is None
        track = not use_batch or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self._has_bias}, track_running_stats={self.track_running_stats}")


class GroupNorm(Module):
    """Group normalisation over [N, C, *] (torch.nn.GroupNorm)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self._has_bias = bias
        dt = dtype or _C.dtype.float32
        self.weight = Parameter(_C.ones([num_channels], dtype=dt)) if affine else None
        self.bias = Parameter(_C.zeros([num_channels], dtype=dt)) if affine and bias else None

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self._has_bias}"


class Upsample(Module):
    """F.interpolate as a module (torch.nn.Upsample)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        s = f"scale_factor={self.scale_factor}" if self.scale_factor is not None else f"size={self.size}"
        return s + f", mode='{self.mode}'"


__all__ = ["Conv1d", "BatchNorm1d", "GroupNorm", "Upsample"]
