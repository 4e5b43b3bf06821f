"""Training FLOPs by the study's convention: per position ``6·N_non-embedding + 12·n_layers·d_model·T``,
plus ``6·d_model·V`` wherever the LM head is applied.

- ``6·N`` — forward (2) and backward (4) multiply-adds of every non-embedding weight (Kaplan et al.);
- ``12·L·d·T`` — attention scores and their weighted sum over ``T`` positions (PaLM's MFU formula; ``T``
  is the context length attended, the padded sequence length);
- ``6·d·V`` — the LM head (tied to the embeddings, so not in ``N``). Decoders and the encoder apply it
  at every position; the encoder-decoder only on decoder positions. At d_model 96 and V 2048 it is
  1.18 MFLOPs per position, 38% of what the two other terms count — leaving it out would hand the
  encoder-decoder, whose encoder positions skip it, up to a quarter more real compute at "equal FLOPs".

The encoder-decoder is counted stack by stack:

- encoder, per encoder token: ``6·N_enc + 12·L·d·T_enc``;
- decoder, per decoder token: ``6·(N_dec − N_cross_kv) + 12·L·d·(T_dec + T_enc) + 6·d·V`` —
  self-attention over the decoder tokens, cross-attention over the encoder tokens, the LM head;
- the cross-attention key/value projections read encoder outputs, so they cost ``6·N_cross_kv`` per
  *encoder* token.

Worked example (see ``tests/models/test_flops.py``): d=32, 2 layers, 4 heads, d_ff=64, V=128 — each
Gemma2 layer has 4·32² (attention) + 3·32·64 (MLP) + 4·32 (norms) = 10,368 parameters, so a decoder has
N = 2·10,368 + 32 = 20,768 and one token at T=10 costs 6·20,768 + 12·2·32·10 + 6·32·128
= 124,608 + 7,680 + 24,576 = 156,864 FLOPs.

Parameter counts come from closed-form formulas (:mod:`pretrainlab.models.param_count`): importing this
module, and planning a cell with it, imports neither torch nor transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pretrainlab.models.architectures import architecture
from pretrainlab.models.param_count import stack_params

if TYPE_CHECKING:
    from pretrainlab.config.schema import ModelSize
    from pretrainlab.models.architecture import ArchitectureSpec


@dataclass(frozen=True)
class Flops:
    """Training FLOPs split by term of the formula (see the module docstring)."""

    non_embedding: float  # 6·N per position
    attention: float  # 12·L·d·T per position
    lm_head: float  # 6·d·V per position the head is applied to

    @property
    def total(self) -> float:
        return self.non_embedding + self.attention + self.lm_head

    def scaled(self, factor: float) -> Flops:
        return Flops(self.non_embedding * factor, self.attention * factor, self.lm_head * factor)

    def as_dict(self) -> dict[str, float]:
        return {"non_embedding": self.non_embedding, "attention": self.attention, "lm_head": self.lm_head}


def lm_head_flops(size: ModelSize, vocab_size: int) -> float:
    """``6·d·V``: training FLOPs of the (tied) LM head at one position."""
    return 6.0 * size.d_model * vocab_size


def flops_per_token(arch: str, size: ModelSize, vocab_size: int, context_len: int) -> float:
    """FLOPs per token of a decoder-only or encoder model at sequence length ``context_len``."""
    return architecture(arch).flops_per_token(size, vocab_size, context_len)


def step_flops(
    arch: str, size: ModelSize, vocab_size: int, batch_size: int, input_len: float, target_len: float
) -> Flops:
    """:func:`flops_per_step` split into its three terms."""
    return architecture(arch).step_flops(size, vocab_size, batch_size, input_len, target_len)


def one_stack_flops_per_token(
    spec: ArchitectureSpec, size: ModelSize, vocab_size: int, context_len: int
) -> float:
    """One position of a single-stack model (decoders, the encoder): the head applies everywhere."""
    n = stack_params(spec, size, vocab_size).encoder
    return 6.0 * n + 12.0 * size.n_layers * size.d_model * context_len + lm_head_flops(size, vocab_size)


def one_stack_step_flops(
    spec: ArchitectureSpec,
    size: ModelSize,
    vocab_size: int,
    batch_size: int,
    input_len: float,
    target_len: float,
) -> Flops:
    """A single-stack model reads ``input_len + target_len`` positions per example."""
    p = stack_params(spec, size, vocab_size)
    seq = input_len + target_len
    layers_d = 12.0 * size.n_layers * size.d_model
    head = lm_head_flops(size, vocab_size)
    return Flops(6.0 * p.encoder * seq, layers_d * seq * seq, head * seq).scaled(batch_size)


def encoder_decoder_step_flops(
    spec: ArchitectureSpec,
    size: ModelSize,
    vocab_size: int,
    batch_size: int,
    input_len: float,
    target_len: float,
) -> Flops:
    """``input_len`` encoder and ``target_len`` decoder positions per example, counted stack by stack."""
    p = stack_params(spec, size, vocab_size)
    layers_d = 12.0 * size.n_layers * size.d_model
    head = lm_head_flops(size, vocab_size)
    non_embedding = input_len * 6.0 * (p.encoder + p.cross_kv) + target_len * 6.0 * (p.decoder - p.cross_kv)
    attention = layers_d * (input_len * input_len + target_len * (target_len + input_len))
    return Flops(non_embedding, attention, head * target_len).scaled(batch_size)


def flops_per_step(
    arch: str, size: ModelSize, vocab_size: int, batch_size: int, input_len: float, target_len: float
) -> float:
    """Training FLOPs of one step of ``batch_size`` examples of these (mean) lengths.

    Decoders and the encoder process ``input_len + target_len`` positions per example; the
    encoder-decoder ``input_len`` encoder and ``target_len`` decoder positions.
    """
    return step_flops(arch, size, vocab_size, batch_size, input_len, target_len).total
