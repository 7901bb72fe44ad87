"""Graph attention against PyTorch and PyTorch Geometric (2.7) with identical weights:
scatter_reduce vs torch.scatter_reduce, edge_softmax vs torch_geometric.utils.softmax,
and the GATConv forward (values, attention weights) and backward (all gradients)."""
import os

import numpy as np
import pytest

try:
    import torch
    import torch_geometric
    from torch_geometric.nn import GATConv as PyGGATConv
    from torch_geometric.utils import softmax as pyg_softmax
except ImportError as e:  # the oracle must fail loudly, never skip
    raise ImportError("test_graph needs torch and torch_geometric==2.7.0: pip install -r requirements-test.txt") from e

import shanshui as ss

F = ss._C.nn.functional


def to_ss(t, grad=False):
    x = ss.from_numpy(t.detach().numpy().copy())
    if grad:
        x.requires_grad_()
    return x


def n(t):
    return t.detach().numpy()


def load_safetensors(path):
    """The safetensors format by its spec: u64 header length, JSON header, packed little-endian data."""
    import json
    import struct
    raw = open(path, "rb").read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    dts = {"BOOL": np.bool_, "I64": np.int64, "F32": np.float32}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(raw[8 + hlen + a:8 + hlen + b], dtype=dts[v["dtype"]]).reshape(v["shape"])
    return out


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_scatter_reduce_matches_torch(reduce, include_self, dim):
    g = torch.Generator().manual_seed(1)
    inp = torch.randn(5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    src = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    if dim == 1:
        inp = torch.randn(4, 5, generator=g, dtype=torch.float64, requires_grad=True)
        src = torch.randn(4, 6, generator=g, dtype=torch.float64, requires_grad=True)
    index = torch.randint(0, 5, src.shape, generator=g)
    ref = torch.scatter_reduce(inp, dim, index, src, reduce, include_self=include_self)
    gout = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    ref.backward(gout)
    a, b = to_ss(inp, True), to_ss(src, True)
    out = ss.scatter_reduce(a, dim, to_ss(index), b, reduce, include_self=include_self)
    np.testing.assert_allclose(n(out), ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.backward(to_ss(gout))
    np.testing.assert_allclose(n(a.grad), n(inp.grad), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(n(b.grad), n(src.grad), rtol=1e-12, atol=1e-12)
    # Tensor method form
    np.testing.assert_allclose(n(a.scatter_reduce(dim, to_ss(index), b, reduce, include_self=include_self)),
                               ref.detach().numpy(), rtol=1e-12)


def test_edge_softmax_matches_pyg():
    g = torch.Generator().manual_seed(2)
    src = torch.randn(50, 3, generator=g, requires_grad=True)
    index = torch.randint(0, 12, (50,), generator=g)
    ref = pyg_softmax(src, index, num_nodes=15)
    gout = torch.randn(ref.shape, generator=g)
    ref.backward(gout)
    s = to_ss(src, True)
    out = F.edge_softmax(s, to_ss(index), num_nodes=15)
    np.testing.assert_allclose(n(out), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.backward(to_ss(gout))
    np.testing.assert_allclose(n(s.grad), n(src.grad), rtol=1e-5, atol=1e-6)


def run_pair(conv, x, edge_index, dtype=torch.float32, rtol=1e-5, atol=1e-6, seed=0):
    """Run PyG's conv and our functional GAT with its weights; compare outputs, alpha and every gradient."""
    x = x.to(dtype).requires_grad_()
    conv = conv.to(dtype)
    conv.zero_grad()
    out, (ei, alpha) = conv(x, edge_index, return_attention_weights=True)
    gout = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    out.backward(gout)

    xs = to_ss(x, True)
    w = {k: to_ss(v, True) for k, v in conv.state_dict().items()}
    o, (eis, al) = F.gat_conv(xs, to_ss(edge_index), w["lin.weight"], w["att_src"], w["att_dst"], w.get("bias"),
                              heads=conv.heads, concat=conv.concat, negative_slope=conv.negative_slope,
                              add_self_loops=conv.add_self_loops, return_attention_weights=True)
    np.testing.assert_array_equal(n(eis), n(ei))
    np.testing.assert_allclose(n(al), alpha.detach().numpy(), rtol=rtol, atol=atol)
    np.testing.assert_allclose(n(o), out.detach().numpy(), rtol=rtol, atol=atol)
    o.backward(to_ss(gout))
    np.testing.assert_allclose(n(xs.grad), n(x.grad), rtol=rtol, atol=atol)
    params = dict(conv.named_parameters())
    for k, v in w.items():
        np.testing.assert_allclose(n(v.grad), n(params[k].grad), rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("heads,concat", [(1, True), (3, True), (3, False)])
@pytest.mark.parametrize("loops", [True, False])
def test_gat_conv_matches_pyg_small(heads, concat, loops):
    torch.manual_seed(heads * 10 + concat + 2 * loops)
    conv = PyGGATConv(6, 5, heads=heads, concat=concat, add_self_loops=loops)
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(9, 6)
    # duplicate edges (0->1 twice), an existing self loop (4->4), isolated node 8
    edge_index = torch.tensor([[0, 0, 2, 3, 4, 5, 6, 7, 1, 3],
                               [1, 1, 1, 0, 4, 4, 5, 6, 7, 2]])
    run_pair(conv, x, edge_index, dtype=torch.float64, rtol=1e-10, atol=1e-12)
    run_pair(conv, x, edge_index)


def test_gat_conv_matches_pyg_on_cora_sized_random_graph():
    torch.manual_seed(0)
    n, e = 2708, 10556
    x = (torch.rand(n, 100) < 0.05).float()
    edge_index = torch.randint(0, n, (2, e))
    conv = PyGGATConv(100, 8, heads=8)
    torch.nn.init.normal_(conv.bias)
    run_pair(conv, x, edge_index, rtol=1e-4, atol=1e-5)


def test_gat_conv_on_cora_data():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "cora", "cora.safetensors")
    if not os.path.exists(path):
        path = "/work/shared/data/cora/cora.safetensors"
    d = load_safetensors(path)
    assert d["x"].shape == (2708, 1433) and d["edge_index"].shape == (2, 10556)
    torch.manual_seed(1)
    conv = PyGGATConv(1433, 8, heads=8)
    run_pair(conv, torch.from_numpy(d["x"].astype(np.float32)), torch.from_numpy(d["edge_index"].copy()),
             rtol=1e-4, atol=1e-5)


def test_gat_conv_bad_input():
    w = ss.randn(4, 3)
    a = ss.randn(1, 2, 2)
    x = ss.randn(5, 3)
    with pytest.raises(IndexError, match="out of range"):
        F.gat_conv(x, ss.tensor([[0], [5]]), w, a, a, heads=2)
    with pytest.raises(IndexError):
        F.gat_conv(x, ss.tensor([[-1], [0]]), w, a, a, heads=2)
    with pytest.raises(ValueError, match=r"\[2, E\]"):
        F.gat_conv(x, ss.tensor([[0, 1, 2]]), w, a, a, heads=2)
    with pytest.raises(TypeError, match="int64"):
        F.gat_conv(x, ss.zeros(2, 3), w, a, a, heads=2)
