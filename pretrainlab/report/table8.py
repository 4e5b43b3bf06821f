"""The Table-8 analogue: held-out zero-shot accuracy of every pretrained and adapted model, straight
after (pre)training and after multitask prompted finetuning (MTF), beside Wang et al. 2022's numbers.

A row is a pretrain cell or an adaptation; its "after MTF" cell is the finetune whose ``from`` is that
model (one row per finetune when there are several). Accuracies are the held-out average
(``held_out`` of ``metrics/evaluate/<model>.json``) in percent with the 95% bootstrap CI; a pretrain
cell trained under several seeds shows the mean over its seeds with an interval that resamples seeds
too (:func:`pooled_over_seeds`) — the numbers the orderings compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pretrainlab.config.lineage import ModelNode
from pretrainlab.metrics_contract import EvaluationMetrics, MeanAccuracy
from pretrainlab.report.comparisons import StudyComparisons
from pretrainlab.report.markdown import accuracy_cell, markdown_table
from pretrainlab.report.model_labels import StudyModel
from pretrainlab.report.significance import AboveRandom

# Wang et al. 2022 ("What Language Model Architecture and Pretraining Objective Work Best for Zero-Shot
# Generalization?"), Table 8: zero-shot average accuracy
# (%) as (EAI-Eval, T0-Eval), after 168B-token pretraining and after + MTF (13B tokens); None where
# the paper reports none. Decoders 4.8B parameters, encoder-decoders 11B.
PAPER_TABLE8: dict[str, tuple[tuple[float, float] | None, tuple[float, float] | None]] = {
    "CD:FLM": ((44.2, 42.4), (50.4, 51.4)),
    "ND:PLM": ((43.5, 41.8), (48.9, 54.0)),
    "ED:PLM": ((39.9, 41.7), (44.2, 45.8)),
    "CD:MLM": (None, (47.1, 50.3)),
    "ND:MLM": (None, (51.0, 55.2)),
    "ED:MLM": (None, (51.3, 60.6)),
    "CD:FLM → ND:MLM": (None, (52.3, 54.9)),  # CD:FLM 168B → ND:MLM 51B → MTF
}
PAPER_RANDOM = (32.9, 41.7)


@dataclass(frozen=True)
class Table8Row:
    model: StudyModel
    pretrained: MeanAccuracy | None  # the model's own held-out entry; None: not evaluated
    mtf_model: str | None = None  # the finetune cell made from this model
    mtf: MeanAccuracy | None = None  # its held-out entry


def table8_rows(
    models: Mapping[str, StudyModel],
    graph: Mapping[str, ModelNode],
    evaluations: Mapping[str, EvaluationMetrics],
) -> list[Table8Row]:
    """One row per (model, finetune of it), a model without a finetune getting one row of its own.

    ``evaluations`` maps model name -> its evaluate metrics; it must hold every finetune and every
    finetune's source (the caller checks), other models may be missing (shown as not evaluated).
    """
    finetunes: dict[str, list[str]] = {}
    for node in graph.values():
        if node.stage == "finetune" and node.parent is not None:
            finetunes.setdefault(node.parent, []).append(node.name)
    rows = []
    for ref, model in models.items():
        own = evaluations[model.name].held_out if model.name in evaluations else None
        made: list[str | None] = [*finetunes.get(ref, [])] or [None]
        for finetune in made:
            mtf = evaluations[finetune].held_out if finetune else None
            rows.append(Table8Row(model, own, finetune, mtf))
    return rows


def pooled_over_seeds(rows: list[Table8Row], comparisons: StudyComparisons | None) -> list[Table8Row]:
    """Rows whose model was trained under several seeds, showing the mean over its seeds and the 95%
    interval of the bootstrap that resamples items and seeds (its first seed's file holds one run only)."""
    if comparisons is None or not comparisons.held(True):
        return rows
    tasks = comparisons.held(True)
    out = []
    for row in rows:
        name, entry = row.model.name, row.pretrained
        if entry is not None and name in comparisons.models and comparisons.seeds(name) > 1:
            pooled = {
                "accuracy": comparisons.accuracy(name, tasks),
                "ci95": comparisons.interval(name, tasks),
            }
            row = replace(row, pretrained=entry.model_copy(update=pooled))
        out.append(row)
    return out


def _paper(scores: tuple[float, float] | None) -> str:
    return "—" if scores is None else f"{scores[0]:.1f} / {scores[1]:.1f}"


def _random_baseline(rows: list[Table8Row]) -> str:
    for row in rows:
        for entry in (row.pretrained, row.mtf):
            if entry is not None:
                return f"{100 * entry.random_baseline:.1f}"
    return "—"


def table8_markdown(
    rows: list[Table8Row], held_out: list[str], marks: AboveRandom, seeds: Mapping[str, int] | None = None
) -> list[str]:
    """The table; ``seeds``: model -> how many seeds its "after pretraining" entry pools (rows from
    :func:`pooled_over_seeds`), shown beside the number when more than one."""
    seeds = seeds or {}

    def pretrained(row: Table8Row) -> str:
        if row.pretrained is None:
            return "not evaluated"
        cell = accuracy_cell(row.pretrained, marks.average(row.model.name, "held_out"))
        n = seeds.get(row.model.name, 1)
        return f"{cell} ({n} seeds)" if n > 1 else cell

    header = [
        "Model",
        "Config",
        "After pretraining",
        "After MTF",
        "MTF model",
        "Paper after pretraining (EAI / T0)",
        "Paper after MTF (EAI / T0)",
    ]
    body = []
    for row in rows:
        paper_pretrained, paper_mtf = PAPER_TABLE8.get(row.model.label, (None, None))
        body.append(
            [
                f"`{row.model.name}`",
                row.model.label,
                pretrained(row),
                accuracy_cell(row.mtf, bool(row.mtf_model) and marks.average(str(row.mtf_model), "held_out")),
                f"`{row.mtf_model}`" if row.mtf_model else "—",
                _paper(paper_pretrained),
                _paper(paper_mtf),
            ]
        )
    baseline = _random_baseline(rows)
    body.append(
        ["**random baseline**", "", baseline, baseline, "", _paper(PAPER_RANDOM), _paper(PAPER_RANDOM)]
    )
    ours = {row.model.label for row in rows}
    absent = [label for label in PAPER_TABLE8 if label not in ours]
    clusters = ", ".join(f"`{c}`" for c in held_out) or "none"
    lines = [
        "Held-out zero-shot accuracy (%, unweighted mean over the held-out tasks; held-out clusters: "
        f"{clusters}) with its 95% bootstrap CI; `*` = above random by a paired test against each item's "
        "chance rate (Holm-corrected over every model × the held-out and held-in averages). The paper's "
        "columns are Wang et al. 2022 Table 8 averages over EAI-Eval / T0-Eval at 4.8B (decoders) and 11B "
        "(encoder-decoders) parameters after 168B tokens: compare orderings, not levels. MLM = span "
        "corruption; `A → B` = model A adapted to B.",
        "",
        *markdown_table(header, body),
    ]
    if absent:
        lines += ["", "Paper configurations this study does not train: " + ", ".join(absent) + "."]
    return lines
