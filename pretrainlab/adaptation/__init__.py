"""Adaptation: reuse a pretrained checkpoint under another architecture or objective.

- :mod:`.switch` — LM-A / NC-A: decoder-family checkpoints keep their weights, only the mask changes.
- :mod:`.decoder_to_encoder_decoder` — T5Gemma: encoder and decoder initialised from a decoder-only model.
- :mod:`.freeze` — train only a subset (the random cross-attention warm-up) with the rest bit-identical.

Continued pretraining needs no code here: it is pretraining on another token stream from a checkpoint.
"""

from pretrainlab.adaptation.decoder_to_encoder_decoder import (
    CROSS_ATTENTION_INITS,
    encoder_decoder_from_decoder,
    is_cross_attention,
)
from pretrainlab.adaptation.freeze import trainable_only, trainable_parameters
from pretrainlab.adaptation.switch import SAME_WEIGHT_ARCHS, same_weights

__all__ = [
    "CROSS_ATTENTION_INITS",
    "SAME_WEIGHT_ARCHS",
    "encoder_decoder_from_decoder",
    "is_cross_attention",
    "same_weights",
    "trainable_only",
    "trainable_parameters",
]
