"""The metrics files the stages write and the report reads, one typed record per file, shared by both.

=========================================  ====================  =============================================
file                                       record                written by
=========================================  ====================  =============================================
``metrics/<pretrain|adapt|finetune>/       :class:`Training      :func:`pretrainlab.training.job.run_job`
<name>.json``                              Metrics`
``metrics/evaluate/<model>.json``          :class:`Evaluation    :func:`pretrainlab.evaluation.item_results.
                                           Metrics`              publish_evaluation`
``plots/<pretrain|adapt|finetune>/         :class:`LossCurve`    :func:`pretrainlab.training.cell.write_curve`
<name>.csv``
=========================================  ====================  =============================================

A writer builds the record, so a missing, misspelt or extra key fails where it is made, and writes
``record.as_json()``; the report reads with :func:`read_metrics` and :meth:`LossCurve.read`, which name
the file and the key that does not fit and say which stage to rerun. Accuracies are fractions in
[0, 1]; ``ci95`` is a 95% percentile-bootstrap interval ``[low, high]``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator

from pretrainlab.atomic import non_finite_numbers
from pretrainlab.errors import UserInputError

CURVE_FIELDS = ("step", "tokens", "train_loss", "val_loss", "lr")
LOCK_FILE = Path(__file__).resolve().parents[1] / "requirements.lock"  # `make lock` writes it
_READING = "reading"  # validation context of a file read back (not a record being made)
_COUNTS = ("step", "tokens")  # written as integers


class Record(BaseModel):
    """A metrics record: every key declared, none unknown, frozen once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_json(self) -> dict[str, Any]:
        """The plain dict the JSON file holds (NaN stays NaN: the JSON writer refuses it)."""
        return self.model_dump(mode="python")


class Environment(Record):
    """The software a result was made with (model cards, evaluation metrics)."""

    lock_sha256: str | None  # of requirements.lock (None: a package installed without its checkout)
    torch: str  # e.g. 2.13.0+cpu
    cuda: str | None  # the CUDA torch was built for; None: a CPU build

    @classmethod
    def current(cls) -> Environment:
        import torch  # the writers (training and evaluate stages) have it loaded already

        lock = hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest() if LOCK_FILE.is_file() else None
        return cls(lock_sha256=lock, torch=torch.__version__, cuda=torch.version.cuda)


class Accuracy(Record):
    """Rank-classification accuracy: by summed log-likelihood, and per choice token (``_norm``)."""

    accuracy: float
    ci95: tuple[float, float]
    accuracy_norm: float
    ci95_norm: tuple[float, float]
    random_baseline: float  # chance: mean over items of 1 / number of choices


class ReferenceScores(Record):
    """Baselines that never saw the corpus (:mod:`pretrainlab.evaluation.reference_baselines`)."""

    chance: float
    majority: float
    shortcut: float
    majority_p_value: float
    shortcut_p_value: float
    flagged: list[str]  # the references significantly above chance


class TaskAccuracy(Accuracy):
    cluster: str
    held_out: bool
    n: int  # items
    accuracy_byte_norm: float
    ci95_byte_norm: tuple[float, float]
    reference: ReferenceScores | None = None


class MeanAccuracy(Accuracy):
    """Unweighted mean over ``tasks`` of their accuracy."""

    tasks: list[str]


class ClusterAccuracy(MeanAccuracy):
    held_out: bool


class SuiteTemplate(Record):
    """One prompt template of an lm-eval suite dataset (:mod:`pretrainlab.evaluation.lm_eval_suites`)."""

    accuracy: float  # lm-eval's ``acc`` (``exact_match`` where a task reports that instead)
    n: int  # items scored
    correct: list[int]  # 1/0 per item in document order: comparisons of two models can be paired


class SuiteDataset(Record):
    """A suite dataset: median and mean accuracy over its templates, as T0 reported them."""

    median: float
    mean: float
    templates: dict[str, SuiteTemplate]  # lm-eval task name -> result


