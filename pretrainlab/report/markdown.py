"""Markdown pieces shared by the report's sections: tables and accuracy cells with their 95% CIs.

An accuracy entry is one of :func:`pretrainlab.evaluation.suite.evaluate_model`'s
``{"accuracy", "ci95": [lo, hi], "random_baseline", ...}`` dicts; cells show it in percent as
``point [lo–hi]`` with a ``*`` when the whole CI lies above the random baseline.
"""

from __future__ import annotations

from collections.abc import Mapping


def above_random(entry: Mapping | None) -> bool:
    """Whether a task/cluster/average entry's 95% CI lies entirely above its random baseline."""
    return bool(entry) and entry["ci95"][0] > entry["random_baseline"]


def accuracy_cell(entry: Mapping | None) -> str:
    """``{"accuracy": 0.55, "ci95": [0.48, 0.62], "random_baseline": 0.33}`` -> ``55.0* [48.0–62.0]``."""
    if not entry:
        return "—"
    lo, hi = entry["ci95"]
    star = "*" if above_random(entry) else ""
    return f"{100 * entry['accuracy']:.1f}{star} [{100 * lo:.1f}–{100 * hi:.1f}]"


def cis_overlap(a: Mapping, b: Mapping) -> bool:
    """Whether two entries' 95% CIs share any value (then their difference is within noise)."""
    return a["ci95"][0] <= b["ci95"][1] and b["ci95"][0] <= a["ci95"][1]


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
