"""Non-causal (prefix) decoder (ND): the causal decoder's model, attention bidirectional over the prefix.

The weights and config are exactly the causal decoder's (``Gemma2ForCausalLM``), so CD and ND checkpoints
are interchangeable (the LM-A / NC-A adaptations are a change of mask). The difference lives only in
the 4-D mask :func:`pretrainlab.models.masks.prefix_lm_attention_mask` builds per batch: position q sees
key k iff ``k <= q`` or ``k < prefix_length`` (see that module for stock-transformers usage).
"""

from __future__ import annotations

from dataclasses import replace

from pretrainlab.models import causal_decoder

SPEC = replace(causal_decoder.SPEC, name="noncausal_decoder", short="ND", bidirectional_prefix=True)
