"""Vision and graph modules against their PyTorch / PyG counterparts with the same weights
(state_dict copied from torch): Conv2d, BatchNorm2d, GATConv, and ViT / NonLocalBlock2d
against direct torch re-implementations of the same architecture."""
import math

import numpy as np
import pytest

try:
    import torch
    import torch.nn.functional as TF
    from torch_geometric.nn import GATConv as PyGGATConv
except ImportError as e:  # the oracle must fail loudly, never skip
    raise ImportError("needs torch==2.13.0 and torch_geometric==2.7.0: pip install -r requirements-test.txt") from e

import shanshui as ss

TOL = dict(rtol=1e-5, atol=1e-5)


def n(t):
    return t.detach().numpy()


def to_ss(t, grad=False):
    x = ss.from_numpy(n(t).copy())
    if grad:
        x.requires_grad_()
    return x


def load_from_torch(ours, sd):
    ours.load_state_dict({k: to_ss(v) for k, v in sd.items()})


def check_grads(ours, named_torch):
    mine = dict(ours.named_parameters())
    for k, p in named_torch:
        assert k in mine, k
        np.testing.assert_allclose(n(mine[k].grad), n(p.grad), err_msg=k, **TOL)


def test_conv2d_module_matches_torch():
    torch.manual_seed(0)
    ref = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    ours = ss.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert [k for k, _ in ours.named_parameters()] == ["weight", "bias"]
    load_from_torch(ours, ref.state_dict())
    x = torch.randn(2, 4, 9, 9, requires_grad=True)
    xs = to_ss(x, True)
    y, ys = ref(x), ours(xs)
    np.testing.assert_allclose(n(ys), n(y), **TOL)
    y.sum().backward()
    ys.sum().backward()
    np.testing.assert_allclose(n(xs.grad), n(x.grad), **TOL)
    check_grads(ours, ref.named_parameters())


def test_batchnorm2d_module_matches_torch_in_train_and_eval():
    torch.manual_seed(1)
    ref = torch.nn.BatchNorm2d(3)
    ours = ss.nn.BatchNorm2d(3)
    assert list(ours.state_dict().keys()) == list(ref.state_dict().keys())
    for _ in range(2):
        x = torch.randn(4, 3, 5, 5)
        np.testing.assert_allclose(n(ours(to_ss(x))), n(ref(x)), **TOL)
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(n(ours.state_dict()[k]), n(v), err_msg=k, **TOL)
    ref.eval()
    ours.eval()
    x = torch.randn(2, 3, 5, 5)
    np.testing.assert_allclose(n(ours(to_ss(x))), n(ref(x)), **TOL)


def test_gatconv_module_matches_pyg():
    torch.manual_seed(2)
    ref = PyGGATConv(7, 4, heads=3)
    torch.nn.init.normal_(ref.bias)
    ours = ss.nn.GATConv(7, 4, heads=3)
    assert sorted(ours.state_dict().keys()) == sorted(ref.state_dict().keys())
    load_from_torch(ours, ref.state_dict())
    x = torch.randn(10, 7)
    ei = torch.randint(0, 10, (2, 30))
    out, (e1, a1) = ref(x, ei, return_attention_weights=True)
    outs, (e2, a2) = ours(to_ss(x), to_ss(ei), return_attention_weights=True)
    np.testing.assert_allclose(n(outs), n(out), **TOL)
    np.testing.assert_array_equal(n(e2), n(e1))
    np.testing.assert_allclose(n(a2), n(a1), **TOL)
    (out * out).sum().backward()
    (outs * outs).sum().backward()
    check_grads(ours, ref.named_parameters())


