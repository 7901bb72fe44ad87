"""torch.einsum composed from differentiable primitives: repeated labels become
diagonals, labels absent from the output are summed, and each pair of operands
is contracted with exactly one bmm (batch labels, then free labels of each side,
then the contracted ones).

Installed on shanshui by ``install`` in _ops_extras.
"""
import builtins as _builtins

import numpy as _np

from . import _C
from ._ops_extras import _check_tensor, _i64


def _diagonalize(x, labels):
    """Take the diagonal over repeated labels of one operand: returns (tensor, distinct labels)."""
    while True:
        dup = next((l for l in labels if labels.count(l) > 1), None)
        if dup is None:
            return x, labels
        i = labels.index(dup)
        j = labels.index(dup, i + 1)
        if x.size(i) != x.size(j):
            raise RuntimeError(f"einsum(): subscript {dup} is repeated for operand but the sizes don't match, "
                               f"{x.size(i)} != {x.size(j)}")
        n = x.size(i)
        # move i, j last, flatten them and take every (n+1)-th element: the diagonal
        rest = [k for k in range(x.dim()) if k not in (i, j)]
        y = x.permute(rest + [i, j]).reshape([x.size(k) for k in rest] + [n * n])
        y = y.index_select(y.dim() - 1, _i64(_np.arange(n) * (n + 1)))
        labels = [labels[k] for k in rest] + [dup]
        x = y


def _sum_labels(x, labels, keep):
    drop = [k for k, l in enumerate(labels) if l not in keep]
    if drop:
        x = x.sum(tuple(drop))
        labels = [l for l in labels if l in keep]
    return x, labels


def _contract(a, la, b, lb, keep):
    """Contract two operands, keeping the labels in `keep`, with one bmm."""
    a, la = _sum_labels(a, la, keep | set(lb))
    b, lb = _sum_labels(b, lb, keep | set(la))
    size = {}
    for x, ls in ((a, la), (b, lb)):
        for k, l in enumerate(ls):
            s = x.size(k)
            if l in size and size[l] != 1 and s != 1 and size[l] != s:
                raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes (original): "
                                   f"subscript {l} has sizes {size[l]} and {s}")
            if l not in size or size[l] == 1:
                size[l] = s
    batch = [l for l in la if l in lb and l in keep]
    contr = [l for l in la if l in lb and l not in keep]
    left = [l for l in la if l not in lb]
    right = [l for l in lb if l not in la]

    def prep(x, ls, order):
        x = x.permute([ls.index(l) for l in order])
        want = [size[l] for l in order]
        if list(x.shape) != want:
            x = x.expand(want)
        return x

    nb = int(_np.prod([size[l] for l in batch])) if batch else 1
    nl = int(_np.prod([size[l] for l in left])) if left else 1
    nk = int(_np.prod([size[l] for l in contr])) if contr else 1
    nr = int(_np.prod([size[l] for l in right])) if right else 1
    A = prep(a, la, batch + left + contr).reshape([nb, nl, nk])
    B = prep(b, lb, batch + contr + right).reshape([nb, nk, nr])
    out = _C.bmm(A, B).reshape([size[l] for l in batch + left + right])
    return out, batch + left + right


def einsum(equation, *operands):
    """torch.einsum: explicit ('ij,jk->ik') and implicit ('ij,jk') output, '...', repeated labels
    (diagonals, traces); every pairwise contraction is one bmm."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError(f"einsum(): more operands were provided than specified in the equation"
                           if len(operands) > len(terms) else
                           "einsum(): fewer operands were provided than specified in the equation")
    ell_n = 0
    parsed = []
    for t, x in zip(terms, operands):
        _check_tensor(x, "einsum", "operands")
        if t.count("...") > 1:
            raise RuntimeError("einsum(): found more than one '...' in the subscripts of an operand")
        plain = t.replace("...", "")
        if not _builtins.all(c.isalpha() for c in plain):
            raise RuntimeError(f"einsum(): invalid subscript given in equation '{equation}': subscripts must be "
                               f"letters in [a-zA-Z]")
        if "..." in t:
            n_ell = x.dim() - len(plain)
            if n_ell < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(plain)}) is more than "
                                   f"the number of dimensions ({x.dim()}) for operand of shape {list(x.shape)}")
            ell_n = _builtins.max(ell_n, n_ell)
        elif len(plain) != x.dim():
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(plain)}) does not match "
                               f"the number of dimensions ({x.dim()}) for operand of shape {list(x.shape)}"
                               f" and no ellipsis was given")
        parsed.append(t)
    ell = [f"#{k}" for k in range(ell_n)]  # ellipsis dims, right-aligned across operands
    labels = []
    for t, x in zip(parsed, operands):
        pre, _, post = t.partition("...")
        if "..." in t:
            n_ell = x.dim() - len(pre) - len(post)
            labels.append(list(pre) + ell[ell_n - n_ell:] + list(post))
        else:
            labels.append(list(t))
    all_l = [l for ls in labels for l in ls]
    if arrow:
        if rhs.count("...") > 1:
            raise RuntimeError("einsum(): found more than one '...' in the output")
        pre, _, post = rhs.partition("...")
        out_l = list(pre) + (ell if "..." in rhs else []) + list(post)
        for l in out_l:
            if l not in all_l:
                raise RuntimeError(f"einsum(): output subscript {l} does not appear in the equation for any input "
                                   f"operand")
            if out_l.count(l) > 1:
                raise RuntimeError(f"einsum(): output subscript {l} appears more than once in the output")
    else:
        out_l = ell + sorted(l for l in set(all_l) if not l.startswith("#") and all_l.count(l) == 1)
    ops = []
    for x, ls in zip(operands, labels):
        x, ls = _diagonalize(x, ls)
        ops.append((x, ls))
    x, ls = ops[0]
    for k in range(1, len(ops)):
        later = {l for _, lls in ops[k + 1:] for l in lls}
        y, ly = ops[k]
        x, ls = _contract(x, ls, y, ly, set(out_l) | later)
    x, ls = _sum_labels(x, ls, set(out_l))
    if len(ops) == 1 and ls == out_l and x is operands[0]:
        return x.view(list(x.shape)) if x.dim() else x.clone()
    # ellipsis dims missing from the result (size-1 broadcast dims of a single operand) are added back
    for l in out_l:
        if l not in ls:
            x, ls = x.unsqueeze(x.dim()), ls + [l]
    return x.permute([ls.index(l) for l in out_l]) if out_l else x
