"""Pretraining objectives: pure functions from raw token rows (+ an explicit rng) to :class:`Example` s."""

from pretrainlab.objectives.example import IGNORE, Example
from pretrainlab.objectives.registry import OBJECTIVES, ObjectiveSpec, get_objective, register, valid_pairs

__all__ = ["IGNORE", "OBJECTIVES", "Example", "ObjectiveSpec", "get_objective", "register", "valid_pairs"]
