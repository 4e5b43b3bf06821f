"""UL2 mixture of denoisers: each example draws one denoiser, whose mode token leads its inputs.

Worked examples at ``seq_len`` 16, so the window is 16 - 3 = 13 raw tokens ``[a b c d e f g h i j k l m]``.
Each denoiser is sized on its own and reads the first ``raw`` tokens of the window; with so few
tokens every span denoiser makes one span, which T5's segmentation puts last::

    denoiser               raw  inputs                                      targets                     total
    R (mu=3, r=0.15)       11   [[NLU] a b c d e f g h i <extra_id_0> </s>] [<extra_id_0> j k </s>]     16
    X (mu=3, r=0.5)         9   [[NLG] a b c d e <extra_id_0> </s>]         [<extra_id_0> f g h i </s>] 14
    S (r=0.25), split 9    13   [[S2S] a b c d e f g h i </s>]              [j k l m </s>]              16

**Sizing** follows UL2's reference ``ul2_objective`` (the UL2 paper's appendix, t5/seqio based): every
span denoiser gets its own raw length from T5's ``random_spans_helper`` (t5 ``preprocessors.py``), so its
example fills the model's length instead of sharing the shortest denoiser's. pretrainlab sizes on the
decoder budget (``len(inputs) + len(targets) <= seq_len``, the same raw lengths on every architecture):
a span denoiser's raw length is :func:`span_corruption.fitting_raw_length` with one extra token for the
mode token (one sentinel per span on each side, one EOS on each side). The S denoiser follows the
reference's ``prefix_lm`` + ``split_tokens_to_inputs_length``: ``seq_len - 3`` raw tokens (mode token and
two EOS). That is the longest raw length of any denoiser (a span denoiser spends at least 5 extra
tokens), so it is the window :func:`raw_length` asks the data for, and :func:`ul2` recovers ``seq_len``
from it as ``window + 3``. A denoiser that needs fewer tokens reads the window's first ``raw`` tokens;
the rest of that window is not trained on (tokens and FLOPs count only what examples hold).

**EOS** as the reference appends it (seqio's ``append_eos_after_trim`` with ``add_eos`` on inputs and
targets): after the inputs and after the targets of every denoiser, S included.

**S denoiser**: the number of prefix tokens follows UL2's ``random_prefix_noise_mask`` (t5
``preprocessors.py``): uniform on the integers ``[m, L-1]`` with ``m = clip(round((1 - 2r)(L - 1)), 1, L-1)``,
so targets average ≈ r·L (r ≤ 0.5 required). The reference's S task passes r = 0.5 (prefix uniform on
``[1, L-1]``); the default here keeps r = 0.25 (see :class:`pretrainlab.config.schema.Denoiser`).

**Mixture**: each example draws one denoiser with probability ∝ ``weight``. The default seven denoisers
and their weights are UL2's final objective (paper §3.1.2: R = (3, 0.15) ∪ (8, 0.15) with [NLU],
S = prefix LM with [S2S], X = (3, 0.5) ∪ (8, 0.5) ∪ (64, 0.15) ∪ (64, 0.5) with [NLG]; S drawn 20% of
the time as the paper's §4.5 ablation recommends). The paper fixes only the S share: splitting the other
80% equally between the R and X groups (0.2 per R, 0.1 per X denoiser) is this project's choice; the
reference ``ul2_objective`` samples its tasks uniformly unless given ``rates``. All weights are options.

**Validation** (:func:`check`): a span denoiser whose mean span ``mu`` is longer than ``seq_len`` cannot
hold one span of its mean length and is rejected, as is any denoiser left with fewer than 2 raw tokens,
more spans than sentinels or than non-noise tokens. The μ=64 X-denoisers have fewer noise tokens than μ
below seq_len ~430 (r=0.15) and ~130 (r=0.5), so T5's rule gives them one long span there (at seq_len 128:
18 and 62 noise tokens, where one length shared by all denoisers gave 14 and 46); they make several
spans where the length allows (r=0.5: 4 spans at 512, 8 at 1024). The default mixture's inputs + targets
fill 99.8% of seq_len 128 and 100% of 512 on average (81.5% for both with one shared length).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pretrainlab.config.schema import Denoiser, UL2Options
from pretrainlab.objectives.example import Example, as_batch, rows_to_examples
from pretrainlab.objectives.span_corruption import (
    check_spans,
    corrupt,
    example_lengths,
    fitting_raw_length,
    random_spans_noise_mask,
)
from pretrainlab.tokenization.specials import SpecialTokens

S_EXTRA = 3  # the S denoiser's tokens beyond its raw ones: mode token, EOS after inputs, EOS after targets


def min_prefix(length: int, r: float) -> int:
    """Fewest prefix tokens UL2's S denoiser draws for a sequence of ``length``."""
    return int(min(max(round((1 - 2 * r) * (length - 1)), 1), length - 1))


@lru_cache(maxsize=1024)
def _raw_length(seq_len: int, r: float, mu: float | None) -> int:
    if mu is None:
        raw = seq_len - S_EXTRA
        return raw if raw >= 2 else 0
    return fitting_raw_length(seq_len, r, mu, extra=1)


