"""``reports/study.md``: the Table-8 analogue, adaptation speed-ups, the paper's orderings, per-model,
per-cluster and per-task results, and figures.

Inputs (paths are the public contract, README: "Artifacts"):

* ``metrics/pretrain/<cell>.json`` — ``arch, objective, parameters, tokens, flops, steps,
  train_loss, val_loss, tokens_per_second, ...`` for every pretraining cell (required);
* ``plots/pretrain/<cell>.csv`` and ``plots/adapt/<name>.csv`` — ``step,tokens,train_loss,val_loss,lr``
  for every pretrain cell and adaptation (required);
* ``metrics/evaluate/<model>.json`` and ``<model>.items.parquet`` —
  :func:`pretrainlab.evaluation.suite.evaluate_model`'s metrics and per-item results for every
  evaluated model, every finetune cell and every finetune's source, and for every replicate of a
  pretrain cell under ``study.seeds`` (required; the same tasks and items for all, see
  :mod:`pretrainlab.report.comparisons`);
* ``metrics/<stage>/<model>.json`` for adapted/finetuned models — read when present, for their
  parameter, token and FLOP counts (those of the stage that produced the model);
* ``metrics/evaluate/<model>.curve.json`` and ``<model>.curve.items.parquet`` — each evaluated model's
  learning curve (its ``eval_at`` snapshots and the final model, :mod:`pretrainlab.report.learning_curves`).

Every metrics file is read as its :mod:`pretrainlab.metrics_contract` record; a missing required
file, or one that does not fit its record, raises :class:`UserInputError` naming it (and the key),
before anything is written.
Outputs in ``out_dir``: ``study.md``, ``loss_curves.png``, ``adaptation_curves.png``,
``cluster_bars.png``, ``learning_curves.png`` (each atomic). Accuracies are shown in percent as ``point [CI low–high]``; a
``*`` marks an accuracy above the random baseline in a paired test against each item's chance rate,
Holm-corrected (:mod:`pretrainlab.report.significance`). Verdicts on the paper's orderings come from
paired tests too, and the report states the study's resolving power.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pretrainlab.atomic import atomic_file
from pretrainlab.config.lineage import ModelNode
from pretrainlab.config.replicates import Replicate
from pretrainlab.errors import UserInputError
from pretrainlab.metrics_contract import (
    Accuracy,
    EvaluationMetrics,
    LossCurve,
    TrainingMetrics,
    read_metrics,
)
from pretrainlab.report.adaptation_speedup import (
    SPEEDUP_DEFINITION,
    SpeedUp,
    speed_up,
    speedup_markdown,
    training_metrics,
)
from pretrainlab.report.comparisons import load_comparisons
from pretrainlab.report.figures import (
    cluster_order,
    plot_adaptation_curves,
    plot_cluster_bars,
    plot_loss_curves,
)
from pretrainlab.report.findings import findings
from pretrainlab.report.learning_curves import (
    FIGURE,
    learning_curves_markdown,
    load_learning_curves,
    plot_learning_curves,
)
from pretrainlab.report.markdown import accuracy_cell, markdown_table
from pretrainlab.report.model_labels import ARCH_SHORT, OBJECTIVE_SHORT, study_models
from pretrainlab.report.orderings import orderings
from pretrainlab.report.replicates import seeds_section
from pretrainlab.report.significance import (
    NO_MARKS,
    AboveRandom,
    above_random_marks,
    method_sentence,
    resolving_power_lines,
)
from pretrainlab.report.suite_table import suites_section
from pretrainlab.report.table8 import pooled_over_seeds, table8_markdown, table8_rows
from pretrainlab.report.task_table import task_table


def _count(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _flops(value: float | None) -> str:
    return "—" if value is None else f"{value:.2e}"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


@dataclass(frozen=True)
class StudyInputs:
    """What the report reads, each file as its metrics-contract record."""

    pretrain: dict[str, TrainingMetrics]  # pretrain cell -> metrics/pretrain/<cell>.json
    evaluated: dict[str, EvaluationMetrics]  # evaluate.models, in order
    evaluations: dict[str, EvaluationMetrics]  # evaluated + every finetune and finetune's source
    training: dict[str, TrainingMetrics]  # evaluated model -> its training stage's metrics, when present
    pretrain_curves: dict[str, LossCurve]
    adapt_curves: dict[str, LossCurve]


def _evaluation(metrics_root: Path, name: str, stage: str) -> EvaluationMetrics:
    return read_metrics(metrics_root / "evaluate" / f"{name}.json", EvaluationMetrics, f"dvc repro {stage}")


def _load_inputs(
    metrics_root: Path, plots_root: Path, models: Mapping[str, str], graph: Mapping[str, ModelNode]
) -> StudyInputs:
    nodes = list(graph.values())
    pretrain = {
        n.name: read_metrics(metrics_root / f"{n.ref}.json", TrainingMetrics, f"dvc repro pretrain@{n.name}")
        for n in nodes
        if n.stage == "pretrain"
    }
    pretrain_curves = {n: LossCurve.read(plots_root / "pretrain" / f"{n}.csv") for n in pretrain}
    evaluated = {name: _evaluation(metrics_root, name, f"evaluate@{name}") for name in models}
    training: dict[str, TrainingMetrics] = {}
    for name, stage in models.items():
        path = metrics_root / stage / f"{name}.json"
        if stage == "pretrain" and name in pretrain:
            training[name] = pretrain[name]
        elif stage == "pretrain" or path.is_file():
            training[name] = read_metrics(path, TrainingMetrics, f"dvc repro {stage}@{name}")
    adapt_curves = {}
    for node in nodes:
        if node.stage == "adapt":
            path = plots_root / "adapt" / f"{node.name}.csv"
            if not path.is_file():
                raise UserInputError(
                    f"{path}: loss curve of adaptation {node.name!r} not found (has adapt@{node.name} run?)"
                )
            adapt_curves[node.name] = LossCurve.read(path)
    evaluations = dict(evaluated)
    for node in nodes:
        if node.stage != "finetune" or node.parent is None:
            continue
        source = graph[node.parent]
        for model, role in (
            (source, f"the source of finetune {node.name!r}"),
            (node, f"finetune {node.name!r}"),
        ):
            path = metrics_root / "evaluate" / f"{model.name}.json"
            if model.name in evaluations:
                continue
            if not path.is_file():
                raise UserInputError(
                    f"{path}: evaluation metrics of {model.name!r} ({role}) not found; the Table-8 analogue "
                    f"needs them: list {model.name!r} under evaluate.models and run its evaluate stage"
                )
            evaluations[model.name] = _evaluation(metrics_root, model.name, f"evaluate@{model.name}")
    return StudyInputs(pretrain, evaluated, evaluations, training, pretrain_curves, adapt_curves)


def _main_table(
    models: Mapping[str, str],
    evaluated: Mapping[str, EvaluationMetrics],
    training: Mapping[str, TrainingMetrics],
    held_out: list[str],
    marks: AboveRandom,
) -> list[str]:
    header = ["Model", "Stage", "Arch", "Objective", "Prompt format", "Params", "Tokens", "FLOPs"]
    header += ["Val loss", "Bits/byte"]
    header += [f"{c} (held out)" for c in held_out] + ["Held-out avg", "Held-in avg"]
    rows = []
    for name, stage in models.items():
        ev, tr = evaluated[name], training.get(name)
        rows.append(
            [
                f"`{name}`",
                stage,
                ARCH_SHORT.get(ev.arch, ev.arch),
                OBJECTIVE_SHORT.get(ev.objective, ev.objective),
                f"`{ev.prompt_format}`",
                _count(tr.parameters if tr else None),
                _count(tr.tokens if tr else None),
                _flops(tr.flops if tr else None),
                _num(ev.val_loss),
                _num(ev.bits_per_byte),
                *[accuracy_cell(ev.clusters.get(c), marks.cluster(name, c)) for c in held_out],
                accuracy_cell(ev.held_out, marks.average(name, "held_out")),
                accuracy_cell(ev.held_in, marks.average(name, "held_in")),
            ]
        )
    rows.append(["**random baseline**", *["—"] * 9, *_baselines(evaluated, held_out)])
    return markdown_table(header, rows)


def _baseline_of(
    evaluated: Mapping[str, EvaluationMetrics], get: Callable[[EvaluationMetrics], Accuracy | None]
) -> str:
    for metrics in evaluated.values():
        entry = get(metrics)
        if entry is not None:
            return f"{100 * entry.random_baseline:.1f}"
    return "—"


def _cluster_baselines(evaluated: Mapping[str, EvaluationMetrics], clusters: list[str]) -> list[str]:
    def of(cluster: str) -> str:
        return _baseline_of(evaluated, lambda m: m.clusters.get(cluster))

    return [of(c) for c in clusters]


def _baselines(evaluated: Mapping[str, EvaluationMetrics], held_out: list[str]) -> list[str]:
    return _cluster_baselines(evaluated, held_out) + [
        _baseline_of(evaluated, lambda m: m.held_out),
        _baseline_of(evaluated, lambda m: m.held_in),
    ]


def _pretrain_table(graph: Mapping[str, ModelNode], pretrain: Mapping[str, TrainingMetrics]) -> list[str]:
    header = ["Cell", "Arch", "Objective", "Size", "Params", "Non-emb.", "Tokens", "Padded positions"]
    header += ["FLOPs", "Steps", "Train loss", "Val loss", "Tokens/s"]
    rows = []
    for node in graph.values():
        if node.stage != "pretrain":
            continue
        m = pretrain[node.name]
        rows.append(
            [
                f"`{node.name}`",
                ARCH_SHORT.get(m.arch, m.arch),
                OBJECTIVE_SHORT.get(m.objective, m.objective),
                node.size,
                _count(m.parameters),
                _count(m.non_embedding_parameters),
                _count(m.tokens),
                _count(m.padded_positions),
                _flops(m.flops),
                str(m.steps),
                _num(m.train_loss),
                _num(m.val_loss),
                _count(m.tokens_per_second),
            ]
        )
    return markdown_table(header, rows)


def _cluster_table(
    evaluated: Mapping[str, EvaluationMetrics], clusters: list[str], marks: AboveRandom
) -> list[str]:
    header = ["Model", *clusters]
    rows = [
        [f"`{n}`", *[accuracy_cell(m.clusters.get(c), marks.cluster(n, c)) for c in clusters]]
        for n, m in evaluated.items()
    ]
    rows.append(["**random baseline**", *_cluster_baselines(evaluated, clusters)])
    return markdown_table(header, rows)


def _adaptation_section(speedups: list[SpeedUp], has_adaptations: bool) -> list[str]:
    lines = ["## Adaptation", ""]
    if not has_adaptations:
        return lines + ["The study has no adaptations (`adapt:` is empty).", ""]
    lines += [
        SPEEDUP_DEFINITION,
        "",
        *speedup_markdown(speedups),
        "",
        "![Adaptation curves](adaptation_curves.png)",
        "",
    ]
    return lines


def build_report(
    metrics_root: Path,
    plots_root: Path,
    out_dir: Path,
    *,
    title: str,
    models: Mapping[str, str],
    graph: Mapping[str, ModelNode],
    seeds: Sequence[int] = (),
    primary_seed: int = 0,
) -> Path:
    """Write ``out_dir/study.md`` (+ its PNG figures) from the study's metrics; returns the md path.

    ``models`` are ``evaluate.models`` (name -> the stage that made it); ``graph`` is the study's
    lineage (:func:`pretrainlab.config.lineage.lineage_graph`): every pretrain cell, adaptation and
    finetune with its source; ``seeds`` are ``study.seeds`` (the replicates of every pretrain cell).
    """
    metrics_root, plots_root, out_dir = Path(metrics_root), Path(plots_root), Path(out_dir)
    lineage = study_models(graph)
    for node in graph.values():
        if node.stage == "finetune" and node.parent not in lineage:
            raise UserInputError(f"finetune.{node.name}.from: no model {node.parent!r} in this study")
    inputs = _load_inputs(metrics_root, plots_root, models, graph)
    evaluated, evaluations = inputs.evaluated, inputs.evaluations
    cells = [n.name for n in graph.values() if n.stage == "pretrain"]
    replicates = {m: [Replicate(m, s).name for s in seeds] for m in evaluations if m in cells}
    comparisons = load_comparisons(metrics_root, evaluations, replicates) if evaluations else None
    marks = above_random_marks(comparisons, list(evaluations)) if comparisons else NO_MARKS
    trained = training_metrics(metrics_root, lineage)
    speedups = [
        speed_up(m, lineage, inputs.adapt_curves[m.name], inputs.pretrain_curves, trained)
        for m in lineage.values()
        if m.stage == "adapt"
    ]
    rows = pooled_over_seeds(table8_rows(lineage, graph, evaluations), comparisons)
    pooled = {m: comparisons.seeds(m) for m in comparisons.models} if comparisons else {}
    clusters = cluster_order(evaluated)
    held_flags = {c: e.held_out for m in evaluated.values() for c, e in m.clusters.items()}
    held_out = [c for c in clusters if held_flags[c]]
    held_in = [c for c in clusters if not held_flags[c]]
    curves = load_learning_curves(metrics_root, evaluated) if evaluated else None

    out_dir.mkdir(parents=True, exist_ok=True)
    plot_loss_curves(inputs.pretrain_curves, out_dir / "loss_curves.png")
    if inputs.adapt_curves:
        plot_adaptation_curves(
            speedups, inputs.adapt_curves, inputs.pretrain_curves, out_dir / "adaptation_curves.png"
        )
    if evaluated:
        plot_cluster_bars(evaluated, out_dir / "cluster_bars.png")
    if curves is not None and curves.rows:
        plot_learning_curves(curves, out_dir / FIGURE)

    lines = [f"# {title}", "", "_Generated by `pretrainlab report` from `metrics/` and `plots/`._", ""]
    lines += [
        "Zero-shot rank classification on synthworld tasks (accuracy in %, 95% percentile-bootstrap CI in "
        "brackets; `*` = above the random baseline in a paired bootstrap test against each item's chance "
        "rate, 1/number of choices, Holm-corrected over every model × every cluster — and separately over "
        "models × the held-out/held-in averages and models × tasks). Cluster and average accuracies are "
        "unweighted means over tasks. Params, tokens and FLOPs are those of the stage that produced the "
        "model; the prompt format is the one its last training taught it (recorded in its model card). "
        "CD/ND/ED = causal / non-causal decoder / encoder-decoder; FLM/PLM/MLM = full LM / prefix LM / "
        "span corruption.",
        "",
        "## Table 8 analogue",
        "",
        *table8_markdown(rows, held_out, marks, pooled),
        "",
        *suites_section(
            rows, evaluations, {n.name: n.budget for n in graph.values() if n.stage == "pretrain"}
        ),
        "## What this shows",
        "",
        "**The paper's three orderings** (Wang et al. 2022):",
        "",
        *[
            ordering.markdown()
            for ordering in orderings(
                rows,
                speedups,
                comparisons,
                {n.name: n.budget for n in graph.values() if n.stage == "pretrain"},
            )
        ],
        "",
    ]
    if comparisons is not None:
        lines += [method_sentence(comparisons), "", *resolving_power_lines(comparisons), ""]
    lines += ["**Other readings:**", ""]
    lines += (
        [f"- {s}" for s in findings(evaluated, held_out, marks, comparisons)]
        if evaluated and comparisons
        else ["- Nothing evaluated yet."]
    )
    lines += ["", *_adaptation_section(speedups, bool(inputs.adapt_curves)), "## Models", ""]
    if models:
        lines += _main_table(models, evaluated, inputs.training, held_out, marks) + [""]
    else:
        lines += ["No models were evaluated (`evaluate.models` is empty).", ""]
    lines += seeds_section(metrics_root, cells, seeds, primary_seed)
    lines += ["## Pretraining", "", *_pretrain_table(graph, inputs.pretrain), ""]
    lines += ["![Pretraining loss curves](loss_curves.png)", ""]
    if curves is not None:
        lines += learning_curves_markdown(curves)
    if evaluated:
        lines += ["## Clusters", "", "Held-out clusters first.", ""]
        lines += _cluster_table(evaluated, held_out + held_in, marks) + [
            "",
            "![Accuracy per cluster](cluster_bars.png)",
            "",
        ]
        lines += ["## Tasks", "", "Held-out tasks first; accuracy by summed log-likelihood.", ""]
        lines += task_table(evaluated, marks) + [""]
        lines += _lm_eval_section(evaluated)
    path = out_dir / "study.md"
    with atomic_file(path) as handle:
        handle.write("\n".join(lines))
    return path


def _lm_eval_section(evaluated: Mapping[str, EvaluationMetrics]) -> list[str]:
    """lm-evaluation-harness accuracies (``acc`` ± stderr), for the models that ran it."""
    ran = {name: m.lm_eval for name, m in evaluated.items() if m.lm_eval}
    in_suites = {  # shown per dataset in the T0-Eval / EAI-Eval section
        task
        for m in evaluated.values()
        for suite in (m.lm_eval_suites or {}).values()
        for dataset in suite.datasets.values()
        for task in dataset.templates
    }
    tasks = sorted({task for results in ran.values() for task in results} - in_suites)
    if not tasks:
        return []
    lines = [
        "## lm-evaluation-harness",
        "",
        "`acc` (± stderr) in %. lm-eval scores every model in the prompt format of its model card (the "
        "Prompt format column of the Models table), as the synthworld tables above do.",
        "",
        "| Model | " + " | ".join(tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    for name, results in ran.items():
        cells = []
        for task in tasks:
            entry = results.get(task) or {}
            acc, err = entry.get("acc"), entry.get("acc_stderr")
            cells.append(
                "—" if acc is None else f"{100 * acc:.1f}" + ("" if err is None else f" ± {100 * err:.1f}")
            )
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return [*lines, ""]
