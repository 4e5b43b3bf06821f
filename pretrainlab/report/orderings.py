"""Which of Wang et al. 2022's three orderings a study reproduces, read off its own numbers.

(a) after pretraining only, CD:FLM is the best zero-shot (held-out) model among the pretrain cells;
(b) after MTF, non-causal decoder / encoder-decoder MLM models (ND:MLM, ED:MLM, also when adapted to)
    beat CD:FLM;
(c) adapting is cheaper than training the target from scratch (speed-up > 1).

(a) and (b) are paired tests on the held-out average (:mod:`pretrainlab.report.significance`): each
comparison is reproduced, contradicted or unresolved and printed with its interval. (a) needs CD:FLM
ahead of every rival (an intersection-union test); (b) is partly reproduced / partly contradicted when
its comparisons differ. A claim whose cells are missing is not measurable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pretrainlab.evaluation.paired import decide
from pretrainlab.models.architectures import ARCHITECTURES
from pretrainlab.report.adaptation_speedup import SpeedUp
from pretrainlab.report.comparisons import StudyComparisons
from pretrainlab.report.significance import describe, overall, verdict
from pretrainlab.report.table8 import Table8Row


def _non_causal(arch: str) -> bool:
    """The paper's non-causal architectures (ND, ED): inputs read both ways, targets predicted from them."""
    spec = ARCHITECTURES.get(arch)
    return spec is not None and spec.bidirectional_prefix and spec.predicts_targets


@dataclass(frozen=True)
class Ordering:
    claim: str
    verdict: str  # "reproduced", "contradicted", "unresolved", "partly ..." or "not measurable"
    detail: str

    def markdown(self) -> str:
        return f"- **{self.claim}** — **{self.verdict}**. {self.detail}"


def _pct(comparisons: StudyComparisons, model: str, tasks: list[str]) -> str:
    seeds = comparisons.seeds(model)
    mean = f" (mean of {seeds} seeds)" if seeds > 1 else ""
    return f"{100 * comparisons.accuracy(model, tasks):.1f}%{mean}"


def matched_cells(
    rows: list[Table8Row], budgets: Mapping[str, str] | None
) -> tuple[list[Table8Row], list[str]]:
    """The evaluated pretrain cells that (a) compares — one model size and one declared budget, as the
    paper's token-matched grid — and the names of those left out.

    Of the groups of cells sharing a size and a budget (``budgets``: cell -> its declared budget, as
    :func:`~pretrainlab.config.lineage.budget_label` writes it; None puts every cell in one group), the
    one with a CD:FLM cell and the most cells is compared: a CD:FLM cell trained longer or larger than
    the grid (a study's learnability reference) must not stand in for CD:FLM against token-matched
    rivals. The declared budget, not the tokens trained: an objective's windows may fall a few tokens
    short of another's (UL2: 638,020 against 638,976).
    """
    scored = [r for r in rows if r.model.stage == "pretrain" and r.pretrained]
    groups: dict[tuple[str, str | None], list[Table8Row]] = {}
    for row in scored:
        budget = None if budgets is None else budgets.get(row.model.name)
        groups.setdefault((row.model.size, budget), []).append(row)
    with_cd = [g for g in groups.values() if any(r.model.label == "CD:FLM" for r in g)]
    if not with_cd:
        return scored, []
    group = max(with_cd, key=len)  # the first of the largest: rows come in the study's order
    return group, [r.model.name for r in scored if r not in group]


def pretraining_ordering(
    rows: list[Table8Row], comparisons: StudyComparisons | None, budgets: Mapping[str, str] | None = None
) -> Ordering:
    """(a): the best CD:FLM pretrain cell against every other pretrain cell of the same size and token
    budget (:func:`matched_cells`), held-out average.

    The claim is that CD:FLM is ahead of *every* rival, so it is an intersection-union test: it is
    **reproduced** only when each paired comparison, at its own 95% level, puts CD:FLM ahead (no
    correction is needed for a claim that needs all of them). It is **contradicted** when some rival is
    ahead of CD:FLM — a claim about *any* of the rivals, so those comparisons are Holm-corrected.
    Otherwise it is **unresolved**. Every comparison is printed with its interval, strongest rival first.
    """
    claim = "(a) After pretraining only, CD:FLM is the best zero-shot model"
    group, left_out = matched_cells(rows, budgets)
    causal = [r.model.name for r in group if r.model.label == "CD:FLM"]
    others = [r for r in group if r.model.label != "CD:FLM"]
    tasks = comparisons.held(True) if comparisons else []
    if comparisons is None or not causal or not others or not tasks:
        missing = (
            "evaluated CD:FLM pretrain cell"
            if not causal
            else "other evaluated pretrain cell"
            if not others
            else "held-out task"
        )
        return Ordering(claim, "not measurable", f"The study has no {missing} to compare.")
    cd = max(causal, key=lambda name: comparisons.accuracy(name, tasks))
    rivals = sorted(others, key=lambda r: -comparisons.accuracy(r.model.name, tasks))
    differences = [comparisons.difference(cd, r.model.name, tasks) for r in rivals]
    each = [decide([difference])[0] for difference in differences]  # 95% each: CD:FLM ahead of all?
    together = decide(differences)  # Holm: is any rival ahead of CD:FLM?
    behind = [i for i, d in enumerate(together) if d.sign < 0]
    if behind:
        result = "contradicted"
    elif all(d.sign > 0 for d in each):
        result = "reproduced"
    else:
        result = "unresolved"
    parts = []
    for i, (rival, decision) in enumerate(zip(rivals, each, strict=True)):
        part = (
            f"`{rival.model.name}` ({rival.model.label}) {_pct(comparisons, rival.model.name, tasks)}: "
            f"{describe(decision, compared=1)}"
        )
        if i in behind:
            part += f" (ahead of CD:FLM: {describe(together[i], compared=len(rivals))})"
        parts.append(part)
    detail = f"`{cd}` (CD:FLM) {_pct(comparisons, cd, tasks)} against " + "; ".join(parts) + "."
    if len(rivals) > 1:
        detail += (
            f" Reproduced only if CD:FLM is ahead in all {len(rivals)} comparisons; contradicted if any rival "
            "is ahead after Holm correction."
        )
    if left_out:
        names = ", ".join(f"`{name}`" for name in left_out)
        detail += f" Token-matched as in the paper: {names} (another size or token budget) not compared."
    return Ordering(claim, result, detail)


