"""Additive attention masks for the decoder-family models (CD, ND, encoder), exact under every backend.

transformers passes a 4-D ``attention_mask`` through untouched (``masking_utils._preprocess_mask_arguments``
returns it as-is), and its ``eager`` attention *adds* it to the scores — so a boolean mask there adds 0/1
and leaks. The masks here are float: 0 where attention is allowed, ``finfo(dtype).min`` where it is not;
torch's SDPA reads the same additive mask correctly.

Use a non-causal (ND) checkpoint in stock transformers::

    model = AutoModelForCausalLM.from_pretrained(path)          # Gemma2ForCausalLM, eager attention
    T, p = ids.shape[1], torch.tensor([prefix_len])             # prefix positions attend bidirectionally
    allowed = (torch.arange(T)[None, :] <= torch.arange(T)[:, None]) | (torch.arange(T)[None, :] < p[:, None, None])
    mask = torch.where(allowed, 0.0, torch.finfo(torch.float32).min)[:, None]   # [B, 1, T, T] additive
    logits = model(ids, attention_mask=mask).logits
"""

from __future__ import annotations

import torch


def prefix_lm_attention_mask(
    prefix_lengths: torch.Tensor, seq_len: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """[B, 1, T, T] additive mask: query q sees key k iff ``k <= q`` or ``k < prefix_lengths[b]``.

    ``prefix_lengths`` 0 gives a causal mask; ``T`` gives full bidirectional attention. With right padding
    and ``prefix_lengths`` at most the real length, no real position ever sees a pad.
    """
    positions = torch.arange(seq_len, device=prefix_lengths.device)
    causal = positions[None, :] <= positions[:, None]  # [q, k]
    in_prefix = positions[None, None, :] < prefix_lengths.to(positions.dtype)[:, None, None]  # [B, 1, k]
    allowed = causal[None] | in_prefix
    zero = torch.zeros((), dtype=dtype, device=prefix_lengths.device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)[:, None]


def packed_attention_mask(
    segment_ids: torch.Tensor, prefix_mask: torch.Tensor, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """[B, 1, T, T] additive mask for packed rows: q sees k iff they are in the same segment and
    (``k <= q`` or ``prefix_mask[k]``), so packed examples never attend to each other."""
    T = segment_ids.shape[1]
    positions = torch.arange(T, device=segment_ids.device)
    causal = (positions[None, :] <= positions[:, None])[None]  # [1, q, k]
    same = segment_ids[:, :, None] == segment_ids[:, None, :]  # [B, q, k]
    allowed = same & (causal | prefix_mask[:, None, :])
    zero = torch.zeros((), dtype=dtype, device=segment_ids.device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)[:, None]
