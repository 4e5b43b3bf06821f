"""The report's figures (PNG): pretraining loss curves, adaptation curves next to their from-scratch
targets, and per-cluster zero-shot accuracy bars.

Matplotlib runs on the non-interactive Agg backend (no display needed), and every PNG is written to
a temporary file and renamed, so a half-written figure never appears.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402

from pretrainlab.atomic import atomic_file  # noqa: E402
from pretrainlab.metrics_contract import EvaluationMetrics, LossCurve  # noqa: E402
from pretrainlab.report.adaptation_speedup import SpeedUp  # noqa: E402


def save_figure(fig: plt.Figure, out_png: Path) -> Path:
    """Write ``fig`` to ``out_png`` atomically and close it."""
    with atomic_file(Path(out_png), "wb") as handle:
        fig.savefig(handle, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return Path(out_png)


def plot_loss_curves(curves: Mapping[str, LossCurve], out_png: Path) -> Path:
    """Train loss vs tokens seen, one line per cell, with its validation points as markers."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, curve) in enumerate(sorted(curves.items())):
        color = f"C{i % 10}"
        ax.plot(curve.tokens, curve.train_loss, color=color, linewidth=1.2, label=f"{name} (train)")
        tokens, val = curve.validation_points()
        if val.size:
            ax.plot(tokens, val, "o", color=color, markersize=4, label=f"{name} (val)")
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("Pretraining loss (each objective's own loss)")
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, out_png)


def plot_adaptation_curves(
    speedups: list[SpeedUp],
    adapt_curves: Mapping[str, LossCurve],
    pretrain_curves: Mapping[str, LossCurve],
    out_png: Path,
) -> Path:
    """One panel per adaptation: its validation loss against tokens spent adapting, the from-scratch
    cell's against its tokens, the adapted model's final loss dashed, the speed-up in the title."""
    cols = min(2, max(len(speedups), 1))
    rows = max(math.ceil(len(speedups) / cols), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 4 * rows), squeeze=False)
    for ax in axes.flat[len(speedups) :]:
        ax.axis("off")
    for ax, s in zip(axes.flat, speedups, strict=False):
        tokens, val = adapt_curves[s.adaptation.name].validation_points()
        ax.plot(tokens, val, "o-", color="C1", markersize=3, label=f"{s.adaptation.name} (adapted)")
        if s.scratch and not s.reason:
            tokens, val = pretrain_curves[s.scratch].validation_points()
            ax.plot(tokens, val, "o-", color="C0", markersize=3, label=f"{s.scratch} (from scratch)")
            ax.axhline(
                s.final_val_loss, color="C1", linestyle="--", linewidth=0.8, label="adapted final loss"
            )
            if s.scratch_tokens is not None:
                ax.axvline(s.scratch_tokens, color="C0", linestyle=":", linewidth=0.8)
        ax.set_title(f"{s.adaptation.label} ({s.kind})\nspeed-up: {s.text()}", fontsize=9)
        ax.set_xlabel("tokens (adapting, or from scratch)")
        ax.set_ylabel("validation loss (nats/token)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if not speedups:
        axes.flat[0].text(0.5, 0.5, "no adaptations in this study", ha="center", va="center")
    fig.tight_layout()
    return save_figure(fig, out_png)


def cluster_order(eval_metrics: Mapping[str, EvaluationMetrics]) -> list[str]:
    """Clusters found in the evaluation metrics: held-out ones first, each group alphabetical."""
    held: dict[str, bool] = {}
    for metrics in eval_metrics.values():
        for cluster, entry in metrics.clusters.items():
            held[cluster] = entry.held_out
    return sorted(held, key=lambda c: (not held[c], c))


def plot_cluster_bars(eval_metrics: Mapping[str, EvaluationMetrics], out_png: Path) -> Path:
    """Per-cluster accuracy, one bar per model, 95% CI error bars, random baseline as a black tick."""
    clusters = cluster_order(eval_metrics)
    names = list(eval_metrics)
    fig, ax = plt.subplots(figsize=(max(6.0, (0.1 * len(names) + 0.4) * len(clusters) + 2), 4.5))
    colors = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(clusters))
    for i, name in enumerate(names):
        entries = [eval_metrics[name].clusters.get(c) for c in clusters]
        acc = np.array([e.accuracy if e else np.nan for e in entries])
        lo = np.array([e.ci95[0] if e else np.nan for e in entries])
        hi = np.array([e.ci95[1] if e else np.nan for e in entries])
        err = np.vstack([np.clip(acc - lo, 0, None), np.clip(hi - acc, 0, None)])
        ax.bar(
            x - 0.4 + (i + 0.5) * width,
            acc,
            width,
            yerr=err,
            capsize=2,
            label=name,
            color=colors(i % colors.N),
        )
    for j, cluster in enumerate(clusters):
        baselines = [
            m.clusters[cluster].random_baseline for m in eval_metrics.values() if cluster in m.clusters
        ]
        label = "random baseline" if j == 0 else "_nolegend_"
        ax.hlines(baselines[0], x[j] - 0.45, x[j] + 0.45, colors="black", linestyles="--", label=label)
    held = {c for m in eval_metrics.values() for c, e in m.clusters.items() if e.held_out}
    ax.set_xticks(x, [f"{c}\n(held out)" if c in held else c for c in clusters], fontsize=8)
    ax.set_ylabel("zero-shot accuracy (rank classification)")
    ax.set_ylim(0, 1)
    ax.set_title("Accuracy per task cluster, 95% bootstrap CI")
    ax.grid(axis="y", alpha=0.3)
    if names:
        ax.legend(fontsize=7, ncol=min(len(names) + 1, 6), loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return save_figure(fig, out_png)
