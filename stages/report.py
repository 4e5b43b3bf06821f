"""report stage: ``reports/study.md`` + figures from the metrics and loss curves of the study's models."""

from __future__ import annotations

from pretrainlab import paths
from pretrainlab.config.keys import read
from pretrainlab.config.lineage import lineage_graph
from pretrainlab.config.schema import AdaptCell, FinetuneCell, PretrainCell, ReportConfig, Strict, Study
from pretrainlab.report.study_report import build_report
from stages import check_environment


class Params(Strict):
    report: ReportConfig
    models: dict[str, str]  # evaluated model -> kind
    pretrain_cells: dict[str, PretrainCell]
    adapt_cells: dict[str, AdaptCell]
    finetune_cells: dict[str, FinetuneCell]
    seeds: list[int]  # replicate seeds (study.seeds)
    seed: int


def run(params: Params) -> None:
    build_report(
        paths.METRICS,
        paths.PLOTS,
        paths.REPORTS,
        title=params.report.title,
        models=params.models,
        graph=lineage_graph(params.pretrain_cells, params.adapt_cells, params.finetune_cells),
        seeds=params.seeds,
        primary_seed=params.seed,
    )


def study_keys(study: Study, cell: str | None = None) -> dict[str, str]:
    """Each Params field and the params.yaml key it is read from; dvc.yaml lists exactly these keys."""
    return {
        "report": "report",
        "models": "evaluate.models",
        "pretrain_cells": "pretrain.cells",
        "adapt_cells": "adapt",
        "finetune_cells": "finetune",
        "seeds": "study.seeds",
        "seed": "seed",
    }


def main(study: Study, cell: str | None = None) -> None:
    check_environment()  # before anything runs: a launcher's leftovers end here
    run(Params(**read(study, study_keys(study, cell))))
