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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from pretrainlab.models.architecture import ArchitectureSpec
from pretrainlab.models.causal_decoder import block_settings
from pretrainlab.models.param_count import t5gemma_stacks

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, T5GemmaConfig

    from pretrainlab.config.schema import ModelSize
    from pretrainlab.models.flops import Flops
    from pretrainlab.models.layout import ModelBatch
    from pretrainlab.objectives.example import Example
    from pretrainlab.tokenization.specials import SpecialTokens


def config(
    size: ModelSize, vocab_size: int, seq_len: int, specials: SpecialTokens | None = None
) -> T5GemmaConfig:
    from transformers import T5GemmaConfig, T5GemmaModuleConfig

    block = block_settings(size, vocab_size, seq_len, specials)
    return T5GemmaConfig(
        encoder=T5GemmaModuleConfig(**block),
        decoder=T5GemmaModuleConfig(**block),
        vocab_size=vocab_size,
        tie_word_embeddings=True,
        dropout_rate=0.0,
        attention_dropout=size.dropout,
    )


@dataclass(frozen=True)
class EncoderDecoderSpec(ArchitectureSpec):
    """Inputs in the encoder, targets in the decoder: each side is padded and bounded on its own."""

    is_encoder_decoder: ClassVar[bool] = True

    def padded_lengths(self, max_inputs: int, max_targets: int, max_total: int) -> tuple[int, int]:
        return max_inputs, max_targets

    def input_len(self, seq_len: int, target_len: int) -> int:
        return seq_len

    def side_lengths(self, inputs: float, targets: float) -> tuple[float, float]:
        return inputs, targets

    def collate(
        self, examples: Sequence[Example], specials: SpecialTokens, input_len: int, target_len: int
    ) -> ModelBatch:
        from pretrainlab.models.layout import collate_encoder_decoder

        return collate_encoder_decoder(examples, specials, input_len, target_len)

    def forward_logits(self, model: PreTrainedModel, batch: ModelBatch) -> torch.Tensor:
        from pretrainlab.models.layout import forward_encoder_decoder

        return forward_encoder_decoder(model, batch)

    def step_flops(
        self, size: ModelSize, vocab_size: int, batch_size: int, input_len: float, target_len: float
    ) -> Flops:
        from pretrainlab.models.flops import encoder_decoder_step_flops

        return encoder_decoder_step_flops(self, size, vocab_size, batch_size, input_len, target_len)

    def flops_per_token(self, size: ModelSize, vocab_size: int, context_len: int) -> float:
        raise ValueError("the encoder-decoder has no single per-token cost: use flops_per_step")


SPEC = EncoderDecoderSpec(
    name="encoder_decoder",
    short="ED",
    build_config=config,
    model_class_name="T5GemmaForConditionalGeneration",
    auto_class_name="AutoModelForSeq2SeqLM",
    model_type="t5gemma",
    count_stacks=t5gemma_stacks,
    bidirectional_prefix=True,  # the encoder reads the inputs both ways
    initialised_from=("gemma2",),  # decoder -> encoder-decoder adaptation
)
