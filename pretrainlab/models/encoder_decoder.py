"""Encoder-decoder (ED): T5Gemma ("Encoder-Decoder Gemma"), both stacks the decoders' Gemma2 block.

Encoder and decoder get the same block settings as the decoders (``causal_decoder.block_settings``);
the decoder adds cross-attention. Per-layer parameter names match the decoder-only model
(``model.layers.N.*`` ↔ ``model.{encoder,decoder}.layers.N.*``), so decoder→ED adaptation is a copy.
The encoder and decoder have separate token embeddings; the LM head is tied to the decoder's. The
decoder starts from ``bos`` (T5Gemma's ``decoder_start_token_id`` is ``config.decoder.bos_token_id``).
Dropout is attention dropout only, like Gemma2 (T5Gemma's residual ``dropout_rate`` stays 0).
Checkpoints load with ``AutoModelForSeq2SeqLM``::

    model = AutoModelForSeq2SeqLM.from_pretrained(path)
    logits = model(input_ids=prompt, decoder_input_ids=torch.cat([bos, answer[:, :-1]], 1)).logits
"""

from __future__ import annotations

from transformers import T5GemmaConfig, T5GemmaForConditionalGeneration, T5GemmaModuleConfig

from pretrainlab.config.schema import ModelSize
from pretrainlab.models.causal_decoder import block_settings
from pretrainlab.tokenization.specials import SpecialTokens

MODEL_CLASS = T5GemmaForConditionalGeneration


def config(
    size: ModelSize, vocab_size: int, seq_len: int, specials: SpecialTokens | None = None
) -> T5GemmaConfig:
    block = block_settings(size, vocab_size, seq_len, specials)
    return T5GemmaConfig(
        encoder=T5GemmaModuleConfig(**block),
        decoder=T5GemmaModuleConfig(**block),
        vocab_size=vocab_size,
        tie_word_embeddings=True,
        dropout_rate=0.0,
        attention_dropout=size.dropout,
    )
