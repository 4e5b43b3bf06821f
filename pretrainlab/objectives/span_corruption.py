"""T5 span corruption ("MLM" in Wang et al. 2022): noise spans become sentinels, targets restore them.

Worked example (raw length 5, one noise span ``b c``)::

    tokens  [a b c d e]
    inputs  [a <extra_id_0> d e </s>]
    targets [<extra_id_0> b c </s>]

(:func:`corrupt` with that mask gives exactly this; T5's random mask below always starts with
non-noise and ends with noise, so from 5 tokens it would draw ``[a b c <extra_id_0> </s>]``.)

The noise mask is T5's ``random_spans_noise_mask`` (seqio/t5 ``preprocessors.py``): with
``num_noise = clip(round(L·density), 1, L-1)`` and ``num_spans = max(1, round(num_noise / mean))``, the
noise and non-noise token counts are each cut into ``num_spans`` random non-empty segments (uniform over
compositions), interleaved non-noise first. So every row of a batch has the same number of noise tokens
and spans, and every example has the same input and target lengths — which makes the whole objective a
few vectorised numpy operations. Rounding is half-to-even, like ``tf.round``.
"""

from __future__ import annotations

import numpy as np

from pretrainlab.config.schema import SpanCorruptionOptions
from pretrainlab.objectives.example import Example, as_batch, rows_to_examples
from pretrainlab.tokenization.specials import SpecialTokens


