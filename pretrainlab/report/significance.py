"""Verdicts, ``*`` marks and the resolving-power statement of ``reports/study.md``, from paired tests
(:mod:`pretrainlab.report.comparisons`), Holm-corrected where one reading rests on several tests.

* A comparison of A with B (the paper says A > B) is **reproduced** when the paired interval of
  A - B excludes 0 above, **contradicted** when it excludes 0 below, **unresolved** otherwise.
* ``*`` marks a model above the random baseline: a paired test of its accuracy against each item's
  chance rate. Marks are Holm-corrected within three families — every model × every cluster, every
  model × the held-out and held-in averages, every model × every task.

>>> verdict(Decision(0.06, 0.047, 0.073, 0.95, 0.0, 0.0, 1))
'reproduced'
>>> describe(Decision(0.06, 0.047, 0.073, 0.95, 0.0004, 0.0004, 1), compared=1)
'paired difference +6.0 points, 95% interval [+4.7, +7.3], p < 0.001'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pretrainlab.evaluation.paired import Decision, decide
from pretrainlab.report.comparisons import StudyComparisons

AVERAGES = (("held_out", True), ("held_in", False))

METHOD = (
    "Comparisons are paired: every model answers the same items, so a difference between two models is "
    "bootstrapped item by item ({samples} replicates resampling items within each task, the same items "
    "for both models{seeds}). A paper ordering is **reproduced** when the 95% interval of the difference "
    "excludes 0 in the paper's direction, **contradicted** when it excludes 0 the other way, "
    "**unresolved** otherwise. Where one claim compares a model with several others, p-values are "
    "Holm-adjusted and each interval is at the level of its Holm step (1 − 0.05/(m − k + 1) for the k-th "
    "smallest of m p-values)."
)


def verdict(decision: Decision, paper_sign: int = 1) -> str:
    """``reproduced`` / ``contradicted`` / ``unresolved``, for a claim that the difference has ``paper_sign``
    (the paper says A - B is positive: +1)."""
    if decision.sign == 0:
        return "unresolved"
    return "reproduced" if decision.sign == paper_sign else "contradicted"


def overall(verdicts: Sequence[str]) -> str:
    """One verdict for a claim made of several comparisons."""
    if len(set(verdicts)) == 1:
        return verdicts[0]
    if "reproduced" in verdicts:
        return "partly reproduced"
    return "partly contradicted" if "contradicted" in verdicts else "unresolved"


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def describe(decision: Decision, compared: int) -> str:
    """The numbers behind a verdict: difference in points, interval at its level, (Holm-adjusted) p."""
    level = f"{100 * decision.level:.4g}%"
    text = (
        f"paired difference {100 * decision.estimate:+.1f} points, {level} interval "
        f"[{100 * decision.low:+.1f}, {100 * decision.high:+.1f}], "
    )
    if compared == 1:
        return text + _p(decision.p_value)
    return text + "Holm-adjusted " + _p(decision.p_adjusted)


@dataclass(frozen=True)
class AboveRandom:
    """Which (model, cluster), (model, average) and (model, task) are marked ``*``."""

    clusters: frozenset[tuple[str, str]]
    averages: frozenset[tuple[str, str]]  # (model, "held_out" | "held_in")
    tasks: frozenset[tuple[str, str]]

    def cluster(self, model: str, cluster: str) -> bool:
        return (model, cluster) in self.clusters

    def average(self, model: str, section: str) -> bool:
        return (model, section) in self.averages

    def task(self, model: str, task: str) -> bool:
        return (model, task) in self.tasks


NO_MARKS = AboveRandom(frozenset(), frozenset(), frozenset())  # nothing evaluated


def _family(comparisons: StudyComparisons, groups: dict[tuple[str, str], list[str]]) -> frozenset:
    keys = list(groups)
    decisions = decide([comparisons.above_chance(model, groups[(model, g)]) for model, g in keys])
    return frozenset(key for key, d in zip(keys, decisions, strict=True) if d.sign > 0)


def above_random_marks(comparisons: StudyComparisons, models: Sequence[str]) -> AboveRandom:
    """Paired tests against chance for every model, Holm-corrected within each family."""
    clusters = comparisons.clusters()
    averages = {s: comparisons.held(flag) for s, flag in AVERAGES if comparisons.held(flag)}
    return AboveRandom(
        clusters=_family(comparisons, {(m, c): tasks for m in models for c, tasks in clusters.items()}),
        averages=_family(comparisons, {(m, s): tasks for m in models for s, tasks in averages.items()}),
        tasks=_family(comparisons, {(m, t): [t] for m in models for t in comparisons.tasks}),
    )


def method_sentence(comparisons: StudyComparisons) -> str:
    seeded = max((comparisons.seeds(m) for m in comparisons.models), default=1) > 1
    seeds = "; a cell trained under several seeds also has its seeds resampled, per model" if seeded else ""
    return METHOD.format(samples=comparisons.boot.samples, seeds=seeds)


def resolving_power_lines(comparisons: StudyComparisons) -> list[str]:
    """A paragraph: the smallest paired difference of the held-out average the study would detect."""
    tasks = comparisons.held(True)
    power = comparisons.resolving_power(tasks)
    if power is None:
        return ["**Resolving power.** Not computed: it needs two evaluated models and held-out tasks."]
    k = len(comparisons.models)
    counts = sorted(set(power.n_items))
    n_text = f"{counts[0]} items each" if len(counts) == 1 else f"{min(counts)}–{max(counts)} items"
    rates = ", ".join(f"{t} {100 * d:.1f}%" for t, d in zip(tasks, power.disagreement, strict=True))
    seeded = any(comparisons.seeds(m) > 1 for m in comparisons.models)
    return [
        f"**Resolving power.** On the held-out average ({len(tasks)} task{'s' * (len(tasks) != 1)}, "
        f"{n_text}), this study detects a paired difference of **{100 * power.detectable:.1f} points** "
        "with 80% power (two-sided α = 0.05): "
        f"(z_0.975 + z_0.8) × sqrt(Σ_t d_t / n_t) / T = ({power.z_alpha:.3f} + {power.z_power:.3f}) × "
        f"{100 * power.standard_error:.2f} points, where d_t is the rate at which two models disagree on an "
        f"item of task t (mean over the {k * (k - 1) // 2} pair{'s' * (k > 2)} of the {k} models): {rates}. "
        "Smaller true differences will mostly come out unresolved"
        + (
            " (and more so with seeds: seed-to-seed variance widens the intervals further)."
            if seeded
            else "."
        )
    ]
