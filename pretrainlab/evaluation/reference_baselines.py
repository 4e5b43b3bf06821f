"""Reference accuracies of a task that no model trained on the corpus produced: chance, majority, shortcut.

A zero-shot accuracy means little until it is set against what needs no knowledge of the world. Each
baseline here is a pure function of synthworld :class:`~pretrainlab.synthworld.TaskItem` objects
(anything with ``prompt``, ``choices`` and ``answer``); none reads the corpus. Each returns a
:class:`Baseline` with the accuracy *and* the per-item correctness on the evaluation items, in item
order, so a report can run a paired test of a model against it on the same items.

* ``chance`` — the expected accuracy of picking uniformly among an item's choices. Its per-item array
  holds that expectation, ``1 / len(choices)``, not a draw.
* ``majority`` — a label prior learned on the task's **train** split and applied to the **eval** split.
  Every train item votes for its gold label string (the correct choice with its leading space
  stripped) and for its gold position (``answer``). On an eval item the baseline picks the choice whose
  label string won the most train votes; ties (for instance when no choice was ever a train answer)
  go to the choice at the position with the most train votes, then to the lowest index. For a task with
  a fixed label set (``yes``/``no``, ``person``/``city``/``company``) that is exactly "always answer the
  most frequent train label"; for open-vocabulary answers (city names) it answers the most frequent
  train answer when it is offered and otherwise the most frequent train position.
* ``shortcut`` — a bag-of-words scorer that never saw a training item: a text's *words* are its
  lowercased runs of ``[a-z0-9]``; a choice scores the fraction of its distinct words that occur in
  the prompt; the highest score wins, ties go to the lowest index. It solves a task whose answer is
  copied from the passage and its distractors are not (the failure it was written to catch), and
  scores chance when every choice is equally present.

:func:`shortcut_test` flags a baseline that is significantly above chance: an exact one-sided test of
``H0: each item is right with probability 1 / len(choices)`` (the Poisson-binomial law of the number
correct, a binomial when every item has the same number of choices) at level ``alpha`` (0.05).

>>> from pretrainlab.synthworld import TaskItem
>>> def item(prompt, choices, answer):
...     return TaskItem("demo", "demo", "t0", prompt, choices, answer, False)
>>> copied = [item("Mira lives in Velmora.", (" Astrin", " Velmora"), 1),
...           item("Tolan lives in Astrin.", (" Astrin", " Velmora"), 0)]
>>> [b.accuracy for b in (chance(copied), shortcut(copied), majority(copied[:1], copied))]
[0.5, 1.0, 0.5]
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

ALPHA = 0.05
_WORD = re.compile(r"[a-z0-9]+")


class Item(Protocol):
    prompt: str
    choices: tuple[str, ...]
    answer: int


@dataclass(frozen=True)
class Baseline:
    """A reference accuracy and the per-item correctness it comes from (item order)."""

    name: str  # "chance", "majority" or "shortcut"
    correct: np.ndarray  # float64, one entry per evaluation item: 0/1, or the expected value for chance

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if len(self.correct) else float("nan")


@dataclass(frozen=True)
class ShortcutTest:
    """The one-sided exact test of a baseline against chance."""

    correct: int  # items the baseline got right
    n: int
    chance: float  # expected accuracy under H0
    p_value: float  # P(at least ``correct`` right | H0)
    alpha: float

    @property
    def flagged(self) -> bool:
        """True when the baseline beats chance significantly: the task has a shortcut."""
        return self.p_value < self.alpha


def _check(items: Sequence[Item], what: str) -> None:
    if not items:
        raise ValueError(f"{what}: no items")
    for i, it in enumerate(items):
        if len(it.choices) < 2 or not 0 <= it.answer < len(it.choices):
            raise ValueError(
                f"{what}: item {i} has answer {it.answer} for {len(it.choices)} choices; "
                "need at least two choices and 0 <= answer < len(choices)"
            )


def _pick_rate(items: Sequence[Item], picks: Sequence[int]) -> np.ndarray:
    return np.array([float(p == it.answer) for it, p in zip(items, picks, strict=True)])


def chance(items: Sequence[Item]) -> Baseline:
    """Expected accuracy of a uniform guess: per item ``1 / len(choices)``."""
    _check(items, "chance")
    return Baseline("chance", np.array([1.0 / len(it.choices) for it in items]))


def majority(train_items: Sequence[Item], eval_items: Sequence[Item]) -> Baseline:
    """The train split's label prior applied to ``eval_items`` (see the module docstring)."""
    _check(train_items, "majority (train items)")
    _check(eval_items, "majority (eval items)")
    labels = Counter(it.choices[it.answer].strip() for it in train_items)
    positions = Counter(it.answer for it in train_items)
    picks = [
        min(
            range(len(it.choices)),
            key=lambda j, it=it: (-labels.get(it.choices[j].strip(), 0), -positions.get(j, 0), j),
        )
        for it in eval_items
    ]
    return Baseline("majority", _pick_rate(eval_items, picks))


