"""The evaluation suite of one model: validation loss, bits per byte, and zero-shot rank
classification on every synthworld task, aggregated per cluster and over held-out/held-in clusters.

Aggregates are unweighted means over tasks of task accuracy (a cluster with many templates or items
does not dominate), with percentile-bootstrap CIs that resample items within each task
(:mod:`pretrainlab.evaluation.bootstrap`). Each CI is seeded from ``evaluate.seed`` and the name of
what it summarises, so it does not change when other tasks are added or removed.

:func:`evaluate_model` returns what the evaluate stage writes: the metrics
(``metrics/evaluate/<model>.json``) and the per-item results (``<model>.items.parquet``,
:mod:`pretrainlab.evaluation.item_results`) that the report's paired comparisons read.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from pretrainlab.config.schema import EvaluateConfig
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.bootstrap import bootstrap_ci, bootstrap_mean_over_tasks
from pretrainlab.evaluation.item_results import item_table
from pretrainlab.evaluation.perplexity import bytes_per_token, validation_perplexity
from pretrainlab.evaluation.prompt_formats import prompt_format
from pretrainlab.evaluation.rank_classification import (
    RankResult,
    encode_items,
    model_scorer,
    rank_classify,
)
from pretrainlab.evaluation.reference_baselines import reference_baselines, shortcut_test
from pretrainlab.models.architectures import architecture
from pretrainlab.models.build import register_sdpa
from pretrainlab.models.load import check_tokenizer_lineage, load_pretrained
from pretrainlab.synthworld import TASK_FAMILIES, generate_task_items
from pretrainlab.tokenization.specials import SpecialTokens
from pretrainlab.tokenization.token_stream import TokenStream

log = logging.getLogger(__name__)


def resolve_tasks(tasks: Sequence[str] | str) -> list[str]:
    """The task names to evaluate: every synthworld task for ``"all"``, else the names, checked."""
    valid = sorted(TASK_FAMILIES)
    if tasks == "all":
        return valid
    unknown = [name for name in tasks if name not in TASK_FAMILIES]
    if unknown:
        raise UserInputError(
            f"evaluate.tasks: unknown task(s) {', '.join(unknown)}; valid names: {', '.join(valid)}"
        )
    return list(dict.fromkeys(tasks))


def load_model(
    model_dir: Path,
    arch: str,
    attn_implementation: str = "eager",
    vocab_size: int | None = None,
    *,
    tokenizer_sha256: str | None = None,
) -> torch.nn.Module:
    """Load a saved model with stock ``transformers`` classes (float32, no remote code).

    ``attn_implementation="sdpa"`` switches to torch SDPA (:func:`pretrainlab.models.build.register_sdpa`),
    the fast path on GPU; the default ``eager`` is what stock loading picks.
    """
    model = load_pretrained(Path(model_dir), arch, vocab_size, tokenizer_sha256=tokenizer_sha256)
    if attn_implementation == "sdpa":
        model.set_attn_implementation(register_sdpa())
    elif attn_implementation != "eager":
        raise ValueError(f"attn_implementation must be 'eager' or 'sdpa', got {attn_implementation!r}")
    return model.eval()


def _seed(seed: int, name: str) -> int:
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode("utf-8"))]).generate_state(1)[0])


def _ci(values: np.ndarray, config: EvaluateConfig, name: str) -> list[float]:
    return list(bootstrap_ci(values, samples=config.bootstrap_samples, seed=_seed(config.seed, name)))


def _aggregate(
    results: Mapping[str, RankResult], baselines: Mapping[str, float], config: EvaluateConfig, name: str
) -> dict:
    """Mean over ``results``' tasks of accuracy (sum and per-token), with bootstrap CIs."""
    tasks = sorted(results)
    entry: dict = {"tasks": tasks}
    for key, attr in (("", "correct"), ("_norm", "correct_norm")):
        per_task = [getattr(results[t], attr).astype(np.float64) for t in tasks]
        entry[f"accuracy{key}"] = float(np.mean([v.mean() for v in per_task]))
        seed = _seed(config.seed, name + key)
        entry[f"ci95{key}"] = list(
            bootstrap_mean_over_tasks(per_task, samples=config.bootstrap_samples, seed=seed)
        )
    entry["random_baseline"] = float(np.mean([baselines[t] for t in tasks]))
    return entry


def summarise(
    results: Mapping[str, RankResult], config: EvaluateConfig, families: Mapping | None = None
) -> dict:
    """``tasks``, ``clusters``, ``held_out`` and ``held_in`` sections from per-task rank results."""
    families = TASK_FAMILIES if families is None else families
    tasks: dict[str, dict] = {}
    baselines = {}
    for name in sorted(results):
        family, result = families[name], results[name]
        baselines[name] = float(family.random_baseline())
        tasks[name] = {
            "cluster": family.cluster,
            "held_out": bool(family.held_out),
            "n": len(result.correct),
            "accuracy": result.accuracy,
            "ci95": _ci(result.correct, config, name),
            "accuracy_norm": result.accuracy_norm,
            "ci95_norm": _ci(result.correct_norm, config, name + "_norm"),
            "accuracy_byte_norm": result.accuracy_byte_norm,
            "ci95_byte_norm": _ci(result.correct_byte_norm, config, name + "_byte_norm"),
            "random_baseline": baselines[name],
        }
    clusters: dict[str, dict] = {}
    for cluster in sorted({t["cluster"] for t in tasks.values()}):
        members = {n: results[n] for n, t in tasks.items() if t["cluster"] == cluster}
        held_out = {tasks[n]["held_out"] for n in members}
        entry = _aggregate(members, baselines, config, f"cluster:{cluster}")
        clusters[cluster] = {"held_out": all(held_out), **entry}
    summary: dict = {"tasks": tasks, "clusters": clusters}
    for section, flag in (("held_out", True), ("held_in", False)):
        members = {n: results[n] for n, t in tasks.items() if t["held_out"] == flag}
        summary[section] = _aggregate(members, baselines, config, section) if members else None
    return summary


