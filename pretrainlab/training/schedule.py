"""Learning-rate schedules: linear warm-up, then cosine / linear decay to ``min_lr_ratio`` or constant."""

from __future__ import annotations

import math

from pretrainlab.config.schema import OptimizerConfig


def lr_multiplier(step: int, total_steps: int, config: OptimizerConfig) -> float:
    """Multiplier of ``config.lr`` at optimizer step ``step`` (0-based).

    >>> cfg = OptimizerConfig(warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    >>> lr_multiplier(4, 100, cfg), lr_multiplier(10, 100, cfg), round(lr_multiplier(99, 100, cfg), 3)
    (0.5, 1.0, 0.1)
    """
    warmup = min(config.warmup_steps, max(total_steps - 1, 0))
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(total_steps - 1 - warmup, 1)
    progress = min(max(progress, 0.0), 1.0)
    if config.schedule == "cosine":
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        shape = 1.0 - progress
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * shape
