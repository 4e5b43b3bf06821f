"""``*`` marks from paired tests against chance (Holm-corrected) and the resolving-power statement."""

import numpy as np

from pretrainlab.evaluation.paired import Decision
from pretrainlab.report.significance import (
    above_random_marks,
    describe,
    method_sentence,
    overall,
    resolving_power_lines,
    verdict,
)
from tests.report.synthetic_items import N, at_chance, base, comparisons, shifted


def test_a_model_better_on_one_cluster_only_is_starred_on_that_cluster_only():
    flat = at_chance()
    nli_only = dict(flat) | {"nli.a": (np.arange(N) % 10 < 7).astype(float)}  # 70% on nli, chance elsewhere
    paired = comparisons({"flat": flat, "nli-only": nli_only})
    marks = above_random_marks(paired, ["flat", "nli-only"])
    assert marks.clusters == {("nli-only", "nli")}
    assert marks.tasks == {("nli-only", "nli.a")}
    # The held-out average (nli and coreference) is (70 + 33.3) / 2 = 51.7%: above chance as well.
    assert marks.averages == {("nli-only", "held_out")}
    assert marks.cluster("nli-only", "nli") and not marks.cluster("nli-only", "coreference")


def test_marks_are_holm_corrected_across_the_family():
    """A model barely above chance on one cluster: starred alone, not among many comparisons."""
    flat = at_chance()
    rng = np.random.default_rng(0)
    barely = dict(flat)
    values = flat["coreference.a"].copy()
    values[rng.choice(np.flatnonzero(values == 0), 23, replace=False)] = 1  # 33.3% -> 41.0%
    barely["coreference.a"] = values
    alone = above_random_marks(comparisons({"barely": barely}), ["barely"])
    assert alone.cluster("barely", "coreference")
    crowd = {"barely": barely} | {f"flat{i}": flat for i in range(15)}
    many = above_random_marks(comparisons(crowd), list(crowd))
    assert not many.cluster("barely", "coreference")


def test_resolving_power_paragraph_shows_its_numbers():
    # Two models disagreeing on 20% of the items of each held-out task (300 items, 2 tasks):
    # SE = sqrt(2 * 0.2 / 300) / 2 = 0.018257; (1.960 + 0.842) * SE = 5.1 points.
    a = base()
    b = dict(a)
    for task in ("nli.a", "coreference.a"):
        b[task] = shifted({task: a[task]}, 10, seed=2)[task]  # 10% flipped up ...
        b[task] = shifted({task: b[task]}, -10, seed=3)[task]  # ... and 10% down (or back)
    disagreement = [np.mean(a[t] != b[t]) for t in ("coreference.a", "nli.a")]
    [line] = resolving_power_lines(comparisons({"a": a, "b": b}))
    d = np.asarray(disagreement)
    expected = (1.959964 + 0.841621) * np.sqrt((d / N).sum()) / 2
    assert f"**{100 * expected:.1f} points**" in line
    assert "(2 tasks, 300 items each)" in line and "(1.960 + 0.842)" in line
    assert f"coreference.a {100 * d[0]:.1f}%, nli.a {100 * d[1]:.1f}%" in line
    assert "the 1 pair of the 2 models" in line
    assert "Not computed" in resolving_power_lines(comparisons({"a": a}))[0]


def test_verdict_words_and_numbers():
    up = Decision(0.06, 0.047, 0.073, 0.95, 0.0, 0.0, 1)
    assert verdict(up) == "reproduced" and verdict(up, paper_sign=-1) == "contradicted"
    assert verdict(Decision(0.01, -0.01, 0.03, 0.95, 0.3, 0.3, 0)) == "unresolved"
    held = Decision(0.06, 0.04, 0.08, 0.975, 0.004, 0.008, 1)
    assert describe(held, compared=2) == (
        "paired difference +6.0 points, 97.5% interval [+4.0, +8.0], Holm-adjusted p = 0.008"
    )
    assert overall(["reproduced", "reproduced"]) == "reproduced"
    assert overall(["reproduced", "unresolved"]) == "partly reproduced"
    assert overall(["contradicted", "unresolved"]) == "partly contradicted"
    assert "2000 replicates" in method_sentence(comparisons({"a": base()}))
