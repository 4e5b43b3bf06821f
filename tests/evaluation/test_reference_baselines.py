"""Reference baselines (chance, majority, shortcut) and the test that flags a shortcut, on tiny literal items."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pretrainlab.evaluation.reference_baselines import (
    Baseline,
    chance,
    majority,
    overlap_pick,
    reference_baselines,
    shortcut,
    shortcut_test,
)
from pretrainlab.synthworld import TaskItem

CITIES = (" Velmora", " Astrin", " Kelholm", " Duvik")


def _item(prompt: str, choices: tuple[str, ...], answer: int) -> TaskItem:
    return TaskItem("demo.task", "demo", "t0", prompt, choices, answer, False)


def _copy_task(n: int) -> list[TaskItem]:
    """The answer is the only city the passage names: copying solves it."""
    items = []
    for i in range(n):
        answer = i % 4
        items.append(_item(f"Mira{i} was born in{CITIES[answer]}.\nWhere was Mira{i} born?", CITIES, answer))
    return items


def _listed_task(n: int) -> list[TaskItem]:
    """Every choice is listed in the prompt; gold positions cycle evenly."""
    listed = ", ".join(c.strip() for c in CITIES)
    return [_item(f"Was Mira{i} born in {listed}?", CITIES, i % 4) for i in range(n)]


def test_copying_task_is_solved_by_the_shortcut_and_flagged():
    items = _copy_task(40)
    base = reference_baselines(items, items)
    assert base["chance"].accuracy == pytest.approx(0.25)
    assert base["shortcut"].accuracy == 1.0
    assert base["shortcut"].correct.tolist() == [1.0] * 40  # per item, in item order
    test = shortcut_test(base["shortcut"], items)
    assert test.flagged and test.correct == 40 and test.n == 40
    assert test.p_value == pytest.approx(0.25**40)
    assert test.chance == pytest.approx(0.25)


def test_listing_every_choice_leaves_the_shortcut_at_chance():
    items = _listed_task(40)
    base = shortcut(items)
    assert base.accuracy == pytest.approx(0.25)  # every choice ties: the lowest index, right 1 time in 4
    assert not shortcut_test(base, items).flagged


def test_balanced_labels_give_majority_one_over_k():
    yes_maybe_no = (" yes", " maybe", " no")
    train = [_item(f"premise {i}", yes_maybe_no, i % 3) for i in range(30)]
    evaluation = [_item(f"other premise {i}", yes_maybe_no, (i + 1) % 3) for i in range(30)]
    assert majority(train, evaluation).accuracy == pytest.approx(1 / 3)


def test_majority_learns_the_train_label_prior_and_applies_it_to_eval():
    kinds = (" a person", " a city", " a company")
    train = [_item(f"text {i}", kinds, 0 if i < 8 else 1) for i in range(10)]  # 80% person
    evaluation = [_item(f"new text {i}", kinds, a) for i, a in enumerate([0, 0, 0, 1, 2])]
    base = majority(train, evaluation)
    assert base.correct.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]  # always "a person"
    assert base.accuracy == pytest.approx(0.6)
    # the label string counts, not the position: "a person" moved to position 2 is still picked
    moved = [_item("text", (" a city", " a company", " a person"), 2)]
    assert majority(train, moved).correct.tolist() == [1.0]


def test_majority_falls_back_to_the_train_position_for_unseen_answers():
    train = [_item("q", (" Velmora", " Astrin"), 1), _item("q", (" Kelholm", " Duvik"), 1)]
    evaluation = [
        _item("q", (" Orsk", " Pell"), 1),  # no choice was a train answer: the majority position, 1
        _item("q", (" Astrin", " Pell"), 1),  # "Astrin" was a train answer: picked, though wrong
    ]
    assert majority(train, evaluation).correct.tolist() == [1.0, 0.0]


def test_overlap_scorer_is_case_insensitive_fractional_and_breaks_ties_low():
    assert overlap_pick("mira ate FISH soup.", (" rice with beans", " fish soup")) == 1
    assert overlap_pick("the fish was fresh", (" fish soup", " fish")) == 1  # 1/2 of the words < 2/2
    assert overlap_pick("nothing in common", (" yes", " no")) == 0
    assert overlap_pick("Yes or no?", (" yes", " no")) == 0


def test_shortcut_test_is_the_exact_binomial_tail():
    items = _listed_task(100)
    for right, flagged in ((33, True), (32, False)):
        base = Baseline("shortcut", np.array([1.0] * right + [0.0] * (100 - right)))
        tail = sum(math.comb(100, j) * 0.25**j * 0.75 ** (100 - j) for j in range(right, 101))
        test = shortcut_test(base, items)
        assert test.p_value == pytest.approx(tail, rel=1e-9)
        assert test.flagged is flagged
    assert not shortcut_test(base, items, alpha=0.01).flagged


def test_shortcut_test_with_mixed_numbers_of_choices_is_poisson_binomial():
    items = [_item("a", (" x", " y"), 0), _item("b", CITIES, 0)]
    both = shortcut_test(Baseline("shortcut", np.array([1.0, 1.0])), items)
    assert both.p_value == pytest.approx(0.5 * 0.25)
    assert both.chance == pytest.approx((0.5 + 0.25) / 2)
    one = shortcut_test(Baseline("shortcut", np.array([1.0, 0.0])), items)
    assert one.p_value == pytest.approx(1 - 0.5 * 0.75)


def test_bad_input_names_what_is_wrong():
    items = _listed_task(4)
    with pytest.raises(ValueError, match="no items"):
        shortcut([])
    with pytest.raises(ValueError, match="train items"):
        majority([], items)
    with pytest.raises(ValueError, match="item 0 has answer 5"):
        chance([_item("q", (" a", " b"), 5)])
    with pytest.raises(ValueError, match="3 correctness entries for 4 items"):
        shortcut_test(Baseline("shortcut", np.ones(3)), items)
    with pytest.raises(ValueError, match="not 0/1"):
        shortcut_test(chance(items), items)
    with pytest.raises(ValueError, match="alpha"):
        shortcut_test(shortcut(items), items, alpha=1.5)
