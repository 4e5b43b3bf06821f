"""Packing short finetuning examples into full rows, with a block-diagonal (segment) attention mask.

MTF examples are short and uneven (synthworld prompts run from ~15 to 130+ tokens, answers 2–10).
Measured on the default study's mixture (9,364 examples, vocab 2048): padding every example to
``seq_len`` leaves 53% of a decoder's positions padding at ``seq_len`` 128 (75% at 256); per-batch dynamic
padding does not help because nearly every batch holds one full-length prompt. Packed, 2.7% (2.1%).
Packing puts several examples in one row; each is a *segment* that attends only to itself.

Worked example (``seq_len`` 8, ``I`` = IGNORE, ``_`` = pad), examples ``[a b]→[c]`` and ``[d]→[e f]``::

    input_ids     [a b c d e f _ _]
    segment_ids   [1 1 1 2 2 2 0 0]          # 0 = pad
    position_ids  [0 1 2 0 1 2 0 0]          # restart per segment
    prefix_mask   [1 1 0 1 0 0 0 0]  (ND)    # all 0 for CD
    labels        [I c I e f I I]            # labels[t] = token t+1 if it is a target of the same segment

Query q sees key k iff ``segment_ids[q] == segment_ids[k]`` and (``k <= q`` or ``prefix_mask[k]``); pads
(segment 0) see earlier pads only, so no row of the mask is empty and no real token sees a pad. The
result equals running each example alone (tested), so packing changes throughput, not the model.

Decoders only: the encoder-decoder would need a per-segment cross-attention mask that T5Gemma's forward
does not take; it is left unpacked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pretrainlab.finetuning.tokenised_mixture import example_lengths
from pretrainlab.models.architectures import ARCHITECTURES, architecture
from pretrainlab.models.layout import ModelBatch
from pretrainlab.objectives.example import IGNORE, Example
from pretrainlab.tokenization.specials import SpecialTokens


def pack(lengths: Sequence[int], seq_len: int) -> list[list[int]]:
    """Greedy best-fit: indices of ``lengths`` grouped into rows whose lengths sum to at most ``seq_len``.

    Examples are taken in order; each goes to the open row with the least room that still fits it, or
    opens a new row. Pure and deterministic; every index appears exactly once, in increasing order per row.
    """
    rows: list[list[int]] = []
    rows_with_room: dict[int, list[int]] = {}  # free slots -> rows with exactly that much room
    for i, n in enumerate(lengths):
        if not 1 <= n <= seq_len:
            raise ValueError(f"example {i} has {n} tokens; packing needs 1..{seq_len}")
        row, free = None, seq_len
        for room in range(n, seq_len):
            if rows_with_room.get(room):
                row, free = rows_with_room[room].pop(), room
                break
        if row is None:
            row = len(rows)
            rows.append([])
        rows[row].append(i)
        if free - n > 0:
            rows_with_room.setdefault(free - n, []).append(row)
    return rows


class PackedRows(Sequence[list[Example]]):
    """Rows of packed examples, each built when asked for (the examples may live on disk)."""

    def __init__(self, examples: Sequence[Example], rows: list[list[int]]) -> None:
        self.examples, self.rows = examples, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, r):  # type: ignore[override]
        if isinstance(r, slice):
            return [self[i] for i in range(*r.indices(len(self)))]
        return [self.examples[i] for i in self.rows[r]]


def pack_examples(examples: Sequence[Example], seq_len: int) -> PackedRows:
    """:func:`pack` applied to decoder examples (length = inputs + targets)."""
    n_in, n_tgt = example_lengths(examples)
    return PackedRows(examples, pack((n_in + n_tgt).tolist(), seq_len))


def collate_packed(
    rows: Sequence[Sequence[Example]], arch: str, specials: SpecialTokens, seq_len: int
) -> ModelBatch:
    """Lay each row's examples end to end (see the module docstring) and pad to ``seq_len``."""
    spec = architecture(arch)
    if not spec.packable:
        packable = tuple(name for name, s in ARCHITECTURES.items() if s.packable)
        raise ValueError(f"packing supports {packable}, not {arch!r}")
    shape = (len(rows), seq_len)
    ids = np.full(shape, specials.pad, dtype=np.int64)
    segments = np.zeros(shape, dtype=np.int64)
    positions = np.zeros(shape, dtype=np.int64)
    prefix = np.zeros(shape, dtype=bool)
    is_target = np.zeros(shape, dtype=bool)
    for r, row in enumerate(rows):
        start = 0
        for s, example in enumerate(row, start=1):
            if example.aligned_labels is not None:
                raise ValueError(
                    f"{arch} predicts next tokens; examples with aligned_labels cannot be packed"
                )
            n_in, n = len(example.inputs), len(example.inputs) + len(example.targets)
            if start + n > seq_len:
                raise ValueError(f"row {r} holds {start + n} tokens, more than seq_len {seq_len}")
            ids[r, start : start + n] = np.concatenate([example.inputs, example.targets])
            segments[r, start : start + n] = s
            positions[r, start : start + n] = np.arange(n)
            is_target[r, start + n_in : start + n] = True
            if spec.bidirectional_prefix:
                prefix[r, start : start + n_in] = True
            start += n
    labels = np.where(is_target[:, 1:], ids[:, 1:], IGNORE)  # a target's predecessor is in its segment
    segment_ids = torch.from_numpy(segments)
    return ModelBatch(
        input_ids=torch.from_numpy(ids),
        labels=torch.from_numpy(labels),
        attention_mask=(segment_ids > 0).long(),
        prefix_lengths=torch.zeros(len(rows), dtype=torch.long),
        segment_ids=segment_ids,
        position_ids=torch.from_numpy(positions),
        prefix_mask=torch.from_numpy(prefix),
    )


def padding_fraction(examples: Sequence[Example], arch: str, seq_len: int, *, packed: bool) -> float:
    """Share of the positions a model processes that are padding, padding every example (or row) to
    ``seq_len`` (decoders) or to ``seq_len`` + the longest target (encoder-decoder)."""
    if not examples:
        return 0.0
    n_in, n_tgt = example_lengths(examples)
    real = int(n_in.sum() + n_tgt.sum())
    spec = architecture(arch)
    if packed and not spec.packable:
        raise ValueError(f"the {arch} architecture is not packed")
    if not packed:
        target_len = int(n_tgt.max())
        return 1.0 - real / (len(examples) * (spec.input_len(seq_len, target_len) + target_len))
    rows = len(pack((n_in + n_tgt).tolist(), seq_len)) if packed else len(examples)
    return 1.0 - real / (rows * seq_len)
