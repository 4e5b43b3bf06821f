"""Model builders (one per architecture), masks, the feature converter and FLOPs accounting."""

from pretrainlab.models.build import ARCHITECTURES, build_model, count_parameters, model_config, register_sdpa
from pretrainlab.models.flops import flops_per_step, flops_per_token
from pretrainlab.models.layout import ModelBatch, collate, forward_logits, loss, token_log_probs
from pretrainlab.models.masks import prefix_lm_attention_mask

__all__ = [
    "ARCHITECTURES",
    "ModelBatch",
    "build_model",
    "collate",
    "count_parameters",
    "flops_per_step",
    "flops_per_token",
    "forward_logits",
    "loss",
    "model_config",
    "prefix_lm_attention_mask",
    "register_sdpa",
    "token_log_probs",
]
