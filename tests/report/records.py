"""Builders for the report's inputs in tests: the lineage graph from cells written as in params.yaml,
and complete metrics-contract records (so a test states only the numbers it is about)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pretrainlab.config.lineage import ModelNode, lineage_graph
from pretrainlab.config.schema import AdaptCell, FinetuneCell, PretrainCell
from pretrainlab.metrics_contract import EvaluationMetrics, LossCurve, TrainingMetrics

BUDGET = {"budget": {"tokens": 1e4}}


def graph(
    pretrain: Mapping[str, Mapping],
    adapt: Mapping[str, Mapping] | None = None,
    finetune: Mapping[str, Mapping] | None = None,
) -> dict[str, ModelNode]:
    """The lineage graph of cells written as in params.yaml (``from`` keys; a budget is added)."""
    return lineage_graph(
        {name: PretrainCell.model_validate(BUDGET | dict(cell)) for name, cell in pretrain.items()},
        {name: AdaptCell.model_validate(BUDGET | dict(cell)) for name, cell in (adapt or {}).items()},
        {name: FinetuneCell.model_validate(BUDGET | dict(cell)) for name, cell in (finetune or {}).items()},
    )


def training(**values: Any) -> TrainingMetrics:
    """A training stage's metrics: small defaults, ``values`` override them."""
    defaults: dict[str, Any] = {
        "arch": "causal_decoder",
        "objective": "full_lm",
        "steps": 10,
        "batch_size": 4,
        "tokens_per_step": 100.0,
        "padded_tokens_per_step": 128,
        "tokens": 1000,
        "padded_positions": 1280,
        "flops_per_token": 6.0e6,
        "flops": 6.0e9,
        "parameters": 1_000_000,
        "non_embedding_parameters": 500_000,
        "lr_schedule": "constant",
        "train_loss": 4.0,
        "val_loss": 4.1,
        "tokens_per_second": 1000.0,
        "train_seconds": 1.0,
        "mfu": None,
        "device": "cpu",
        "world_size": 1,
    }
    return TrainingMetrics.model_validate(defaults | values)


def accuracy(acc: float, lo: float, hi: float, baseline: float, **extra: Any) -> dict[str, Any]:
    return {
        "accuracy": acc,
        "ci95": [lo, hi],
        "accuracy_norm": acc,
        "ci95_norm": [lo, hi],
        "random_baseline": baseline,
        **extra,
    }


def task(
    acc: float, lo: float, hi: float, baseline: float, *, cluster: str, held_out: bool, n: int, **extra: Any
) -> dict[str, Any]:
    entry = accuracy(acc, lo, hi, baseline, cluster=cluster, held_out=held_out, n=n)
    return entry | {"accuracy_byte_norm": acc, "ci95_byte_norm": [lo, hi]} | extra


def evaluation(
    model: str,
    tasks: Mapping[str, Mapping[str, Any]],
    *,
    kind: str = "pretrain",
    arch: str = "causal_decoder",
    objective: str = "full_lm",
    prompt_format: str = "plain",
    val_loss: float | None = 3.2,
    **extra: Any,
) -> dict[str, Any]:
    """``metrics/evaluate/<model>.json`` as the evaluate stage writes it, clusters and averages
    computed from ``tasks`` (each a :func:`task` entry) as plain means."""

    def mean(names: Sequence[str], **more: Any) -> dict[str, Any]:
        picked = [tasks[t] for t in names]
        bounds = [
            float(np.mean([e["accuracy"] for e in picked])),
            float(np.mean([e["ci95"][0] for e in picked])),
            float(np.mean([e["ci95"][1] for e in picked])),
        ]
        baseline = float(np.mean([e["random_baseline"] for e in picked]))
        return accuracy(*bounds, baseline, tasks=list(names), **more)

    clusters = sorted({e["cluster"] for e in tasks.values()})
    members = {c: [t for t, e in tasks.items() if e["cluster"] == c] for c in clusters}
    sections = {
        section: [t for t, e in tasks.items() if e["held_out"] == flag]
        for section, flag in (("held_out", True), ("held_in", False))
    }
    metrics = {
        "model": model,
        "kind": kind,
        "arch": arch,
        "objective": objective,
        "prompt_format": prompt_format,
        "val_loss": val_loss,
        "bits_per_byte": None if val_loss is None else 1.4,
        "val_tokens_scored": 0 if val_loss is None else 1000,
        "tasks": dict(tasks),
        "clusters": {c: mean(m, held_out=tasks[m[0]]["held_out"]) for c, m in members.items()},
        **{section: mean(names) if names else None for section, names in sections.items()},
        **extra,
    }
    EvaluationMetrics.model_validate(metrics)  # what the writer would refuse, the test refuses too
    return metrics


def curve(tokens: Sequence[float], val_loss: Sequence[float]) -> LossCurve:
    """A loss curve with only tokens and validation losses of interest (train loss = val loss)."""
    t, v = np.asarray(tokens, dtype=float), np.asarray(val_loss, dtype=float)
    return LossCurve(
        step=np.arange(len(t), dtype=float), tokens=t, train_loss=v, val_loss=v, lr=np.zeros(len(t))
    )