def denoiser_raw_length(seq_len: int, denoiser: Denoiser) -> int:
    """Raw tokens ``denoiser`` reads so that its inputs + targets fit ``seq_len`` (0 if 2 do not fit)."""
    return _raw_length(seq_len, denoiser.r, None if denoiser.prefix_lm else denoiser.mu)


def describe(denoiser: Denoiser) -> str:
    """``[NLG] mu=64, r=0.5`` / ``[S2S] prefix LM, r=0.25``: how messages name a denoiser."""
    shape = "prefix LM" if denoiser.prefix_lm else f"mu={denoiser.mu:g}"
    return f"[{denoiser.mode}] {shape}, r={denoiser.r:g}"


def denoise(
    tokens: np.ndarray, rng: np.random.Generator, denoiser: Denoiser, specials: SpecialTokens
) -> list[Example]:
    """Apply one denoiser to every row of ``tokens`` (already cut to its raw length)."""
    mode = specials.modes[denoiser.mode]
    batch, length = tokens.shape
    if denoiser.prefix_lm:
        splits = rng.integers(min_prefix(length, denoiser.r), length, size=batch)
        head, eos = np.array([mode], dtype=np.int64), np.array([specials.eos], dtype=np.int64)
        return [
            Example(np.concatenate([head, row[:k], eos]), np.concatenate([row[k:], eos]))
            for row, k in zip(tokens, splits.tolist(), strict=True)
        ]
    mask = random_spans_noise_mask(batch, length, denoiser.r, denoiser.mu, rng)
    return rows_to_examples(*corrupt(tokens, mask, specials, prepend=mode))


def ul2(
    tokens: np.ndarray, rng: np.random.Generator, options: UL2Options, specials: SpecialTokens
) -> list[Example]:
    """One example per row of the ``(batch, window)`` tokens; ``window`` is :func:`raw_length`."""
    tokens = as_batch(tokens)
    seq_len = tokens.shape[1] + S_EXTRA
    weights = np.array([d.weight for d in options.denoisers], dtype=float)
    choice = rng.choice(len(weights), size=len(tokens), p=weights / weights.sum())
    examples: list[Example | None] = [None] * len(tokens)
    for index, denoiser in enumerate(options.denoisers):
        rows = np.flatnonzero(choice == index)
        if not len(rows):
            continue
        raw = denoiser_raw_length(seq_len, denoiser)
        if raw < 2:
            raise ValueError(f"denoiser {describe(denoiser)} does not fit a window of {tokens.shape[1]}")
        for row, example in zip(
            rows.tolist(), denoise(tokens[rows, :raw], rng, denoiser, specials), strict=True
        ):
            examples[row] = example
    return examples  # type: ignore[return-value]  # every row was filled by exactly one denoiser


def _denoiser_lengths(seq_len: int, denoiser: Denoiser) -> tuple[int, int, int]:
    """(max inputs, max targets, max inputs + targets) of one denoiser, mode token and EOS included."""
    raw = denoiser_raw_length(seq_len, denoiser)
    if denoiser.prefix_lm:
        return raw + 1, raw - min_prefix(raw, denoiser.r) + 1, raw + S_EXTRA
    n_in, n_tgt = example_lengths(raw, denoiser.r, denoiser.mu)
    return n_in + 1, n_tgt, n_in + 1 + n_tgt


def raw_length(seq_len: int, options: UL2Options) -> int:
    """The window every example is cut from: ``seq_len - 3``, the most raw tokens any denoiser reads."""
    raw = seq_len - S_EXTRA
    return raw if raw >= 2 else 0


def lengths(seq_len: int, options: UL2Options) -> tuple[int, int, int]:
    """(max inputs, max targets, max inputs + targets) over the denoisers."""
    per = [_denoiser_lengths(seq_len, d) for d in options.denoisers]
    return max(p[0] for p in per), max(p[1] for p in per), max(p[2] for p in per)


def check(seq_len: int, options: UL2Options, specials: SpecialTokens) -> list[str]:
    """Reasons the mixture cannot run at ``seq_len``, each naming ``options.denoisers[i]``."""
    errors = []
    for i, d in enumerate(options.denoisers):
        where = f"options.denoisers[{i}] ({describe(d)})"
        if d.mode not in specials.modes:
            errors.append(f"{where}: the tokenizer has no [{d.mode}] mode token")
        if d.prefix_lm and d.r > 0.5:
            errors.append(f"{where}: a prefix-LM denoiser needs r <= 0.5 (UL2's rule), got {d.r}")
        if not d.prefix_lm and d.mu > seq_len:
            errors.append(
                f"{where}: mean span length {d.mu:g} is longer than pretrain.seq_len {seq_len}, so not one "
                "span of that length fits; lower mu, drop this denoiser or raise pretrain.seq_len"
            )
            continue
        raw = denoiser_raw_length(seq_len, d)
        if raw < 2:
            errors.append(f"{where}: pretrain.seq_len {seq_len} leaves fewer than 2 raw tokens for it")
        elif not d.prefix_lm:
            errors += [f"{where}: {e}" for e in check_spans(raw, d.r, d.mu, specials)]
    return errors
