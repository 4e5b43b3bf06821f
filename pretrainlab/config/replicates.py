"""Replicates: ``study.seeds`` trains every pretrain cell again under each listed seed.

A replicate is a (cell, seed) pair; its name, ``cd-flm-seed1`` for cell ``cd-flm`` under seed 1, is
derived from the pair here and nowhere else (``data/models/pretrain/cd-flm-seed1``,
``metrics/evaluate/cd-flm-seed1.json``); its DVC stages are ``pretrain-replicate@cd-flm-1`` and
``evaluate-replicate@cd-flm-1``. The cell itself runs under the study's ``seed``. The report
aggregates a cell with its replicates as mean ± 95% CI across seeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Replicate:
    """Pretrain cell ``cell`` trained again under ``seed`` (one of ``study.seeds``)."""

    cell: str
    seed: int

    @property
    def name(self) -> str:
        """The model's name, as every path and stage of the replicate spells it.

        >>> Replicate("cd-flm", 1).name
        'cd-flm-seed1'
        """
        return f"{self.cell}-seed{self.seed}"

    def stage(self, kind: str) -> str:
        """The DVC stage that makes it: ``kind`` is ``pretrain`` or ``evaluate``.

        >>> Replicate("cd-flm", 1).stage("evaluate")
        'evaluate-replicate@cd-flm-1'
        """
        return f"{kind}-replicate@{self.cell}-{self.seed}"


def replicates(cells: Iterable[str], seeds: Iterable[int]) -> list[Replicate]:
    """Every replicate of a study, cell by cell, each in ``study.seeds`` order."""
    seeds = list(seeds)
    return [Replicate(cell, seed) for cell in cells for seed in seeds]


def find_replicate(name: str, cells: Iterable[str], seeds: Iterable[int]) -> Replicate | None:
    """The replicate of the study called ``name`` (None if no cell and seed of the study make it)."""
    return next((r for r in replicates(cells, seeds) if r.name == name), None)


def replicate_name(cell: str, seed: int) -> str:
    """The name of ``Replicate(cell, seed)``.

    >>> replicate_name("cd-flm", 1)
    'cd-flm-seed1'
    """
    return Replicate(cell, seed).name


def split_replicate(name: str) -> tuple[str, int] | None:
    """(cell, seed) of a name shaped like a replicate's, without knowing the study's cells and seeds.

    Kept for callers that have only a name; prefer passing the seed, or :func:`find_replicate`.

    >>> split_replicate("cd-flm-seed12")
    ('cd-flm', 12)
    """
    cell, sep, seed = name.rpartition("-seed")
    return (cell, int(seed)) if sep and cell and seed.isascii() and seed.isdigit() else None
