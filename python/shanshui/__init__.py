"""shanshui: a from-scratch deep learning framework with a PyTorch-shaped API.

    import shanshui as ss
    x = ss.randn(3, 4, requires_grad=True)
    y = (x @ x.T).relu().sum()
    y.backward()
    print(x.grad)

The compiled core lives in ``shanshui._C``; this package re-exports it under
PyTorch's names and adds the pieces that are simpler in Python (``tensor``
from nested data, grad-mode context managers).
"""
import builtins as _builtins
import os as _os

# How OpenMP threads wait for the next parallel region. libgomp's default spins
# for ~300000 rounds first, which on a machine shared with other busy processes
# makes two threads many times slower than one (a spinning thread burns its time
# slice, so each region waits for the scheduler to bring the other back).
# Sleeping at once (OMP_WAIT_POLICY=PASSIVE) is robust there but pays a wake-up of
# tens of microseconds per region: ~10% of a Transformer step on a quiet machine.
# A short spin (20000 rounds, about a millisecond) keeps most of that speed and
# bounds the cost on a loaded machine (figures in the README, "Threads"). The
# runtime reads these once, when it is loaded, i.e. by the import of _C below
# (numpy's wheels bring no OpenMP runtime); a setting of the user's is kept.
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "20000"

import numpy as _np  # noqa: E402

from . import _C  # noqa: E402
from ._C import Size, Tensor, dtype

__version__ = "0.1.0"

# ---- dtypes ---------------------------------------------------------------------------------
float32 = dtype.float32
float64 = dtype.float64
int64 = dtype.int64
bool = dtype.bool  # noqa: A001  (torch.bool)
float = float32  # noqa: A001
double = float64
long = int64


# ---- ops: everything the extension binds, under torch's names ----------------------------
_EXPORTED = [
    # creation, random, numpy, threads
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "scalar_tensor",
    "arange", "linspace", "eye", "rand", "randn", "randint", "rand_like", "randn_like", "randperm", "bernoulli",
    "multinomial", "manual_seed", "initial_seed", "get_rng_state", "set_rng_state", "from_numpy", "set_num_threads", "get_num_threads",
    "promote_types", "result_type",
    # elementwise
    "add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide", "pow", "maximum", "minimum",
    "floor_divide", "remainder", "neg", "negative", "exp", "log", "sqrt", "rsqrt", "abs", "sign", "sin", "cos",
    "tanh", "sigmoid", "relu", "relu_", "gelu", "elu", "leaky_relu", "clamp", "clip", "clamp_min", "clamp_max",
    "where", "masked_fill", "eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "logical_and", "logical_or",
    "logical_xor", "logical_not", "isnan", "allclose", "equal",
    # more math (init_ops_math.cpp)
    "floor", "ceil", "trunc", "fix", "round", "frac", "log1p", "expm1", "log2", "log10", "tan", "atan", "arctan",
    "asin", "arcsin", "acos", "arccos", "sinh", "cosh", "asinh", "arcsinh", "acosh", "arccosh", "atanh", "arctanh",
    "erf", "erfc", "erfinv", "atan2", "arctan2", "fmod", "hypot", "logaddexp", "xlogy", "lerp", "addcmul", "addcdiv",
    "addmm", "logit", "nan_to_num", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
    "bitwise_right_shift",
    # reductions
    "sum", "mean", "prod", "var", "std", "logsumexp", "amax", "amin", "max", "min", "argmax", "argmin", "softmax",
    "log_softmax", "cumsum", "all", "any",
    # shape and views
    "reshape", "permute", "broadcast_to", "t", "flatten", "unflatten", "transpose", "swapaxes", "squeeze",
    "unsqueeze", "narrow", "select", "split", "chunk", "unbind", "tril", "triu", "cat", "concat", "concatenate",
    "stack",
    # linear algebra and indexing
    "matmul", "mm", "bmm", "gather", "scatter_add", "index_select", "index_add", "embedding", "one_hot", "nonzero",
    "scatter_reduce", "segment_softmax",
    # grad mode
    "is_grad_enabled",
]
for _name in _EXPORTED:
    globals()[_name] = getattr(_C, _name)
