"""``reports/study.md``: the study's comparison table, per-task results, figures and a short reading.

Inputs (paths are the public contract, DESIGN.md §Public contract):

* ``metrics/pretrain/<cell>.json`` — ``arch, objective, parameters, tokens, flops, steps,
  train_loss, val_loss, tokens_per_second, ...`` for every pretraining cell (required);
* ``plots/pretrain/<cell>.csv`` — ``step,tokens,train_loss,val_loss,lr`` for every cell (required);
* ``metrics/evaluate/<model>.json`` — :func:`pretrainlab.evaluation.suite.evaluate_model`'s output
  for every evaluated model (required);
* ``metrics/<stage>/<model>.json`` for adapted/finetuned models — read when present, for their
  parameter, token and FLOP counts (those of the stage that produced the model).

A missing required file raises :class:`UserInputError` naming it, before anything is written.
Outputs in ``out_dir``: ``study.md``, ``loss_curves.png``, ``cluster_bars.png`` (each atomic).
Accuracies are shown in percent as ``point [CI low–high]``; a ``*`` marks a 95% CI entirely above
the random baseline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

from pretrainlab.atomic import atomic_file
from pretrainlab.errors import UserInputError
from pretrainlab.report.figures import cluster_order, plot_cluster_bars, plot_loss_curves

ARCH_SHORT = {"causal_decoder": "CD", "noncausal_decoder": "ND", "encoder_decoder": "ED", "encoder": "E"}
OBJECTIVE_SHORT = {
    "full_lm": "FLM",
    "prefix_lm": "PLM",
    "span_corruption": "MLM",
    "mlm": "BERT-MLM",
    "ul2": "UL2",
}


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


def above_random(entry: Mapping | None) -> bool:
    """Whether a task/cluster/average entry's 95% CI lies entirely above its random baseline."""
    return bool(entry) and entry["ci95"][0] > entry["random_baseline"]


def _acc(entry: Mapping | None) -> str:
    if not entry:
        return "—"
    lo, hi = entry["ci95"]
    star = "*" if above_random(entry) else ""
    return f"{100 * entry['accuracy']:.1f}{star} [{100 * lo:.1f}–{100 * hi:.1f}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


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


def _main_table(
    models: Mapping[str, str],
    evaluated: Mapping[str, dict],
    training: Mapping[str, dict],
    held_out: list[str],
) -> list[str]:
    header = ["Model", "Stage", "Arch", "Objective", "Params", "Tokens", "FLOPs", "Val loss", "Bits/byte"]
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
                _count(tr.get("parameters")),
                _count(tr.get("tokens")),
                _flops(tr.get("flops")),
                _num(ev.get("val_loss")),
                _num(ev.get("bits_per_byte")),
                *[_acc(ev.get("clusters", {}).get(c)) for c in held_out],
                _acc(ev.get("held_out")),
                _acc(ev.get("held_in")),
            ]
        )
    rows.append(["**random baseline**", *["—"] * 8, *_baselines(evaluated, held_out)])
    return _table(header, rows)


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
    header = ["Cell", "Arch", "Objective", "Size", "Params", "Non-emb.", "Tokens", "FLOPs", "Steps"]
    header += ["Train loss", "Val loss", "Tokens/s"]
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
                _flops(m.get("flops")),
                str(m.get("steps", "—")),
                _num(m.get("train_loss")),
                _num(m.get("val_loss")),
                _count(m.get("tokens_per_second")),
            ]
        )
    return _table(header, rows)


def _cluster_table(evaluated: Mapping[str, dict], clusters: list[str]) -> list[str]:
    header = ["Model", *clusters]
    rows = [[f"`{n}`", *[_acc(m.get("clusters", {}).get(c)) for c in clusters]] for n, m in evaluated.items()]
    rows.append(
        [
            "**random baseline**",
            *[_baseline_of(evaluated, lambda m, c=c: m.get("clusters", {}).get(c)) for c in clusters],
        ]
    )
    return _table(header, rows)


def _task_table(evaluated: Mapping[str, dict]) -> list[str]:
    tasks: dict[str, dict] = {}
    for metrics in evaluated.values():
        for task, entry in metrics.get("tasks", {}).items():
            tasks.setdefault(task, entry)
    order = sorted(tasks, key=lambda t: (not tasks[t]["held_out"], tasks[t]["cluster"], t))
    header = ["Task", "Cluster", "Held out", "n", "Random", *[f"`{n}`" for n in evaluated]]
    rows = []
    for task in order:
        info = tasks[task]
        cells = []
        for metrics in evaluated.values():
            entry = metrics.get("tasks", {}).get(task)
            cells.append(
                "—" if not entry else f"{100 * entry['accuracy']:.1f}{'*' if above_random(entry) else ''}"
            )
        held = "yes" if info["held_out"] else "no"
        rows.append(
            [task, info["cluster"], held, str(info["n"]), f"{100 * info['random_baseline']:.1f}", *cells]
        )
    return _table(header, rows)


