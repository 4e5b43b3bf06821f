"""The report's per-task table: every model's accuracy beside three references no model trained on
the corpus produced — chance, the train-split majority label, and a bag-of-words shortcut scorer
(:mod:`pretrainlab.evaluation.reference_baselines`). A task whose majority or shortcut baseline is
significantly above chance is flagged ⚠: accuracy there can come from the label prior or surface
cues, so its gains say little about zero-shot generalization.
"""

from __future__ import annotations

from collections.abc import Mapping

from pretrainlab.metrics_contract import EvaluationMetrics, TaskAccuracy
from pretrainlab.report.markdown import markdown_table
from pretrainlab.report.significance import AboveRandom


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def task_table(evaluated: Mapping[str, EvaluationMetrics], marks: AboveRandom) -> list[str]:
    """Markdown lines: the table (held-out tasks first), then a sentence naming the flagged tasks."""
    tasks: dict[str, TaskAccuracy] = {}
    for metrics in evaluated.values():
        for task, entry in metrics.tasks.items():
            tasks.setdefault(task, entry)
    order = sorted(tasks, key=lambda t: (not tasks[t].held_out, tasks[t].cluster, t))
    header = ["Task", "Cluster", "Held out", "n", "Chance", "Majority", "Shortcut"]
    header += [f"`{n}`" for n in evaluated]
    rows, flagged = [], []
    for task in order:
        info = tasks[task]
        reference = info.reference
        if reference is not None and reference.flagged:
            flagged.append(f"`{task}` ({', '.join(reference.flagged)})")
        cells = []
        for name, metrics in evaluated.items():
            scored = metrics.tasks.get(task)
            star = "*" if marks.task(name, task) else ""
            cells.append("—" if scored is None else f"{100 * scored.accuracy:.1f}{star}")
        rows.append(
            [
                f"{task} ⚠" if reference is not None and reference.flagged else task,
                info.cluster,
                "yes" if info.held_out else "no",
                str(info.n),
                _pct(info.random_baseline),
                _pct(reference.majority if reference else None),
                _pct(reference.shortcut if reference else None),
                *cells,
            ]
        )
    lines = markdown_table(header, rows)
    if flagged:
        lines += [
            "",
            "⚠ A reference that never saw the corpus is significantly above chance (exact one-sided "
            f"test, α 0.05) on {', '.join(flagged)}: accuracy there is not evidence of knowledge.",
        ]
    else:
        lines += ["", "No task is flagged: the majority and shortcut references are at chance on every task."]
    return lines