def torch_vit(sd, x, heads, depth, return_attn=False):
    """The same pre-LN ViT written directly in torch, reading timm-named weights."""
    p = sd
    t = TF.conv2d(x, p["patch_embed.proj.weight"], p["patch_embed.proj.bias"],
                  stride=p["patch_embed.proj.weight"].shape[-1])
    t = t.flatten(2).transpose(1, 2)
    B, N, D = t.shape
    t = torch.cat([p["cls_token"].expand(B, 1, D), t], 1) + p["pos_embed"]
    attns = []
    for i in range(depth):
        b = f"blocks.{i}."
        h = TF.layer_norm(t, (D,), p[b + "norm1.weight"], p[b + "norm1.bias"], eps=1e-6)
        qkv = TF.linear(h, p[b + "attn.qkv.weight"], p[b + "attn.qkv.bias"]).reshape(B, N + 1, 3, heads, D // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1) / math.sqrt(D // heads)).softmax(-1)
        attns.append(a)
        o = (a @ v).transpose(1, 2).reshape(B, N + 1, D)
        t = t + TF.linear(o, p[b + "attn.proj.weight"], p[b + "attn.proj.bias"])
        h = TF.layer_norm(t, (D,), p[b + "norm2.weight"], p[b + "norm2.bias"], eps=1e-6)
        h = TF.linear(TF.gelu(TF.linear(h, p[b + "mlp.fc1.weight"], p[b + "mlp.fc1.bias"])),
                      p[b + "mlp.fc2.weight"], p[b + "mlp.fc2.bias"])
        t = t + h
    t = TF.layer_norm(t, (D,), p["norm.weight"], p["norm.bias"], eps=1e-6)
    logits = TF.linear(t[:, 0], p["head.weight"], p["head.bias"])
    return (logits, attns) if return_attn else logits


def test_vit_matches_torch_reimplementation():
    ss.manual_seed(3)
    ours = ss.nn.ViT(img_size=8, patch_size=4, in_chans=3, num_classes=5, embed_dim=16, depth=2, num_heads=2)
    sd = {k: torch.from_numpy(n(v).copy()).requires_grad_() for k, v in ours.state_dict().items()}
    # non-trivial norms and biases
    for k in sd:
        if k.endswith("bias") or "norm" in k:
            with torch.no_grad():
                sd[k].add_(torch.randn(sd[k].shape) * 0.1)
    load_from_torch(ours, sd)
    x = torch.randn(3, 3, 8, 8)
    logits, attns = torch_vit(sd, x, 2, 2, True)
    ls, attns_s = ours(to_ss(x), return_attention=True)
    np.testing.assert_allclose(n(ls), n(logits), **TOL)
    assert len(attns_s) == 2
    for a, b in zip(attns_s, attns):
        np.testing.assert_allclose(n(a), n(b), **TOL)
    (logits * logits).sum().backward()
    (ls * ls).sum().backward()
    check_grads(ours, sd.items())


@pytest.mark.parametrize("mode", ["embedded_gaussian", "gaussian", "dot_product"])
def test_non_local_block_matches_torch_reimplementation(mode):
    ss.manual_seed(4)
    ours = ss.nn.NonLocalBlock2d(4, mode=mode)
    assert np.all(n(ours.state_dict()["W_z.weight"]) == 0)
    sd = {k: (0.3 * torch.randn(v.shape)).requires_grad_() for k, v in ours.state_dict().items()}
    load_from_torch(ours, sd)
    x = torch.randn(2, 4, 3, 5, requires_grad=True)
    B, C, H, W = x.shape
    g = TF.conv2d(x, sd["g.weight"], sd["g.bias"]).reshape(B, 2, H * W).transpose(1, 2)
    if mode == "gaussian":
        th, ph = x.reshape(B, C, -1).transpose(1, 2), x.reshape(B, C, -1)
    else:
        th = TF.conv2d(x, sd["theta.weight"], sd["theta.bias"]).reshape(B, 2, -1).transpose(1, 2)
        ph = TF.conv2d(x, sd["phi.weight"], sd["phi.bias"]).reshape(B, 2, -1)
    f = th @ ph
    a = f / (H * W) if mode == "dot_product" else f.softmax(-1)
    y = (a @ g).transpose(1, 2).reshape(B, 2, H, W)
    z = TF.conv2d(y, sd["W_z.weight"], sd["W_z.bias"]) + x
    xs = to_ss(x, True)
    zs = ours(xs)
    np.testing.assert_allclose(n(zs), n(z), **TOL)
    (z * z).sum().backward()
    (zs * zs).sum().backward()
    np.testing.assert_allclose(n(xs.grad), n(x.grad), **TOL)
    check_grads(ours, sd.items())


def test_patch_embedding_layout_and_errors():
    pe = ss.nn.PatchEmbedding(8, 4, in_chans=3, embed_dim=16)
    assert tuple(pe.proj.weight.shape) == (16, 3, 4, 4)
    assert tuple(pe(ss.randn(2, 3, 8, 8)).shape) == (2, 4, 16)
    with pytest.raises(ValueError, match="divisible"):
        pe(ss.randn(1, 3, 8, 6))
