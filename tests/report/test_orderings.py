from pretrainlab.report.adaptation_speedup import SpeedUp
from pretrainlab.report.model_labels import StudyModel
from pretrainlab.report.orderings import adaptation_ordering, mtf_ordering, pretraining_ordering
from pretrainlab.report.table8 import Table8Row

CD_FLM = StudyModel("pretrain/cd-flm", "causal_decoder", "full_lm", "CD:FLM", "tiny")
ND_PLM = StudyModel("pretrain/nd-plm", "noncausal_decoder", "prefix_lm", "ND:PLM", "tiny")
ED_MLM = StudyModel("pretrain/ed-mlm", "encoder_decoder", "span_corruption", "ED:MLM", "tiny")
NC_A = StudyModel(
    "adapt/nc-a", "noncausal_decoder", "span_corruption", "CD:FLM → ND:MLM", "tiny", source="pretrain/cd-flm"
)


def _acc(accuracy, lo, hi):
    return {"accuracy": accuracy, "ci95": [lo, hi], "random_baseline": 0.33}


def test_pretraining_ordering_reproduced_outside_the_cis():
    rows = [Table8Row(CD_FLM, _acc(0.60, 0.55, 0.65)), Table8Row(ND_PLM, _acc(0.40, 0.35, 0.45))]
    ordering = pretraining_ordering(rows)
    assert ordering.verdict == "reproduced"
    assert "60.0% [55.0–65.0]" in ordering.detail and "CIs do not overlap" in ordering.detail


def test_pretraining_ordering_not_reproduced_within_noise():
    rows = [Table8Row(CD_FLM, _acc(0.40, 0.30, 0.50)), Table8Row(ND_PLM, _acc(0.45, 0.35, 0.55))]
    ordering = pretraining_ordering(rows)
    assert ordering.verdict == "not reproduced (within noise)"
    assert "`nd-plm` (ND:PLM) 45.0%" in ordering.detail


def test_pretraining_ordering_needs_a_cd_flm_cell_and_a_rival():
    assert pretraining_ordering([Table8Row(CD_FLM, _acc(0.4, 0.3, 0.5))]).verdict == "not measurable"
    assert pretraining_ordering([Table8Row(ND_PLM, _acc(0.4, 0.3, 0.5))]).verdict == "not measurable"
    # An adaptation is not a pretrain cell: it does not count as CD:FLM's rival for (a).
    rows = [Table8Row(CD_FLM, _acc(0.4, 0.3, 0.5)), Table8Row(NC_A, _acc(0.9, 0.8, 1.0))]
    assert pretraining_ordering(rows).verdict == "not measurable"


def test_mtf_ordering_counts_each_mlm_model_against_cd_flm():
    cd = Table8Row(CD_FLM, _acc(0.3, 0.2, 0.4), "cd-mtf", _acc(0.50, 0.45, 0.55))
    ed = Table8Row(ED_MLM, _acc(0.3, 0.2, 0.4), "ed-mtf", _acc(0.70, 0.65, 0.75))
    nc = Table8Row(NC_A, _acc(0.3, 0.2, 0.4), "nc-mtf", _acc(0.48, 0.40, 0.56))
    assert mtf_ordering([cd, ed]).verdict == "reproduced"
    mixed = mtf_ordering([cd, ed, nc])
    assert mixed.verdict == "partly reproduced"
    assert "`nc-mtf` (CD:FLM → ND:MLM + MTF) 48.0% [40.0–56.0] is not ahead (CIs overlap)" in mixed.detail
    assert mtf_ordering([cd, nc]).verdict == "not reproduced (within noise)"
    assert mtf_ordering([cd, Table8Row(ED_MLM, _acc(0.3, 0.2, 0.4))]).verdict == "not measurable"


def _speedup(name, scratch_tokens=None, total=None, reason=None):
    model = StudyModel(f"adapt/{name}", "causal_decoder", "full_lm", "ND:MLM → CD:FLM", "tiny", "pretrain/x")
    return SpeedUp(model, "LM-A", "cd-flm", 1000.0, 3.5, scratch_tokens, total, reason)


def test_adaptation_ordering_from_factors_and_lower_bounds():
    assert adaptation_ordering([_speedup("fast", 2500.0, 3000.0)]).verdict == "reproduced"
    assert "(paper: 1.6×)" in adaptation_ordering([_speedup("fast", 2500.0, 3000.0)]).detail
    assert adaptation_ordering([_speedup("never", None, 3000.0)]).verdict == "reproduced"  # > 3x
    assert adaptation_ordering([_speedup("slow", 500.0, 3000.0)]).verdict == "not reproduced"
    # A from-scratch run shorter than the adaptation that never got there settles nothing.
    short = adaptation_ordering([_speedup("short", None, 800.0), _speedup("none", reason="no target")])
    assert short.verdict == "not measurable" and "no target" in short.detail
    assert adaptation_ordering([]).verdict == "not measurable"
