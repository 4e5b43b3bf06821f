"""The paper's two held-out evaluation suites, by name in ``evaluate.lm_eval.tasks``, and their summary.

* ``t0_eval``: T0's 11 held-out datasets, each asked through several promptsource templates, one
  lm-eval task per dataset x template (``lm_eval_tasks/t0_eval/<dataset>/<template>.yaml``, task
  ``t0_<dataset>_<template>``, tag ``t0_eval``); it needs ``include_path: lm_eval_tasks``.
* ``eai_eval``: the harness's own tasks of the paper's EAI-Eval (:data:`EAI_EVAL_TASKS`), expanded
  here into the installed task names; a task the installed harness lacks is skipped with a message.

As T0 reported them, a dataset's score is the **median** (and mean) accuracy over its templates, and a
suite's ``average`` the mean over its datasets of those medians (an EAI-Eval task is a dataset with one
template). Each template keeps its per-item correctness in document order, so two models scored on the
same documents can be compared item by item.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pretrainlab.metrics_contract import SuiteDataset, SuiteResult, SuiteTemplate

log = logging.getLogger(__name__)

T0_EVAL = "t0_eval"
EAI_EVAL = "eai_eval"
SUITES = (T0_EVAL, EAI_EVAL)
T0_FOLDER = "lm_eval_tasks"  # the include_path that holds t0_eval/
# A multiple-choice task's accuracy: ``acc``, or ``exact_match`` where the harness scores a choice set
# with several right answers (WebQuestions: right when the most likely choice is any of them).
ACCURACY_METRICS = ("acc", "exact_match")

T0_DATASETS: dict[str, str] = {  # dataset key (task t0_<key>_<template>) -> the paper's name
    "anli_r1": "ANLI R1",
    "anli_r2": "ANLI R2",
    "anli_r3": "ANLI R3",
    "cb": "CB",
    "rte": "RTE",
    "wsc": "WSC",
    "winogrande": "Winogrande",
    "copa": "COPA",
    "hellaswag": "HellaSwag",
    "story_cloze": "StoryCloze",
    "wic": "WiC",
}


@dataclass(frozen=True)
class EaiTask:
    """One EAI-Eval task: the paper's name and the installed harness task that scores it (None: none)."""

    paper: str
    harness: str | None
    note: str = ""


# The paper's EAI-Eval: the harness tasks its authors ran (bigscience-workshop/architecture-objective,
# bigscience/scripts/eval_harness.sh: --tasks arc_challenge,...,wsc), by their lm-eval 0.4 names. Old
# names: lambada is lambada_openai, sst is sst2; their `headqa` was the harness's alias of the Spanish
# set, while their plots read headqa_en, which is what runs here.
EAI_EVAL_TASKS: tuple[EaiTask, ...] = (
    EaiTask("ARC-Challenge", "arc_challenge"),
    EaiTask("ARC-Easy", "arc_easy"),
    EaiTask("BoolQ", "boolq"),
    EaiTask("COPA", "copa"),
    EaiTask("HeadQA", "headqa_en"),
    EaiTask("HellaSwag", "hellaswag"),
    EaiTask("LAMBADA", "lambada_openai"),
    EaiTask("LogiQA", "logiqa"),
    EaiTask("MathQA", "mathqa"),
    EaiTask("MC-TACO", "mc_taco"),
    EaiTask("MRPC", "mrpc"),
    EaiTask("MultiRC", "multirc"),
    EaiTask("OpenBookQA", "openbookqa"),
    EaiTask("PIQA", "piqa"),
    EaiTask("PROST", "prost"),
    EaiTask("PubMedQA", "pubmedqa"),
    EaiTask("QNLI", "qnli"),
    EaiTask("QQP", "qqp"),
    EaiTask("RACE", "race"),
    EaiTask("RTE", "rte"),
    EaiTask("SciQ", "sciq"),
    EaiTask("SST-2", "sst2"),
    EaiTask("TriviaQA", None, "generative in lm-eval 0.4; the paper's harness scored it by log-likelihood"),
    EaiTask("WebQuestions", "webqs"),
    EaiTask("WiC", "wic"),
    EaiTask("Winogrande", "winogrande"),
    EaiTask("WNLI", "wnli"),
    EaiTask("WSC", "wsc"),
)