def _names(names: list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def findings(evaluated: Mapping[str, dict], held_out: list[str]) -> list[str]:
    """Plain-language sentences read off the numbers (no claim the CIs do not support)."""
    out: list[str] = []
    scored = {n: m["held_out"] for n, m in evaluated.items() if m.get("held_out")}
    if not scored:
        out.append("No held-out tasks were evaluated, so nothing here speaks to zero-shot generalisation.")
    else:
        baseline = next(iter(scored.values()))["random_baseline"]
        winners = [n for n, e in scored.items() if above_random(e)]
        if winners:
            out.append(
                f"On the held-out clusters (average), {_names(winners)} beat{'s' if len(winners) == 1 else ''} "
                f"random ({100 * baseline:.1f}%) with the whole 95% CI above it."
            )
        else:
            out.append(
                f"No model beats random on the held-out clusters: every held-out average has a 95% CI that "
                f"reaches the random baseline ({100 * baseline:.1f}%) or falls below it."
            )
        ranked = sorted(scored, key=lambda n: scored[n]["accuracy"], reverse=True)
        if len(ranked) > 1:
            best, second = scored[ranked[0]], scored[ranked[1]]
            separated = best["ci95"][0] > second["ci95"][1]
            out.append(
                f"The best held-out average is `{ranked[0]}` ({100 * best['accuracy']:.1f}%); its lead over "
                f"`{ranked[1]}` ({100 * second['accuracy']:.1f}%) "
                + (
                    "is outside both CIs."
                    if separated
                    else "is within overlapping CIs, so it is not established."
                )
            )
    for cluster in held_out:
        entries = {
            n: m["clusters"][cluster] for n, m in evaluated.items() if cluster in m.get("clusters", {})
        }
        winners = [n for n, e in entries.items() if above_random(e)]
        out.append(
            f"Held-out cluster `{cluster}`: "
            + (f"{_names(winners)} above random." if winners else "no model is above random.")
        )
    held_in = {n: m["held_in"] for n, m in evaluated.items() if m.get("held_in")}
    if held_in:
        winners = [n for n, e in held_in.items() if above_random(e)]
        out.append(
            "On the held-in (training-cluster) tasks, "
            + (
                f"{_names(winners)} {'is' if len(winners) == 1 else 'are'} above random."
                if winners
                else "no model is above random."
            )
        )
    losses = {n: m["val_loss"] for n, m in evaluated.items() if isinstance(m.get("val_loss"), (int, float))}
    decoders = {
        n: v for n, v in losses.items() if evaluated[n].get("arch") != "encoder_decoder" and math.isfinite(v)
    }
    if decoders:
        best = min(decoders, key=decoders.get)
        out.append(
            f"Lowest next-token validation loss among decoders: `{best}` ({decoders[best]:.3f} nats/token, "
            f"{evaluated[best].get('bits_per_byte', float('nan')):.3f} bits/byte). Validation loss measures "
            "next-token prediction, which span-corruption models were not trained for; encoder-decoders are "
            "scored on the second half of each window only, so compare them among themselves."
        )
    return out


def build_report(
    metrics_root: Path,
    plots_root: Path,
    out_dir: Path,
    *,
    title: str,
    models: Mapping[str, str],
    pretrain_cells: Mapping[str, Mapping],
) -> Path:
    """Write ``out_dir/study.md`` (+ its PNG figures) from the study's metrics; returns the md path."""
    metrics_root, plots_root, out_dir = Path(metrics_root), Path(plots_root), Path(out_dir)
    pretrain, evaluated, training, curves = _load_inputs(metrics_root, plots_root, models, pretrain_cells)
    clusters = cluster_order(evaluated)
    held_flags = {c: e["held_out"] for m in evaluated.values() for c, e in m.get("clusters", {}).items()}
    held_out = [c for c in clusters if held_flags[c]]
    held_in = [c for c in clusters if not held_flags[c]]

    out_dir.mkdir(parents=True, exist_ok=True)
    plot_loss_curves(curves, out_dir / "loss_curves.png")
    if evaluated:
        plot_cluster_bars(evaluated, out_dir / "cluster_bars.png")

    lines = [f"# {title}", "", "_Generated by `pretrainlab report` from `metrics/` and `plots/`._", ""]
    lines += [
        "Zero-shot rank classification on synthworld tasks (accuracy in %, 95% percentile-bootstrap CI in "
        "brackets; `*` = CI entirely above the random baseline). Cluster and average accuracies are "
        "unweighted means over tasks. Params, tokens and FLOPs are those of the stage that produced the "
        "model. CD/ND/ED = causal / non-causal decoder / encoder-decoder; FLM/PLM/MLM = full LM / "
        "prefix LM / span corruption.",
        "",
        "## Models",
        "",
    ]
    if models:
        lines += _main_table(models, evaluated, training, held_out) + [""]
    else:
        lines += ["No models were evaluated (`evaluate.models` is empty).", ""]
    lines += ["## What this shows", ""]
    lines += [f"- {s}" for s in findings(evaluated, held_out)] if evaluated else ["- Nothing evaluated yet."]
    lines += ["", "## Pretraining", "", *_pretrain_table(pretrain_cells, pretrain), ""]
    lines += ["![Pretraining loss curves](loss_curves.png)", ""]
    if evaluated:
        lines += ["## Clusters", "", "Held-out clusters first.", ""]
        lines += _cluster_table(evaluated, held_out + held_in) + [
            "",
            "![Accuracy per cluster](cluster_bars.png)",
            "",
        ]
        lines += ["## Tasks", "", "Held-out tasks first; accuracy by summed log-likelihood.", ""]
        lines += _task_table(evaluated) + [""]
    path = out_dir / "study.md"
    with atomic_file(path) as handle:
        handle.write("\n".join(lines))
    return path
