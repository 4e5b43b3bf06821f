"""The report's learning curves: each evaluated model's held-out accuracy and validation loss at its
snapshots (``eval_at``) and at the end, against tokens and against FLOPs.

Reads ``metrics/evaluate/<model>.curve.json`` and ``<model>.curve.items.parquet``
(:mod:`pretrainlab.evaluation.learning_curve`). Accuracy at a point is set against each item's chance
rate with the report's paired bootstrap (:class:`~pretrainlab.evaluation.paired.ItemBootstrap`, the
same items resampled for the point and for chance), Holm-corrected over every point of every model:
``*`` marks a point significantly above chance, and the figure shows accuracy minus chance with that
interval. A model evaluated before curves existed (no curve file) is listed as such, not plotted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pretrainlab.evaluation.learning_curve import (
    FINAL,
    CurvePoint,
    curve_file,
    read_curve,
    read_curve_items,
)
from pretrainlab.evaluation.paired import Decision, ItemBootstrap, decide
from pretrainlab.metrics_contract import EvaluationMetrics
from pretrainlab.report.comparisons import SAMPLES, SEED
from pretrainlab.report.markdown import markdown_table
from pretrainlab.report.model_labels import config_label

FIGURE = "learning_curves.png"


@dataclass(frozen=True)
class CurveRow:
    """One point of one model's curve, with its paired test of held-out accuracy against chance."""

    model: str
    label: str  # the model's architecture and objective, e.g. ``CD:FLM``
    point: CurvePoint
    above_chance: Decision | None  # None: no held-out tasks


@dataclass(frozen=True)
class LearningCurves:
    rows: list[CurveRow]
    without_curve: list[str]  # evaluated models with no curve file

    def of(self, model: str) -> list[CurveRow]:
        return [row for row in self.rows if row.model == model]

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(row.model for row in self.rows))


def load_learning_curves(metrics_root: Path, evaluated: Mapping[str, EvaluationMetrics]) -> LearningCurves:
    """Every evaluated model's curve, each point tested against chance on the held-out tasks."""
    folder = Path(metrics_root) / "evaluate"
    points: list[tuple[str, str, CurvePoint]] = []
    scores: dict[str, dict[str, np.ndarray]] = {}
    chance: dict[str, np.ndarray] = {}
    without = []
    for model, metrics in evaluated.items():
        metrics_json = folder / f"{model}.json"
        if not curve_file(metrics_json).is_file():
            without.append(model)
            continue
        rerun = f"rerun `dvc repro evaluate@{model}`"
        curve = read_curve(metrics_json, rerun)
        items = read_curve_items(metrics_json, model, rerun)
        held_out = sorted(t for t, e in metrics.tasks.items() if e.held_out)
        for point in curve.points:
            key = f"{model}@{point.snapshot}"
            per_task = items.get(point.snapshot, {})
            if held_out and all(t in per_task for t in held_out):
                scores[key] = {t: per_task[t].correct.astype(np.float64) for t in held_out}
                chance = chance or {t: per_task[t].chance for t in held_out}
            points.append((model, config_label(metrics.arch, metrics.objective), point))
    decisions: dict[str, Decision] = {}
    if scores:
        tasks = sorted(chance)
        boot = ItemBootstrap(
            {k: {t: v[t] for t in tasks} for k, v in scores.items() if sorted(v) == tasks},
            chance=chance,
            samples=SAMPLES,
            seed=SEED,
        )
        keys = list(boot.models)
        decisions = dict(zip(keys, decide([boot.above_chance(k, tasks) for k in keys]), strict=True))
    rows = [
        CurveRow(model, label, point, decisions.get(f"{model}@{point.snapshot}"))
        for model, label, point in points
    ]
    return LearningCurves(rows, without)


def _count(value: float) -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _num(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.3f}"


def _vs_chance(decision: Decision | None) -> str:
    if decision is None:
        return "—"
    return f"{100 * decision.estimate:+.1f} [{100 * decision.low:+.1f}, {100 * decision.high:+.1f}]"


