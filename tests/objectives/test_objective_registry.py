from __future__ import annotations

import numpy as np
import pytest

from pretrainlab.config.schema import OPTIONS_BY_OBJECTIVE, SpanCorruptionOptions
from pretrainlab.models.layout import collate
from pretrainlab.objectives import OBJECTIVES, get_objective, register, valid_pairs
from pretrainlab.objectives.full_lm import full_lm
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests()


def test_unknown_name_lists_the_valid_ones_and_duplicates_are_rejected():
    with pytest.raises(KeyError, match="full_lm, mlm, prefix_lm, span_corruption, ul2"):
        get_objective("bert")
    with pytest.raises(ValueError, match="already registered"):
        register(OBJECTIVES["full_lm"])
    assert set(OBJECTIVES) == set(OPTIONS_BY_OBJECTIVE)


def test_valid_pairs():
    seq2seq = {"prefix_lm", "span_corruption", "ul2"}
    assert valid_pairs() == {
        "causal_decoder": {"full_lm"} | seq2seq,
        "noncausal_decoder": seq2seq,
        "encoder_decoder": seq2seq,
        "encoder": {"mlm"},
    }
    with pytest.raises(ValueError, match="does not run on 'encoder_decoder'"):
        get_objective("full_lm").padded_lengths(64, None, "encoder_decoder")


def test_full_lm_worked_example():
    (example,) = full_lm(np.array([[5, 6, 7]]), np.random.default_rng(0), None, SPECIALS)
    assert example.inputs.tolist() == [] and example.targets.tolist() == [5, 6, 7]


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_same_raw_length_on_every_architecture_and_examples_collate(name):
    spec = get_objective(name)
    options = OPTIONS_BY_OBJECTIVE[name]()
    seq_len = 96
    raws = {spec.raw_length(seq_len, options, arch) for arch in spec.valid_architectures}
    assert len(raws) == 1 and spec.check(seq_len, options, SPECIALS) == []
    tokens = np.random.default_rng(0).integers(200, 512, size=(64, raws.pop()))
    examples = spec.fn(tokens, np.random.default_rng(0), options, SPECIALS)
    for arch in spec.valid_architectures:
        input_len, target_len = spec.padded_lengths(seq_len, options, arch)
        if arch != "encoder_decoder":
            assert input_len + target_len <= seq_len
        batch = collate(examples, arch, SPECIALS, input_len, target_len)
        assert (batch.labels != -100).any()


def test_check_reports_human_errors():
    span = get_objective("span_corruption")
    assert "too short" in span.check(3, SpanCorruptionOptions(), SPECIALS)[0]
    errors = span.check(256, SpanCorruptionOptions(), SpecialTokens.for_tests(num_sentinels=4))
    assert any("only 4 sentinels" in e for e in errors)
    from pretrainlab.config.schema import Denoiser, UL2Options

    bad = UL2Options(denoisers=[Denoiser(mode="S2S", r=0.75, prefix_lm=True)])
    assert any("r <= 0.5" in e for e in get_objective("ul2").check(64, bad, SPECIALS))