def mtf_ordering(rows: list[Table8Row], comparisons: StudyComparisons | None) -> Ordering:
    """(b): every finetuned ND/ED span-corruption model against the best finetuned CD:FLM cell,
    Holm-corrected over those comparisons."""
    claim = "(b) After MTF, non-causal / encoder-decoder MLM models beat CD:FLM"
    finetuned = [r for r in rows if r.mtf]
    causal = [r for r in finetuned if r.model.stage == "pretrain" and r.model.label == "CD:FLM"]
    mlm = [r for r in finetuned if _non_causal(r.model.arch) and r.model.objective == "span_corruption"]
    tasks = comparisons.held(True) if comparisons else []
    if comparisons is None or not causal or not mlm or not tasks:
        missing = (
            "CD:FLM pretrain cell"
            if not causal
            else "ND:MLM or ED:MLM model (pretrained or adapted)"
            if not mlm
            else "held-out task"
        )
        return Ordering(claim, "not measurable", f"The study finetunes and evaluates no {missing}.")
    cd = max((str(r.mtf_model) for r in causal), key=lambda name: comparisons.accuracy(name, tasks))
    decisions = decide([comparisons.difference(str(r.mtf_model), cd, tasks) for r in mlm])
    verdicts = [verdict(d) for d in decisions]
    parts = [
        f"`{r.mtf_model}` ({r.model.label} + MTF) {_pct(comparisons, str(r.mtf_model), tasks)}: {v}, "
        f"{describe(d, compared=len(mlm))}"
        for r, d, v in zip(mlm, decisions, verdicts, strict=True)
    ]
    detail = f"Against `{cd}` (CD:FLM + MTF) {_pct(comparisons, cd, tasks)}: " + "; ".join(parts) + "."
    if len(mlm) > 1:
        detail += f" Holm-corrected over these {len(mlm)} comparisons."
    return Ordering(claim, overall(verdicts), detail)


def adaptation_ordering(speedups: list[SpeedUp]) -> Ordering:
    """(c): LM-A and NC-A (the paper's adaptations) against their from-scratch targets.

    A factor counts only when it was measured — the scratch curve crossed the adapted loss between two
    evaluations (interpolated), or was already there at its first one (an upper bound ``≤ x``, which
    settles "< 1" when ``x < 1``). A scratch cell that never got there gives a lower bound that only
    restates the two budgets, so it settles nothing. Verdict: **contradicted** when a measured factor is
    below 1, **reproduced** when at least one was measured and every measured factor is above 1,
    **unresolved** otherwise. Each factor comes from one pretraining run and one adaptation run, so it
    carries no confidence interval: seed-to-seed spread is not in it. Other adaptations (decoder → ED,
    UL2 sources, continued pretraining) are listed but do not decide the paper's claim.
    """
    claim = "(c) Adapting is cheaper than training from scratch"

    def line(s: SpeedUp) -> str:
        scratch = f" against `{s.scratch}`" if s.scratch else ""
        paper = f" (paper: {s.paper[1]}×)" if s.paper else ""
        what = s.kind if s.kind == s.adaptation.label else f"{s.kind}, {s.adaptation.label}"
        return f"`{s.adaptation.name}` ({what}) {s.text()}{scratch}{paper}"

    paper = [s for s in speedups if s.paper]
    wins = [s for s in paper if s.factor is not None and s.factor > 1]
    losses = [
        s
        for s in paper
        if (s.factor is not None and s.factor < 1) or (s.upper_bound is not None and s.upper_bound < 1)
    ]
    measured = [s for s in paper if s.factor is not None or s in losses]
    if losses:
        verdict = "contradicted"
    elif measured and len(wins) == len(measured):
        verdict = "reproduced"
    else:
        verdict = "unresolved"
    if paper:
        detail = "; ".join(line(s) for s in paper) + "."
    else:
        detail = "The study has no LM-A (ND:MLM → CD:FLM) or NC-A (CD:FLM → ND:MLM) adaptation."
    if paper and not measured:
        detail += " No factor was measured."
    others = [s for s in speedups if not s.paper]
    if others:
        detail += " Not part of the paper's claim: " + "; ".join(line(s) for s in others) + "."
    detail += " Single runs: these factors carry no CI."
    return Ordering(claim, verdict, detail)


def orderings(
    rows: list[Table8Row],
    speedups: list[SpeedUp],
    comparisons: StudyComparisons | None,
    budgets: Mapping[str, str] | None = None,
) -> list[Ordering]:
    """The three orderings; ``budgets`` (pretrain cell -> its declared budget) keeps (a) token-matched."""
    return [
        pretraining_ordering(rows, comparisons, budgets),
        mtf_ordering(rows, comparisons),
        adaptation_ordering(speedups),
    ]
