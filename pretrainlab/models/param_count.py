"""Parameter counts by closed-form formula, so ``pretrainlab validate`` needs no torch to plan a cell.

Every shipped architecture is built from the Gemma2 block (``causal_decoder.block_settings``); with
``d`` = d_model, ``H`` heads of ``h = d/H`` dims, ``K`` key/value heads, ``f`` = d_ff and ``V`` tokens:

- attention: ``q`` and ``o`` are ``d·H·h = d²`` each, ``k`` and ``v`` are ``d·K·h`` each, no biases;
- MLP (GeGLU): gate, up and down are ``d·f`` each;
- norms: four RMSNorm weights of ``d`` per layer (before and after attention and MLP), one final;
- token embeddings ``V·d`` (the LM head is tied to them).

The encoder-decoder (T5Gemma) has two such stacks and two embeddings; each decoder layer adds a
cross-attention (``q``, ``k``, ``v``, ``o`` as above) and its two norms. ``tests/models/test_param_count.py``
checks every formula against ``sum(p.numel())`` of the built model. An architecture without a formula
(``ArchitectureSpec.count_stacks`` is None) is counted on the ``meta`` device, which imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pretrainlab.config.schema import ModelSize
    from pretrainlab.models.architecture import ArchitectureSpec


@dataclass(frozen=True)
class StackParams:
    """Parameters of a model by part, as the FLOPs formula needs them."""

    encoder: int  # ED encoder, or the whole decoder-only/encoder model, embeddings excluded
    decoder: int = 0  # ED decoder, cross-attention included, embeddings excluded
    cross_kv: int = 0  # ED decoder cross-attention key/value projections
    embedding: int = 0  # token embeddings (the tied LM head shares them)

    @property
    def non_embedding(self) -> int:
        return self.encoder + self.decoder

    @property
    def total(self) -> int:
        return self.non_embedding + self.embedding


def _attention(size: ModelSize) -> int:
    kv_heads = size.n_kv_heads or size.n_heads
    return 2 * size.d_model * size.d_model + 2 * size.d_model * kv_heads * size.head_dim


def _key_value(size: ModelSize) -> int:
    return 2 * size.d_model * (size.n_kv_heads or size.n_heads) * size.head_dim


def _gemma2_layer(size: ModelSize) -> int:
    return _attention(size) + 3 * size.d_model * size.d_ff + 4 * size.d_model


def gemma2_stack(size: ModelSize, vocab_size: int) -> StackParams:
    """One Gemma2 stack (the decoders, the encoder): ``L`` layers, a final norm, tied embeddings."""
    layers = size.n_layers * _gemma2_layer(size) + size.d_model
    return StackParams(encoder=layers, embedding=vocab_size * size.d_model)


def t5gemma_stacks(size: ModelSize, vocab_size: int) -> StackParams:
    """T5Gemma: a Gemma2 encoder, a decoder whose layers add cross-attention and its two norms, and
    separate encoder and decoder embeddings (the LM head tied to the decoder's)."""
    encoder = gemma2_stack(size, vocab_size).encoder
    cross = _attention(size) + 2 * size.d_model
    return StackParams(
        encoder=encoder,
        decoder=encoder + size.n_layers * cross,
        cross_kv=size.n_layers * _key_value(size),
        embedding=2 * vocab_size * size.d_model,
    )


def meta_stacks(spec: ArchitectureSpec, size: ModelSize, vocab_size: int) -> StackParams:
    """Counted on the built model on the ``meta`` device (shapes only; imports torch and transformers)."""
    import torch

    with torch.device("meta"):
        model = spec.model_class(spec.config(size, vocab_size, seq_len=1))
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    counts = {"encoder": 0, "decoder": 0, "cross_kv": 0, "embedding": 0}
    for name, p in model.named_parameters():  # tied weights are yielded once
        if id(p) in embeddings:
            counts["embedding"] += p.numel()
            continue
        stack = "decoder" if spec.is_encoder_decoder and ".decoder." in f".{name}" else "encoder"
        counts[stack] += p.numel()
        if "cross_attn.k_proj" in name or "cross_attn.v_proj" in name:
            counts["cross_kv"] += p.numel()
    return StackParams(**counts)


def stack_params(spec: ArchitectureSpec, size: ModelSize, vocab_size: int) -> StackParams:
    """The spec's closed-form counts, or the ``meta`` model's when it has no formula."""
    if spec.count_stacks is not None:
        return spec.count_stacks(size, vocab_size)
    return meta_stacks(spec, size, vocab_size)


def count_parameters(arch: str, size: ModelSize, vocab_size: int) -> tuple[int, int]:
    """(total, non-embedding) parameters of ``arch`` at ``size``; tied weights count once."""
    from pretrainlab.models.architectures import architecture

    counts = stack_params(architecture(arch), size, vocab_size)
    return counts.total, counts.non_embedding
