import json

import numpy as np
import pytest

from pretrainlab.errors import UserInputError
from pretrainlab.report.adaptation_speedup import (
    adaptation_kind,
    speed_up,
    speedup_markdown,
    tokens_to_reach,
    training_metrics,
)
from pretrainlab.report.model_labels import study_models
from tests.report.records import curve, graph, training

PRETRAIN = {
    "cd-flm": {"arch": "causal_decoder", "objective": "full_lm", "model": "tiny"},
    "nd-mlm": {"arch": "noncausal_decoder", "objective": "span_corruption", "model": "tiny"},
}
ADAPT = {
    "lm-a": {"from": "pretrain/nd-mlm", "arch": "causal_decoder", "objective": "full_lm"},
    "to-ed": {"from": "pretrain/cd-flm", "arch": "encoder_decoder", "objective": "prefix_lm"},
    "more": {
        "from": "pretrain/cd-flm",
        "arch": "causal_decoder",
        "objective": "full_lm",
        "sources": [{"kind": "synthworld"}],
    },
}


_curve = curve
ADAPTED = _curve([500, 1000], [4.2, 3.5])  # ends at val loss 3.5 after 1000 tokens of adapting


def _models(pretrain=PRETRAIN, adapt=ADAPT):
    return study_models(graph(pretrain, adapt))


def _training(scratch="inverse_sqrt", adapt="constant", **adapt_values):
    """Training metrics by ref, as metrics/<stage>/<name>.json hold them."""
    out = {f"pretrain/{c}": training(lr_schedule=scratch, tokens=5000) for c in PRETRAIN}
    return out | {f"adapt/{a}": training(lr_schedule=adapt, tokens=1000, **adapt_values) for a in ADAPT}


def test_tokens_to_reach_interpolates_and_skips_steps_without_validation():
    assert tokens_to_reach([1000, 1500, 2000, 3000], [5.0, np.nan, 4.0, 3.0], 3.5) == pytest.approx(2500)
    assert tokens_to_reach([1000, 2000], [3.0, 2.0], 3.5) == 1000  # already there at its first point
    assert tokens_to_reach([1000, 2000], [5.0, 4.0], 3.5) is None


def test_speed_up_is_from_scratch_tokens_to_the_adapted_loss_over_adaptation_tokens():
    models = _models()
    scratch = {"cd-flm": _curve([1000, 2000, 3000], [5.0, 4.0, 3.0])}
    s = speed_up(models["adapt/lm-a"], models, ADAPTED, scratch, _training())
    # 3.5 is halfway between 4.0 (2000 tokens) and 3.0 (3000 tokens): 2500 tokens / 1000 = 2.5x.
    assert (s.kind, s.scratch, s.adapt_tokens, s.final_val_loss) == ("LM-A", "cd-flm", 1000, 3.5)
    assert s.scratch_tokens == pytest.approx(2500)
    assert s.factor == pytest.approx(2.5) and s.text() == "2.50×"
    assert s.paper == ("ND:MLM → CD:FLM", 1.6) and s.source_tokens == 5000  # nd-mlm's own tokens


def test_crossing_at_the_first_evaluation_is_an_upper_bound():
    models = _models()
    scratch = {"cd-flm": _curve([800, 1600], [3.4, 3.0])}  # already below 3.5 at 800 tokens
    s = speed_up(models["adapt/lm-a"], models, ADAPTED, scratch, _training())
    assert s.factor is None and s.upper_bound == pytest.approx(0.8)
    assert s.text() == "≤ 0.80×"


def test_from_scratch_cell_that_never_reaches_the_adapted_loss_is_not_measured():
    models = _models()
    scratch = {"cd-flm": _curve([1000, 2000, 3000], [5.0, 4.5, 4.0])}
    s = speed_up(models["adapt/lm-a"], models, ADAPTED, scratch, _training())
    assert s.factor is None and s.upper_bound is None and s.lower_bound == pytest.approx(3.0)
    assert s.text() == "not measured: the scratch cell is too short (needs > 3,000 tokens; > 3.00×)"


def test_cosine_scratch_curve_is_refused_with_the_reason():
    models = _models()
    scratch = {"cd-flm": _curve([1000, 2000, 3000], [5.0, 4.0, 3.0])}  # would cross at 2500
    s = speed_up(models["adapt/lm-a"], models, ADAPTED, scratch, _training(scratch="cosine"))
    assert s.factor is None and s.upper_bound is None and s.lower_bound is None
    assert s.text().startswith("not comparable: the scratch cell `cd-flm` uses a cosine schedule")
    assert "not annealed" in s.text() and "inverse_sqrt" in s.text()
    annealed = speed_up(models["adapt/lm-a"], models, ADAPTED, scratch, _training(adapt="linear"))
    assert annealed.text().startswith("not comparable: the adaptation `lm-a` uses a linear schedule")
    unknown = speed_up(models["adapt/lm-a"], models, ADAPTED, scratch)  # no training metrics given
    assert unknown.factor is None and "not measured" in unknown.text()