def words(text: str) -> frozenset[str]:
    """The distinct lowercased ``[a-z0-9]+`` words of ``text``."""
    return frozenset(_WORD.findall(text.lower()))


def overlap_pick(prompt: str, choices: Sequence[str]) -> int:
    """The choice with the largest fraction of its words in ``prompt``; ties go to the lowest index."""
    seen = words(prompt)
    scores = []
    for choice in choices:
        own = words(choice)
        scores.append(len(own & seen) / len(own) if own else 0.0)
    return int(np.argmax(scores))  # argmax returns the first maximum


def shortcut(eval_items: Sequence[Item]) -> Baseline:
    """The bag-of-words overlap scorer (:func:`overlap_pick`) on every item; it learns nothing."""
    _check(eval_items, "shortcut")
    return Baseline(
        "shortcut", _pick_rate(eval_items, [overlap_pick(it.prompt, it.choices) for it in eval_items])
    )


def reference_baselines(train_items: Sequence[Item], eval_items: Sequence[Item]) -> dict[str, Baseline]:
    """``chance``, ``majority`` (learned on ``train_items``) and ``shortcut`` on ``eval_items``."""
    return {
        "chance": chance(eval_items),
        "majority": majority(train_items, eval_items),
        "shortcut": shortcut(eval_items),
    }


def _upper_tail(probabilities: np.ndarray, k: int) -> float:
    """P(S >= k) for S a sum of independent Bernoulli(p_i) (Poisson-binomial), by dynamic programming."""
    dist = np.zeros(len(probabilities) + 1)
    dist[0] = 1.0
    for i, p in enumerate(probabilities, start=1):
        dist[1 : i + 1] = dist[1 : i + 1] * (1 - p) + dist[:i] * p
        dist[0] *= 1 - p
    return float(min(1.0, dist[k:].sum()))


@functools.lru_cache(maxsize=256)
def _binomial_tail(n: int, p: float, k: int) -> float:
    return _upper_tail(np.full(n, p), k)


def shortcut_test(baseline: Baseline, eval_items: Sequence[Item], alpha: float = ALPHA) -> ShortcutTest:
    """Exact one-sided test of ``baseline`` (0/1 per item) against chance on ``eval_items``.

    ``p_value`` is the probability that uniform guessing gets at least as many items right as the
    baseline did; the task is flagged when ``p_value < alpha``. With 100 four-choice items, 33 right
    is flagged (p = 0.045) and 32 is not (p = 0.069).
    """
    _check(eval_items, "shortcut_test")
    if len(baseline.correct) != len(eval_items):
        raise ValueError(
            f"shortcut_test: {len(baseline.correct)} correctness entries for {len(eval_items)} items"
        )
    if not np.isin(baseline.correct, (0.0, 1.0)).all():
        raise ValueError(f"shortcut_test: baseline {baseline.name!r} is not 0/1 per item")
    if not 0 < alpha < 1:
        raise ValueError(f"shortcut_test: alpha must be in (0, 1), got {alpha}")
    p = np.array([1.0 / len(it.choices) for it in eval_items])
    k = int(baseline.correct.sum())
    tail = _binomial_tail(len(p), float(p[0]), k) if np.all(p == p[0]) else _upper_tail(p, k)
    return ShortcutTest(k, len(p), float(p.mean()), tail, alpha)
