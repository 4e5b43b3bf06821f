"""A model's learning curve of zero-shot ability: its snapshots (``eval_at``,
:mod:`pretrainlab.training.snapshots`) and the final model, each evaluated like the final model.

The evaluate stage writes, beside ``metrics/evaluate/<model>.json`` (unchanged: the final model's):

* ``<model>.curve.json`` — a :class:`LearningCurve`: one point per snapshot, in training order, then
  the final model (``snapshot: final``), each with the step, tokens and FLOPs spent to reach it (a
  snapshot's from its card, the final model's from its training metrics), the validation loss and
  bits per byte, and the held-out and held-in averages;
* ``<model>.curve.items.parquet`` — every point's per-item results (the columns of
  :mod:`pretrainlab.evaluation.item_results`, ``model`` being the model's name, plus ``snapshot``,
  ``step`` and ``tokens``), what the report's paired tests against chance read.

A study without ``eval_at`` has curves of one point, the final model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from pretrainlab import atomic
from pretrainlab.atomic import json_text
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.item_results import TaskItems, items_file, parquet_bytes
from pretrainlab.metrics_contract import EvaluationMetrics, MeanAccuracy, Record, read_metrics

FINAL = "final"
CURVE_SUFFIX = ".curve.json"
CURVE_ITEMS_SUFFIX = ".curve.items.parquet"


class CurvePoint(Record):
    """One evaluated point: a snapshot (``tokens-<N>``) or the final model (:data:`FINAL`)."""

    snapshot: str
    eval_at_tokens: int | None  # the declared point (None: the final model)
    step: int  # of the main phase, as the loss curve counts
    tokens: int  # data tokens trained on to get there (a stage's own, warm-up included)
    flops: float
    val_loss: float | None
    bits_per_byte: float | None
    held_out: MeanAccuracy | None
    held_in: MeanAccuracy | None


class LearningCurve(Record):
    """``metrics/evaluate/<model>.curve.json``."""

    model: str
    kind: str  # the stage that trained it
    points: list[CurvePoint]


def curve_file(metrics_json: Path) -> Path:
    """``<model>.json`` -> ``<model>.curve.json``."""
    return Path(metrics_json).with_name(Path(metrics_json).name.removesuffix(".json") + CURVE_SUFFIX)


def curve_items_file(metrics_json: Path) -> Path:
    """``<model>.json`` -> ``<model>.curve.items.parquet``."""
    return Path(metrics_json).with_name(Path(metrics_json).name.removesuffix(".json") + CURVE_ITEMS_SUFFIX)


def curve_point(
    snapshot: str,
    eval_at_tokens: int | None,
    step: int,
    tokens: int,
    flops: float,
    metrics: EvaluationMetrics,
) -> CurvePoint:
    """The point of one evaluated model (snapshot or final) from its evaluation metrics."""
    return CurvePoint(
        snapshot=snapshot,
        eval_at_tokens=eval_at_tokens,
        step=step,
        tokens=tokens,
        flops=flops,
        val_loss=metrics.val_loss,
        bits_per_byte=metrics.bits_per_byte,
        held_out=metrics.held_out,
        held_in=metrics.held_in,
    )


def curve_item_table(model: str, points: Sequence[CurvePoint], tables: Sequence[pa.Table]) -> pa.Table:
    """Every point's per-item table under ``model``'s name, tagged with its ``snapshot``, ``step`` and
    ``tokens``."""
    tagged = []
    for point, table in zip(points, tables, strict=True):
        rows = table.num_rows
        column = table.schema.get_field_index("model")
        table = table.set_column(column, "model", pa.array([model] * rows, pa.string()))
        table = table.append_column("snapshot", pa.array([point.snapshot] * rows, pa.string()))
        table = table.append_column("step", pa.array([point.step] * rows, pa.int64()))
        tagged.append(table.append_column("tokens", pa.array([point.tokens] * rows, pa.int64())))
    return pa.concat_tables(tagged)


def publish_with_curve(
    metrics_json: Path,
    metrics: EvaluationMetrics,
    items: pa.Table,
    curve: LearningCurve,
    curve_items: pa.Table,
) -> None:
    """The final model's metrics, its per-item results and the curve's two files, published together
    (:func:`~pretrainlab.atomic.write_together`): all four written in full before any is renamed, the
    metrics (the finished-marker) renamed last, so metrics present mean the rest is from the same run
    and a failed write leaves the previous four as they were."""
    metrics_json = Path(metrics_json)
    curve_text = json_text(
        curve.as_json(), curve_file(metrics_json)
    )  # NaN refused before anything is touched
    atomic.write_together(
        [
            (metrics_json, json_text(metrics.as_json(), metrics_json)),
            (items_file(metrics_json), parquet_bytes(items)),
            (curve_file(metrics_json), curve_text),
            (curve_items_file(metrics_json), parquet_bytes(curve_items)),
        ]
    )


def read_curve(metrics_json: Path, rerun: str) -> LearningCurve:
    """The curve beside ``metrics_json`` (a :class:`UserInputError` naming it when missing or malformed)."""
    return read_metrics(curve_file(metrics_json), LearningCurve, rerun)


def read_curve_items(metrics_json: Path, model: str, rerun: str) -> dict[str, dict[str, TaskItems]]:
    """Per snapshot (and :data:`FINAL`), per task, what ``model`` got right at that point."""
    from pretrainlab.evaluation.item_results import read_parquet, task_items

    path = curve_items_file(metrics_json)
    table = read_parquet(path, f"per-item results of {model!r}'s learning curve", rerun)
    if "snapshot" not in table.column_names:
        raise UserInputError(f"{path}: no `snapshot` column; {rerun}")
    snapshots = table.column("snapshot").to_pylist()
    out = {}
    for snapshot in dict.fromkeys(snapshots):
        mask = pa.array([s == snapshot for s in snapshots])
        out[snapshot] = task_items(table.filter(mask), path, model, rerun)
    return out
