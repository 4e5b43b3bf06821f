"""UL2 mixture of denoisers: each example draws one denoiser, whose mode token leads its inputs.

Worked examples (raw length 8, ``[a b c d e f g h]``; with 8 tokens each span denoiser makes one span,
and T5's segmentation puts a lone span last)::

    R (mu=3, r=0.15): 1 noise token   inputs [[NLU] a b c d e f g <extra_id_0> </s>]  targets [<extra_id_0> h </s>]
    X (mu=3, r=0.5):  4 noise tokens  inputs [[NLG] a b c d <extra_id_0> </s>]  targets [<extra_id_0> e f g h </s>]
    S (r=0.25), prefix of 6 drawn:    inputs [[S2S] a b c d e f]  targets [g h]

Span denoisers are :mod:`span_corruption` with their own (mu, r). The S denoiser is a prefix LM whose
split follows UL2's ``random_prefix_noise_mask`` (t5 ``preprocessors.py``): the number of prefix tokens
is uniform on the integers ``[m, L-1]`` with ``m = clip(round((1 - 2r)(L - 1)), 1, L-1)``, so targets
average ≈ r·L (r ≤ 0.5 required). Denoisers are drawn per example with probability ∝ ``weight``.
One raw length serves every denoiser: the largest whose longest example (mode token included) fits
``seq_len`` on a decoder.
"""

from __future__ import annotations

import numpy as np

from pretrainlab.config.schema import Denoiser, UL2Options
from pretrainlab.objectives.example import Example, as_batch, rows_to_examples
from pretrainlab.objectives.prefix_lm import split_examples
from pretrainlab.objectives.span_corruption import (
    check_spans,
    corrupt,
    example_lengths,
    fitting_raw_length,
    random_spans_noise_mask,
)
from pretrainlab.tokenization.specials import SpecialTokens


def min_prefix(length: int, r: float) -> int:
    """Fewest prefix tokens UL2's S denoiser draws for a sequence of ``length``."""
    return int(min(max(round((1 - 2 * r) * (length - 1)), 1), length - 1))


def denoise(
    tokens: np.ndarray, rng: np.random.Generator, denoiser: Denoiser, specials: SpecialTokens
) -> list[Example]:
    """Apply one denoiser to every row of ``tokens`` (mode token prepended to the inputs)."""
    mode = specials.modes[denoiser.mode]
    batch, length = tokens.shape
    if denoiser.prefix_lm:
        splits = rng.integers(min_prefix(length, denoiser.r), length, size=batch)
        return split_examples(tokens, splits, prepend=mode)
    mask = random_spans_noise_mask(batch, length, denoiser.r, denoiser.mu, rng)
    return rows_to_examples(*corrupt(tokens, mask, specials, prepend=mode))


def ul2(
    tokens: np.ndarray, rng: np.random.Generator, options: UL2Options, specials: SpecialTokens
) -> list[Example]:
    tokens = as_batch(tokens)
    weights = np.array([d.weight for d in options.denoisers], dtype=float)
    choice = rng.choice(len(weights), size=len(tokens), p=weights / weights.sum())
    examples: list[Example | None] = [None] * len(tokens)
    for index, denoiser in enumerate(options.denoisers):
        rows = np.flatnonzero(choice == index)
        if len(rows):
            for row, example in zip(
                rows.tolist(), denoise(tokens[rows], rng, denoiser, specials), strict=True
            ):
                examples[row] = example
    return examples  # type: ignore[return-value]  # every row was filled by exactly one denoiser


def _denoiser_lengths(raw: int, denoiser: Denoiser) -> tuple[int, int, int]:
    """(max inputs, max targets, max inputs + targets) of one denoiser, mode token included."""
    if denoiser.prefix_lm:
        return raw, raw - min_prefix(raw, denoiser.r), raw + 1
    n_in, n_tgt = example_lengths(raw, denoiser.r, denoiser.mu)
    return n_in + 1, n_tgt, n_in + 1 + n_tgt


def raw_length(seq_len: int, options: UL2Options) -> int:
    """Largest raw length whose every denoiser's inputs + targets fit in ``seq_len``; 0 if none."""
    fits = [
        seq_len - 1 if d.prefix_lm else fitting_raw_length(seq_len, d.r, d.mu, extra=1)
        for d in options.denoisers
    ]
    raw = min(fits)
    return raw if raw >= 2 else 0


def lengths(seq_len: int, options: UL2Options) -> tuple[int, int, int]:
    """(max inputs, max targets, max inputs + targets) over the denoisers."""
    raw = raw_length(seq_len, options)
    per = [_denoiser_lengths(raw, d) for d in options.denoisers]
    return max(p[0] for p in per), max(p[1] for p in per), max(p[2] for p in per)


def check(seq_len: int, options: UL2Options, specials: SpecialTokens) -> list[str]:
    raw = raw_length(seq_len, options)
    if raw < 2:
        return [f"seq_len {seq_len} too short for the UL2 denoisers"]
    errors = []
    for i, d in enumerate(options.denoisers):
        if d.mode not in specials.modes:
            errors.append(f"denoisers[{i}]: the tokenizer has no [{d.mode}] mode token")
        if d.prefix_lm and d.r > 0.5:
            errors.append(f"denoisers[{i}]: a prefix-LM denoiser needs r <= 0.5 (UL2's rule), got {d.r}")
        if not d.prefix_lm:
            errors += [f"denoisers[{i}]: {e}" for e in check_spans(raw, d.r, d.mu, specials)]
    return errors
