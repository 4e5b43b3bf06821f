"""How much cheaper adapting a model is than training its target from scratch.

speed-up = tokens the from-scratch cell (the pretrain cell with the adaptation's target arch and
objective) needs to reach the adapted model's final validation loss ÷ tokens spent adapting. The two
validation losses are comparable: an adaptation is evaluated on the same validation batches as a
pretrain cell with the same arch, objective and sequence length. Worked example: adapting for 1000
tokens ends at val loss 3.5; the from-scratch curve is 5.0 at 1000 tokens, 4.0 at 2000 and 3.0 at
3000, so it reaches 3.5 at 2500 tokens (linear interpolation) and the speed-up is 2.5×. A from-scratch
curve that never gets that low gives only a lower bound: ``> its total tokens ÷ adaptation tokens``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pretrainlab.report.markdown import markdown_table
from pretrainlab.report.model_labels import StudyModel

# Wang et al. 2022 (../shared/reference/anchors.md): LM-A (ND:MLM → CD:FLM) matches CD:FLM with 1.6×
# less compute; NC-A (CD:FLM → ND:MLM) is 3.3× cheaper than ND:MLM from scratch.
PAPER_SPEEDUPS = {"LM-A": ("ND:MLM → CD:FLM", 1.6), "NC-A": ("CD:FLM → ND:MLM", 3.3)}
DECODERS = ("causal_decoder", "noncausal_decoder")


def tokens_to_reach(tokens: Sequence[float], val_loss: Sequence[float], target: float) -> float | None:
    """Tokens at which a validation-loss curve first gets down to ``target`` (None if it never does).

    Steps without a validation loss (NaN) are skipped; between two evaluations the loss is taken as
    linear in tokens. A curve already at or below ``target`` at its first evaluation gives that point.

    >>> tokens_to_reach([1000, 2000, 3000], [5.0, 4.0, 3.0], 3.5)
    2500.0
    """
    t, v = np.asarray(tokens, dtype=float), np.asarray(val_loss, dtype=float)
    seen = np.isfinite(t) & np.isfinite(v)
    t, v = t[seen], v[seen]
    below = np.flatnonzero(v <= target)
    if below.size == 0:
        return None
    i = int(below[0])
    if i == 0:
        return float(t[0])
    t0, t1, v0, v1 = t[i - 1], t[i], v[i - 1], v[i]
    return float(t0 + (v0 - target) / (v0 - v1) * (t1 - t0))


def adaptation_kind(source: StudyModel, target: StudyModel) -> str:
    """LM-A, NC-A, decoder → encoder-decoder, continued pretraining, or another adaptation."""
    if target.continued:
        return "continued pretraining"
    if source.arch == "noncausal_decoder" and (target.arch, target.objective) == (
        "causal_decoder",
        "full_lm",
    ):
        return "LM-A"
    if (
        source.arch == "causal_decoder"
        and target.arch == "noncausal_decoder"
        and target.objective != "full_lm"
    ):
        return "NC-A"
    if source.arch in DECODERS and target.arch == "encoder_decoder":
        return "decoder → ED"
    return "adaptation"


@dataclass(frozen=True)
class SpeedUp:
    adaptation: StudyModel
    kind: str
    scratch: str | None  # the from-scratch pretrain cell compared against
    adapt_tokens: float
    final_val_loss: float
    scratch_tokens: float | None = None  # tokens the from-scratch cell needed to reach final_val_loss
    scratch_total: float | None = None  # tokens the from-scratch cell trained for
    reason: str | None = None  # why there is no factor

    @property
    def factor(self) -> float | None:
        return None if self.scratch_tokens is None else self.scratch_tokens / self.adapt_tokens

    @property
    def lower_bound(self) -> float | None:
        """``X`` in "> X×" when the from-scratch cell never reached the adapted model's loss."""
        if self.reason or self.scratch_tokens is not None or self.scratch_total is None:
            return None
        return self.scratch_total / self.adapt_tokens

    def text(self) -> str:
        if self.factor is not None:
            return f"{self.factor:.2f}×"
        if self.lower_bound is not None:
            return f"> {self.lower_bound:.2f}×"
        return self.reason or "—"


def _final_point(curve: Mapping[str, np.ndarray]) -> tuple[float, float]:
    """(tokens, val loss) of a curve's last validation point."""
    val = curve.get("val_loss")
    seen = np.flatnonzero(np.isfinite(val)) if val is not None else np.array([], dtype=int)
    if seen.size == 0:
        return float(np.nanmax(curve["tokens"])), float("nan")
    return float(curve["tokens"][seen[-1]]), float(val[seen[-1]])


def from_scratch_target(adaptation: StudyModel, models: Mapping[str, StudyModel]) -> StudyModel | None:
    """The pretrain cell with the adaptation's arch and objective, preferring its model size."""
    matches = [
        m
        for m in models.values()
        if m.stage == "pretrain" and (m.arch, m.objective) == (adaptation.arch, adaptation.objective)
    ]
    matches.sort(key=lambda m: m.size != adaptation.size)
    return matches[0] if matches else None


def speed_up(
    adaptation: StudyModel,
    models: Mapping[str, StudyModel],
    adapt_curve: Mapping[str, np.ndarray],
    pretrain_curves: Mapping[str, Mapping[str, np.ndarray]],
) -> SpeedUp:
    """The speed-up of one adaptation (``pretrain_curves`` maps pretrain cell -> its loss curve)."""
    kind = adaptation_kind(models[adaptation.source], adaptation)
    adapt_tokens, final = _final_point(adapt_curve)
    target = from_scratch_target(adaptation, models)
    if target is None:
        reason = f"no from-scratch {adaptation.label.split(' → ')[-1]} cell in the study"
        return SpeedUp(adaptation, kind, None, adapt_tokens, final, reason=reason)
    if adaptation.continued:
        reason = "not comparable: validated on its own corpus"
        return SpeedUp(adaptation, kind, target.name, adapt_tokens, final, reason=reason)
    if not np.isfinite(final):
        reason = "no validation loss recorded"
        return SpeedUp(adaptation, kind, target.name, adapt_tokens, final, reason=reason)
    curve = pretrain_curves[target.name]
    val = curve.get("val_loss", np.full_like(curve["tokens"], np.nan))
    needed = tokens_to_reach(curve["tokens"], val, final)
    total = float(np.nanmax(curve["tokens"]))
    return SpeedUp(adaptation, kind, target.name, adapt_tokens, final, needed, total)


def speedup_markdown(speedups: list[SpeedUp]) -> list[str]:
    header = ["Adaptation", "Kind", "Config", "From scratch", "Adapt tokens", "Final val loss"]
    header += ["Scratch tokens to reach it", "Speed-up", "Paper"]
    rows = []
    for s in speedups:
        paper = PAPER_SPEEDUPS.get(s.kind)
        if s.scratch_tokens is not None:
            needed = f"{s.scratch_tokens:,.0f}"
        elif s.lower_bound is not None:
            needed = f"never (> {s.scratch_total:,.0f})"
        else:
            needed = "—"
        rows.append(
            [
                f"`{s.adaptation.name}`",
                s.kind,
                s.adaptation.label,
                f"`{s.scratch}`" if s.scratch else "—",
                f"{s.adapt_tokens:,.0f}",
                "—" if not np.isfinite(s.final_val_loss) else f"{s.final_val_loss:.3f}",
                needed,
                s.text(),
                f"{paper[1]}× ({paper[0]})" if paper else "—",
            ]
        )
    return markdown_table(header, rows)
