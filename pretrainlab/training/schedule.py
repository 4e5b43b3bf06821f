"""Learning-rate schedules, as multipliers of ``optimizer.lr``.

=================  =========================================================  ==========================
``schedule``       multiplier at optimizer step ``s`` (0-based), ``w`` =       depends on the run length?
                   ``warmup_steps``
=================  =========================================================  ==========================
``inverse_sqrt``   ``min(1, 1/sqrt(s/w))``: constant for ``w`` steps, then     no
                   ``1/sqrt(s)`` (T5X ``constant * rsqrt_decay``)
``constant``       linear warm-up ``(s+1)/w``, then 1                          no (once ``s >= w``)
``cosine``         linear warm-up, then cosine decay to ``min_lr_ratio``       yes
``linear``         linear warm-up, then linear decay to ``min_lr_ratio``       yes
=================  =========================================================  ==========================

The last column is what makes a loss curve readable at intermediate points: under ``inverse_sqrt`` or
``constant`` a run stopped after ``t`` tokens is exactly the first ``t`` tokens of a longer run, so a
from-scratch curve can stand for every shorter run (the adaptation speed-ups need that). Under cosine
or linear decay only the end of a run is annealed; its middle is not what a shorter run would reach.

``inverse_sqrt`` is the schedule of T5 and of Wang et al. 2022: T5X's ``constant * rsqrt_decay`` with
``base_learning_rate = 1`` and ``warmup_steps = w`` gives ``1/sqrt(max(step, w))``, i.e. a plateau at
``1/sqrt(w)`` (T5's 0.01 for ``w = 10⁴``) and then ``1/sqrt(step)``; here the plateau is ``lr``.
"""

from __future__ import annotations

import math

from pretrainlab.config.schema import OptimizerConfig

# Schedules whose multiplier at a step does not depend on how many steps the run has in total.
LENGTH_INDEPENDENT = ("inverse_sqrt", "constant")


def inverse_sqrt(step: int, warmup_steps: int) -> float:
    """T5X's ``rsqrt_decay`` normalised to 1 on its plateau: ``sqrt(w / max(step, w))`` (``w >= 1``).

    >>> [round(inverse_sqrt(s, 100), 3) for s in (0, 100, 400, 10_000)]
    [1.0, 1.0, 0.5, 0.1]
    """
    w = max(warmup_steps, 1)
    return math.sqrt(w / max(step, w))


def lr_multiplier(step: int, total_steps: int, config: OptimizerConfig) -> float:
    """Multiplier of ``config.lr`` at optimizer step ``step`` (0-based).

    >>> cfg = OptimizerConfig(warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    >>> lr_multiplier(4, 100, cfg), lr_multiplier(10, 100, cfg), round(lr_multiplier(99, 100, cfg), 3)
    (0.5, 1.0, 0.1)
    >>> rsqrt = OptimizerConfig(warmup_steps=10, schedule="inverse_sqrt")
    >>> lr_multiplier(4, 100, rsqrt), lr_multiplier(40, 100, rsqrt), lr_multiplier(40, 1000, rsqrt)
    (1.0, 0.5, 0.5)
    """
    if config.schedule == "inverse_sqrt":
        return inverse_sqrt(step, config.warmup_steps)
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
