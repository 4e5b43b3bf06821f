"""BERT masked language modelling: corrupt some positions in place, predict the originals there.

Worked example (raw length 5, position 1 selected and masked, position 3 selected and kept)::

    tokens          [a b      c d e]
    inputs          [a <mask> c d e]
    aligned_labels  [- b      - d -]      (- is IGNORE = -100)
    targets         []

Special tokens are never selected (BERT's ``create_pretraining_data.py`` skips ``[CLS]``/``[SEP]``;
here every reserved id: pad, bos, ``</s>`` separators, unk, mask, mode tokens, sentinels)::

    tokens          [a </s> b c </s>]     only a, b, c can be selected
    inputs          [a </s> <mask> c </s>]
    aligned_labels  [- -    b      - -]

Per sequence ``min(max(1, round(L·mask_rate)), number of non-special tokens)`` positions are selected,
uniformly without replacement among the non-special ones (BERT's ``num_to_predict``, counted on the whole
length and capped by the candidates; a window of only specials gets no loss). Each selected position
independently becomes ``<mask>`` with probability ``mask_token_fraction`` (0.8), a random regular
(non-special) token with ``random_token_fraction`` (0.1), and stays unchanged otherwise (0.1). The loss
is on every selected position, aligned with the inputs, so this objective needs an architecture whose
outputs are position-aligned (``encoder``).
"""

from __future__ import annotations

import numpy as np

from pretrainlab.config.schema import MLMOptions
from pretrainlab.objectives.example import IGNORE, Example, as_batch, rows_to_examples
from pretrainlab.tokenization.specials import SpecialTokens


def num_selected(length: int, mask_rate: float) -> int:
    return int(min(max(round(length * mask_rate), 1), length))


def mlm(
    tokens: np.ndarray, rng: np.random.Generator, options: MLMOptions, specials: SpecialTokens
) -> list[Example]:
    tokens = as_batch(tokens)
    batch, length = tokens.shape
    special = np.isin(tokens, np.fromiter(specials.all_ids, dtype=np.int64))
    # Specials sort after every candidate, so a row's first k picks are its candidates while it has k.
    keys = np.where(special, np.inf, rng.random((batch, length)))
    picked = np.argsort(keys, axis=1, kind="stable")[:, : num_selected(length, options.mask_rate)]
    selected = ~np.take_along_axis(special, picked, axis=1)
    draw = rng.random(picked.shape)
    originals = np.take_along_axis(tokens, picked, axis=1)
    labels = np.full_like(tokens, IGNORE)
    np.put_along_axis(labels, picked, np.where(selected, originals, IGNORE), axis=1)
    to_random = (draw >= options.mask_token_fraction) & (
        draw < options.mask_token_fraction + options.random_token_fraction
    )
    replacement = np.where(draw < options.mask_token_fraction, specials.mask, originals)
    if options.random_token_fraction > 0:
        replacement = np.where(to_random, rng.choice(specials.regular_ids(), size=picked.shape), replacement)
    inputs = tokens.copy()
    np.put_along_axis(inputs, picked, np.where(selected, replacement, originals), axis=1)
    return rows_to_examples(inputs, np.empty((batch, 0), dtype=np.int64), labels)


def raw_length(seq_len: int, options: MLMOptions | None = None) -> int:
    return seq_len


def lengths(seq_len: int, options: MLMOptions | None = None) -> tuple[int, int, int]:
    """(max inputs, max targets, max inputs + targets)."""
    return seq_len, 0, seq_len


def check(seq_len: int, options: MLMOptions, specials: SpecialTokens) -> list[str]:
    errors = []
    if round(seq_len * options.mask_rate) < 1:
        errors.append(
            f"mlm: mask_rate {options.mask_rate} × seq_len {seq_len} rounds to no position (1 is used)"
        )
    if options.random_token_fraction > 0 and len(specials.regular_ids()) == 0:
        errors.append("mlm: random_token_fraction > 0 but the vocabulary has no regular (non-special) token")
    return errors
