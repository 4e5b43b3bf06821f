"""The model an adaptation starts from: the source checkpoint, carried into the target architecture.

=====================  =====================  =================================================
source                 target                 what happens
=====================  =====================  =================================================
CD / ND / encoder      CD / ND / encoder      same weights; only the mask (and objective) changes
                                              (LM-A: ND:MLM -> CD:FLM, NC-A: CD:FLM -> ND:MLM)
CD / ND / encoder      encoder_decoder        T5Gemma init: encoder and decoder from the decoder
encoder_decoder        encoder_decoder        same weights (another objective or corpus)
=====================  =====================  =================================================
"""

from __future__ import annotations

from pathlib import Path

from transformers import PreTrainedModel

from pretrainlab.adaptation.decoder_to_encoder_decoder import encoder_decoder_from_decoder
from pretrainlab.adaptation.switch import same_weights
from pretrainlab.models.architectures import architecture
from pretrainlab.models.load import load_pretrained


def initial_model(
    source_dir: Path, source_arch: str, target_arch: str, *, cross_attention: str, seed: int, vocab_size: int
) -> PreTrainedModel:
    """Load ``source_dir`` (checked against ``source_arch`` and the vocabulary) ready for ``target_arch``."""
    source = load_pretrained(Path(source_dir), source_arch, vocab_size)
    source_spec, target_spec = architecture(source_arch), architecture(target_arch)
    if target_spec.initialises_from_weights_of(source_spec):
        return encoder_decoder_from_decoder(source, cross_attention=cross_attention, seed=seed)
    if source_spec.is_encoder_decoder:
        return source
    return same_weights(source, target_arch)
