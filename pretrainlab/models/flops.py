"""Training FLOPs by the study's convention: per token ``6·N_non-embedding + 12·n_layers·d_model·T``.

``T`` is the context length attended (the padded sequence length, as in PaLM's MFU formula). The
encoder-decoder is counted stack by stack:

- encoder, per encoder token: ``6·N_enc + 12·L·d·T_enc``;
- decoder, per decoder token: ``6·(N_dec − N_cross_kv) + 12·L·d·(T_dec + T_enc)`` — self-attention over
  the decoder tokens plus cross-attention over the encoder tokens;
- the cross-attention key/value projections read encoder outputs, so they cost ``6·N_cross_kv`` per
  *encoder* token.

Worked example (see ``tests/models/test_flops.py``): d=32, 2 layers, 4 heads, d_ff=64 — each Gemma2
layer has 4·32² (attention) + 3·32·64 (MLP) + 4·32 (norms) = 10,368 parameters, so a decoder has
N = 2·10,368 + 32 = 20,768 and one token at T=10 costs 6·20,768 + 12·2·32·10 = 132,288 FLOPs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pretrainlab.config.schema import ModelSize
from pretrainlab.models.build import meta_model


@dataclass(frozen=True)
class StackParams:
    """Non-embedding parameters of the stacks, as the FLOPs formula needs them."""

    encoder: int  # ED encoder, or the whole decoder-only/encoder model
    decoder: int = 0  # ED decoder, cross-attention included
    cross_kv: int = 0  # ED decoder cross-attention key/value projections


def stack_params(arch: str, size: ModelSize, vocab_size: int) -> StackParams:
    model = meta_model(arch, size, vocab_size)
    counts = {"encoder": 0, "decoder": 0, "cross_kv": 0}
    for name, p in model.named_parameters():
        if "embed_tokens" in name:
            continue
        stack = "decoder" if arch == "encoder_decoder" and ".decoder." in f".{name}" else "encoder"
        counts[stack] += p.numel()
        if "cross_attn.k_proj" in name or "cross_attn.v_proj" in name:
            counts["cross_kv"] += p.numel()
    return StackParams(**counts)


def flops_per_token(arch: str, size: ModelSize, vocab_size: int, context_len: int) -> float:
    """FLOPs per token of a decoder-only or encoder model at sequence length ``context_len``."""
    if arch == "encoder_decoder":
        raise ValueError("the encoder-decoder has no single per-token cost: use flops_per_step")
    n = stack_params(arch, size, vocab_size).encoder
    return 6.0 * n + 12.0 * size.n_layers * size.d_model * context_len


def flops_per_step(
    arch: str, size: ModelSize, vocab_size: int, batch_size: int, input_len: int, target_len: int
) -> float:
    """Training FLOPs of one step of ``batch_size`` padded examples (the lengths ``collate`` pads to).

    Decoders and the encoder process ``input_len + target_len`` positions per example; the
    encoder-decoder ``input_len`` encoder and ``target_len`` decoder positions.
    """
    layers_d = 12.0 * size.n_layers * size.d_model
    if arch != "encoder_decoder":
        seq = input_len + target_len
        return batch_size * seq * flops_per_token(arch, size, vocab_size, seq)
    p = stack_params(arch, size, vocab_size)
    encoder = input_len * (6.0 * (p.encoder + p.cross_kv) + layers_d * input_len)
    decoder = target_len * (6.0 * (p.decoder - p.cross_kv) + layers_d * (target_len + input_len))
    return batch_size * (encoder + decoder)
