"""Bad input raises the right Python exception, naming the op (and the shapes
where they matter); nothing crashes the interpreter."""
import numpy as np
import pytest

import shanshui as ss


def raises(exc, fn, *words):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_shape_mismatches_are_value_errors():
    a, b = ss.zeros(2, 3), ss.zeros(4, 5)
    raises(ValueError, lambda: a + ss.zeros(4), "add", "[2, 3]", "[4]")
    raises(ValueError, lambda: a @ b, "matmul", "[2, 3]", "[4, 5]")
    raises(ValueError, lambda: ss.bmm(ss.zeros(2, 3, 4), ss.zeros(3, 4, 5)), "bmm")
    raises(ValueError, lambda: ss.cat([a, b], 0), "cat")
    raises(ValueError, lambda: ss.stack([a, b]), "stack")
    raises(ValueError, lambda: ss.where(ss.zeros(4, dtype=ss.bool), a, a), "where")


def test_reshape_errors():
    a = ss.zeros(2, 3)
    raises(ValueError, lambda: a.reshape(4, 2), "reshape", "[2, 3]")
    raises(ValueError, lambda: a.view(-1, -1), "view")
    raises(ValueError, lambda: a.expand(3, 3), "expand")
    raises(RuntimeError, lambda: a.t().view(6), "view")
    raises(ValueError, lambda: ss.zeros(2**40, 2**40), "int64")
    raises(ValueError, lambda: ss.zeros(-1), "-1")


def test_dim_errors_are_index_errors():
    a = ss.zeros(2, 3)
    raises(IndexError, lambda: a.sum(2), "sum")
    raises(IndexError, lambda: a.transpose(0, 5), "transpose")
    raises(IndexError, lambda: a.softmax(-3), "softmax")
    raises(IndexError, lambda: a.size(3), "size")
    raises(IndexError, lambda: a.unsqueeze(4), "unsqueeze")
    raises(IndexError, lambda: a[2], "index")
    raises(IndexError, lambda: a.select(1, 3), "select")
    raises(IndexError, lambda: ss.gather(a, 1, ss.tensor([[5]])), "gather")
    raises(IndexError, lambda: ss.index_select(a, 0, ss.tensor([2])), "index_select")
    raises(IndexError, lambda: ss.embedding(ss.zeros(3, 2), ss.tensor([3])), "embedding")


def test_dtype_errors_are_type_errors():
    raises(TypeError, lambda: ss.gather(ss.zeros(2, 2), 1, ss.zeros(2, 2)), "gather")
    raises(TypeError, lambda: ss.zeros(2).masked_fill(ss.zeros(2), 1.0), "masked_fill")
    raises(TypeError, lambda: ss.zeros(2) + "a")
    raises(TypeError, lambda: ss.zeros("a"), "zeros")
    raises(TypeError, lambda: ss.zeros(2, 3.5), "zeros")
    raises(TypeError, lambda: ss.cat([ss.zeros(2), 3]), "cat")
    raises(TypeError, lambda: ss.cat(ss.zeros(2)), "cat")
    raises(TypeError, lambda: ss.from_numpy(np.zeros(2, np.uint8)), "from_numpy")
    raises(TypeError, lambda: ss.tensor([object()]), "tensor")


def test_autograd_errors_are_runtime_errors():
    x = ss.ones(3, requires_grad=True)
    raises(RuntimeError, lambda: (x * 2).backward(), "backward")  # non-scalar without gradient
    y = (x * x).sum()
    y.backward()
    raises(RuntimeError, lambda: y.backward(), "retain_graph")
    raises(RuntimeError, lambda: ss.zeros(2, dtype=ss.int64).requires_grad_(), "floating point")
    raises(RuntimeError, lambda: x.add_(1), "leaf")
    raises(RuntimeError, lambda: x.numpy(), "numpy")
    z = ss.ones(2, requires_grad=True)
    h = z.exp()
    w = h * 1
    h.add_(1)  # h was saved by exp for its backward
    raises(RuntimeError, lambda: w.sum().backward())


def test_python_protocol_errors():
    raises(TypeError, lambda: len(ss.tensor(1.0)), "0-d")
    raises(TypeError, lambda: iter(ss.tensor(1.0)), "0-d")
    raises(RuntimeError, lambda: bool(ss.zeros(2)), "ambiguous")
    raises(ValueError, lambda: ss.zeros(2).item(), "item")
    raises(TypeError, lambda: float(ss.zeros(2)), "float")
    raises(ValueError, lambda: ss.tensor([[1, 2], [3]]), "tensor")
    raises(RuntimeError, lambda: ss.zeros(2, device="cuda"), "CPU")
    raises(RuntimeError, lambda: ss.zeros(2).to("cuda"), "CPU")


def test_creation_and_op_argument_errors():
    raises(ValueError, lambda: ss.randint(5, 2, (3,)), "randint")
    raises(ValueError, lambda: ss.multinomial(ss.tensor([1.0, 2.0]), 3), "multinomial")
    raises(ValueError, lambda: ss.arange(0, 10, 0), "arange")
    raises(ValueError, lambda: ss.zeros(2).clamp(), "clamp")
    raises(ValueError, lambda: ss.gelu(ss.zeros(2), approximate="cubic"), "gelu")
    raises(ValueError, lambda: ss.zeros(5).split([2, 2]), "split")
    raises(ValueError, lambda: ss.zeros(2).copy_(ss.zeros(3)), "copy_")
    raises(IndexError, lambda: ss.one_hot(ss.tensor([3]), 2), "one_hot")


def test_errors_leave_the_interpreter_usable():
    for _ in range(3):
        with pytest.raises(ValueError):
            ss.zeros(2, 3) @ ss.zeros(2, 3)
    assert (ss.ones(2, 3) @ ss.ones(3, 2)).tolist() == [[3, 3], [3, 3]]