class SuiteResult(Record):
    """``t0_eval`` or ``eai_eval``: per dataset, and ``average``, the mean of the datasets' medians."""

    datasets: dict[str, SuiteDataset]
    average: float | None  # None: no dataset of the suite was scored
    skipped: list[str] = []  # tasks of the suite the installed harness lacks


class EvaluationMetrics(Record):
    """``metrics/evaluate/<model>.json``."""

    model: str
    kind: Literal["pretrain", "adapt", "finetune"]  # the stage that made the model
    arch: str
    objective: str
    prompt_format: str  # the format its last training taught it (its model card)
    val_loss: float | None  # None: the architecture has no next-token distribution
    bits_per_byte: float | None
    val_tokens_scored: int
    tasks: dict[str, TaskAccuracy]
    clusters: dict[str, ClusterAccuracy]
    held_out: MeanAccuracy | None  # None when no held-out task was evaluated
    held_in: MeanAccuracy | None
    lm_eval: dict[str, dict[str, float | int | None]] | None = None  # task -> metric (acc, acc_stderr, n)
    lm_eval_suites: dict[str, SuiteResult] | None = None  # t0_eval / eai_eval, when selected
    environment: Environment | None = None  # None: a file written before environments were recorded

    @model_validator(mode="before")
    @classmethod
    def _record_environment(cls, data: Any, info: ValidationInfo) -> Any:
        """A record being made (not read back from its file) records the environment making it."""
        if isinstance(data, dict) and "environment" not in data and not (info.context or {}).get(_READING):
            return {**data, "environment": Environment.current().as_json()}
        return data

    def average(self, section: str) -> MeanAccuracy | None:
        """``held_out`` or ``held_in``."""
        return self.held_out if section == "held_out" else self.held_in


class TrainingMetrics(Record):
    """``metrics/<stage>/<name>.json`` of a training stage (pretrain, adapt, finetune)."""

    arch: str
    objective: str
    steps: int  # the main phase (a frozen warm-up comes before)
    batch_size: int
    tokens_per_step: float  # data tokens, no padding
    padded_tokens_per_step: int
    tokens: int  # data tokens trained on
    padded_positions: int
    flops_per_token: float
    flops: float
    parameters: int
    non_embedding_parameters: int
    flops_per_token_components: dict[str, float] | None = None
    frozen_warmup_steps: int = 0  # an adaptation's cross-attention warm-up
    frozen_warmup_tokens: int = 0
    lr_schedule: str | None = None
    train_loss: float
    val_loss: float
    tokens_per_second: float
    train_seconds: float
    mfu: float | None  # None off CUDA or on an unknown GPU
    device: str
    world_size: int


R = TypeVar("R", bound=Record)


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if not key:
        return f"not a JSON object ({first['msg']})"
    if first["type"] == "missing":
        return f"no `{key}` (written by an older stage)"
    if first["type"] == "extra_forbidden":
        return f"unknown key `{key}` (written by another version)"
    return f"`{key}`: {first['msg']}"


def parse_metrics(record: type[R], data: object, path: Path, rerun: str) -> R:
    """``data`` (a metrics file's JSON) as ``record``; a mismatch names the file and the key."""
    try:
        return record.model_validate(data, context={_READING: True})
    except ValidationError as error:
        raise UserInputError(f"{path}: {_problem(error)}; rerun `{rerun}`") from error


def read_json(path: Path, what: str, rerun: str) -> Any:
    """The JSON in ``path`` (a ``what``: "metrics file", "model card"), every number finite. Missing,
    unreadable (permissions, a folder), not UTF-8, not JSON, or holding NaN/infinity: a
    :class:`UserInputError` naming the file, ending with ``rerun`` (what brings it back)."""
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path}: {what} not found (has its stage run? {rerun})")
    try:
        data = json.loads(path.read_bytes())
    except OSError as err:
        raise UserInputError(f"{path}: {what} unreadable ({err.strerror or err}); {rerun}") from err
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError: a truncated or damaged file
        raise UserInputError(f"{path}: {what} is not valid JSON ({err}); {rerun}") from err
    if bad := non_finite_numbers(data):
        raise UserInputError(f"{path}: {what} holds {', '.join(bad)} (not a result); {rerun}")
    return data


