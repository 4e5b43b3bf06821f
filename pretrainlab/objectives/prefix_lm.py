"""Prefix language modelling (PLM): a random prefix conditions, the rest is predicted.

Worked example (raw length 5, split drawn as 2)::

    tokens [a b c d e]  ->  inputs [a b],  targets [c d e]

The split ``k`` (number of prefix tokens) is uniform on the integers of [1, L) per example, as in
Wang et al. 2022 (U[1, 626)), unless ``fixed_prefix_fraction`` pins ``k = clip(round(f·L), 1, L-1)``.
No EOS is added: the raw sequence is cut, not extended, so PLM and FLM see the same tokens.
"""

from __future__ import annotations

import numpy as np

from pretrainlab.config.schema import PrefixLMOptions
from pretrainlab.objectives.example import Example, as_batch
from pretrainlab.tokenization.specials import SpecialTokens


def fixed_split(length: int, fraction: float) -> int:
    return int(min(max(round(length * fraction), 1), length - 1))


def split_examples(tokens: np.ndarray, splits: np.ndarray) -> list[Example]:
    """inputs = tokens[:k], targets = tokens[k:], per row."""
    return [Example(row[:k].copy(), row[k:].copy()) for row, k in zip(tokens, splits.tolist(), strict=True)]


def prefix_lm(
    tokens: np.ndarray, rng: np.random.Generator, options: PrefixLMOptions, specials: SpecialTokens
) -> list[Example]:
    tokens = as_batch(tokens)
    batch, length = tokens.shape
    if length < 2:
        raise ValueError(f"prefix LM needs at least 2 tokens per sequence, got {length}")
    if options.fixed_prefix_fraction is not None:
        splits = np.full(batch, fixed_split(length, options.fixed_prefix_fraction))
    else:
        splits = rng.integers(1, length, size=batch)
    return split_examples(tokens, splits)


def raw_length(seq_len: int, options: PrefixLMOptions | None = None) -> int:
    return seq_len


def lengths(seq_len: int, options: PrefixLMOptions) -> tuple[int, int, int]:
    """(max inputs, max targets, max inputs + targets)."""
    if options.fixed_prefix_fraction is not None:
        k = fixed_split(seq_len, options.fixed_prefix_fraction)
        return k, seq_len - k, seq_len
    return seq_len - 1, seq_len - 1, seq_len


def check(seq_len: int, options: PrefixLMOptions, specials: SpecialTokens) -> list[str]:
    return [] if seq_len >= 2 else [f"prefix_lm needs seq_len >= 2, got {seq_len}"]
