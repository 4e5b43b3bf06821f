"""Causal decoder (CD): a Gemma2 stack, causal attention everywhere.

The one block design every architecture shares (so comparisons are fair): Gemma2 layers (RMSNorm
before and after attention and MLP, GeGLU MLP, RoPE, GQA when ``n_kv_heads`` is set), with this study's
settings — no logit soft-capping, no sliding window (every layer full attention), tied embeddings,
attention scaled by ``head_dim**-0.5``. Checkpoints load with ``AutoModelForCausalLM``.

Gemma2 always builds a sliding-window mask alongside the full one even when no layer uses it, and that
raises when ``sliding_window`` is None, so it is set to ``seq_len`` (a no-op window) instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pretrainlab.models.architecture import ArchitectureSpec
from pretrainlab.models.param_count import gemma2_stack

if TYPE_CHECKING:
    from transformers import Gemma2Config

    from pretrainlab.config.schema import ModelSize
    from pretrainlab.tokenization.specials import SpecialTokens


def block_settings(size: ModelSize, vocab_size: int, seq_len: int, specials: SpecialTokens | None) -> dict:
    """Config keys shared by Gemma2Config and T5GemmaModuleConfig (the common block design)."""
    return dict(
        vocab_size=vocab_size,
        hidden_size=size.d_model,
        intermediate_size=size.d_ff,
        num_hidden_layers=size.n_layers,
        num_attention_heads=size.n_heads,
        num_key_value_heads=size.n_kv_heads or size.n_heads,
        head_dim=size.head_dim,
        query_pre_attn_scalar=size.head_dim,
        hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=seq_len,
        attn_logit_softcapping=None,
        final_logit_softcapping=None,
        sliding_window=seq_len,
        layer_types=["full_attention"] * size.n_layers,
        attention_dropout=size.dropout,
        tie_word_embeddings=True,
        pad_token_id=specials.pad if specials else 0,
        bos_token_id=specials.bos if specials else 1,
        eos_token_id=specials.eos if specials else 2,
    )


def config(
    size: ModelSize, vocab_size: int, seq_len: int, specials: SpecialTokens | None = None
) -> Gemma2Config:
    from transformers import Gemma2Config

    return Gemma2Config(**block_settings(size, vocab_size, seq_len, specials))


SPEC = ArchitectureSpec(
    name="causal_decoder",
    short="CD",
    build_config=config,
    model_class_name="Gemma2ForCausalLM",
    auto_class_name="AutoModelForCausalLM",
    model_type="gemma2",
    count_stacks=gemma2_stack,
    is_decoder=True,
    packable=True,
)
