"""Train only part of a model for a while (T5Gemma's cross-attention warm-up), leaving the rest untouched.

``trainable_only(model, predicate)`` sets ``requires_grad`` to ``predicate(name)`` for every parameter and
restores the previous flags on exit.

**How the optimizer must be built so frozen tensors stay bit-identical.** ``requires_grad=False`` alone is
not a guarantee: AdamW's decoupled weight decay (``p -= lr * wd * p``) and any momentum left in the
optimizer state move a parameter whenever the optimizer visits it with a gradient tensor — and a
gradient of *zeros* counts (``zero_grad(set_to_none=False)``, or a gradient left over from an earlier
phase). So, for the warm-up:

1. build a **separate optimizer over** :func:`trainable_parameters` only (never the full model);
2. keep gradients as ``None`` between steps (``zero_grad(set_to_none=True)``, PyTorch's default) and
   clip the norm over the same trainable list;
3. after K steps leave the context and build the **main optimizer (and its schedule) afresh** over all
   parameters — the warm-up's moments belong to a different parameter set.

A resumable run therefore has two optimizer phases; store which one a checkpoint was taken in
(``step < K``) and rebuild the matching optimizer before loading its state.

    with trainable_only(model, is_cross_attention):
        warmup = torch.optim.AdamW(trainable_parameters(model), lr=lr, weight_decay=wd)
        for step in range(K): ...
    main = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


@contextmanager
def trainable_only(model: torch.nn.Module, predicate: Callable[[str], bool]) -> Iterator[list[str]]:
    """Within the block only parameters whose name satisfies ``predicate`` require grad.

    Yields the trainable names; raises ``ValueError`` if none match (a warm-up that trains nothing is a
    mistake, e.g. a source model without cross-attention). Tied tensors appear once, under their first name.
    """
    params = dict(model.named_parameters())
    saved = {name: p.requires_grad for name, p in params.items()}
    trainable = [name for name in params if predicate(name)]
    if not trainable:
        raise ValueError("no parameter matches the trainable predicate; nothing would be trained")
    try:
        for name, p in params.items():
            p.requires_grad_(name in trainable)
        yield trainable
    finally:
        for name, p in params.items():
            p.requires_grad_(saved[name])


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters that currently require grad: what a warm-up optimizer may be given."""
    return [p for p in model.parameters() if p.requires_grad]
