"""Build any architecture from a named size: seeded, fp32, with an attention backend whose masks are exact.

Attention backends (``attn_implementation``):

- ``"eager"`` (default): transformers' reference attention. Exact with the additive float masks
  :mod:`pretrainlab.models.layout` passes (a 4-D *boolean* mask would be added as 0/1 and leak).
- ``"sdpa"``: torch's ``scaled_dot_product_attention``, the fast path on GPU. Gemma2/T5Gemma refuse the
  built-in ``"sdpa"`` name only because of logit soft-capping, which this study turns off, so
  :func:`register_sdpa` registers transformers' own SDPA function and SDPA mask builder under
  ``"pretrainlab_scaled_dot_product"``. The backend is not saved in ``config.json``: stock loading picks ``eager``.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface, PreTrainedConfig, PreTrainedModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from pretrainlab.config.schema import ModelSize
from pretrainlab.models.architectures import architecture
from pretrainlab.tokenization.specials import SpecialTokens

SDPA = "pretrainlab_scaled_dot_product"  # a name containing "sdpa" would trip transformers' refusal
ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa")


def register_sdpa() -> str:
    """Register torch SDPA (and its mask builder) under :data:`SDPA`; idempotent. Returns the name."""
    AttentionInterface.register(SDPA, sdpa_attention_forward)
    AttentionMaskInterface.register(SDPA, sdpa_mask)
    return SDPA


def model_config(
    arch: str, size: ModelSize, vocab_size: int, *, seq_len: int, specials: SpecialTokens | None = None
) -> PreTrainedConfig:
    """The transformers config ``build_model`` uses (special ids default to 0/1/2 without ``specials``)."""
    return architecture(arch).config(size, vocab_size, seq_len, specials)


def build_model(
    arch: str,
    size: ModelSize,
    specials: SpecialTokens,
    *,
    seq_len: int,
    seed: int,
    attn_implementation: str = "eager",
) -> PreTrainedModel:
    """A freshly initialised fp32 model on CPU; the same ``seed`` gives the same weights.

    The global torch RNG is left as it was (initialisation draws from a forked generator).
    """
    if attn_implementation not in ATTENTION_IMPLEMENTATIONS:
        raise ValueError(
            f"attn_implementation must be one of {ATTENTION_IMPLEMENTATIONS}, got {attn_implementation!r}"
        )
    spec = architecture(arch)
    config = spec.config(size, specials.vocab_size, seq_len, specials)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = spec.model_class(config).to(torch.float32)
    model.set_attn_implementation(register_sdpa() if attn_implementation == "sdpa" else "eager")
    return model
