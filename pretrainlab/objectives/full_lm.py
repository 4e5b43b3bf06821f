"""Full language modelling (FLM): predict every token from the ones before it.

Worked example (raw length 5)::

    tokens [a b c d e]  ->  inputs [],  targets [a b c d e]

On a causal decoder the first target has no context and carries no loss; every later token is
predicted from all tokens before it (nanoGPT's ``y = x`` shifted by one).
"""

from __future__ import annotations

import numpy as np

from pretrainlab.objectives.example import Example, as_batch, rows_to_examples
from pretrainlab.tokenization.specials import SpecialTokens


def full_lm(
    tokens: np.ndarray, rng: np.random.Generator, options: object, specials: SpecialTokens
) -> list[Example]:
    """Every raw token becomes a target; ``rng``, ``options`` and ``specials`` are unused."""
    tokens = as_batch(tokens)
    return rows_to_examples(np.empty((len(tokens), 0), dtype=np.int64), tokens)


def raw_length(seq_len: int, options: object = None) -> int:
    return seq_len


def lengths(seq_len: int, options: object = None) -> tuple[int, int, int]:
    """(max inputs, max targets, max inputs + targets) for raw sequences of ``raw_length(seq_len)``."""
    return 0, seq_len, seq_len
