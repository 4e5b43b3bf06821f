"""How much cheaper adapting a model is than training its target from scratch — when a study can say.

speed-up = tokens the from-scratch cell (a pretrain cell with the adaptation's target arch and
objective) needs to reach the adapted model's final validation loss ÷ tokens spent adapting (every
adaptation step, a frozen cross-attention warm-up included). Tokens spent on the source model are not
counted, as in the paper; the table shows them beside. The two validation losses are comparable: an
adaptation is evaluated on the same validation batches as a pretrain cell with the same arch,
objective and sequence length.

A number is given only when the from-scratch curve *crosses* the adapted loss, interpolated linearly
in tokens between the two evaluation points around the crossing. Worked example: adapting for 1000
tokens ends at val loss 3.5; the from-scratch curve is 5.0 at 1000 tokens, 4.0 at 2000 and 3.0 at 3000,
so it reaches 3.5 at 2500 tokens and the speed-up is 2.5×. Otherwise only a bound, printed as one:

- already below at its first evaluation point ``t₀`` → the scratch cell needed at most ``t₀``:
  ``≤ t₀/adapt×`` (an upper bound);
- never that low → "not measured: the scratch cell is too short (needs > N tokens)", with ``> N/adapt×``
  (a lower bound set by the two budgets, not by the models).

Reading a from-scratch curve at intermediate points assumes that its value after ``t`` tokens is what
a run of ``t`` tokens would reach. That holds for learning-rate schedules that do not depend on the
run's length (``inverse_sqrt``, ``constant``: :mod:`pretrainlab.training.schedule`), not for cosine or
linear decay, whose middle is not annealed (comparing an annealed adapted model with it inflates the
speed-up). So the speed-up is refused, with the reason, unless both the from-scratch cell and the
adaptation record such a schedule (``lr_schedule`` in ``metrics/<stage>/<name>.json``).

Kinds follow Wang et al. 2022 exactly: LM-A is a pretrained non-causal decoder with span corruption
("MLM") adapted to a causal decoder with full LM (ND:MLM → CD:FLM), NC-A the reverse (CD:FLM → ND:MLM);
only those two are compared with the paper's factors. Anything else keeps a descriptive label
(``ND:UL2 → CD:FLM``, ``decoder → ED``, continued pretraining).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from pretrainlab.metrics_contract import LossCurve, TrainingMetrics, read_metrics
from pretrainlab.models.architectures import architecture
from pretrainlab.report.markdown import markdown_table
from pretrainlab.report.model_labels import StudyModel, config_label

# Wang et al. 2022: LM-A (ND:MLM → CD:FLM) matches CD:FLM with 1.6× less compute; NC-A (CD:FLM → ND:MLM)
# is 3.3× cheaper than ND:MLM from scratch.
PAPER_SPEEDUPS = {"LM-A": ("ND:MLM → CD:FLM", 1.6), "NC-A": ("CD:FLM → ND:MLM", 3.3)}
# Learning-rate schedules under which a curve's intermediate points stand for shorter runs.
COMPARABLE_SCHEDULES = ("inverse_sqrt", "constant")


def tokens_to_reach(tokens: ArrayLike, val_loss: ArrayLike, target: float) -> float | None:
    """Tokens at which a validation-loss curve first gets down to ``target`` (None if it never does).

    Steps without a validation loss (NaN) are skipped; between two evaluations the loss is taken as
    linear in tokens. A curve already at or below ``target`` at its first evaluation gives that point
    (an upper bound: :func:`crossing` says so).

    >>> tokens_to_reach([1000, 2000, 3000], [5.0, 4.0, 3.0], 3.5)
    2500.0
    """
    found = crossing(tokens, val_loss, target)
    return None if found is None else found[0]


def crossing(tokens: ArrayLike, val_loss: ArrayLike, target: float) -> tuple[float, bool] | None:
    """(tokens where the curve first reaches ``target``, whether that is its first evaluation point).

    >>> crossing([1000, 2000], [3.0, 2.0], 3.5)
    (1000.0, True)
    """
    t, v = np.asarray(tokens, dtype=float), np.asarray(val_loss, dtype=float)
    seen = np.isfinite(t) & np.isfinite(v)
    t, v = t[seen], v[seen]
    below = np.flatnonzero(v <= target)
    if below.size == 0:
        return None
    i = int(below[0])
    if i == 0:
        return float(t[0]), True
    t0, t1, v0, v1 = t[i - 1], t[i], v[i - 1], v[i]
    return float(t0 + (v0 - target) / (v0 - v1) * (t1 - t0)), False


def adaptation_kind(source: StudyModel, target: StudyModel) -> str:
    """``LM-A`` / ``NC-A`` exactly as the paper defines them; otherwise a descriptive label."""
    if target.continued:
        return "continued pretraining"
    step = f"{config_label(source.arch, source.objective)} → {config_label(target.arch, target.objective)}"
    if source.stage == "pretrain":
        for kind, (paper_step, _) in PAPER_SPEEDUPS.items():
            if step == paper_step:
                return kind
    if architecture(source.arch).is_decoder and architecture(target.arch).is_encoder_decoder:
        return f"decoder → ED ({step})"
    return step


@dataclass(frozen=True)
class SpeedUp:
    adaptation: StudyModel
    kind: str
    scratch: str | None  # the from-scratch pretrain cell compared against
    adapt_tokens: float  # every adaptation step, a frozen warm-up included
    final_val_loss: float
    scratch_tokens: float | None = None  # tokens the from-scratch cell needed to reach final_val_loss
    scratch_total: float | None = None  # tokens the from-scratch cell trained for
    reason: str | None = None  # why there is no factor or bound
    first_point: bool = False  # the scratch curve was already there at its first evaluation
    source_tokens: float | None = None  # what the source model (its whole lineage) trained on

    @property
    def paper(self) -> tuple[str, float] | None:
        """(the paper's configuration, its factor) for LM-A and NC-A; None for any other kind."""
        return PAPER_SPEEDUPS.get(self.kind)

    @property
    def factor(self) -> float | None:
        """The interpolated speed-up; None unless the scratch curve crossed between two evaluations."""
        if self.reason or self.scratch_tokens is None or self.first_point:
            return None
        return self.scratch_tokens / self.adapt_tokens

    @property
    def upper_bound(self) -> float | None:
        """``x`` in "≤ x×": the scratch curve was already at the adapted loss at its first evaluation."""
        if self.reason or self.scratch_tokens is None or not self.first_point:
            return None
        return self.scratch_tokens / self.adapt_tokens

    @property
    def lower_bound(self) -> float | None:
        """``x`` in "> x×": the scratch cell never reached the adapted loss (too short to measure)."""
        if self.reason or self.scratch_tokens is not None or self.scratch_total is None:
            return None
        return self.scratch_total / self.adapt_tokens

    def text(self) -> str:
        if self.factor is not None:
            return f"{self.factor:.2f}×"
        if self.upper_bound is not None:
            return f"≤ {self.upper_bound:.2f}×"
        if self.lower_bound is not None:
            return (
                f"not measured: the scratch cell is too short (needs > {self.scratch_total:,.0f} tokens; "
                f"> {self.lower_bound:.2f}×)"
            )
        return self.reason or "—"


def _final_point(curve: LossCurve) -> tuple[float, float]:
    """(tokens, val loss) of a curve's last validation point."""
    tokens, val = curve.validation_points()
    if tokens.size == 0:
        return curve.total_tokens(), float("nan")
    return float(tokens[-1]), float(val[-1])


def _schedule(training: Mapping[str, TrainingMetrics], ref: str) -> str | None:
    return training[ref].lr_schedule if ref in training else None


def from_scratch_target(
    adaptation: StudyModel,
    models: Mapping[str, StudyModel],
    pretrain_curves: Mapping[str, LossCurve] | None = None,
    training: Mapping[str, TrainingMetrics] | None = None,
) -> StudyModel | None:
    """The pretrain cell with the adaptation's arch and objective: of its model size if there is one,
    then one whose schedule keeps intermediate points comparable, then the longest curve."""
    curves, training = pretrain_curves or {}, training or {}

    def rank(m: StudyModel) -> tuple[bool, bool, float]:
        curve = curves.get(m.name)
        length = curve.total_tokens() if curve is not None else 0.0
        return m.size != adaptation.size, _schedule(training, m.ref) not in COMPARABLE_SCHEDULES, -length

    matches = [
        m
        for m in models.values()
        if m.stage == "pretrain" and (m.arch, m.objective) == (adaptation.arch, adaptation.objective)
    ]
    return min(matches, key=rank) if matches else None


def lineage_tokens(
    ref: str | None, models: Mapping[str, StudyModel], training: Mapping[str, TrainingMetrics]
) -> float | None:
    """Tokens the model ``ref`` and every model it descends from trained on (None if any is unknown)."""
    total = 0.0
    while ref is not None:
        if ref not in training:
            return None
        total += float(training[ref].tokens)
        ref = models[ref].source if ref in models else None
    return total


def schedule_refusal(
    scratch: StudyModel, adaptation: StudyModel, training: Mapping[str, TrainingMetrics]
) -> str | None:
    """Why the two curves' schedules make the comparison meaningless (None when they do not)."""
    for model, role in ((scratch, "the scratch cell"), (adaptation, "the adaptation")):
        schedule = _schedule(training, model.ref)
        if model.ref not in training:
            return f"not measured: no training metrics of {role} `{model.name}` (its learning-rate schedule)"
        if schedule is None:
            return (
                f"not measured: {role} `{model.name}` has no lr_schedule in metrics/{model.stage}/"
                f"{model.name}.json (rerun {model.stage}@{model.name})"
            )
        if schedule not in COMPARABLE_SCHEDULES:
            why = (
                "its points before the end are not annealed like a run stopped there"
                if model is scratch
                else "its end is annealed while the scratch points it is compared with are not"
            )
            return (
                f"not comparable: {role} `{model.name}` uses a {schedule} schedule, so {why} "
                f"(use schedule: inverse_sqrt or constant)"
            )
    return None


def speed_up(
    adaptation: StudyModel,
    models: Mapping[str, StudyModel],
    adapt_curve: LossCurve,
    pretrain_curves: Mapping[str, LossCurve],
    training: Mapping[str, TrainingMetrics] | None = None,
) -> SpeedUp:
    """The speed-up of one adaptation.

    ``pretrain_curves`` maps pretrain cell -> its loss curve; ``training`` maps a model ref
    (``pretrain/<cell>``, ``adapt/<name>``) to its training metrics (:func:`training_metrics`), read
    for the schedules, the frozen warm-up tokens and the source's tokens.
    """
    training = training or {}
    kind = adaptation_kind(models[str(adaptation.source)], adaptation)
    curve_tokens, final = _final_point(adapt_curve)
    trained = training.get(adaptation.ref)
    adapt_tokens = curve_tokens + float(trained.frozen_warmup_tokens if trained else 0)
    source_tokens = lineage_tokens(adaptation.source, models, training)
    target = from_scratch_target(adaptation, models, pretrain_curves, training)
    base = SpeedUp(adaptation, kind, None, adapt_tokens, final, source_tokens=source_tokens)
    if target is None:
        reason = f"no from-scratch {config_label(adaptation.arch, adaptation.objective)} cell in the study"
        return replace(base, reason=reason)
    if adaptation.continued:
        return replace(base, scratch=target.name, reason="not comparable: validated on its own corpus")
    if not np.isfinite(final):
        return replace(base, scratch=target.name, reason="no validation loss recorded")
    refusal = schedule_refusal(target, adaptation, training)
    if refusal is not None:
        return replace(base, scratch=target.name, reason=refusal)
    curve = pretrain_curves[target.name]
    found = crossing(curve.tokens, curve.val_loss, final)
    total = curve.total_tokens()
    if found is None:
        return replace(base, scratch=target.name, scratch_total=total)
    needed, first = found
    return replace(base, scratch=target.name, scratch_tokens=needed, scratch_total=total, first_point=first)


def training_metrics(metrics_root: Path, models: Mapping[str, StudyModel]) -> dict[str, TrainingMetrics]:
    """``metrics/<stage>/<name>.json`` of every pretrain cell and adaptation that has one, by ref."""
    out = {}
    for ref, model in models.items():
        path = Path(metrics_root) / f"{ref}.json"
        if path.is_file():
            out[ref] = read_metrics(path, TrainingMetrics, f"dvc repro {model.stage}@{model.name}")
    return out


SPEEDUP_DEFINITION = (
    "Speed-up = tokens the from-scratch cell (the pretrain cell with the adaptation's target arch and "
    "objective) needs to reach the adapted model's final validation loss ÷ tokens spent adapting (every "
    "adaptation step, a frozen cross-attention warm-up included). It is a number only where the "
    "from-scratch curve crosses that loss (interpolated between the two evaluation points around the "
    "crossing); `≤ x×` when it was already there at its first evaluation; `not measured` when it never "
    "gets there (the scratch cell is too short). Only curves trained under a schedule that does not "
    "depend on the run's length (`inverse_sqrt`, `constant`) are compared: a cosine curve's middle is "
    "not what a shorter run would reach. Tokens spent on the source model are not counted, as in the "
    'paper (shown under "Source tokens"). Validation losses are comparable because an adaptation is '
    "validated on the same batches as a pretrain cell with the same arch, objective and sequence "
    "length — except continued pretraining, which is validated on its own corpus. Single runs: no CI."
)


def speedup_markdown(speedups: list[SpeedUp]) -> list[str]:
    header = ["Adaptation", "Kind", "Config", "From scratch", "Source tokens", "Adapt tokens"]
    header += ["Final val loss", "Scratch tokens to reach it", "Speed-up", "Paper"]
    rows = []
    for s in speedups:
        if s.factor is not None:
            needed = f"{s.scratch_tokens:,.0f}"
        elif s.upper_bound is not None:
            needed = f"≤ {s.scratch_tokens:,.0f} (first evaluation)"
        elif s.lower_bound is not None:
            needed = f"> {s.scratch_total:,.0f} (never)"
        else:
            needed = "—"
        rows.append(
            [
                f"`{s.adaptation.name}`",
                s.kind,
                s.adaptation.label,
                f"`{s.scratch}`" if s.scratch else "—",
                "—" if s.source_tokens is None else f"{s.source_tokens:,.0f}",
                f"{s.adapt_tokens:,.0f}",
                "—" if not np.isfinite(s.final_val_loss) else f"{s.final_val_loss:.3f}",
                needed,
                s.text(),
                f"{s.paper[1]}× ({s.paper[0]})" if s.paper else "—",
            ]
        )
    return markdown_table(header, rows)
