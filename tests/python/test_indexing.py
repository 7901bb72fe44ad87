"""x[...] and x[...] = v with ints, slices (with steps), None, Ellipsis, index
tensors (int64 and bool), lists and tuples mixing them, checked against NumPy."""
import numpy as np
import pytest

import shanshui as ss

A = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)

INDICES = [
    1, -1, (0, 2), (1, -1, 3, 0), slice(None), slice(1, None), slice(None, None, 2), slice(-2, None),
    (slice(None), slice(0, 3, 2)), (Ellipsis, 1), (0, Ellipsis, slice(1, 4, 2)), (None, 1), (slice(None), None, 0),
    (Ellipsis, None), (None, Ellipsis, None), (1, slice(None), None, slice(None, None, 3)), slice(5, 10),
    (slice(None), slice(2, 1)), [1, 0, 1], (slice(None), [2, 0]), (0, [0, 2], [1, 3]), ([0, 1], slice(None), [1, 2]),
    (Ellipsis, [4, 0, 0]), (np.array([1, 0]),), (slice(None), 1, np.array([[0, 1], [2, 3]])),
]


@pytest.mark.parametrize("idx", INDICES, ids=[repr(i) for i in INDICES])
def test_getitem_matches_numpy(idx):
    x = ss.from_numpy(A.copy())
    np.testing.assert_array_equal(x[idx].numpy(), A[idx])


def test_index_tensors_and_masks():
    x = ss.from_numpy(A.copy())
    i = ss.tensor([1, 0, 2])
    np.testing.assert_array_equal(x[:, i].numpy(), A[:, [1, 0, 2]])
    np.testing.assert_array_equal(x[0, i, i].numpy(), A[0, [1, 0, 2], [1, 0, 2]])
    mask = A > 100
    np.testing.assert_array_equal(x[ss.from_numpy(mask)].numpy(), A[mask])
    m1 = np.array([True, False, True])
    np.testing.assert_array_equal(x[:, ss.from_numpy(m1)].numpy(), A[:, m1])
    np.testing.assert_array_equal(x[ss.tensor(1)].numpy(), A[1])  # 0-d int tensor
    np.testing.assert_array_equal(x[[True, False]].numpy(), A[[True, False]])
    # PyTorch (unlike NumPy) applies an int index first, so an int and an index
    # tensor separated by a slice do not move the indexed dims to the front.
    assert x[1, :, ss.tensor([[0, 1], [2, 3]])].shape == (3, 2, 2, 5)


def test_basic_indexing_returns_views():
    x = ss.zeros(3, 4)
    v = x[1:, ::2]
    v += 1
    assert x.tolist() == [[0, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]]
    r = x[0]
    r.fill_(5)
    assert x[0].tolist() == [5, 5, 5, 5]


SET_CASES = [
    (1, 7.0), ((0, 1), -1.0), (slice(None, None, 2), 3.0), ((Ellipsis, 0), 2.0), ((slice(1, 3), [0, 2]), 9.0),
    ([0, 2], np.float32(4)), ((None, 1), 8.0),
]


@pytest.mark.parametrize("idx,value", SET_CASES, ids=[repr(c[0]) for c in SET_CASES])
def test_setitem_scalar_matches_numpy(idx, value):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    x = ss.from_numpy(a.copy())
    x[idx] = value
    a[idx] = value
    np.testing.assert_array_equal(x.numpy(), a)


def test_setitem_tensor_broadcast_and_mask():
    a = np.zeros((3, 4), np.float32)
    x = ss.from_numpy(a.copy())
    x[:, 1:3] = ss.tensor([1.0, 2.0])
    a[:, 1:3] = [1.0, 2.0]
    np.testing.assert_array_equal(x.numpy(), a)
    x[x > 1] = -1.0
    a[a > 1] = -1.0
    np.testing.assert_array_equal(x.numpy(), a)
    x[ss.tensor([0, 2])] = ss.ones(4)
    a[[0, 2]] = 1
    np.testing.assert_array_equal(x.numpy(), a)
    x[1] = np.arange(4, dtype=np.float32)
    a[1] = np.arange(4)
    np.testing.assert_array_equal(x.numpy(), a)
    x[2, :2] = [7, 8]
    a[2, :2] = [7, 8]
    np.testing.assert_array_equal(x.numpy(), a)
    i = ss.zeros(3, dtype=ss.int64)
    i[1] = 2.7  # converted to the tensor's dtype
    assert i.tolist() == [0, 2, 0]


def test_indexing_gradients():
    x = ss.arange(12.0).reshape(3, 4).requires_grad_()
    y = x[1:, ::2].sum() + x[ss.tensor([0, 0])].sum() + x[x.detach() > 9].sum()
    y.backward()
    expected = np.zeros((3, 4))
    expected[1:, ::2] += 1
    expected[0] += 2
    expected[np.arange(12).reshape(3, 4) > 9] += 1
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_setitem_records_history():
    x = ss.ones(4, requires_grad=True)
    y = x * 1
    y[1:3] = x[:2] * 5
    y.sum().backward()
    # y = [x0, 5 x0, 5 x1, x3]: dy/dx = [1 + 5, 5, 0, 1]
    assert x.grad.tolist() == [6.0, 5.0, 0.0, 1.0]


@pytest.mark.parametrize("idx,exc", [
    (5, IndexError), (-6, IndexError), ((0, 0, 0), IndexError), (ss.tensor([7]), IndexError),
    (1.5, IndexError), ("a", IndexError), ([0.5], IndexError), (slice(None, None, -1), ValueError),
    (slice(None, None, 0), ValueError), ((Ellipsis, Ellipsis), IndexError),
    (ss.tensor([True, False]), IndexError),
])
def test_bad_indices_raise(idx, exc):
    x = ss.zeros(5, 3)
    with pytest.raises(exc):
        x[idx]
