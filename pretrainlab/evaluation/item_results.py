"""Per-item results of one model's zero-shot evaluation: ``metrics/evaluate/<model>.items.parquet``.

Every model of a study answers the same items, so two models are compared item by item (a paired
test, :mod:`pretrainlab.evaluation.paired`) rather than by whether their accuracy CIs overlap. The
evaluate stage writes this table next to ``metrics/evaluate/<model>.json``, one row per (task, item):

=====================  ==============  =====================================================
column                 type            what
=====================  ==============  =====================================================
``model``              string          the evaluated model
``task``               string          synthworld task family, e.g. ``nli.fact``
``item``               int64           index of the item in the task's generated list
``item_key``           string          16 hex digits of SHA-256 over prompt and choices:
                                       equal keys mean the same question
``answer``             int64           gold choice index
``n_choices``          int64           number of choices (chance rate = 1 / n_choices)
``prediction``         int64           chosen index by summed log-likelihood
``correct``            bool            ``prediction == answer`` (the ``accuracy`` metric)
``correct_norm``       bool            right by log-likelihood per choice token
``correct_byte_norm``  bool            right by log-likelihood per choice byte
``log_likelihood``     list<double>    summed log p(choice | prompt), per choice
``choice_tokens``      list<int64>     tokens scored, per choice
``choice_bytes``       list<int64>     UTF-8 bytes, per choice
=====================  ==============  =====================================================

>>> table = item_table("cd-flm", {"nli.fact": result}, {"nli.fact": items})  # doctest: +SKIP
>>> publish_evaluation(Path("metrics/evaluate/cd-flm.json"), metrics, table)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pretrainlab.atomic import atomic_file, json_text
from pretrainlab.config.replicates import split_replicate
from pretrainlab.errors import UserInputError

if TYPE_CHECKING:  # the report reads these files without importing torch
    from pretrainlab.evaluation.rank_classification import RankResult
    from pretrainlab.metrics_contract import EvaluationMetrics

ITEMS_SUFFIX = ".items.parquet"
SCHEMA = pa.schema(
    [
        ("model", pa.string()),
        ("task", pa.string()),
        ("item", pa.int64()),
        ("item_key", pa.string()),
        ("answer", pa.int64()),
        ("n_choices", pa.int64()),
        ("prediction", pa.int64()),
        ("correct", pa.bool_()),
        ("correct_norm", pa.bool_()),
        ("correct_byte_norm", pa.bool_()),
        ("log_likelihood", pa.list_(pa.float64())),
        ("choice_tokens", pa.list_(pa.int64())),
        ("choice_bytes", pa.list_(pa.int64())),
    ]
)


def items_file(metrics_json: Path) -> Path:
    """The per-item results beside a model's metrics: ``<model>.json`` -> ``<model>.items.parquet``."""
    metrics_json = Path(metrics_json)
    return metrics_json.with_name(metrics_json.name.removesuffix(".json") + ITEMS_SUFFIX)


def item_key(prompt: str, choices: Sequence[str]) -> str:
    """A short, stable fingerprint of one question (prompt and choices, in order)."""
    digest = hashlib.sha256("\x1f".join([prompt, *choices]).encode("utf-8"))
    return digest.hexdigest()[:16]


def item_table(model: str, results: Mapping[str, RankResult], items: Mapping[str, Sequence]) -> pa.Table:
    """The per-item table of ``model`` from each task's :class:`RankResult` and its items (objects with
    ``prompt``, ``choices`` and ``answer``, e.g. synthworld ``TaskItem``), tasks in sorted order."""
    columns: dict[str, list] = {field.name: [] for field in SCHEMA}
    for task in sorted(results):
        result, task_items = results[task], items[task]
        if len(result.log_likelihoods) != len(task_items):
            raise ValueError(
                f"{task}: {len(task_items)} items but per-choice scores for {len(result.log_likelihoods)}"
            )
        for i, item in enumerate(task_items):
            columns["model"].append(model)
            columns["task"].append(task)
            columns["item"].append(i)
            columns["item_key"].append(item_key(item.prompt, item.choices))
            columns["answer"].append(int(item.answer))
            columns["n_choices"].append(len(item.choices))
            columns["prediction"].append(int(result.predictions[i]))
            columns["correct"].append(bool(result.correct[i]))
            columns["correct_norm"].append(bool(result.correct_norm[i]))
            columns["correct_byte_norm"].append(bool(result.correct_byte_norm[i]))
            columns["log_likelihood"].append([float(v) for v in result.log_likelihoods[i]])
            columns["choice_tokens"].append([int(v) for v in result.choice_tokens[i]])
            columns["choice_bytes"].append([len(c.encode("utf-8")) for c in item.choices])
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def write_item_table(path: Path, table: pa.Table) -> None:
    """Write ``table`` to ``path`` atomically (a kill mid-write leaves no file that looks finished)."""
    with atomic_file(Path(path), "wb") as handle:
        handle.write(parquet_bytes(table))


