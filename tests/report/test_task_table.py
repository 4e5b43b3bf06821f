"""The per-task table sets each model beside chance, majority and shortcut references, and flags a
task whose reference beats chance."""

from __future__ import annotations

from pretrainlab.metrics_contract import EvaluationMetrics
from pretrainlab.report.significance import NO_MARKS
from pretrainlab.report.task_table import task_table
from tests.report.records import evaluation, task


def _task(accuracy: float, flagged: list[str], held_out: bool = True) -> dict:
    reference = {
        "chance": 1 / 3,
        "majority": 0.34,
        "shortcut": 0.81 if flagged else 0.3,
        "majority_p_value": 0.5,
        "shortcut_p_value": 0.001 if flagged else 0.9,
        "flagged": flagged,
    }
    cluster = "nli" if held_out else "topic"
    return task(accuracy, 0.0, 1.0, 1 / 3, cluster=cluster, held_out=held_out, n=100, reference=reference)


def _evaluated(name: str, tasks: dict) -> dict[str, EvaluationMetrics]:
    return {name: EvaluationMetrics.model_validate(evaluation(name, tasks))}


def test_reference_columns_and_a_flagged_task():
    evaluated = _evaluated(
        "cd-flm", {"nli.fact": _task(0.41, []), "topic.subject": _task(0.84, ["shortcut"], False)}
    )
    lines = task_table(evaluated, NO_MARKS)
    assert lines[0] == "| Task | Cluster | Held out | n | Chance | Majority | Shortcut | `cd-flm` |"
    assert "| nli.fact | nli | yes | 100 | 33.3 | 34.0 | 30.0 | 41.0 |" in lines
    assert "| topic.subject ⚠ | topic | no | 100 | 33.3 | 34.0 | 81.0 | 84.0 |" in lines
    assert "`topic.subject` (shortcut)" in lines[-1] and "nli.fact" not in lines[-1]


def test_no_flag_says_so():
    lines = task_table(_evaluated("m", {"nli.fact": _task(0.4, [])}), NO_MARKS)
    assert lines[-1].startswith("No task is flagged")
