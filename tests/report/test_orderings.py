"""Orderings (a) and (b) decided by paired tests on synthetic per-item results with known effects."""

import numpy as np

from pretrainlab.config.lineage import budget_label
from pretrainlab.config.schema import Budget
from pretrainlab.report.model_labels import StudyModel
from pretrainlab.report.orderings import mtf_ordering, pretraining_ordering
from pretrainlab.report.table8 import Table8Row
from tests.report.synthetic_items import TASKS, base, comparisons, shifted

CD_FLM = StudyModel("pretrain/cd-flm", "causal_decoder", "full_lm", "CD:FLM", "tiny")
ND_PLM = StudyModel("pretrain/nd-plm", "noncausal_decoder", "prefix_lm", "ND:PLM", "tiny")
ED_MLM = StudyModel("pretrain/ed-mlm", "encoder_decoder", "span_corruption", "ED:MLM", "tiny")
NC_A = StudyModel(
    "adapt/nc-a", "noncausal_decoder", "span_corruption", "CD:FLM → ND:MLM", "tiny", source="pretrain/cd-flm"
)
EVALUATED = {"accuracy": 0.5, "ci95": [0.4, 0.6], "random_baseline": 1 / 3}  # the json entry: not read


def _pretrain(cd, nd):
    rows = [Table8Row(CD_FLM, EVALUATED), Table8Row(ND_PLM, EVALUATED)]
    return pretraining_ordering(rows, comparisons({"cd-flm": cd, "nd-plm": nd}))


def test_pretraining_ordering_identical_models_are_unresolved():
    same = base()
    ordering = _pretrain(same, dict(same))
    assert ordering.verdict == "unresolved"
    assert "paired difference +0.0 points, 95% interval [+0.0, +0.0], p = 1.000" in ordering.detail


def test_pretraining_ordering_five_points_ahead_is_reproduced_and_behind_contradicted():
    rival = base()
    ahead = shifted(rival, 5)
    ordering = _pretrain(ahead, rival)
    assert ordering.verdict == "reproduced"
    assert "`cd-flm` (CD:FLM) 55." in ordering.detail and "`nd-plm` (ND:PLM) 50." in ordering.detail
    assert "paired difference +5.0 points, 95% interval [+" in ordering.detail
    behind = _pretrain(rival, ahead)
    assert behind.verdict == "contradicted"
    assert "paired difference -5.0 points, 95% interval [-" in behind.detail


def test_pretraining_ordering_with_seeds_puts_seed_noise_in_the_interval():
    """CD:FLM's first seed is 6 points ahead, but its other two seeds are not: unresolved."""
    rival = base()
    runs = [shifted(rival, 6, seed=1), shifted(rival, -5, seed=2), shifted(rival, 4, seed=3)]
    cd = {t: np.stack([run[t] for run in runs]) for t in TASKS}
    assert _pretrain({t: v[:1] for t, v in cd.items()}, rival).verdict == "reproduced"  # one seed
    seeded = _pretrain(cd, rival)
    assert seeded.verdict == "unresolved" and "(mean of 3 seeds)" in seeded.detail


def test_pretraining_ordering_needs_cd_flm_ahead_of_every_rival():
    """An intersection-union test: CD:FLM clearly ahead of the strongest rival (3 points, on items where
    the two agree otherwise) is not enough when a weaker but unrelated rival (4 points behind, a noisy
    comparison) could still be level with it: unresolved, and both comparisons are printed."""
    cd = shifted(base(), 6)
    close = shifted(cd, -3, seed=2)  # 53%: differs from CD:FLM on 3% of items only
    unrelated = base(seed=7, rate=0.52)  # 52%: agrees with CD:FLM on about half its items
    rows = [Table8Row(CD_FLM, EVALUATED), Table8Row(ND_PLM, EVALUATED), Table8Row(ED_MLM, EVALUATED)]
    paired = comparisons({"cd-flm": cd, "nd-plm": close, "ed-mlm": unrelated})
    assert pretraining_ordering(rows[:2], paired).verdict == "reproduced"  # the close rival alone
    ordering = pretraining_ordering(rows, paired)
    assert ordering.verdict == "unresolved"
    first, second = ordering.detail.split(". Reproduced only")[0].split("; ")
    assert first.startswith("`cd-flm` (CD:FLM) 56.0% against `nd-plm` (ND:PLM) 53.0%: paired difference +3.0")
    assert second.startswith("`ed-mlm` (ED:MLM) 52.")
    assert "Reproduced only if CD:FLM is ahead in all 2 comparisons" in ordering.detail


