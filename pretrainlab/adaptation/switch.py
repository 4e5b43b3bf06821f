"""LM-A and NC-A: continue training a decoder-family checkpoint under another mask — same weights.

The causal decoder, the non-causal decoder and the encoder are one model class with one weight layout
(``Gemma2ForCausalLM``; see :mod:`pretrainlab.models.noncausal_decoder`). What differs:

=====================  ====================================  ======================================
target arch            config                                mask at training/evaluation time
=====================  ====================================  ======================================
``causal_decoder``     ``is_causal`` and                     causal (``prefix_lengths`` 0)
                       ``use_bidirectional_attention`` unset
``noncausal_decoder``  same as the causal decoder             bidirectional over the prefix
``encoder``            ``is_causal=False``,                  bidirectional everywhere
                       ``use_bidirectional_attention=True``
=====================  ====================================  ======================================

So LM-A (ND:MLM → CD:FLM) and NC-A (CD:FLM → ND:MLM) change nothing in the checkpoint: the objective
and the per-batch mask (``pretrainlab.models.layout``) change. Only moving to or from the ``encoder``
flips config flags — and because Gemma2's attention modules read ``use_bidirectional_attention`` when
they are built, the model is rebuilt from the new config and the weights loaded into it, never patched.
Decoder → encoder-decoder is a different model: :mod:`pretrainlab.adaptation.decoder_to_encoder_decoder`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import Gemma2Config, Gemma2ForCausalLM

SAME_WEIGHT_ARCHS = ("causal_decoder", "noncausal_decoder", "encoder")


def target_config(config: Gemma2Config, target_arch: str) -> Gemma2Config:
    """A copy of ``config`` with the flags ``target_arch`` needs (see the module table)."""
    if target_arch not in SAME_WEIGHT_ARCHS:
        raise ValueError(
            f"{target_arch!r} does not share the decoder's weights; same-weight targets: "
            f"{', '.join(SAME_WEIGHT_ARCHS)} (for encoder_decoder use encoder_decoder_from_decoder)"
        )
    out = Gemma2Config.from_dict(config.to_dict())
    if target_arch == "encoder":  # exactly what pretrainlab.models.encoder.config sets
        out.use_bidirectional_attention = True
        out.is_causal = False  # read by masking_utils.create_causal_mask; saved in config.json
    else:  # exactly what pretrainlab.models.causal_decoder.config leaves: the defaults
        out.use_bidirectional_attention = None
        if hasattr(out, "is_causal"):
            del out.is_causal
    return out


def same_weights(model_dir_or_model: str | Path | Gemma2ForCausalLM, target_arch: str) -> Gemma2ForCausalLM:
    """A new fp32 ``Gemma2ForCausalLM`` for ``target_arch`` holding exactly the source's weights.

    The source is a pretrainlab decoder/encoder checkpoint directory (loaded with stock transformers,
    safetensors only) or a model in memory (not modified). The attention backend is carried over from an
    in-memory model; a loaded directory gets ``eager``.
    """
    if isinstance(model_dir_or_model, (str, Path)):
        source = Gemma2ForCausalLM.from_pretrained(
            str(model_dir_or_model), dtype=torch.float32, use_safetensors=True
        )
    elif isinstance(model_dir_or_model, Gemma2ForCausalLM):
        source = model_dir_or_model
    else:
        raise TypeError(
            f"expected a checkpoint directory or Gemma2ForCausalLM, got {type(model_dir_or_model)}"
        )
    config = target_config(source.config, target_arch)
    with torch.random.fork_rng(devices=[]):  # the throw-away initialisation must not move the global RNG
        model = Gemma2ForCausalLM(config).to(torch.float32)
    model.load_state_dict(source.state_dict(), strict=True)
    attn = source.config._attn_implementation
    model.set_attn_implementation(attn if attn else "eager")
    return model.to(next(source.parameters()).device)
