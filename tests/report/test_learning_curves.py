"""The report's learning-curve section: each evaluated model's snapshots and final model in a table,
held-out accuracy tested against each item's chance rate (paired), and the figure."""

from __future__ import annotations

import pyarrow.parquet as pq

from pretrainlab.evaluation.learning_curve import (
    LearningCurve,
    curve_file,
    curve_item_table,
    curve_items_file,
    curve_point,
)
from pretrainlab.metrics_contract import EvaluationMetrics
from tests.report.records import evaluation, task
from tests.report.synthetic_items import write_items
from tests.report.test_study_report import PNG_MAGIC, _build, _write_study

N = 50  # items per task in the test study; nli_entailment (held out) has 3 choices


def _write_curve(root, model: str, points: dict[str, tuple[int, int, int, float]]) -> None:
    """``model``'s curve: per point (snapshot -> step, tokens, items right of N, val loss)."""
    metrics_json = root / "metrics" / "evaluate" / f"{model}.json"
    rows, tables = [], []
    for snapshot, (step, tokens, right, val_loss) in points.items():
        tasks = {
            "nli_entailment": task(right / N, 0.0, 1.0, 1 / 3, held_out=True, cluster="nli", n=N),
            "qa_birthplace": task(0.3, 0.2, 0.4, 0.25, held_out=False, cluster="closed_book_qa", n=N),
        }
        scored = EvaluationMetrics.model_validate(evaluation(model, tasks, val_loss=val_loss))
        eval_at = None if snapshot == "final" else int(snapshot.removeprefix("tokens-"))
        rows.append(curve_point(snapshot, eval_at, step, tokens, 6.0e6 * tokens, scored))
        path = root / f"{model}-{snapshot}.parquet"
        write_items(
            path,
            model,
            {"nli_entailment": right, "qa_birthplace": 15},
            n=N,
            n_choices={"nli_entailment": 3, "qa_birthplace": 4},
        )
        tables.append(pq.read_table(path))
    curve = LearningCurve(model=model, kind="pretrain", points=rows)
    curve_file(metrics_json).write_text(curve.model_dump_json())
    pq.write_table(curve_item_table(model, rows, tables), curve_items_file(metrics_json))


def test_the_report_tabulates_and_plots_each_models_curve(tmp_path):
    _write_study(tmp_path)
    _write_curve(
        tmp_path,
        "cd-flm",
        {
            "tokens-50000": (6, 49152, 17, 5.1),
            "tokens-1000000": (122, 999424, 24, 4.0),
            "final": (244, 2000000, 48, 3.3),
        },
    )
    _write_curve(tmp_path, "ed-mlm", {"tokens-50000": (6, 49152, 16, 5.4), "final": (244, 2000000, 18, 3.6)})
    text = _build(tmp_path).read_text()
    section = text.split("## Learning curves")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("| `")]
    assert [line.split(" | ")[2] for line in lines] == [
        "tokens-50000",
        "tokens-1000000",
        "final",
        "tokens-50000",
        "final",
    ]
    cd_final = lines[2].split(" | ")
    assert cd_final[1] == "CD:FLM" and cd_final[3:6] == ["244", "2M", "1.20e+13"] and cd_final[6] == "3.300"
    # 48 of 50 right against a 1-in-3 chance is above it; 17 of 50 is chance
    assert cd_final[8] == "96.0*" and cd_final[9].startswith("+62.7 [")
    assert lines[0].split(" | ")[8] == "34.0" and "*" not in lines[3].split(" | ")[8]
    assert "No curve file for `cd-flm-mtf`" in section  # evaluated, but no curve file
    assert "![Learning curves](learning_curves.png)" in section
    data = (tmp_path / "reports" / "learning_curves.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_without_curve_files_the_section_says_so(tmp_path):
    _write_study(tmp_path)
    text = _build(tmp_path).read_text()
    assert "No learning curves: no evaluated model has a curve file" in text
    assert not (tmp_path / "reports" / "learning_curves.png").exists()