def test_pretraining_ordering_is_contradicted_by_any_rival_ahead_after_holm():
    cd = base()
    rows = [Table8Row(CD_FLM, EVALUATED), Table8Row(ND_PLM, EVALUATED), Table8Row(ED_MLM, EVALUATED)]
    paired = comparisons({"cd-flm": cd, "nd-plm": shifted(cd, 8), "ed-mlm": shifted(cd, -8)})
    ordering = pretraining_ordering(rows, paired)
    assert ordering.verdict == "contradicted"
    assert "(ahead of CD:FLM: paired difference -8.0 points, 97.5% interval [" in ordering.detail


def test_pretraining_ordering_needs_a_cd_flm_cell_and_a_rival():
    paired = comparisons({"cd-flm": base(), "nd-plm": base(1), "nc-a": base(2)})
    assert pretraining_ordering([Table8Row(CD_FLM, EVALUATED)], paired).verdict == "not measurable"
    assert pretraining_ordering([Table8Row(ND_PLM, EVALUATED)], paired).verdict == "not measurable"
    # An adaptation is not a pretrain cell: it does not count as CD:FLM's rival for (a).
    rows = [Table8Row(CD_FLM, EVALUATED), Table8Row(NC_A, EVALUATED)]
    assert pretraining_ordering(rows, paired).verdict == "not measurable"
    nothing = pretraining_ordering([Table8Row(CD_FLM, None), Table8Row(ND_PLM, None)], None)
    assert nothing.verdict == "not measurable"
    assert nothing.detail == "The study has no evaluated CD:FLM pretrain cell to compare."


def test_mtf_ordering_compares_each_mlm_model_with_cd_flm_holm_corrected():
    cd_mtf = base()
    scores = {
        "cd-mtf": cd_mtf,
        "ed-mtf": shifted(cd_mtf, 8),
        "nc-mtf": dict(cd_mtf),
        "bad-mtf": shifted(cd_mtf, -8),
    }
    paired = comparisons(scores)
    cd = Table8Row(CD_FLM, EVALUATED, "cd-mtf", EVALUATED)
    ed = Table8Row(ED_MLM, EVALUATED, "ed-mtf", EVALUATED)
    nc = Table8Row(NC_A, EVALUATED, "nc-mtf", EVALUATED)
    bad = Table8Row(ED_MLM, EVALUATED, "bad-mtf", EVALUATED)

    alone = mtf_ordering([cd, ed], paired)
    assert alone.verdict == "reproduced" and "95% interval" in alone.detail and "Holm" not in alone.detail
    mixed = mtf_ordering([cd, ed, nc], paired)
    assert mixed.verdict == "partly reproduced"
    assert "`nc-mtf` (CD:FLM → ND:MLM + MTF) 50.0%: unresolved, paired difference +0.0 points" in mixed.detail
    assert (
        "`ed-mtf` (ED:MLM + MTF) 58.0%: reproduced, paired difference +8.0 points, 97.5% interval"
        in mixed.detail
    )
    assert "Holm-adjusted p" in mixed.detail and "Holm-corrected over these 2 comparisons." in mixed.detail
    assert mtf_ordering([cd, bad], paired).verdict == "contradicted"
    assert mtf_ordering([cd, nc, bad], paired).verdict == "partly contradicted"
    assert mtf_ordering([cd, Table8Row(ED_MLM, EVALUATED)], paired).verdict == "not measurable"


def test_pretraining_ordering_compares_only_token_matched_cells():
    """A CD:FLM cell trained 2.5x longer than the grid (a learnability reference) is not CD:FLM's
    stand-in against the grid's cells: (a) compares the grid's own cd-flm and says what it left out. A
    cell of the grid's declared budget stays in, whatever tokens its objective's windows came to (UL2
    trained 638,020 tokens where the others trained 638,976)."""
    long = StudyModel("pretrain/cd-flm-long", "causal_decoder", "full_lm", "CD:FLM", "tiny")
    ul2 = StudyModel("pretrain/nd-ul2", "noncausal_decoder", "ul2", "ND:UL2", "tiny")
    rival = base()
    scores = {"cd-flm": dict(rival), "nd-plm": rival, "nd-ul2": dict(rival), "cd-flm-long": shifted(rival, 8)}
    rows = [Table8Row(m, EVALUATED) for m in (CD_FLM, ND_PLM, ul2, long)]
    budgets = {name: budget_label(Budget(tokens=6.4e5)) for name in ("cd-flm", "nd-plm", "nd-ul2")}
    budgets["cd-flm-long"] = budget_label(Budget(tokens=1.6e6))
    unmatched = pretraining_ordering(rows, comparisons(scores))  # no budgets: one group
    assert unmatched.verdict == "reproduced" and "`cd-flm-long`" in unmatched.detail
    matched = pretraining_ordering(rows, comparisons(scores), budgets)
    assert matched.verdict == "unresolved" and "`cd-flm` (CD:FLM)" in matched.detail
    assert matched.detail.endswith("`cd-flm-long` (another size or token budget) not compared.")