def items_asked(name: str, config: EvaluateConfig) -> int:
    """How many items of task ``name`` are asked: ``held_out_items_per_task`` for a task of a held-out
    cluster (the study's verdicts rest on the held-out average), ``items_per_task`` otherwise.

    >>> config = EvaluateConfig(models={}, tasks="all", items_per_task=100, held_out_items_per_task=500,
    ...                         bootstrap_samples=1000, val_tokens=1024, seed=0, lm_eval=None)
    >>> items_asked("nli.fact", config), items_asked("sentiment.review", config)
    (500, 100)
    """
    return config.held_out_items_per_task if TASK_FAMILIES[name].held_out else config.items_per_task


def task_references(name: str, eval_items: Sequence, n: int, world: Mapping[str, int]) -> dict:
    """Chance, majority and shortcut accuracy of task ``name`` on ``eval_items`` (none of them saw the
    corpus; :mod:`pretrainlab.evaluation.reference_baselines`), with one-sided exact p-values of the
    majority and shortcut baselines against chance; ``flagged`` names those significantly above it —
    such a task rewards a label prior or surface cues, not knowledge."""
    train_items = generate_task_items(
        name,
        n,
        entities=int(world["entities"]),
        documents=int(world["documents"]),
        seed=int(world["seed"]),
        split="train",
    )
    baselines = reference_baselines(train_items, eval_items)
    tests = {kind: shortcut_test(baselines[kind], eval_items) for kind in ("majority", "shortcut")}
    return {
        **{kind: baseline.accuracy for kind, baseline in baselines.items()},
        **{f"{kind}_p_value": test.p_value for kind, test in tests.items()},
        "flagged": [kind for kind, test in tests.items() if test.flagged],
    }


@dataclass(frozen=True)
class Evaluation:
    """What one model's evaluation writes: its metrics and its per-item results."""

    metrics: dict  # metrics/evaluate/<model>.json
    items: pa.Table  # metrics/evaluate/<model>.items.parquet


def evaluate_model(
    model_dir: Path,
    *,
    arch: str,
    objective: str,
    prompt_format_name: str,
    tokenizer,
    specials: SpecialTokens,
    tokens_dir: Path,
    config: EvaluateConfig,
    world: Mapping[str, int],
    seq_len: int,
    device: torch.device | str = "cpu",
    max_batch_tokens: int = 8192,
    attn_implementation: str = "eager",
) -> Evaluation:
    """Evaluate the saved model in ``model_dir``: the metrics and the per-item results.

    ``prompt_format_name`` is the format recorded in the model's card
    (:func:`pretrainlab.evaluation.prompt_formats.card_prompt_format`): that of its last training
    objective, plain after multitask finetuning. ``objective`` is recorded in the metrics. ``device``,
    ``max_batch_tokens`` and ``attn_implementation`` are operational: they do not change the numbers
    beyond float rounding.
    """
    task_names = resolve_tasks(config.tasks)
    model = load_model(Path(model_dir), arch, attn_implementation, specials.vocab_size).to(device)
    stream = TokenStream.open(Path(tokens_dir), "val")
    check_tokenizer_lineage(Path(model_dir), stream.meta["tokenizer_sha256"])
    ppl = None
    if architecture(arch).predicts_targets:  # a BERT-style encoder has no next-token distribution
        ppl = validation_perplexity(
            model,
            arch,
            specials,
            stream.tokens,
            seq_len=seq_len,
            max_tokens=config.val_tokens,
            bytes_per_token=bytes_per_token(stream.meta, "val"),
            max_batch_tokens=max_batch_tokens,
            device=device,
        )
        log.info("%s: val loss %.4f, %.4f bits/byte", Path(model_dir).name, ppl.loss, ppl.bits_per_byte)

    fmt = prompt_format(prompt_format_name, specials)
    scorer = model_scorer(model, arch, specials, max_batch_tokens=max_batch_tokens, device=device)
    raw = {
        name: generate_task_items(
            name,
            items_asked(name, config),
            entities=int(world["entities"]),
            documents=int(world["documents"]),
            seed=int(world["seed"]),
            split="eval",
        )
        for name in task_names
    }
    results, references = {}, {}
    for name in task_names:
        references[name] = task_references(name, raw[name], items_asked(name, config), world)
        results[name] = rank_classify(
            encode_items(raw[name], tokenizer), scorer, fmt, arch=arch, seq_len=seq_len
        )
        log.info("%s: %s accuracy %.3f", Path(model_dir).name, name, results[name].accuracy)
    metrics = {
        "model": Path(model_dir).name,
        "arch": arch,
        "objective": objective,
        "prompt_format": prompt_format_name,
        "val_loss": ppl.loss if ppl else None,
        "bits_per_byte": ppl.bits_per_byte if ppl else None,
        "val_tokens_scored": ppl.tokens if ppl else 0,
        **summarise(results, config),
    }
    for name, reference in references.items():
        metrics["tasks"][name]["reference"] = reference
    return Evaluation(metrics, item_table(Path(model_dir).name, results, raw))
