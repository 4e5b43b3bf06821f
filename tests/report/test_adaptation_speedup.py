import numpy as np
import pytest

from pretrainlab.errors import UserInputError
from pretrainlab.report.adaptation_speedup import speed_up, tokens_to_reach
from pretrainlab.report.model_labels import study_models

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


def _curve(tokens, val):
    return {"tokens": np.array(tokens, dtype=float), "val_loss": np.array(val, dtype=float)}


ADAPTED = _curve([500, 1000], [4.2, 3.5])  # ends at val loss 3.5 after 1000 tokens of adapting


def test_tokens_to_reach_interpolates_and_skips_steps_without_validation():
    assert tokens_to_reach([1000, 1500, 2000, 3000], [5.0, np.nan, 4.0, 3.0], 3.5) == pytest.approx(2500)
    assert tokens_to_reach([1000, 2000], [3.0, 2.0], 3.5) == 1000  # already there at its first point
    assert tokens_to_reach([1000, 2000], [5.0, 4.0], 3.5) is None


def test_speed_up_is_from_scratch_tokens_to_the_adapted_loss_over_adaptation_tokens():
    models = study_models(PRETRAIN, ADAPT)
    scratch = {"cd-flm": _curve([1000, 2000, 3000], [5.0, 4.0, 3.0])}
    s = speed_up(models["adapt/lm-a"], models, ADAPTED, scratch)
    # 3.5 is halfway between 4.0 (2000 tokens) and 3.0 (3000 tokens): 2500 tokens / 1000 = 2.5x.
    assert (s.kind, s.scratch, s.adapt_tokens, s.final_val_loss) == ("LM-A", "cd-flm", 1000, 3.5)
    assert s.scratch_tokens == pytest.approx(2500)
    assert s.factor == pytest.approx(2.5) and s.text() == "2.50×"


def test_from_scratch_cell_that_never_reaches_the_adapted_loss_gives_a_lower_bound():
    models = study_models(PRETRAIN, ADAPT)
    scratch = {"cd-flm": _curve([1000, 2000, 3000], [5.0, 4.5, 4.0])}
    s = speed_up(models["adapt/lm-a"], models, ADAPTED, scratch)
    assert s.factor is None and s.lower_bound == pytest.approx(3.0)  # 3000 tokens / 1000
    assert s.text() == "> 3.00×"


def test_no_from_scratch_target_or_another_corpus_is_said_plainly():
    models = study_models(PRETRAIN, ADAPT)
    scratch = {"cd-flm": _curve([1000], [5.0])}
    to_ed = speed_up(models["adapt/to-ed"], models, ADAPTED, scratch)
    assert to_ed.kind == "decoder → ED" and to_ed.text() == "no from-scratch ED:PLM cell in the study"
    more = speed_up(models["adapt/more"], models, ADAPTED, scratch)
    assert more.kind == "continued pretraining" and "not comparable" in more.text()
    assert more.factor is None and more.lower_bound is None


def test_labels_follow_the_paper_and_chains_name_every_link():
    chain = {"nc-a": {"from": "pretrain/cd-flm", "arch": "noncausal_decoder", "objective": "span_corruption"}}
    chain["back"] = {"from": "adapt/nc-a", "arch": "causal_decoder", "objective": "full_lm"}
    models = study_models(PRETRAIN, chain)
    assert [m.label for m in models.values()] == [
        "CD:FLM",
        "ND:MLM",
        "CD:FLM → ND:MLM",
        "CD:FLM → ND:MLM → CD:FLM",
    ]
    assert study_models(PRETRAIN, ADAPT)["adapt/more"].label == "CD:FLM → CD:FLM (continued)"


def test_adaptation_cycle_or_unknown_source_names_the_key():
    cycle = {
        "a": {"from": "adapt/b", "arch": "causal_decoder", "objective": "full_lm"},
        "b": {"from": "adapt/a", "arch": "causal_decoder", "objective": "full_lm"},
    }
    with pytest.raises(UserInputError, match=r"adapt\.a\.from: adaptation cycle"):
        study_models(PRETRAIN, cycle)
    unknown = {"a": {"from": "pretrain/nope", "arch": "causal_decoder", "objective": "full_lm"}}
    with pytest.raises(UserInputError, match=r"adapt\.a\.from: no model 'pretrain/nope'"):
        study_models(PRETRAIN, unknown)