def noise_counts(length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """(num_noise_tokens, num_noise_spans) exactly as T5 computes them for a sequence of ``length``."""
    length = max(length, 2)
    num_noise = int(min(max(round(length * noise_density), 1), length - 1))
    num_spans = max(1, int(round(num_noise / mean_noise_span_length)))
    return num_noise, num_spans


def _random_segmentation(
    num_items: int, num_segments: int, batch: int, rng: np.random.Generator
) -> np.ndarray:
    """(batch, num_segments) positive lengths summing to ``num_items``, uniform over compositions."""
    first_in_segment = np.zeros((batch, num_items - 1), dtype=bool)
    first_in_segment[:, : num_segments - 1] = True
    first_in_segment = rng.permuted(first_in_segment, axis=1)
    cuts = np.nonzero(first_in_segment)[1].reshape(batch, num_segments - 1) + 1  # row-major: sorted per row
    bounds = np.concatenate([np.zeros((batch, 1), int), cuts, np.full((batch, 1), num_items)], axis=1)
    return np.diff(bounds, axis=1)


def random_spans_noise_mask(
    batch: int, length: int, noise_density: float, mean_noise_span_length: float, rng: np.random.Generator
) -> np.ndarray:
    """(batch, length) bool, True on noise; each row starts with non-noise and ends with noise."""
    num_noise, num_spans = noise_counts(length, noise_density, mean_noise_span_length)
    if num_spans > length - num_noise:
        raise ValueError(
            f"{num_spans} noise spans need at least as many non-noise tokens, have {length - num_noise}"
        )
    noise_lengths = _random_segmentation(num_noise, num_spans, batch, rng)
    nonnoise_lengths = _random_segmentation(length - num_noise, num_spans, batch, rng)
    interleaved = np.stack([nonnoise_lengths, noise_lengths], axis=2).reshape(batch, 2 * num_spans)
    span_starts = np.cumsum(interleaved, axis=1)[:, :-1]
    indicator = np.zeros((batch, length), dtype=np.int64)
    np.put_along_axis(indicator, span_starts, 1, axis=1)
    return np.cumsum(indicator, axis=1) % 2 == 1


def corrupt(
    tokens: np.ndarray, noise_mask: np.ndarray, specials: SpecialTokens, prepend: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Apply a noise mask whose rows all hold the same span structure counts; returns (inputs, targets).

    Each position has two output slots: [sentinel if a noise span starts here, the token]. Inputs keep the
    sentinel slot and the non-noise tokens; targets keep the sentinel slot and the noise tokens.
    """
    batch, length = tokens.shape
    previous = np.concatenate([np.zeros((batch, 1), dtype=bool), noise_mask[:, :-1]], axis=1)
    span_start = noise_mask & ~previous
    span_index = np.cumsum(span_start, axis=1) - 1
    sentinels = np.asarray(specials.sentinels, dtype=np.int64)
    if span_start.sum(axis=1).max(initial=0) > len(sentinels):
        raise ValueError(f"more noise spans than the {len(sentinels)} sentinels the tokenizer has")
    slots = np.stack([np.where(span_start, sentinels[np.clip(span_index, 0, None)], 0), tokens], axis=2)
    eos = np.full((batch, 1), specials.eos, dtype=np.int64)
    head = np.full((batch, 0 if prepend is None else 1), prepend or 0, dtype=np.int64)
    kept_inputs = slots[np.stack([span_start, ~noise_mask], axis=2)].reshape(batch, -1)
    kept_targets = slots[np.stack([span_start, noise_mask], axis=2)].reshape(batch, -1)
    inputs = np.concatenate([head, kept_inputs, eos], axis=1)
    targets = np.concatenate([kept_targets, eos], axis=1)
    return inputs, targets


def span_corruption(
    tokens: np.ndarray, rng: np.random.Generator, options: SpanCorruptionOptions, specials: SpecialTokens
) -> list[Example]:
    tokens = as_batch(tokens)
    mask = random_spans_noise_mask(*tokens.shape, options.noise_density, options.mean_noise_span_length, rng)
    return rows_to_examples(*corrupt(tokens, mask, specials))


def example_lengths(raw_len: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """(len(inputs), len(targets)) for a raw sequence of ``raw_len`` tokens (one sentinel per span, one EOS)."""
    num_noise, num_spans = noise_counts(raw_len, noise_density, mean_noise_span_length)
    return raw_len - num_noise + num_spans + 1, num_noise + num_spans + 1


def fitting_raw_length(
    seq_len: int, noise_density: float, mean_noise_span_length: float, extra: int = 0
) -> int:
    """T5's ``random_spans_helper`` for decoders: the largest raw length whose inputs + targets (+ ``extra``
    tokens, e.g. a UL2 mode token) fit in ``seq_len``. Returns 0 when not even 2 raw tokens fit.

    Inputs + targets = raw + 2·spans + 2 grows with raw, so a downward scan finds the largest fit.
    """
    for raw in range(seq_len, 1, -1):
        if sum(example_lengths(raw, noise_density, mean_noise_span_length)) + extra <= seq_len:
            return raw
    return 0


def raw_length(seq_len: int, options: SpanCorruptionOptions) -> int:
    return fitting_raw_length(seq_len, options.noise_density, options.mean_noise_span_length)


def lengths(seq_len: int, options: SpanCorruptionOptions) -> tuple[int, int, int]:
    """(inputs, targets, inputs + targets): exact, every example has these lengths."""
    n_in, n_tgt = example_lengths(
        raw_length(seq_len, options), options.noise_density, options.mean_noise_span_length
    )
    return n_in, n_tgt, n_in + n_tgt


def check_spans(
    raw_len: int, noise_density: float, mean_noise_span_length: float, specials: SpecialTokens
) -> list[str]:
    """Human-readable reasons a raw length cannot be span-corrupted with these settings."""
    what = f"(noise_density={noise_density}, mean_noise_span_length={mean_noise_span_length})"
    if raw_len < 2:
        return [f"sequence too short for span corruption {what}"]
    num_noise, num_spans = noise_counts(raw_len, noise_density, mean_noise_span_length)
    errors = []
    if num_spans > len(specials.sentinels):
        errors.append(
            f"{num_spans} noise spans per sequence {what} but the tokenizer has only "
            f"{len(specials.sentinels)} sentinels: raise tokenizer.sentinels or mean_noise_span_length"
        )
    if num_spans > raw_len - num_noise:
        errors.append(
            f"{num_spans} noise spans need {num_spans} non-noise tokens, only {raw_len - num_noise} {what}"
        )
    return errors


def check(seq_len: int, options: SpanCorruptionOptions, specials: SpecialTokens) -> list[str]:
    raw = raw_length(seq_len, options)
    if raw < 2:
        return [
            f"seq_len {seq_len} too short for span corruption: inputs + targets of 2 raw tokens do not fit"
        ]
    num_noise, _ = noise_counts(raw, options.noise_density, options.mean_noise_span_length)
    if num_noise < options.mean_noise_span_length:
        return [
            f"seq_len {seq_len} too short for spans of mean length {options.mean_noise_span_length}: "
            f"a {raw}-token sequence has only {num_noise} noise tokens at noise_density={options.noise_density}"
        ]
    return check_spans(raw, options.noise_density, options.mean_noise_span_length, specials)
