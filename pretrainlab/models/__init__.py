"""Model builders (one spec per architecture), masks, the feature converter and FLOPs accounting.

Names are imported on first use, so ``pretrainlab.models.architectures`` (the specs) loads without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ARCHITECTURES": "pretrainlab.models.architectures",
    "ArchitectureSpec": "pretrainlab.models.architecture",
    "architecture": "pretrainlab.models.architectures",
    "ModelBatch": "pretrainlab.models.layout",
    "build_model": "pretrainlab.models.build",
    "collate": "pretrainlab.models.layout",
    "count_parameters": "pretrainlab.models.param_count",
    "flops_per_step": "pretrainlab.models.flops",
    "flops_per_token": "pretrainlab.models.flops",
    "forward_logits": "pretrainlab.models.layout",
    "loss": "pretrainlab.models.layout",
    "model_config": "pretrainlab.models.build",
    "prefix_lm_attention_mask": "pretrainlab.models.masks",
    "register_sdpa": "pretrainlab.models.build",
    "token_log_probs": "pretrainlab.models.layout",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
