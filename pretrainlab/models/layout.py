"""Feature converter: objective :class:`Example` s → padded model tensors, and logits aligned with labels.

Worked example (``I`` = IGNORE, ``_`` = pad, bos = start token), one example
``inputs [a b]``, ``targets [c d]``, ``input_len=3``, ``target_len=2``:

causal / non-causal decoder (one sequence ``inputs ⊕ targets`` padded to 3 + 2 = 5)::

    input_ids       [a b c d _]
    attention_mask  [1 1 1 1 0]
    prefix_lengths  0 (CD) or 2 (ND: a, b attend to each other)
    labels          [I c d I]        # logits[:, t] predicts input_ids[:, t+1]; loss only on targets

encoder-decoder::

    input_ids           [a b _]      attention_mask          [1 1 0]
    decoder_input_ids   [bos c]      decoder_attention_mask  [1 1]
    labels              [c d]

encoder (BERT mlm; ``aligned_labels`` already hold the loss positions)::

    input_ids [a <mask> c _]   labels [I b I I]   prefix_lengths 3 (all real tokens)

Rank classification uses the same path: ``Example(inputs=prompt, targets=choice)`` and the row sum of
:func:`token_log_probs` is log p(choice | prompt) on every architecture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from pretrainlab.models.architecture import ArchitectureSpec
from pretrainlab.models.architectures import architecture
from pretrainlab.models.masks import packed_attention_mask, prefix_lm_attention_mask
from pretrainlab.objectives.example import IGNORE, Example
from pretrainlab.tokenization.specials import SpecialTokens


@dataclass
class ModelBatch:
    """Padded tensors for one forward pass (shapes in the module docstring)."""

    input_ids: torch.Tensor  # [B, T] decoders: inputs ⊕ targets; ED: encoder inputs
    labels: torch.Tensor  # [B, T_out] aligned with forward_logits, IGNORE where no loss
    attention_mask: torch.Tensor  # [B, T] 1 = real token
    prefix_lengths: torch.Tensor  # [B] positions attended bidirectionally
    decoder_input_ids: torch.Tensor | None = None  # ED only: [start] + targets[:-1]
    decoder_attention_mask: torch.Tensor | None = None
    # Packed decoder rows (pretrainlab.finetuning.packing.collate_packed); None when not packed.
    segment_ids: torch.Tensor | None = None  # [B, T] 1.. per example in its row, 0 = pad
    position_ids: torch.Tensor | None = None  # [B, T] restart at 0 in every segment
    prefix_mask: torch.Tensor | None = None  # [B, T] bool: attended bidirectionally within its segment

    def to(self, device: torch.device | str) -> ModelBatch:
        moved = {k: v.to(device) for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        return replace(self, **moved)

    @property
    def num_tokens(self) -> int:
        """Positions processed (encoder + decoder), pads included."""
        n = self.input_ids.numel()
        return n + (self.decoder_input_ids.numel() if self.decoder_input_ids is not None else 0)

    @property
    def num_real_tokens(self) -> int:
        """Tokens that carry data (encoder + decoder), pads excluded: what budgets count."""
        n = int(self.attention_mask.sum())
        return n + (int(self.decoder_attention_mask.sum()) if self.decoder_attention_mask is not None else 0)


def _pad(rows: Sequence[np.ndarray], length: int, value: int) -> torch.Tensor:
    out = np.full((len(rows), length), value, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return torch.from_numpy(out)


def _lengths(rows: Sequence[np.ndarray]) -> np.ndarray:
    return np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))


def collate(
    examples: Sequence[Example], arch: str, specials: SpecialTokens, input_len: int, target_len: int
) -> ModelBatch:
    """Pad ``examples`` to static lengths: decoders and the encoder to ``input_len + target_len``
    (only the sum bounds ``len(inputs) + len(targets)``), the encoder-decoder to each separately."""
    return architecture(arch).collate(examples, specials, input_len, target_len)


def forward_logits(model: PreTrainedModel, arch: str, batch: ModelBatch) -> torch.Tensor:
    """Logits aligned with ``batch.labels`` ([B, T_out, vocab]), with each architecture's exact mask."""
    return architecture(arch).forward_logits(model, batch)


