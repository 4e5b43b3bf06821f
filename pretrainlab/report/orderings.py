"""Which of Wang et al. 2022's three orderings a study reproduces, read off its own numbers.

(a) after pretraining only, CD:FLM is the best zero-shot (held-out) model among the pretrain cells;
(b) after MTF, non-causal decoder / encoder-decoder MLM models (ND:MLM, ED:MLM, also when adapted to)
    beat CD:FLM;
(c) adapting is cheaper than training the target from scratch (speed-up > 1).

Each gets a verdict — reproduced, partly reproduced, not reproduced or not measurable (cells
missing) — and the numbers behind it. A comparison whose two 95% CIs overlap is "within noise".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pretrainlab.report.adaptation_speedup import PAPER_SPEEDUPS, SpeedUp
from pretrainlab.report.markdown import cis_overlap
from pretrainlab.report.table8 import Table8Row

MLM_ARCHS = ("noncausal_decoder", "encoder_decoder")


@dataclass(frozen=True)
class Ordering:
    claim: str
    verdict: str  # "reproduced", "partly reproduced", "not reproduced" or "not measurable"
    detail: str

    def markdown(self) -> str:
        return f"- **{self.claim}** — **{self.verdict}**. {self.detail}"


def _pct(entry: Mapping) -> str:
    lo, hi = entry["ci95"]
    return f"{100 * entry['accuracy']:.1f}% [{100 * lo:.1f}–{100 * hi:.1f}]"


def _noise(a: Mapping, b: Mapping) -> str:
    return "CIs overlap" if cis_overlap(a, b) else "CIs do not overlap"


def _within_noise(verdict: str, all_overlap: bool) -> str:
    return f"{verdict} (within noise)" if all_overlap else verdict


def _verdict(wins: int, total: int) -> str:
    return "reproduced" if wins == total else "not reproduced" if wins == 0 else "partly reproduced"


def pretraining_ordering(rows: list[Table8Row]) -> Ordering:
    """(a): the best CD:FLM pretrain cell against the best other pretrain cell, held-out accuracy."""
    claim = "(a) After pretraining only, CD:FLM is the best zero-shot model"
    scored = {r.model.name: r for r in rows if r.model.stage == "pretrain" and r.pretrained}
    causal = [r for r in scored.values() if r.model.label == "CD:FLM"]
    others = [r for r in scored.values() if r.model.label != "CD:FLM"]
    if not causal or not others:
        missing = "an evaluated CD:FLM pretrain cell" if not causal else "another evaluated pretrain cell"
        return Ordering(claim, "not measurable", f"The study has no {missing} to compare.")
    cd = max(causal, key=lambda r: r.pretrained["accuracy"])
    rival = max(others, key=lambda r: r.pretrained["accuracy"])
    won = cd.pretrained["accuracy"] > rival.pretrained["accuracy"]
    detail = (
        f"`{cd.model.name}` (CD:FLM) {_pct(cd.pretrained)} vs the best other pretrain cell "
        f"`{rival.model.name}` ({rival.model.label}) {_pct(rival.pretrained)}: CD:FLM is "
        f"{'ahead' if won else 'not ahead'}; {_noise(cd.pretrained, rival.pretrained)}."
    )
    verdict = "reproduced" if won else "not reproduced"
    return Ordering(claim, _within_noise(verdict, cis_overlap(cd.pretrained, rival.pretrained)), detail)


def mtf_ordering(rows: list[Table8Row]) -> Ordering:
    """(b): every finetuned ND/ED span-corruption model against the best finetuned CD:FLM cell."""
    claim = "(b) After MTF, non-causal / encoder-decoder MLM models beat CD:FLM"
    finetuned = [r for r in rows if r.mtf]
    causal = [r for r in finetuned if r.model.stage == "pretrain" and r.model.label == "CD:FLM"]
    mlm = [r for r in finetuned if r.model.arch in MLM_ARCHS and r.model.objective == "span_corruption"]
    if not causal or not mlm:
        missing = (
            "a CD:FLM pretrain cell" if not causal else "an ND:MLM or ED:MLM model (pretrained or adapted)"
        )
        return Ordering(claim, "not measurable", f"The study finetunes and evaluates no {missing}.")
    cd = max(causal, key=lambda r: r.mtf["accuracy"])
    parts, wins, overlaps = [], 0, 0
    for r in mlm:
        won = r.mtf["accuracy"] > cd.mtf["accuracy"]
        wins += won
        overlaps += cis_overlap(r.mtf, cd.mtf)
        parts.append(
            f"`{r.mtf_model}` ({r.model.label} + MTF) {_pct(r.mtf)} is {'ahead' if won else 'not ahead'}"
            f" ({_noise(r.mtf, cd.mtf)})"
        )
    detail = f"Against `{cd.mtf_model}` (CD:FLM + MTF) {_pct(cd.mtf)}: " + "; ".join(parts) + "."
    return Ordering(claim, _within_noise(_verdict(wins, len(mlm)), overlaps == len(mlm)), detail)


def adaptation_ordering(speedups: list[SpeedUp]) -> Ordering:
    """(c): each adaptation with a comparable from-scratch curve; a lower bound ≤ 1 settles nothing."""
    claim = "(c) Adapting is cheaper than training from scratch"
    measured = [s for s in speedups if s.factor is not None or s.lower_bound is not None]
    decided = [s for s in measured if s.factor is not None or s.lower_bound > 1]
    if not decided:
        why = (
            "; ".join(f"`{s.adaptation.name}`: {s.text()}" for s in speedups)
            or "the study has no adaptations"
        )
        if measured:
            why += " (a lower bound at or below 1× settles nothing: the from-scratch run is too short)"
        return Ordering(claim, "not measurable", f"No adaptation has a usable speed-up ({why}).")
    wins = sum(s.factor is None or s.factor > 1 for s in decided)
    parts = [
        f"`{s.adaptation.name}` ({s.kind}, {s.adaptation.label}) {s.text()} against `{s.scratch}`"
        + (f" (paper: {PAPER_SPEEDUPS[s.kind][1]}×)" if s.kind in PAPER_SPEEDUPS else "")
        for s in decided
    ]
    skipped = [s for s in speedups if s not in decided]
    detail = "; ".join(parts) + ". Single runs: these factors carry no CI."
    if skipped:
        detail += " Not measured: " + "; ".join(f"`{s.adaptation.name}` ({s.text()})" for s in skipped) + "."
    return Ordering(claim, _verdict(wins, len(decided)), detail)


def orderings(rows: list[Table8Row], speedups: list[SpeedUp]) -> list[Ordering]:
    return [pretraining_ordering(rows), mtf_ordering(rows), adaptation_ordering(speedups)]
