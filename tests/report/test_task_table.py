"""The per-task table sets each model beside chance, majority and shortcut references, and flags a
task whose reference beats chance."""

from __future__ import annotations

from pretrainlab.report.significance import NO_MARKS
from pretrainlab.report.task_table import task_table


def _task(accuracy: float, flagged: list[str], held_out: bool = True) -> dict:
    return {
        "cluster": "nli" if held_out else "topic",
        "held_out": held_out,
        "n": 100,
        "accuracy": accuracy,
        "random_baseline": 1 / 3,
        "reference": {
            "chance": 1 / 3,
            "majority": 0.34,
            "shortcut": 0.81 if flagged else 0.3,
            "flagged": flagged,
        },
    }


def test_reference_columns_and_a_flagged_task():
    evaluated = {
        "cd-flm": {"tasks": {"nli.fact": _task(0.41, []), "topic.subject": _task(0.84, ["shortcut"], False)}},
    }
    lines = task_table(evaluated, NO_MARKS)
    assert lines[0] == "| Task | Cluster | Held out | n | Chance | Majority | Shortcut | `cd-flm` |"
    assert "| nli.fact | nli | yes | 100 | 33.3 | 34.0 | 30.0 | 41.0 |" in lines
    assert "| topic.subject ⚠ | topic | no | 100 | 33.3 | 34.0 | 81.0 | 84.0 |" in lines
    assert "`topic.subject` (shortcut)" in lines[-1] and "nli.fact" not in lines[-1]


def test_no_flag_says_so():
    lines = task_table({"m": {"tasks": {"nli.fact": _task(0.4, [])}}}, NO_MARKS)
    assert lines[-1].startswith("No task is flagged")
