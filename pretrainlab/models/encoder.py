"""Encoder (BERT-style, for ``mlm``): the Gemma2 stack with fully bidirectional attention.

Same weights layout as the decoders (``Gemma2ForCausalLM``; its LM head predicts the token *at* each
position here, not the next one). The config stores ``is_causal=False``, which transformers' mask
builder (``create_causal_mask``) honours by building a bidirectional mask, and
``use_bidirectional_attention=True``, which turns off the attention modules' ``is_causal`` flag for
SDPA/flash kernels — so the checkpoint is an encoder in stock transformers with no extra code::

    model = AutoModelForCausalLM.from_pretrained(path)
    logits = model(ids, attention_mask=(ids != pad_id).long()).logits   # logits[:, t] predicts ids[:, t]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pretrainlab.models.architecture import ArchitectureSpec
from pretrainlab.models.causal_decoder import block_settings
from pretrainlab.models.param_count import gemma2_stack

if TYPE_CHECKING:
    from transformers import Gemma2Config

    from pretrainlab.config.schema import ModelSize
    from pretrainlab.tokenization.specials import SpecialTokens


def config(
    size: ModelSize, vocab_size: int, seq_len: int, specials: SpecialTokens | None = None
) -> Gemma2Config:
    from transformers import Gemma2Config

    cfg = Gemma2Config(
        **block_settings(size, vocab_size, seq_len, specials), use_bidirectional_attention=True
    )
    cfg.is_causal = False  # read by masking_utils.create_causal_mask and saved in config.json
    return cfg


SPEC = ArchitectureSpec(
    name="encoder",
    short="E",
    build_config=config,
    model_class_name="Gemma2ForCausalLM",
    auto_class_name="AutoModelForCausalLM",
    model_type="gemma2",
    count_stacks=gemma2_stack,
    bidirectional_prefix=True,  # every position is prefix
    aligned_labels=True,
)
