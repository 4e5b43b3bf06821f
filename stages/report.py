"""report stage: ``reports/study.md`` + figures from the metrics and loss curves of the study's models."""

from __future__ import annotations

from pretrainlab import paths
from pretrainlab.config.schema import Params as Study
from pretrainlab.config.schema import PretrainCell, ReportConfig, Strict
from pretrainlab.report.study_report import build_report


class Params(Strict):
    report: ReportConfig
    models: dict[str, str]  # evaluated model -> kind
    pretrain_cells: dict[str, PretrainCell]


def run(params: Params) -> None:
    cells = {name: cell.model_dump(mode="json") for name, cell in params.pretrain_cells.items()}
    build_report(
        paths.METRICS,
        paths.PLOTS,
        paths.REPORTS,
        title=params.report.title,
        models=params.models,
        pretrain_cells=cells,
    )


def main(study: Study, cell: str | None = None) -> None:
    run(Params(report=study.report, models=dict(study.evaluate.models), pretrain_cells=study.pretrain.cells))
