"""NumPy interop without copies: from_numpy and .numpy() share memory (any
strides), np.asarray uses __array__, lifetimes are safe either way."""
import gc

import numpy as np
import pytest

import shanshui as ss


@pytest.mark.parametrize("np_dtype,dtype", [
    (np.float32, ss.float32), (np.float64, ss.float64), (np.int64, ss.int64), (np.bool_, ss.bool),
])
def test_from_numpy_shares_memory(np_dtype, dtype):
    a = np.zeros((2, 3), np_dtype)
    t = ss.from_numpy(a)
    assert t.dtype == dtype and t.shape == (2, 3)
    a[1, 2] = 1
    assert t[1, 2].item() == 1
    t[0, 0] = 1
    assert a[0, 0] == 1


def test_from_numpy_keeps_strides_and_offset():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    view = base[1:, ::2].T  # offset, step and transpose
    t = ss.from_numpy(view)
    assert t.shape == view.shape and not t.is_contiguous()
    assert t.stride() == tuple(s // 8 for s in view.strides)
    np.testing.assert_array_equal(t.numpy(), view)
    np.testing.assert_array_equal((t * 1).numpy(), view)


def test_numpy_shares_memory_including_views():
    t = ss.arange(12.0).reshape(3, 4)
    a = t.numpy()
    a[0, 0] = 100
    assert t[0, 0].item() == 100
    tv = t.t()[1:]
    av = tv.numpy()
    assert av.shape == (3, 3) and not av.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(av, np.array(t.tolist()).T[1:])
    av[0, 0] = -1
    assert t[0, 1].item() == -1
    e = ss.zeros(3, 1).expand(3, 4).numpy()
    assert e.strides[1] == 0


def test_lifetimes():
    a = np.arange(5.0)
    t = ss.from_numpy(a)
    del a
    gc.collect()
    assert t.tolist() == [0, 1, 2, 3, 4]  # the tensor keeps the array alive
    t2 = ss.arange(4.0)
    arr = t2.numpy()
    del t2
    gc.collect()
    assert arr.tolist() == [0, 1, 2, 3]  # the array keeps the storage alive


def test_asarray_and_array_protocol():
    t = ss.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.tolist() == [[1, 2], [3, 4]]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert float(np.asarray(t).sum()) == 10.0
    assert np.asarray(ss.tensor(3)).shape == ()


def test_numpy_requires_grad_raises():
    t = ss.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    with pytest.raises(RuntimeError):
        np.asarray(t)
    assert t.detach().numpy().tolist() == [1, 1]
    assert t.numpy(force=True).tolist() == [1, 1]


def test_zero_size_and_zero_dim():
    z = ss.from_numpy(np.zeros((0, 3), np.float32))
    assert z.shape == (0, 3) and z.numpy().shape == (0, 3)
    s = ss.from_numpy(np.array(2.5))
    assert s.shape == () and s.item() == 2.5 and s.numpy().shape == ()
    assert ss.zeros(0).numpy().size == 0


def test_unsupported_arrays():
    with pytest.raises(TypeError, match="from_numpy"):
        ss.from_numpy(np.zeros(3, np.int32))
    with pytest.raises(TypeError):
        ss.from_numpy([1, 2, 3])
    with pytest.raises(ValueError, match="negative"):
        ss.from_numpy(np.arange(4.0)[::-1])
    # tensor() converts any numeric dtype by copying
    assert ss.tensor(np.arange(3, dtype=np.int32)).dtype == ss.int64
    assert ss.tensor(np.arange(3.0)[::-1]).tolist() == [2, 1, 0]
    assert ss.tensor(np.ones(2, np.float16)).dtype == ss.float32


def test_as_tensor_shares_when_possible():
    a = np.zeros(3)
    t = ss.as_tensor(a)
    a[0] = 1
    assert t[0].item() == 1
    assert ss.as_tensor([1, 2]).dtype == ss.int64