def publish_evaluation(metrics_json: Path, metrics: EvaluationMetrics, table: pa.Table) -> None:
    """Write a model's metrics (indented, key-sorted JSON) and its per-item results beside them.

    Both temporaries are written in full before either is renamed into place, the per-item results
    first and the metrics last: a failed write (a full disk, named by the file being written) leaves
    the previous pair as it was, and metrics present mean their per-item results are from the same run.
    """
    metrics_json = Path(metrics_json)
    text = json_text(metrics.as_json(), metrics_json)  # NaN refused before either file is touched
    with atomic_file(metrics_json) as handle:
        handle.write(text)
        write_item_table(items_file(metrics_json), table)


@dataclass(frozen=True, eq=False)  # numpy fields: == is not a bool
class TaskItems:
    """One task's items as a model answered them, sorted by item index."""

    items: np.ndarray  # int64 item indices
    keys: np.ndarray  # item_key per item (object array of str)
    correct: np.ndarray  # bool, right by summed log-likelihood
    n_choices: np.ndarray  # int64

    @property
    def chance(self) -> np.ndarray:
        """Per item, the probability that a uniform random guess is right."""
        return 1.0 / self.n_choices


def read_item_table(path: Path, model: str) -> dict[str, TaskItems]:
    """Per task, what ``model`` got right, from its ``.items.parquet``; a missing or malformed file is a
    :class:`UserInputError` naming the model and the file."""
    path = Path(path)
    replicate = split_replicate(model)
    stage = f"evaluate-replicate@{replicate[0]}-{replicate[1]}" if replicate else f"evaluate@{model}"
    rerun = f"rerun `dvc repro {stage}`"
    if not path.is_file():
        raise UserInputError(
            f"{path}: per-item results of model {model!r} not found; the report compares models item by "
            f"item: {rerun}"
        )
    return task_items(read_parquet(path, f"per-item results of model {model!r}", rerun), path, model, rerun)


def read_parquet(path: Path, what: str, rerun: str) -> pa.Table:
    """The Parquet table at ``path``; a missing or unreadable file is a :class:`UserInputError` saying
    ``what`` it holds and how to remake it (``rerun``)."""
    if not Path(path).is_file():
        raise UserInputError(f"{path}: {what} not found; {rerun}")
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise UserInputError(f"{path}: {what} are unreadable ({err}); {rerun}") from err


def task_items(table: pa.Table, path: Path, model: str, rerun: str) -> dict[str, TaskItems]:
    """Per task, what ``model`` got right, from a per-item table read from ``path``."""
    missing = [
        name
        for name in ("task", "item", "item_key", "n_choices", "correct")
        if name not in table.column_names
    ]
    if missing:
        raise UserInputError(
            f"{path}: per-item results of model {model!r} lack column(s) {', '.join(missing)}; {rerun}"
        )
    tasks = np.asarray(table.column("task").to_pylist(), dtype=object)
    columns = {
        name: table.column(name).to_numpy(zero_copy_only=False)
        for name in ("item", "item_key", "n_choices", "correct")
    }
    out = {}
    for task in sorted(set(tasks)):
        rows = np.flatnonzero(tasks == task)
        rows = rows[np.argsort(columns["item"][rows], kind="stable")]
        out[str(task)] = TaskItems(
            items=columns["item"][rows].astype(np.int64),
            keys=np.asarray(columns["item_key"][rows], dtype=object),
            correct=columns["correct"][rows].astype(bool),
            n_choices=columns["n_choices"][rows].astype(np.int64),
        )
    return out
