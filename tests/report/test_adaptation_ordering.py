"""Ordering (c), "adapting is cheaper than training from scratch": decided only by measured factors."""

from __future__ import annotations

import pytest

from pretrainlab.report.adaptation_speedup import speed_up
from pretrainlab.report.model_labels import study_models
from pretrainlab.report.orderings import adaptation_ordering
from tests.report.records import curve, graph, training

PRETRAIN = {
    "cd-flm": {"arch": "causal_decoder", "objective": "full_lm", "model": "tiny"},
    "nd-mlm": {"arch": "noncausal_decoder", "objective": "span_corruption", "model": "tiny"},
    "nd-ul2": {"arch": "noncausal_decoder", "objective": "ul2", "model": "tiny"},
}
ADAPT = {
    "lm-a": {"from": "pretrain/nd-mlm", "arch": "causal_decoder", "objective": "full_lm"},
    "nc-a": {"from": "pretrain/cd-flm", "arch": "noncausal_decoder", "objective": "span_corruption"},
    "ul2-to-flm": {"from": "pretrain/nd-ul2", "arch": "causal_decoder", "objective": "full_lm"},
}
MODELS = study_models(graph(PRETRAIN, ADAPT))
TRAINING = {ref: training(lr_schedule="inverse_sqrt", tokens=3000) for ref in MODELS}
ADAPTED = curve([500.0, 1000.0], [4.2, 3.5])  # 3.5 after 1000 tokens
_curve = curve


def _speedups(cd_flm, nd_mlm, training=TRAINING, names=("lm-a", "nc-a")):
    curves = {"cd-flm": cd_flm, "nd-mlm": nd_mlm, "nd-ul2": _curve([1000], [5.0])}
    return [speed_up(MODELS[f"adapt/{n}"], MODELS, ADAPTED, curves, training) for n in names]


CROSSES_AT_2500 = _curve([1000, 2000, 3000], [5.0, 4.0, 3.0])
NEVER = _curve([1000, 2000, 3000], [5.0, 4.5, 4.0])


def test_unresolved_when_no_scratch_curve_crosses():
    ordering = adaptation_ordering(_speedups(NEVER, NEVER))
    assert ordering.verdict == "unresolved"
    assert "not measured: the scratch cell is too short (needs > 3,000 tokens; > 3.00×)" in ordering.detail
    assert "No factor was measured." in ordering.detail


def test_a_crossing_gives_the_interpolated_factor_and_decides():
    ordering = adaptation_ordering(_speedups(CROSSES_AT_2500, CROSSES_AT_2500))
    assert ordering.verdict == "reproduced"
    assert "`lm-a` (LM-A, ND:MLM → CD:FLM) 2.50× against `cd-flm` (paper: 1.6×)" in ordering.detail
    assert "`nc-a` (NC-A, CD:FLM → ND:MLM) 2.50× against `nd-mlm` (paper: 3.3×)" in ordering.detail
    assert "carry no CI" in ordering.detail
    # one measured factor above 1, the other not measured: every *measured* factor is above 1
    assert adaptation_ordering(_speedups(CROSSES_AT_2500, NEVER)).verdict == "reproduced"


def test_a_factor_below_one_contradicts():
    slow = _curve([200, 400, 600], [5.0, 4.0, 3.0])  # reaches 3.5 at 500 tokens: 0.5x
    speedups = _speedups(CROSSES_AT_2500, slow)
    assert speedups[1].factor == pytest.approx(0.5)
    assert adaptation_ordering(speedups).verdict == "contradicted"


def test_first_point_crossing_is_an_upper_bound_and_decides_only_below_one():
    early = _curve([800, 1600], [3.4, 3.0])  # already at 3.5 by 800 tokens: ≤ 0.80x
    ordering = adaptation_ordering(_speedups(early, NEVER))
    assert "`lm-a` (LM-A, ND:MLM → CD:FLM) ≤ 0.80× against `cd-flm`" in ordering.detail
    assert ordering.verdict == "contradicted"
    late = _curve([2000, 4000], [3.4, 3.0])  # ≤ 2.00x: could be below or above 1
    assert adaptation_ordering(_speedups(late, NEVER)).verdict == "unresolved"


def test_cosine_scratch_curves_leave_it_unresolved_with_the_reason():
    cosine = {ref: m.model_copy(update={"lr_schedule": "cosine"}) for ref, m in TRAINING.items()}
    ordering = adaptation_ordering(_speedups(CROSSES_AT_2500, CROSSES_AT_2500, cosine))
    assert ordering.verdict == "unresolved"
    assert "not comparable: the scratch cell `cd-flm` uses a cosine schedule" in ordering.detail


def test_other_adaptations_are_listed_but_do_not_decide():
    speedups = _speedups(CROSSES_AT_2500, NEVER, names=("ul2-to-flm",))
    assert speedups[0].factor == pytest.approx(2.5)
    ordering = adaptation_ordering(speedups)
    assert ordering.verdict == "unresolved"
    assert "no LM-A (ND:MLM → CD:FLM) or NC-A" in ordering.detail
    assert (
        "Not part of the paper's claim: `ul2-to-flm` (ND:UL2 → CD:FLM) 2.50× against `cd-flm`"
        in ordering.detail
    )
    assert "paper:" not in ordering.detail
    assert adaptation_ordering([]).verdict == "unresolved"