def learning_curves_markdown(curves: LearningCurves) -> list[str]:
    """The section of ``study.md``: what the curves are, the figure and the points as a table."""
    lines = ["## Learning curves", ""]
    if not curves.rows:
        lines.append("No learning curves: no evaluated model has a curve file (rerun its evaluate stage).")
        return [*lines, ""]
    snapshots = sum(row.point.snapshot != FINAL for row in curves.rows)
    lines += [
        "Each model evaluated at the snapshots its training kept (`eval_at`) and at the end "
        f"({snapshots} snapshot{'s' * (snapshots != 1)} in all). Held-out accuracy in %; *vs chance* is the "
        "paired difference from each item's chance rate in points with its interval (Holm-corrected over "
        "every point of every model; `*` = above chance). Tokens and FLOPs are those the model's own "
        "training stage spent to reach the point.",
        "",
        f"![Learning curves]({FIGURE})",
        "",
    ]
    header = ["Model", "Arch:Obj", "Point", "Step", "Tokens", "FLOPs", "Val loss", "Bits/byte"]
    header += ["Held-out acc", "vs chance", "Held-in acc"]
    table = []
    for row in curves.rows:
        p, d = row.point, row.above_chance
        star = "*" if d is not None and d.sign > 0 else ""
        held_out = "—" if p.held_out is None else f"{100 * p.held_out.accuracy:.1f}{star}"
        held_in = "—" if p.held_in is None else f"{100 * p.held_in.accuracy:.1f}"
        table.append(
            [
                f"`{row.model}`",
                row.label,
                p.snapshot,
                str(p.step),
                _count(p.tokens),
                f"{p.flops:.2e}",
                _num(p.val_loss),
                _num(p.bits_per_byte),
                held_out,
                _vs_chance(d),
                held_in,
            ]
        )
    lines += markdown_table(header, table)
    if curves.without_curve:
        names = ", ".join(f"`{m}`" for m in curves.without_curve)
        lines += [
            "",
            f"No curve file for {names} (evaluated before learning curves: rerun its evaluate stage).",
        ]
    return [*lines, ""]


def plot_learning_curves(curves: LearningCurves, out_png: Path) -> Path:
    """Held-out accuracy minus chance (with its paired interval) and validation loss, each against
    tokens and against FLOPs: one line per model, colour by architecture, line style by objective."""
    from pretrainlab.report.figures import plt, save_figure

    fig, axes = plt.subplots(2, 2, figsize=(12, 8), squeeze=False)
    archs = list(dict.fromkeys(row.label.split(":")[0] for row in curves.rows))
    objectives = list(dict.fromkeys(row.label.split(":")[-1] for row in curves.rows))
    styles = ["-", "--", ":", "-."]
    for model in curves.models:
        rows = curves.of(model)
        arch, objective = rows[0].label.split(":")[0], rows[0].label.split(":")[-1]
        look = {
            "color": f"C{archs.index(arch) % 10}",
            "linestyle": styles[objectives.index(objective) % len(styles)],
            "marker": "o",
            "markersize": 3,
            "label": f"{model} ({rows[0].label})",
        }
        tested = [(r.point, r.above_chance) for r in rows if r.above_chance is not None]
        losses = [(r.point, r.point.val_loss) for r in rows if r.point.val_loss is not None]
        for col, x_of in enumerate((lambda p: p.tokens, lambda p: p.flops)):
            if tested:
                est = np.array([100 * d.estimate for _, d in tested])
                err = np.array(
                    [[100 * (d.estimate - d.low), 100 * (d.high - d.estimate)] for _, d in tested]
                ).T
                axes[0, col].errorbar([x_of(p) for p, _ in tested], est, yerr=err, capsize=2, **look)
            if losses:
                axes[1, col].plot([x_of(p) for p, _ in losses], [v for _, v in losses], **look)
    for col, what in enumerate(("tokens", "training FLOPs")):
        axes[0, col].axhline(0.0, color="black", linewidth=0.8, linestyle="--")
        axes[0, col].set_ylabel("held-out accuracy − chance (points)")
        axes[1, col].set_ylabel("validation loss (nats/token)")
        for row in range(2):
            axes[row, col].set_xlabel(what)
            axes[row, col].set_xscale("log")
            axes[row, col].grid(alpha=0.3)
    axes[0, 0].set_title("Held-out accuracy above chance, paired 95% interval (Holm)", fontsize=9)
    axes[1, 0].set_title("Validation loss (each model's own objective)", fontsize=9)
    if curves.rows:
        axes[0, 1].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, out_png)
