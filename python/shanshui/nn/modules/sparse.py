"""Embedding.from_pretrained (the class itself is C++, shanshui._C.nn.Embedding)."""
from ..._C import nn as _Cnn

Embedding = _Cnn.Embedding


def _from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
    """An Embedding whose weight is `embeddings` [num_embeddings, dim] (sharing its memory),
    frozen (requires_grad=False) unless freeze=False (torch.nn.Embedding.from_pretrained)."""
    if embeddings.dim() != 2:
        raise ValueError(f"Embedding.from_pretrained: embeddings parameter is expected to be 2-dimensional, got "
                         f"shape {list(embeddings.shape)}")
    rows, cols = embeddings.shape
    return cls(rows, cols, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze)


Embedding.from_pretrained = classmethod(_from_pretrained)

__all__ = ["Embedding"]
