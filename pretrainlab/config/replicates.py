"""Replicates: ``study.seeds`` trains every pretrain cell again under each listed seed.

A replicate of cell ``cd-flm`` under seed 1 is the model ``cd-flm-seed1`` (``pretrain-replicate@cd-flm-1``
in dvc.yaml, ``data/models/pretrain/cd-flm-seed1``); the cell itself runs under the study's ``seed``.
The report aggregates a cell with its replicates as mean ± 95% CI across seeds.
"""

from __future__ import annotations

import re

_REPLICATE = re.compile(r"^(?P<cell>.+)-seed(?P<seed>\d+)$")


def replicate_name(cell: str, seed: int) -> str:
    """>>> replicate_name("cd-flm", 1)
    'cd-flm-seed1'"""
    return f"{cell}-seed{seed}"


def split_replicate(name: str) -> tuple[str, int] | None:
    """>>> split_replicate("cd-flm-seed12")
    ('cd-flm', 12)"""
    match = _REPLICATE.match(name)
    return (match["cell"], int(match["seed"])) if match else None
