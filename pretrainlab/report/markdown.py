"""Markdown pieces shared by the report's sections: tables and accuracy cells with their 95% CIs.

An accuracy entry is a :class:`pretrainlab.metrics_contract.Accuracy` of a model's evaluation
metrics; cells show it in percent as
``point [lo–hi]`` with a ``*`` when a paired test puts it above the random baseline
(:func:`pretrainlab.report.significance.above_random_marks` decides which).
"""

from __future__ import annotations

from pretrainlab.metrics_contract import Accuracy


def accuracy_cell(entry: Accuracy | None, star: bool = False) -> str:
    """Accuracy 0.55 with ``ci95`` (0.48, 0.62), ``star=True`` -> ``55.0* [48.0–62.0]``."""
    if entry is None:
        return "—"
    lo, hi = entry.ci95
    return f"{100 * entry.accuracy:.1f}{'*' if star else ''} [{100 * lo:.1f}–{100 * hi:.1f}]"


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