def collate_encoder_decoder(
    examples: Sequence[Example], specials: SpecialTokens, input_len: int, target_len: int
) -> ModelBatch:
    """Inputs padded to ``input_len`` for the encoder; ``[bos] + targets[:-1]`` to ``target_len`` for the decoder."""
    inputs = [e.inputs for e in examples]
    targets = [e.targets for e in examples]
    n_in, n_tgt = _lengths(inputs), _lengths(targets)
    if n_in.max(initial=0) > input_len or n_tgt.max(initial=0) > target_len:
        raise ValueError(
            f"example longer than the padded lengths: inputs {n_in.max()} > {input_len} "
            f"or targets {n_tgt.max()} > {target_len}"
        )
    starts = [np.concatenate([[specials.bos], t[:-1]]) if len(t) else t for t in targets]
    return ModelBatch(
        input_ids=_pad(inputs, input_len, specials.pad),
        labels=_pad(targets, target_len, IGNORE),
        attention_mask=_pad([np.ones(n) for n in n_in], input_len, 0),
        prefix_lengths=torch.from_numpy(n_in),
        decoder_input_ids=_pad(starts, target_len, specials.pad),
        decoder_attention_mask=_pad([np.ones(n) for n in n_tgt], target_len, 0),
    )


def collate_one_sequence(
    spec: ArchitectureSpec,
    examples: Sequence[Example],
    specials: SpecialTokens,
    input_len: int,
    target_len: int,
) -> ModelBatch:
    """``inputs ⊕ targets`` padded to ``input_len + target_len``; labels shifted for next-token
    prediction, or the examples' ``aligned_labels`` when ``spec.aligned_labels``."""
    inputs = [e.inputs for e in examples]
    targets = [e.targets for e in examples]
    n_in, n_tgt = _lengths(inputs), _lengths(targets)
    total = input_len + target_len
    if (n_in + n_tgt).max(initial=0) > total:
        raise ValueError(f"example of {(n_in + n_tgt).max()} tokens is longer than the padded length {total}")
    sequences = [np.concatenate([i, t]) for i, t in zip(inputs, targets, strict=True)]
    input_ids = _pad(sequences, total, specials.pad)
    attention_mask = _pad([np.ones(len(s)) for s in sequences], total, 0)
    if spec.aligned_labels:
        if any(e.aligned_labels is None for e in examples):
            raise ValueError(
                f"the {spec.name} architecture needs examples with aligned_labels (the mlm objective)"
            )
        labels = _pad([e.aligned_labels for e in examples], total, IGNORE)  # type: ignore[misc]
        return ModelBatch(input_ids, labels, attention_mask, torch.from_numpy(n_in + n_tgt))
    if any(e.aligned_labels is not None for e in examples):
        raise ValueError(
            f"{spec.name} predicts next tokens; examples with aligned_labels (mlm) need the encoder"
        )
    # labels[t] = token t+1 when t+1 is a target position
    positions = torch.arange(1, total)[None, :]
    is_target = (positions >= torch.from_numpy(n_in)[:, None]) & (
        positions < torch.from_numpy(n_in + n_tgt)[:, None]
    )
    labels = torch.where(is_target, input_ids[:, 1:], IGNORE)
    prefix = (
        torch.from_numpy(n_in) if spec.bidirectional_prefix else torch.zeros(len(examples), dtype=torch.long)
    )
    return ModelBatch(input_ids, labels, attention_mask, prefix)


def forward_encoder_decoder(model: PreTrainedModel, batch: ModelBatch) -> torch.Tensor:
    """The decoder's logits ([B, target_len, vocab]), already aligned with the labels."""
    return model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        decoder_input_ids=batch.decoder_input_ids,
        decoder_attention_mask=batch.decoder_attention_mask,
        use_cache=False,
    ).logits


def forward_one_sequence(spec: ArchitectureSpec, model: PreTrainedModel, batch: ModelBatch) -> torch.Tensor:
    """One stack under the prefix-LM (or packed-segment) mask; next-token logits lose their last position."""
    dtype = next(model.parameters()).dtype
    if batch.segment_ids is not None:  # packed rows: each example attends only within its segment
        assert batch.prefix_mask is not None and batch.position_ids is not None
        mask = packed_attention_mask(batch.segment_ids, batch.prefix_mask, dtype)
        out = model(
            input_ids=batch.input_ids, attention_mask=mask, position_ids=batch.position_ids, use_cache=False
        )
        return out.logits[:, :-1]
    mask = prefix_lm_attention_mask(batch.prefix_lengths, batch.input_ids.shape[1], dtype)
    logits = model(input_ids=batch.input_ids, attention_mask=mask, use_cache=False).logits
    return logits if spec.aligned_labels else logits[:, :-1]


def token_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[B, T_out] log p(label) at each position (float32), 0 where the label is IGNORE."""
    keep = labels != IGNORE
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, torch.where(keep, labels, 0).unsqueeze(-1)).squeeze(-1)
    return torch.where(keep, picked, 0.0)


def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the non-ignored labels."""
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
