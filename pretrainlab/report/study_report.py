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
  parameter, token and FLOP counts (those of the stage that produced the model).

A missing required file raises :class:`UserInputError` naming it, before anything is written.
Outputs in ``out_dir``: ``study.md``, ``loss_curves.png``, ``adaptation_curves.png``,
``cluster_bars.png`` (each atomic). Accuracies are shown in percent as ``point [CI low–high]``; a
``*`` marks an accuracy above the random baseline in a paired test against each item's chance rate,
Holm-corrected (:mod:`pretrainlab.report.significance`). Verdicts on the paper's orderings come from
paired tests too, and the report states the study's resolving power.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pretrainlab.atomic import atomic_file
from pretrainlab.config.replicates import replicate_name
from pretrainlab.errors import UserInputError
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
    read_loss_csv,
)
from pretrainlab.report.findings import findings
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
from pretrainlab.report.table8 import table8_markdown, table8_rows
from pretrainlab.report.task_table import task_table


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise UserInputError(f"{path}: metrics file not found (has its stage run?)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserInputError(f"{path}: not valid JSON ({err})") from err


def _count(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _flops(value: float | None) -> str:
    return "—" if value is None else f"{value:.2e}"


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _load_inputs(
    metrics_root: Path, plots_root: Path, models: Mapping[str, str], pretrain_cells: Mapping[str, Mapping]
) -> tuple[dict[str, dict], dict[str, dict], dict[str, dict], dict[str, Path]]:
    pretrain = {cell: _read_json(metrics_root / "pretrain" / f"{cell}.json") for cell in pretrain_cells}
    curves = {cell: plots_root / "pretrain" / f"{cell}.csv" for cell in pretrain_cells}
    for path in curves.values():
        if not path.is_file():
            raise UserInputError(f"{path}: loss curve file not found (has its stage run?)")
    evaluated = {name: _read_json(metrics_root / "evaluate" / f"{name}.json") for name in models}
    training: dict[str, dict] = {}
    for name, stage in models.items():
        path = metrics_root / stage / f"{name}.json"
        if stage == "pretrain":
            training[name] = pretrain.get(name) or _read_json(path)
        elif path.is_file():
            training[name] = _read_json(path)
    return pretrain, evaluated, training, curves


def _load_lineage_inputs(
    metrics_root: Path,
    plots_root: Path,
    evaluated: Mapping[str, dict],
    adapt_cells: Mapping[str, Mapping],
    finetune_cells: Mapping[str, Mapping],
) -> tuple[dict[str, dict], dict[str, dict[str, np.ndarray]]]:
    """Evaluations of every finetune and its source (beside ``evaluated``), and each adaptation's curve."""
    adapt_curves = {}
    for name in adapt_cells:
        path = plots_root / "adapt" / f"{name}.csv"
        if not path.is_file():
            raise UserInputError(
                f"{path}: loss curve of adaptation {name!r} not found (has adapt@{name} run?)"
            )
        adapt_curves[name] = read_loss_csv(path)
    evaluations = dict(evaluated)
    for name, cell in finetune_cells.items():
        source = cell["from"].split("/", 1)[1]
        for model, role in ((source, f"the source of finetune {name!r}"), (name, f"finetune {name!r}")):
            path = metrics_root / "evaluate" / f"{model}.json"
            if model in evaluations:
                continue
            if not path.is_file():
                raise UserInputError(
                    f"{path}: evaluation metrics of {model!r} ({role}) not found; the Table-8 analogue "
                    f"needs them: list {model!r} under evaluate.models and run its evaluate stage"
                )
            evaluations[model] = _read_json(path)
    return evaluations, adapt_curves


def _main_table(
    models: Mapping[str, str],
    evaluated: Mapping[str, dict],
    training: Mapping[str, dict],
    held_out: list[str],
    marks: AboveRandom,
) -> list[str]:
    header = ["Model", "Stage", "Arch", "Objective", "Prompt format", "Params", "Tokens", "FLOPs"]
    header += ["Val loss", "Bits/byte"]
    header += [f"{c} (held out)" for c in held_out] + ["Held-out avg", "Held-in avg"]
    rows = []
    for name, stage in models.items():
        ev, tr = evaluated[name], training.get(name, {})
        arch, objective = ev.get("arch", tr.get("arch", "")), ev.get("objective", tr.get("objective", ""))
        rows.append(
            [
                f"`{name}`",
                stage,
                ARCH_SHORT.get(arch, arch),
                OBJECTIVE_SHORT.get(objective, objective),
                f"`{ev['prompt_format']}`",
                _count(tr.get("parameters")),
                _count(tr.get("tokens")),
                _flops(tr.get("flops")),
                _num(ev.get("val_loss")),
                _num(ev.get("bits_per_byte")),
                *[accuracy_cell(ev.get("clusters", {}).get(c), marks.cluster(name, c)) for c in held_out],
                accuracy_cell(ev.get("held_out"), marks.average(name, "held_out")),
                accuracy_cell(ev.get("held_in"), marks.average(name, "held_in")),
            ]
        )
    rows.append(["**random baseline**", *["—"] * 9, *_baselines(evaluated, held_out)])
    return markdown_table(header, rows)


def _baseline_of(evaluated: Mapping[str, dict], get) -> str:
    for metrics in evaluated.values():
        entry = get(metrics)
        if entry:
            return f"{100 * entry['random_baseline']:.1f}"
    return "—"


def _baselines(evaluated: Mapping[str, dict], held_out: list[str]) -> list[str]:
    cells = [_baseline_of(evaluated, lambda m, c=c: m.get("clusters", {}).get(c)) for c in held_out]
    return cells + [
        _baseline_of(evaluated, lambda m: m.get("held_out")),
        _baseline_of(evaluated, lambda m: m.get("held_in")),
    ]


def _pretrain_table(pretrain_cells: Mapping[str, Mapping], pretrain: Mapping[str, dict]) -> list[str]:
    header = ["Cell", "Arch", "Objective", "Size", "Params", "Non-emb.", "Tokens", "Padded positions"]
    header += ["FLOPs", "Steps", "Train loss", "Val loss", "Tokens/s"]
    rows = []
    for cell, spec in pretrain_cells.items():
        m = pretrain[cell]
        arch, objective = m.get("arch", spec.get("arch", "")), m.get("objective", spec.get("objective", ""))
        rows.append(
            [
                f"`{cell}`",
                ARCH_SHORT.get(arch, arch),
                OBJECTIVE_SHORT.get(objective, objective),
                str(spec.get("model", "")),
                _count(m.get("parameters")),
                _count(m.get("non_embedding_parameters")),
                _count(m.get("tokens")),
                _count(m.get("padded_positions")),
                _flops(m.get("flops")),
                str(m.get("steps", "—")),
                _num(m.get("train_loss")),
                _num(m.get("val_loss")),
                _count(m.get("tokens_per_second")),
            ]
        )
    return markdown_table(header, rows)


def _cluster_table(evaluated: Mapping[str, dict], clusters: list[str], marks: AboveRandom) -> list[str]:
    header = ["Model", *clusters]
    rows = [
        [f"`{n}`", *[accuracy_cell(m.get("clusters", {}).get(c), marks.cluster(n, c)) for c in clusters]]
        for n, m in evaluated.items()
    ]
    rows.append(
        [
            "**random baseline**",
            *[_baseline_of(evaluated, lambda m, c=c: m.get("clusters", {}).get(c)) for c in clusters],
        ]
    )
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
    pretrain_cells: Mapping[str, Mapping],
    adapt_cells: Mapping[str, Mapping] | None = None,
    finetune_cells: Mapping[str, Mapping] | None = None,
    seeds: Sequence[int] = (),
    primary_seed: int = 0,
) -> Path:
    """Write ``out_dir/study.md`` (+ its PNG figures) from the study's metrics; returns the md path.

    Cells are the params sections as plain mappings; adapt and finetune cells carry their source
    under ``from`` (``pretrain/<cell>`` or ``adapt/<name>``).
    """
    metrics_root, plots_root, out_dir = Path(metrics_root), Path(plots_root), Path(out_dir)
    adapt_cells, finetune_cells = adapt_cells or {}, finetune_cells or {}
    lineage = study_models(pretrain_cells, adapt_cells)
    for name, cell in finetune_cells.items():
        if cell["from"] not in lineage:
            raise UserInputError(f"finetune.{name}.from: no model {cell['from']!r} in this study")
    pretrain, evaluated, training, curves = _load_inputs(metrics_root, plots_root, models, pretrain_cells)
    evaluations, adapt_curves = _load_lineage_inputs(
        metrics_root, plots_root, evaluated, adapt_cells, finetune_cells
    )
    replicates = {m: [replicate_name(m, s) for s in seeds] for m in evaluations if m in pretrain_cells}
    comparisons = load_comparisons(metrics_root, evaluations, replicates) if evaluations else None
    marks = above_random_marks(comparisons, list(evaluations)) if comparisons else NO_MARKS
    pretrain_curves = {cell: read_loss_csv(path) for cell, path in curves.items()}
    trained = training_metrics(metrics_root, lineage)
    speedups = [
        speed_up(m, lineage, adapt_curves[m.name], pretrain_curves, trained)
        for m in lineage.values()
        if m.stage == "adapt"
    ]
    rows = table8_rows(lineage, finetune_cells, evaluations)
    clusters = cluster_order(evaluated)
    held_flags = {c: e["held_out"] for m in evaluated.values() for c, e in m.get("clusters", {}).items()}
    held_out = [c for c in clusters if held_flags[c]]
    held_in = [c for c in clusters if not held_flags[c]]

    out_dir.mkdir(parents=True, exist_ok=True)
    plot_loss_curves(curves, out_dir / "loss_curves.png")
    if adapt_cells:
        plot_adaptation_curves(speedups, adapt_curves, pretrain_curves, out_dir / "adaptation_curves.png")
    if evaluated:
        plot_cluster_bars(evaluated, out_dir / "cluster_bars.png")

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
        *table8_markdown(rows, held_out, marks),
        "",
        "## What this shows",
        "",
        "**The paper's three orderings** (Wang et al. 2022):",
        "",
        *[ordering.markdown() for ordering in orderings(rows, speedups, comparisons)],
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
    lines += ["", *_adaptation_section(speedups, bool(adapt_cells)), "## Models", ""]
    if models:
        lines += _main_table(models, evaluated, training, held_out, marks) + [""]
    else:
        lines += ["No models were evaluated (`evaluate.models` is empty).", ""]
    lines += seeds_section(metrics_root, pretrain_cells, seeds, primary_seed)
    lines += ["## Pretraining", "", *_pretrain_table(pretrain_cells, pretrain), ""]
    lines += ["![Pretraining loss curves](loss_curves.png)", ""]
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


def _lm_eval_section(evaluated: Mapping[str, dict]) -> list[str]:
    """lm-evaluation-harness accuracies (``acc`` ± stderr), for the models that ran it."""
    ran = {name: m["lm_eval"] for name, m in evaluated.items() if m.get("lm_eval")}
    if not ran:
        return []
    tasks = sorted({task for results in ran.values() for task in results})
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
