"""Audit of every synthworld task family for answer cues that need no knowledge of the world.

A family passes when, over three seeds x 100 items x both splits of the default study's world, nothing
but the content identifies the answer: gold labels and gold positions are balanced, the gold choice
appears in the prompt as often as a distractor does, choosing the longest, shortest, most or least
corpus-frequent choice scores chance, and the reference baselines (label prior learned on the train
split, bag-of-words overlap) are not significantly above chance.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from pretrainlab.evaluation.reference_baselines import Baseline, majority, shortcut, shortcut_test
from pretrainlab.synthworld import TASK_FAMILIES, TaskItem, generate_corpus, generate_task_items

ENTITIES, DOCUMENTS = 600, 12000  # the default study's synthworld source (params.yaml)
SEEDS = (0, 1, 2)
SPLITS = ("train", "eval")
N = 100
SHARE_SLACK = 0.05  # a label or position may exceed 1/k by 5 points at 100 items
PRESENCE_TOLERANCE = 0.05  # |gold in prompt rate - distractor in prompt rate|, pooled over 600 items
CUE_TOLERANCE = 0.06  # a choice-statistic strategy may beat 1/k by this much over 600 items (~3 sd)
ALPHA = 0.05 / len(TASK_FAMILIES)  # Bonferroni: one baseline test per family
FREQUENCY_DOCUMENTS = 3000  # the corpus frequency of a choice is counted on the stream's first documents
FAMILIES = list(TASK_FAMILIES)


@functools.cache
def _items(name: str, seed: int, split: str) -> tuple[TaskItem, ...]:
    return tuple(generate_task_items(name, N, entities=ENTITIES, documents=DOCUMENTS, seed=seed, split=split))


def _pooled(name: str) -> list[tuple[int, TaskItem]]:
    """Every (seed, item) of the family: 3 seeds x 2 splits x 100 items."""
    return [(seed, it) for seed in SEEDS for split in SPLITS for it in _items(name, seed, split)]


def _normal(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "


def _in_prompt(prompt: str, choice: str) -> bool:
    """The choice's words, in order and as whole words, somewhere in the prompt (case-insensitive)."""
    return _normal(choice) in _normal(prompt)


@functools.cache
def _corpus_text(seed: int) -> str:
    docs = itertools.islice(generate_corpus(DOCUMENTS, ENTITIES, seed), FREQUENCY_DOCUMENTS)
    return _normal(" ".join(d.text for d in docs))


@functools.cache
def _frequency(seed: int, choice: str) -> int:
    return _corpus_text(seed).count(_normal(choice))


def _strategy_accuracy(pooled: Sequence[tuple[int, TaskItem]], key: Callable[[int, str], float]) -> float:
    """Accuracy of picking the choice with the highest ``key(seed, choice)`` (ties: the lowest index)."""
    picks = [
        max(range(len(it.choices)), key=lambda j, seed=seed, it=it: (key(seed, it.choices[j]), -j))
        for seed, it in pooled
    ]
    return float(np.mean([p == it.answer for p, (_, it) in zip(picks, pooled, strict=True)]))


@pytest.mark.parametrize("name", FAMILIES)
def test_gold_labels_and_positions_are_balanced(name):
    k = TASK_FAMILIES[name].num_choices
    for seed, split in itertools.product(SEEDS, SPLITS):
        items = _items(name, seed, split)
        labels = Counter(it.choices[it.answer].strip() for it in items)
        positions = Counter(it.answer for it in items)
        label, label_count = labels.most_common(1)[0]
        position, position_count = positions.most_common(1)[0]
        where = f"{name} seed {seed} {split}"
        assert label_count / N <= 1 / k + SHARE_SLACK, f"{where}: label {label!r} is gold in {label_count}%"
        assert position_count / N <= 1 / k + SHARE_SLACK, f"{where}: position {position} in {position_count}%"


@pytest.mark.parametrize("name", FAMILIES)
def test_gold_is_in_the_prompt_as_often_as_a_distractor(name):
    items = [it for _, it in _pooled(name)]
    gold = np.mean([_in_prompt(it.prompt, it.choices[it.answer]) for it in items])
    wrong = np.mean(
        [_in_prompt(it.prompt, c) for it in items for j, c in enumerate(it.choices) if j != it.answer]
    )
    assert abs(gold - wrong) <= PRESENCE_TOLERANCE, (
        f"{name}: gold in prompt {gold:.2f}, distractor {wrong:.2f}"
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_length_and_corpus_frequency_do_not_reveal_the_answer(name):
    k = TASK_FAMILIES[name].num_choices
    strategies = {
        "longest": lambda seed, choice: len(choice),
        "shortest": lambda seed, choice: -len(choice),
        "most frequent in the corpus": _frequency,
        "least frequent in the corpus": lambda seed, choice: -_frequency(seed, choice),
    }
    for what, key in strategies.items():
        accuracy = _strategy_accuracy(_pooled(name), key)
        assert accuracy <= 1 / k + CUE_TOLERANCE, f"{name}: choosing the {what} choice scores {accuracy:.2f}"


@pytest.mark.parametrize("name", FAMILIES)
def test_reference_baselines_are_not_above_chance(name):
    evaluation = [it for seed in SEEDS for it in _items(name, seed, "eval")]
    per_seed = [majority(_items(name, seed, "train"), _items(name, seed, "eval")) for seed in SEEDS]
    baselines = {
        "majority": Baseline("majority", np.concatenate([b.correct for b in per_seed])),
        "shortcut": shortcut(evaluation),
    }
    for what, baseline in baselines.items():
        test = shortcut_test(baseline, evaluation, alpha=ALPHA)
        assert not test.flagged, (
            f"{name}: the {what} baseline scores {baseline.accuracy:.2f} against chance {test.chance:.2f} "
            f"(p = {test.p_value:.2g})"
        )