del _name


def _infer_numpy(data):
    """NumPy view of nested Python data with torch's dtype inference."""
    if isinstance(data, _np.ndarray):
        return data, True
    if isinstance(data, _np.generic):
        return _np.asarray(data), True
    try:
        arr = _np.asarray(data)
    except ValueError as e:  # ragged nesting
        raise ValueError(f"tensor: {e}") from None
    return arr, False


def _numpy_to_supported(arr, from_numpy_data, op):
    k = arr.dtype.kind
    if k == "b":
        return arr.astype(_np.bool_, copy=False)
    if k in "iu":
        return arr.astype(_np.int64, copy=False)
    if k == "f":
        if arr.dtype == _np.float64 and not from_numpy_data:
            return arr.astype(_np.float32)  # Python floats become the default dtype
        if arr.dtype in (_np.float32, _np.float64):
            return arr
        return arr.astype(_np.float32)
    if k == "O":
        raise TypeError(f"{op}: could not infer a dtype for the data (got objects of type "
                        f"{type(arr.flat[0]).__name__ if arr.size else 'object'})")
    raise TypeError(f"{op}: unsupported data type {arr.dtype} (shanshui has float32, float64, int64, bool)")


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, NumPy arrays or tensors).

    The dtype is inferred as in PyTorch: bools -> bool, ints -> int64, any float
    -> float32 (NumPy arrays keep their float32/float64 dtype).
    """
    _check_device(device, "tensor")
    if isinstance(data, Tensor):
        t = data.detach().clone()
    else:
        if isinstance(data, (list, tuple)) and _builtins.any(isinstance(e, Tensor) for e in data):
            data = [e.tolist() if isinstance(e, Tensor) else e for e in data]
        arr, from_np = _infer_numpy(data)
        # Python floats are parsed as float64; they become float32 (the default dtype)
        # only when no other dtype was asked for, so dtype=float64 keeps every digit.
        keep_float64 = from_np or (dtype is not None and dtype != float32)
        arr = _numpy_to_supported(arr, keep_float64, "tensor")
        # (not ascontiguousarray: it turns 0-d arrays into 1-d ones)
        t = _C.from_numpy(arr if arr.flags.c_contiguous else arr.copy(order="C")).clone()
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a NumPy array or tensor when the dtype allows."""
    _check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == dtype else data.to(dtype)
    if isinstance(data, _np.ndarray) and data.dtype in (_np.float32, _np.float64, _np.int64, _np.bool_):
        t = _C.from_numpy(data)
        return t if dtype is None or t.dtype == dtype else t.to(dtype)
    return tensor(data, dtype=dtype)


from . import _ops_extras, _shape_extras, _tensor_extras  # noqa: E402

_tensor_extras.install(globals())
_shape_extras.install(globals())
_ops_extras.install(globals())


linalg = _tensor_extras.linalg_module(__name__)


def _check_device(device, op):
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"{op}: shanshui runs on the CPU only (got device '{device}')")


def is_tensor(obj):
    """True if obj is a shanshui Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


def numel(input):
    return input.numel()


def clone(input):
    return input.clone()


def detach(input):
    return input.detach()


def square(input):
    return input * input


def get_default_dtype():
    return float32


class device:
    """The device of a tensor. shanshui runs on the CPU only."""

    def __init__(self, type="cpu"):
        _check_device(type, "device")
        self.type = "cpu"

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"

    def __eq__(self, other):
        return str(other) == "cpu"

    def __hash__(self):
        return hash("cpu")


# ---- checkpoints (safetensors) --------------------------------------------------------------
from .serialization import load, load_metadata, load_training_state, save, save_training_state  # noqa: E402,F401


# ---- subpackages (each is optional while the project grows) ---------------------------------
def _import_optional(name):
    import importlib
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        return None


autograd = _import_optional("autograd")
if autograd is not None:
    from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: E402,F401
for _sub in ("nn", "optim", "utils"):
    _mod = _import_optional(_sub)
    if _mod is not None:
        globals()[_sub] = _mod
del _sub, _mod