def read_metrics(path: Path, record: type[R], rerun: str) -> R:
    """The metrics file at ``path`` as ``record``; missing, not JSON or not fitting: a
    :class:`UserInputError` naming the file (and the key), ending with ``rerun`` (a command)."""
    data = read_json(path, "metrics file", f"rerun `{rerun}`")
    return parse_metrics(record, data, Path(path), rerun)


@dataclass(frozen=True, eq=False)  # numpy fields: == is not a bool
class LossCurve:
    """``plots/<stage>/<name>.csv``: one row per recorded step; ``val_loss`` is NaN where the step had
    no validation (an empty cell in the file)."""

    step: np.ndarray
    tokens: np.ndarray  # data tokens seen so far
    train_loss: np.ndarray
    val_loss: np.ndarray
    lr: np.ndarray

    @classmethod
    def from_history(cls, rows: Sequence[Mapping[str, Any]]) -> LossCurve:
        """From the training loop's history rows (a missing or None value -> NaN)."""

        def column(name: str) -> np.ndarray:
            values = [row.get(name) for row in rows]
            return np.array([math.nan if v is None else float(v) for v in values], dtype=float)

        return cls(*(column(name) for name in CURVE_FIELDS))

    @classmethod
    def read(cls, path: Path) -> LossCurve:
        """Read a curve file; a missing or unreadable file, a missing column or a value that is not a
        finite number (an empty ``val_loss`` aside) is a :class:`UserInputError` naming the file and line."""
        path = Path(path)
        if not path.exists():
            raise UserInputError(f"{path}: loss curve file not found (has its stage run?)")
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                missing = [name for name in CURVE_FIELDS if name not in (reader.fieldnames or ())]
                if missing:
                    raise UserInputError(f"{path}: missing column(s) {', '.join(missing)}")
                rows = [_curve_row(path, reader.line_num, row) for row in reader]
        except (OSError, ValueError, csv.Error) as err:  # permissions, a folder, not UTF-8, a NUL byte
            raise UserInputError(f"{path}: unreadable loss curve ({err})") from err
        return cls.from_history(rows)

    def csv_text(self) -> str:
        """The file's text: a header, then one row per step (NaN as an empty cell, whole numbers as
        integers)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CURVE_FIELDS)
        for row in zip(*(getattr(self, name) for name in CURVE_FIELDS), strict=True):
            writer.writerow(
                [
                    "" if math.isnan(v) else int(v) if name in _COUNTS and v.is_integer() else float(v)
                    for name, v in zip(CURVE_FIELDS, row, strict=True)
                ]
            )
        return buffer.getvalue()

    def validation_points(self) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, val loss) of the steps that were validated."""
        seen = np.isfinite(self.val_loss) & np.isfinite(self.tokens)
        return self.tokens[seen], self.val_loss[seen]

    def total_tokens(self) -> float:
        return float(np.nanmax(self.tokens)) if len(self.tokens) else 0.0


def _curve_row(path: Path, line: int, row: Mapping[str, str | None]) -> dict[str, float | None]:
    """One CSV row as numbers; only ``val_loss`` may be empty (a step without validation)."""
    values: dict[str, float | None] = {}
    for name in CURVE_FIELDS:
        text = row.get(name)
        if text is None or text == "":
            if name != "val_loss":
                raise UserInputError(f"{path}: no `{name}` value in a loss curve (line {line})")
            values[name] = None
            continue
        try:
            value = float(text)
        except ValueError:
            raise UserInputError(
                f"{path}: not a number in a loss curve (line {line}: `{name}` is {text!r})"
            ) from None
        if not math.isfinite(value):
            raise UserInputError(
                f"{path}: not a finite number in a loss curve (line {line}: `{name}` is {text!r})"
            )
        values[name] = value
    return values
