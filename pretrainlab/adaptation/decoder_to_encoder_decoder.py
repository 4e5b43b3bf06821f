"""Decoder → encoder-decoder adaptation (T5Gemma): both stacks start from one decoder-only checkpoint.

What the Encoder-Decoder Gemma paper does, with this study's block design: the encoder and the decoder
of a :class:`~transformers.T5GemmaForConditionalGeneration` each receive a copy of the decoder-only
model's token embeddings, every layer's self-attention, MLP and norms, and its final norm. The encoder
attends bidirectionally (T5Gemma's encoder always does; nothing to flip), the decoder causally. The
decoder's cross-attention, which the decoder-only model lacks, is

- ``"copy"``: the same layer's self-attention projections and norms (balanced sizes, as in the paper);
- ``"random"``: T5Gemma's own initialisation drawn from ``seed`` — to be trained first with everything
  else frozen for K steps (:mod:`pretrainlab.adaptation.freeze`).

Gemma2 and T5Gemma name one layer's tensors alike except the attention norms::

    model.layers.N.input_layernorm            -> model.{encoder,decoder}.layers.N.pre_self_attn_layernorm
    model.layers.N.post_attention_layernorm   -> model.{encoder,decoder}.layers.N.post_self_attn_layernorm
    model.layers.N.<anything else>            -> model.{encoder,decoder}.layers.N.<same>
    model.embed_tokens / model.norm           -> model.{encoder,decoder}.embed_tokens / .norm
    (copy) self_attn.* / input_layernorm / post_attention_layernorm
                                              -> decoder.layers.N.cross_attn.* / pre_ / post_cross_attn_layernorm

The encoder and decoder embeddings are separate tensors (as :mod:`pretrainlab.models.encoder_decoder`
builds them) and the LM head stays tied to the decoder's. Cross-attention has no RoPE, so a copied
self-attention is a starting point, not an equivalent function.
"""

from __future__ import annotations

from typing import Literal

import torch
from transformers import Gemma2Config, Gemma2ForCausalLM, T5GemmaConfig, T5GemmaForConditionalGeneration

from pretrainlab.config.schema import ModelSize
from pretrainlab.models import encoder_decoder

CrossAttentionInit = Literal["copy", "random"]
CROSS_ATTENTION_INITS = ("copy", "random")

# Gemma2 layer tensor -> T5Gemma layer tensor, where the names differ.
_RENAMED = {
    "input_layernorm.": "pre_self_attn_layernorm.",
    "post_attention_layernorm.": "post_self_attn_layernorm.",
}
# T5Gemma cross-attention tensor prefix -> the self-attention (Gemma2 naming) it is copied from.
_CROSS_FROM_SELF = {
    "cross_attn.": "self_attn.",
    "pre_cross_attn_layernorm.": "input_layernorm.",
    "post_cross_attn_layernorm.": "post_attention_layernorm.",
}


def is_cross_attention(name: str) -> bool:
    """Whether parameter ``name`` of a T5Gemma model belongs to cross-attention (projections or norms)."""
    return ".cross_attn." in name or "_cross_attn_layernorm." in name


def model_size_of(config: Gemma2Config) -> ModelSize:
    """The named size a pretrainlab Gemma2 config was built from (inverse of ``block_settings``)."""
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    return ModelSize(
        d_model=config.hidden_size,
        n_layers=config.num_hidden_layers,
        n_heads=heads,
        d_ff=config.intermediate_size,
        n_kv_heads=None if kv == heads else kv,
        dropout=config.attention_dropout,
    )


def encoder_decoder_config(config: Gemma2Config) -> T5GemmaConfig:
    """The T5Gemma config ``build_model("encoder_decoder", ...)`` makes for the decoder's size and ids."""
    if config.head_dim * config.num_attention_heads != config.hidden_size:
        raise ValueError(
            f"head_dim {config.head_dim} x {config.num_attention_heads} heads != hidden_size "
            f"{config.hidden_size}: not a pretrainlab block, cannot rebuild it as an encoder-decoder"
        )
    out = encoder_decoder.config(
        model_size_of(config), config.vocab_size, config.max_position_embeddings, specials=None
    )
    for stack in (out.encoder, out.decoder):
        stack.pad_token_id, stack.bos_token_id, stack.eos_token_id = (
            config.pad_token_id,
            config.bos_token_id,
            config.eos_token_id,
        )
    return out


def _source_name(target: str) -> str | None:
    """The Gemma2 tensor a T5Gemma tensor is initialised from (copy mode), or None if none is."""
    stack_prefixes = ("model.encoder.", "model.decoder.")
    if target.startswith("lm_head."):
        return None  # tied to the decoder embeddings
    prefix = next((p for p in stack_prefixes if target.startswith(p)), None)
    if prefix is None:
        return None
    rest = target[len(prefix) :]
    if not rest.startswith("layers."):
        return "model." + rest  # embed_tokens, norm
    _, index, tail = rest.split(".", 2)
    for cross, self_name in _CROSS_FROM_SELF.items():
        if tail.startswith(cross):
            tail = self_name + tail[len(cross) :]
            break
    else:
        for old, new in _RENAMED.items():
            if tail.startswith(new):
                tail = old + tail[len(new) :]
                break
    return f"model.layers.{index}.{tail}"


def source_names(model: T5GemmaForConditionalGeneration) -> dict[str, str]:
    """T5Gemma parameter name -> the decoder-only parameter it is copied from (copy mode: all of them)."""
    out = {}
    for name, _ in model.named_parameters():
        source = _source_name(name)
        if source is not None:
            out[name] = source
    return out


def encoder_decoder_from_decoder(
    decoder: Gemma2ForCausalLM, *, cross_attention: CrossAttentionInit, seed: int
) -> T5GemmaForConditionalGeneration:
    """A new fp32 T5Gemma whose encoder and decoder are copies of ``decoder`` (which is not modified).

    ``cross_attention="random"`` draws the cross-attention tensors from T5Gemma's initialisation under
    ``seed`` (the global torch RNG is left as it was); ``"copy"`` copies them from self-attention.
    The attention backend (eager or pretrainlab's SDPA) is carried over.
    """
    if cross_attention not in CROSS_ATTENTION_INITS:
        raise ValueError(f"cross_attention must be one of {CROSS_ATTENTION_INITS}, got {cross_attention!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = T5GemmaForConditionalGeneration(encoder_decoder_config(decoder.config)).to(torch.float32)
    source = decoder.state_dict()
    with torch.no_grad():
        for name, param in model.named_parameters():
            origin = _source_name(name)
            if origin is None or (cross_attention == "random" and is_cross_attention(name)):
                continue
            if origin not in source:
                raise KeyError(f"{name}: the decoder has no tensor {origin}")
            if source[origin].shape != param.shape:
                raise ValueError(
                    f"{name}: shape {tuple(param.shape)} != {origin} {tuple(source[origin].shape)}"
                )
            param.copy_(source[origin].to(device=param.device, dtype=param.dtype))
    attn = decoder.config._attn_implementation
    model.set_attn_implementation(attn if attn else "eager")
    return model.to(next(decoder.parameters()).device)
