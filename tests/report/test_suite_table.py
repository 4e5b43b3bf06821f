"""The report's T0-Eval / EAI-Eval section: the suite averages beside the paper's Table 8, per-dataset
medians, and paired comparisons when the models answered the same items (else said to be unpaired)."""

from __future__ import annotations

from pretrainlab.metrics_contract import EvaluationMetrics
from pretrainlab.report.model_labels import StudyModel
from pretrainlab.report.suite_table import suites_section
from pretrainlab.report.table8 import Table8Row
from tests.report.records import evaluation, task

SYNTH = {"t": task(0.5, 0.4, 0.6, 0.33, cluster="c", held_out=True, n=10)}


def _suite(rates: dict[str, list[float]], n: int) -> dict:
    """A t0_eval result whose dataset ``d`` has one template per rate, the first ``rate * n`` items right."""
    datasets = {}
    for name, template_rates in rates.items():
        templates = {
            f"t0_{name}_{i}": {
                "accuracy": r,
                "n": n,
                "correct": [1] * round(r * n) + [0] * (n - round(r * n)),
            }
            for i, r in enumerate(template_rates)
        }
        ordered = sorted(template_rates)
        datasets[name] = {
            "median": ordered[len(ordered) // 2],
            "mean": sum(ordered) / len(ordered),
            "templates": templates,
        }
    medians = [d["median"] for d in datasets.values()]
    return {"t0_eval": {"datasets": datasets, "average": sum(medians) / len(medians), "skipped": []}}


def _metrics(name: str, kind: str, suites: dict | None) -> EvaluationMetrics:
    return EvaluationMetrics.model_validate(evaluation(name, SYNTH, kind=kind, lm_eval_suites=suites))


def _row() -> Table8Row:
    model = StudyModel(
        ref="pretrain/cd-flm", arch="causal_decoder", objective="full_lm", label="CD:FLM", size="s"
    )
    return Table8Row(model, None, mtf_model="cd-mtf")


def test_suite_averages_sit_beside_the_papers_table8_and_models_are_paired():
    evaluations = {
        "cd-flm": _metrics(
            "cd-flm", "pretrain", _suite({"cb": [0.4, 0.5, 0.9], "rte": [0.5, 0.5, 0.6]}, 100)
        ),
        "cd-mtf": _metrics(
            "cd-mtf", "finetune", _suite({"cb": [0.8, 0.9, 0.9], "rte": [0.7, 0.8, 0.9]}, 100)
        ),
    }
    text = "\n".join(suites_section([_row()], evaluations, samples=500))
    # T0-Eval after pretraining: medians 0.5 and 0.5 -> 50.0; after MTF: 0.9 and 0.8 -> 85.0; paper 42.4 / 51.4
    assert "| `cd-flm` | CD:FLM | 50.0 | 85.0 | 42.4 | 51.4 |" in text
    assert "| `cd-flm` | 50.0 (60.0) | 50.0 (53.3) | 50.0 |" in text  # median (mean) per dataset
    assert "paired (the same items for every model)" in text and "`cd-mtf` leads;" in text
    assert "| `cd-flm` | 56.7 | +26.7 [" in text and text.rstrip().endswith("| yes |")


def _model(name: str, arch: str, objective: str, label: str) -> StudyModel:
    return StudyModel(ref=f"pretrain/{name}", arch=arch, objective=objective, label=label, size="s")


def test_the_papers_orderings_are_decided_on_the_suite():
    """(a) CD:FLM ahead of ND:MLM after pretraining, (b) ND:MLM + MTF ahead of CD:FLM + MTF, on 200 items
    of each of two datasets: both reproduced by the synthworld orderings' own tests, on the suite."""
    suites = {
        "cd-flm": _suite({"cb": [0.6, 0.6], "rte": [0.7, 0.7]}, 200),
        "nd-mlm": _suite({"cb": [0.4, 0.4], "rte": [0.5, 0.5]}, 200),
        "cd-mtf": _suite({"cb": [0.6, 0.6], "rte": [0.6, 0.6]}, 200),
        "nd-mtf": _suite({"cb": [0.8, 0.8], "rte": [0.9, 0.9]}, 200),
    }
    evaluations = {
        name: _metrics(name, "finetune" if name.endswith("mtf") else "pretrain", suite)
        for name, suite in suites.items()
    }
    rows = [
        Table8Row(model, evaluations[model.name].held_out, mtf, evaluations[mtf].held_out)
        for model, mtf in (
            (_model("cd-flm", "causal_decoder", "full_lm", "CD:FLM"), "cd-mtf"),
            (_model("nd-mlm", "noncausal_decoder", "span_corruption", "ND:MLM"), "nd-mtf"),
        )
    ]
    text = "\n".join(suites_section(rows, evaluations, samples=500))
    assert "**The paper's orderings on T0-Eval:**" in text
    assert "**(a) After pretraining only, CD:FLM is the best zero-shot model** — **reproduced**" in text
    assert "**(b) After MTF, non-causal / encoder-decoder MLM models beat CD:FLM** — **reproduced**" in text
    assert "`cd-flm` (CD:FLM) 65.0% against `nd-mlm` (ND:MLM) 45.0%" in text


def test_models_scored_on_different_items_are_said_to_be_unpaired():
    evaluations = {
        "cd-flm": _metrics("cd-flm", "pretrain", _suite({"cb": [0.4, 0.5]}, 100)),
        "cd-mtf": _metrics("cd-mtf", "finetune", _suite({"cb": [0.8, 0.9]}, 50)),  # another limit
    }
    text = "\n".join(suites_section([_row()], evaluations, samples=100))
    assert "T0-Eval comparisons are **unpaired**" in text and "leads with" not in text


def test_no_suite_no_section():
    assert suites_section([_row()], {"cd-flm": _metrics("cd-flm", "pretrain", None)}) == []


def test_harness_table_leaves_suite_tasks_to_the_suite_section():
    from pretrainlab.report.study_report import _lm_eval_section

    suites = _suite({"cb": [0.4, 0.5]}, 10)
    lm_eval = {"t0_cb_0": {"acc": 0.4}, "t0_cb_1": {"acc": 0.5}, "example_tiny_mc": {"acc": 0.7}}
    metrics = EvaluationMetrics.model_validate(
        evaluation("cd-flm", SYNTH, lm_eval=lm_eval, lm_eval_suites=suites)
    )
    header = _lm_eval_section({"cd-flm": metrics})[4]
    assert header == "| Model | example_tiny_mc |"
    only_suites = metrics.model_copy(
        update={"lm_eval": {k: v for k, v in lm_eval.items() if k.startswith("t0")}}
    )
    assert _lm_eval_section({"cd-flm": only_suites}) == []