def test_frozen_warmup_tokens_count_as_adaptation_tokens():
    models = _models()
    scratch = {"cd-flm": _curve([1000, 2000, 3000], [5.0, 4.0, 3.0])}
    training = _training(frozen_warmup_tokens=250)
    s = speed_up(models["adapt/lm-a"], models, ADAPTED, scratch, training)
    assert s.adapt_tokens == 1250 and s.factor == pytest.approx(2500 / 1250)


def test_the_longest_comparable_scratch_cell_is_the_reference():
    cells = PRETRAIN | {
        "cd-flm-long": {"arch": "causal_decoder", "objective": "full_lm", "model": "tiny"},
        "cd-flm-cos": {"arch": "causal_decoder", "objective": "full_lm", "model": "tiny"},
    }
    models = _models(cells)
    curves = {
        "cd-flm": _curve([1000, 2000], [5.0, 4.0]),
        "cd-flm-long": _curve([1000, 2000, 3000, 4000], [5.0, 4.0, 3.0, 2.5]),
        "cd-flm-cos": _curve([2000, 4000, 8000], [5.0, 4.0, 2.0]),
    }
    training = _training() | {"pretrain/cd-flm-long": _training()["pretrain/cd-flm"]}
    training["pretrain/cd-flm-cos"] = _training(scratch="cosine")["pretrain/cd-flm"]
    s = speed_up(models["adapt/lm-a"], models, ADAPTED, curves, training)
    assert s.scratch == "cd-flm-long" and s.factor == pytest.approx(2.5)


def test_no_from_scratch_target_or_another_corpus_is_said_plainly():
    models = _models()
    scratch = {"cd-flm": _curve([1000], [5.0])}
    to_ed = speed_up(models["adapt/to-ed"], models, ADAPTED, scratch, _training())
    assert to_ed.kind == "decoder → ED (CD:FLM → ED:PLM)" and to_ed.paper is None
    assert to_ed.text() == "no from-scratch ED:PLM cell in the study"
    more = speed_up(models["adapt/more"], models, ADAPTED, scratch, _training())
    assert more.kind == "continued pretraining" and "not comparable" in more.text()
    assert more.factor is None and more.lower_bound is None


def test_ul2_source_gets_its_own_label_and_no_paper_factor():
    cells = PRETRAIN | {"nd-ul2": {"arch": "noncausal_decoder", "objective": "ul2", "model": "tiny"}}
    adapt = {"ul2-to-flm": {"from": "pretrain/nd-ul2", "arch": "causal_decoder", "objective": "full_lm"}}
    models = _models(cells, adapt)
    training_by_ref = {ref: _training(scratch="constant")["pretrain/cd-flm"] for ref in models}

    scratch = {"cd-flm": _curve([1000, 2000, 3000], [5.0, 4.0, 3.0])}
    s = speed_up(models["adapt/ul2-to-flm"], models, ADAPTED, scratch, training_by_ref)
    assert s.kind == "ND:UL2 → CD:FLM" and s.paper is None
    assert s.factor == pytest.approx(2.5)  # measured, but not set against the paper's LM-A figure
    row = next(line for line in speedup_markdown([s]) if line.startswith("| `ul2-to-flm`"))
    assert row.endswith("| 2.50× | — |")
    # LM-A is the paper's ND:MLM -> CD:FLM only, never another non-causal source
    assert adaptation_kind(models["pretrain/nd-ul2"], models["adapt/ul2-to-flm"]) != "LM-A"


def test_training_metrics_are_read_by_ref_and_bad_json_names_the_file(tmp_path):
    models = _models()
    (tmp_path / "pretrain").mkdir()
    metrics = training(lr_schedule="constant")
    (tmp_path / "pretrain" / "cd-flm.json").write_text(json.dumps(metrics.as_json()))
    assert training_metrics(tmp_path, models) == {"pretrain/cd-flm": metrics}
    (tmp_path / "pretrain" / "nd-mlm.json").write_text("{oops")
    with pytest.raises(UserInputError, match="nd-mlm.json"):
        training_metrics(tmp_path, models)


def test_labels_follow_the_paper_and_chains_name_every_link():
    chain = {"nc-a": {"from": "pretrain/cd-flm", "arch": "noncausal_decoder", "objective": "span_corruption"}}
    chain["back"] = {"from": "adapt/nc-a", "arch": "causal_decoder", "objective": "full_lm"}
    models = _models(PRETRAIN, chain)
    assert [m.label for m in models.values()] == [
        "CD:FLM",
        "ND:MLM",
        "CD:FLM → ND:MLM",
        "CD:FLM → ND:MLM → CD:FLM",
    ]
    assert _models()["adapt/more"].label == "CD:FLM → CD:FLM (continued)"


def test_adaptation_cycle_or_unknown_source_names_the_key():
    cycle = {
        "a": {"from": "adapt/b", "arch": "causal_decoder", "objective": "full_lm"},
        "b": {"from": "adapt/a", "arch": "causal_decoder", "objective": "full_lm"},
    }
    with pytest.raises(UserInputError, match=r"adapt\.a\.from: adaptations form a cycle"):
        _models(PRETRAIN, cycle)
    unknown = {"a": {"from": "pretrain/nope", "arch": "causal_decoder", "objective": "full_lm"}}
    with pytest.raises(UserInputError, match=r"adapt\.a\.from: no model 'pretrain/nope'"):
        _models(PRETRAIN, unknown)
