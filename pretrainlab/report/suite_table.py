"""T0-Eval and EAI-Eval in the report, beside the synthworld Table-8 analogue, when models ran them
(``lm_eval_suites`` of ``metrics/evaluate/<model>.json``, :mod:`pretrainlab.evaluation.lm_eval_suites`).

* **Table-8 columns.** Per model, straight after training and after MTF, a suite's score as T0 reported
  it: per dataset the median accuracy over its prompt templates, averaged over the datasets; the paper's
  Table 8 beside it (EAI-Eval / T0-Eval).
* **Per dataset**: median (mean) over templates, per model.
* **Paired comparisons and the paper's orderings.** Every template keeps its per-item correctness, so
  models scored on the same documents are compared item by item with the report's paired bootstrap
  (:class:`~pretrainlab.report.comparisons.StudyComparisons`), and orderings (a) and (b) are decided on
  each suite by the synthworld section's own code (:mod:`pretrainlab.report.orderings`). A median is no
  mean over items, so the paired statistic is the *mean* over templates (an item's score is the
  fraction of its templates answered right), averaged over datasets. Models whose items differ
  (another ``limit``, another set of datasets) are not paired: the section says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from pretrainlab.evaluation.paired import decide
from pretrainlab.metrics_contract import EvaluationMetrics, SuiteResult
from pretrainlab.report.comparisons import StudyComparisons, TaskInfo
from pretrainlab.report.markdown import markdown_table
from pretrainlab.report.orderings import mtf_ordering, pretraining_ordering
from pretrainlab.report.table8 import PAPER_RANDOM, PAPER_TABLE8, Table8Row

SUITE_TITLES = {"t0_eval": "T0-Eval", "eai_eval": "EAI-Eval"}
PAPER_COLUMN = {"eai_eval": 0, "t0_eval": 1}  # position in PAPER_TABLE8's (EAI-Eval, T0-Eval) pairs


def item_scores(result: SuiteResult) -> dict[str, np.ndarray] | None:
    """``{dataset: per-item fraction of its templates answered right}``; None when a dataset's templates
    scored different numbers of items (they cannot be lined up item by item)."""
    scores = {}
    for name, dataset in result.datasets.items():
        rows = [template.correct for template in dataset.templates.values()]
        if len({len(r) for r in rows}) != 1 or not rows[0]:
            return None
        scores[name] = np.mean(np.asarray(rows, dtype=np.float64), axis=0)
    return scores


def _suite(evaluations: Mapping[str, EvaluationMetrics], model: str | None, suite: str) -> SuiteResult | None:
    metrics = evaluations.get(model) if model else None
    return (metrics.lm_eval_suites or {}).get(suite) if metrics is not None else None


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _paper(label: str, after_mtf: bool, suites: Sequence[str]) -> str:
    scores = PAPER_TABLE8.get(label, (None, None))[after_mtf]
    return " / ".join("—" if scores is None else f"{scores[PAPER_COLUMN[s]]:.1f}" for s in suites)


def _table8(
    rows: list[Table8Row], evaluations: Mapping[str, EvaluationMetrics], suites: list[str]
) -> list[str]:
    titles = [SUITE_TITLES[s] for s in suites]
    header = ["Model", "Config"]
    header += [f"{t} after pretraining" for t in titles] + [f"{t} after MTF" for t in titles]
    header += [f"Paper after pretraining ({' / '.join(titles)})", f"Paper after MTF ({' / '.join(titles)})"]
    body = []
    for row in rows:
        own = [_percent(getattr(_suite(evaluations, row.model.name, s), "average", None)) for s in suites]
        mtf = [_percent(getattr(_suite(evaluations, row.mtf_model, s), "average", None)) for s in suites]
        label = row.model.label
        body.append(
            [
                f"`{row.model.name}`",
                label,
                *own,
                *mtf,
                _paper(label, False, suites),
                _paper(label, True, suites),
            ]
        )
    random = " / ".join(f"{PAPER_RANDOM[PAPER_COLUMN[s]]:.1f}" for s in suites)
    body.append(["**paper's random baseline**", "", *["—"] * (2 * len(suites)), random, random])
    return markdown_table(header, body)


def _datasets(suite: str, ran: Mapping[str, SuiteResult]) -> list[str]:
    names = list(dict.fromkeys(d for result in ran.values() for d in result.datasets))
    body = []
    for model, result in ran.items():
        cells = []
        for name in names:
            entry = result.datasets.get(name)
            cells.append("—" if entry is None else f"{100 * entry.median:.1f} ({100 * entry.mean:.1f})")
        body.append([f"`{model}`", *cells, _percent(result.average)])
    lines = markdown_table(["Model", *names, "Average of medians"], body)
    skipped = sorted({s for result in ran.values() for s in result.skipped})
    if skipped:
        lines += ["", f"Not in the installed lm-eval, so not scored: {'; '.join(skipped)}."]
    return lines


def suite_comparisons(ran: Mapping[str, SuiteResult], *, samples: int, seed: int) -> StudyComparisons | None:
    """The report's paired comparisons on a suite: each dataset a held-out "task" whose item score is the
    fraction of its templates answered right; None when the models were not scored on the same items."""
    scores = {model: item_scores(result) for model, result in ran.items()}
    shapes = {
        model: None if s is None else tuple(sorted((d, len(v)) for d, v in s.items()))
        for model, s in scores.items()
    }
    present = {model: s for model, s in scores.items() if s is not None}
    if not scores or len(present) != len(scores) or len(set(shapes.values())) != 1:
        return None
    datasets = next(iter(present.values()))
    return StudyComparisons(
        {m: {d: v[None, :] for d, v in s.items()} for m, s in present.items()},
        None,  # no chance pseudo-model: the suites keep no per-item choice counts
        {d: TaskInfo(cluster=d, held_out=True) for d in datasets},
        samples=samples,
        seed=seed,
    )


def _paired(
    suite: str,
    ran: Mapping[str, SuiteResult],
    rows: list[Table8Row],
    budgets: Mapping[str, str] | None,
    samples: int,
    seed: int,
) -> list[str]:
    title = SUITE_TITLES[suite]
    if len(ran) < 2:
        return []
    comparisons = suite_comparisons(ran, samples=samples, seed=seed)
    if comparisons is None:
        return [
            f"{title} comparisons are **unpaired**: the models were not scored on the same items (another "
            "`evaluate.lm_eval.limit` or another set of datasets), so no paired test is made and the "
            "paper's orderings are not tested on it; compare the numbers above with that in mind.",
        ]
    datasets = comparisons.held(True)
    leader = max(comparisons.models, key=lambda m: comparisons.accuracy(m, datasets))
    others = [m for m in comparisons.models if m != leader]
    decisions = decide([comparisons.difference(leader, m, datasets) for m in others])
    body = [
        [
            f"`{m}`",
            f"{100 * comparisons.accuracy(m, datasets):.1f}",
            f"{100 * d.estimate:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}]",
            "yes" if d.sign > 0 else "no",
        ]
        for m, d in zip(others, decisions, strict=True)
    ]
    ran_rows = [  # a model the harness did not score (a BERT-style encoder) is not compared
        replace(
            row,
            pretrained=row.pretrained if row.model.name in ran else None,
            mtf=row.mtf if row.mtf_model in ran else None,
        )
        for row in rows
    ]
    return [
        f"{title}, paired (the same items for every model): mean over templates, averaged over datasets "
        "(a median is no mean over items, so the paired statistic is the mean); bootstrap over items, "
        f"{samples} replicates.",
        "",
        f"**The paper's orderings on {title}:**",
        "",
        pretraining_ordering(ran_rows, comparisons, budgets).markdown(),
        mtf_ordering(ran_rows, comparisons).markdown(),
        "",
        f"`{leader}` leads; differences are the leader minus each model, with the interval at its Holm "
        "step's level.",
        "",
        *markdown_table(
            ["Model", "Mean over templates", f"`{leader}` − model", "Leader significantly ahead"], body
        ),
    ]


def suites_section(
    rows: list[Table8Row],
    evaluations: Mapping[str, EvaluationMetrics],
    budgets: Mapping[str, str] | None = None,
    *,
    samples: int = 2000,
    seed: int = 0,
) -> list[str]:
    """The report's T0-Eval / EAI-Eval section; empty when no model ran a suite. ``budgets`` (pretrain
    cell -> declared budget) keeps ordering (a) token-matched, as in the synthworld orderings."""
    suites = [s for s in SUITE_TITLES if any(_suite(evaluations, m, s) for m in evaluations)]
    if not suites:
        return []
    lines = [
        "## T0-Eval and EAI-Eval (real held-out tasks, lm-evaluation-harness)",
        "",
        "Zero-shot accuracy (%) by rank classification over each template's answer choices, in the prompt "
        "format of each model's card. As T0 reported them: per dataset the median over its prompt templates, "
        "averaged over the datasets. The paper's columns are Wang et al. 2022 Table 8 (EAI-Eval / T0-Eval, "
        "4.8B decoders and 11B encoder-decoders after 168B tokens): compare orderings, not levels.",
        "",
        *_table8(rows, evaluations, suites),
        "",
    ]
    for suite in suites:
        ran = {m: r for m in evaluations if (r := _suite(evaluations, m, suite)) is not None}
        lines += [
            f"### {SUITE_TITLES[suite]} per dataset: median (mean) over templates",
            "",
            *_datasets(suite, ran),
            "",
        ]
        if paired := _paired(suite, ran, rows, budgets, samples, seed):
            lines += [*paired, ""]
    return lines
