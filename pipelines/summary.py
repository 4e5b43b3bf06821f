"""The flow's closing markdown: one row per stage — ran / up to date / restored / failed / skipped, how
long it took, and the key numbers from the metrics files DVC says the stage writes.

    | stage | status | time | key metrics | note |
    |---|---|---:|---|---|
    | pretrain@cd-flm | ran | 21.4 s | val_loss 5.08 · tokens/s 2,949 | |
    | report | skipped | – | | upstream failed: evaluate@cd-flm |
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pipelines.repro import FAILED, RAN, RESTORED, SKIPPED, UP_TO_DATE, StageResult

# (dotted key in a metrics JSON file, label in the table, format)
KEY_METRICS = (
    ("val_loss", "val_loss", "{:.3f}"),
    ("bits_per_byte", "bits/byte", "{:.3f}"),
    ("held_out.accuracy", "held-out acc", "{:.3f}"),
    ("held_in.accuracy", "held-in acc", "{:.3f}"),
    ("tokens_per_second", "tokens/s", "{:,.0f}"),
)
STATUS_ORDER = (RAN, RESTORED, UP_TO_DATE, FAILED, SKIPPED)


def key_metrics(repo: Path, files: Sequence[Path]) -> dict[str, float]:
    """The :data:`KEY_METRICS` found in a stage's metrics files (missing files and keys are left out)."""
    found: dict[str, float] = {}
    for file in files:
        try:
            data = json.loads((repo / file).read_text())
        except (OSError, ValueError):
            continue
        for key, label, _ in KEY_METRICS:
            value: object = data
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[label] = float(value)
    return found


def counts(results: Sequence[StageResult]) -> dict[str, int]:
    tally = Counter(result.status for result in results)
    return {status: tally[status] for status in STATUS_ORDER if tally[status]}


def render(
    title: str, results: Sequence[StageResult], metrics: dict[str, dict[str, float]], header: str
) -> str:
    """The markdown table; ``metrics`` maps stage -> label -> value (see :func:`key_metrics`)."""
    formats = {label: fmt for _, label, fmt in KEY_METRICS}
    tally = " · ".join(f"{n} {status}" for status, n in counts(results).items())
    lines = [
        f"# {title}",
        "",
        header,
        "",
        f"**{tally}**",
        "",
        "| stage | status | time | attempts | key metrics | note |",
        "|---|---|---:|---:|---|---|",
    ]
    for result in results:
        shown = " · ".join(
            f"{label} {formats[label].format(value)}"
            for label, value in metrics.get(result.stage, {}).items()
        )
        time_cell = "–" if result.status == SKIPPED else f"{result.seconds:.1f} s"
        attempts = str(result.attempts) if result.attempts else "–"
        note = result.note.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{result.stage}` | {result.status} | {time_cell} | {attempts} | {shown} | {note} |")
    return "\n".join(lines) + "\n"