def expand_suites(tasks: Sequence[str], installed: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """``(names, skipped)``: ``tasks`` with ``eai_eval`` replaced by its installed harness tasks (``t0_eval``
    is an lm-eval tag and stays), and one message per EAI-Eval task the installed harness lacks."""
    names: list[str] = []
    skipped: list[str] = []
    for name in tasks:
        if name != EAI_EVAL:
            names.append(name)
            continue
        for task in EAI_EVAL_TASKS:
            if task.harness is not None and installed(task.harness):
                names.append(task.harness)
            elif task.harness is None:
                skipped.append(f"{task.paper} ({task.note})")
            else:
                skipped.append(f"{task.paper} ({task.harness}: not in the installed lm-eval)")
    for message in skipped:
        log.warning("%s: skipping EAI-Eval task %s", EAI_EVAL, message)
    return list(dict.fromkeys(names)), skipped


def t0_dataset(task: str) -> str | None:
    """The T0-Eval dataset key of lm-eval task ``task`` (``t0_cb_gpt3_style`` -> ``cb``), else None."""
    for key in sorted(T0_DATASETS, key=len, reverse=True):
        if task.startswith(f"t0_{key}_"):
            return key
    return None


def _template(metrics: Mapping[str, float | int | None], correct: Sequence[int]) -> SuiteTemplate:
    accuracy = next((metrics[m] for m in ACCURACY_METRICS if metrics.get(m) is not None), None)
    if accuracy is None:  # every suite task is multiple choice
        raise ValueError(f"an lm-eval suite task with none of {', '.join(ACCURACY_METRICS)}")
    return SuiteTemplate(accuracy=float(accuracy), n=len(correct), correct=[int(c) for c in correct])


def _result(datasets: Mapping[str, Mapping[str, SuiteTemplate]], skipped: Sequence[str]) -> SuiteResult:
    summaries = {
        name: SuiteDataset(
            median=statistics.median(t.accuracy for t in templates.values()),
            mean=statistics.fmean(t.accuracy for t in templates.values()),
            templates=dict(sorted(templates.items())),
        )
        for name, templates in datasets.items()
        if templates
    }
    average = statistics.fmean(d.median for d in summaries.values()) if summaries else None
    return SuiteResult(datasets=summaries, average=average, skipped=list(skipped))


def suite_results(
    requested: Sequence[str],
    summary: Mapping[str, Mapping[str, float | int | None]],
    correct: Mapping[str, Sequence[int]],
    skipped: Sequence[str] = (),
) -> dict[str, SuiteResult]:
    """``{suite: SuiteResult}`` for each suite in ``requested``, from lm-eval's per-task ``summary``
    (:func:`~pretrainlab.evaluation.lm_eval_bridge.summarise`) and per-item ``correct`` (0/1 by document)."""
    results: dict[str, SuiteResult] = {}
    if T0_EVAL in requested:
        by_dataset: dict[str, dict[str, SuiteTemplate]] = {key: {} for key in T0_DATASETS}
        for task, metrics in summary.items():
            if (key := t0_dataset(task)) is not None:
                by_dataset[key][task] = _template(metrics, correct.get(task, ()))
        results[T0_EVAL] = _result(by_dataset, ())
    if EAI_EVAL in requested:
        eai = {
            t.paper: {harness: _template(summary[harness], correct.get(harness, ()))}
            for t in EAI_EVAL_TASKS
            if (harness := t.harness) is not None and harness in summary
        }
        results[EAI_EVAL] = _result(eai, skipped)
    return results
