from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from pretrainlab.config.schema import Denoiser, UL2Options
from pretrainlab.objectives.registry import get_objective
from pretrainlab.objectives.span_corruption import noise_counts
from pretrainlab.objectives.ul2 import denoiser_raw_length, min_prefix, raw_length, ul2
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=1024, num_sentinels=100)
SENTINELS = set(SPECIALS.sentinels)
DEFAULTS = UL2Options().denoisers
SMOKE = Path(__file__).resolve().parents[2] / "presets" / "smoke.yaml"


def only(denoiser: Denoiser) -> UL2Options:
    return UL2Options(denoisers=[denoiser])


def windows(seq_len: int, rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(200, 1024, size=(rows, raw_length(seq_len, UL2Options())))


def spans(example) -> int:
    return sum(int(t) in SENTINELS for t in example.targets)


def test_docstring_worked_examples():
    a_to_m = np.arange(300, 313)[None, :]  # the 13-token window of seq_len 16
    mode, s0, eos = SPECIALS.modes, SPECIALS.sentinels[0], SPECIALS.eos
    rng = np.random.default_rng(0)
    (r,) = ul2(a_to_m, rng, only(Denoiser(mode="NLU", mu=3, r=0.15)), SPECIALS)
    assert r.inputs.tolist() == [mode["NLU"], *range(300, 309), s0, eos]
    assert r.targets.tolist() == [s0, 309, 310, eos]
    (x,) = ul2(a_to_m, rng, only(Denoiser(mode="NLG", mu=3, r=0.5)), SPECIALS)
    assert x.inputs.tolist() == [mode["NLG"], *range(300, 305), s0, eos]
    assert x.targets.tolist() == [s0, *range(305, 309), eos]
    for s in ul2(
        np.repeat(a_to_m, 50, axis=0), rng, only(Denoiser(mode="S2S", r=0.25, prefix_lm=True)), SPECIALS
    ):
        k = len(s.inputs) - 2
        assert 6 <= k <= 12 and len(s.inputs) + len(s.targets) == 16
        assert s.inputs.tolist() == [mode["S2S"], *range(300, 300 + k), eos]
        assert s.targets.tolist() == [*range(300 + k, 313), eos]


@pytest.mark.parametrize("seq_len", [128, 512])
@pytest.mark.parametrize("index", range(len(DEFAULTS)))
def test_every_denoiser_fits_and_fills_the_sequence(seq_len, index, reassemble):
    denoiser = DEFAULTS[index]
    tokens = windows(seq_len, 200)
    examples = ul2(tokens, np.random.default_rng(1), only(denoiser), SPECIALS)
    totals = np.array([len(e.inputs) + len(e.targets) for e in examples])
    assert totals.max() <= seq_len
    assert totals.mean() / seq_len >= 0.9
    raw = denoiser_raw_length(seq_len, denoiser)
    for row, e in zip(tokens, examples, strict=True):
        assert e.inputs[0] == SPECIALS.modes[denoiser.mode]
        assert e.inputs[-1] == SPECIALS.eos and e.targets[-1] == SPECIALS.eos
        if denoiser.prefix_lm:
            assert np.concatenate([e.inputs[1:-1], e.targets[:-1]]).tolist() == row[:raw].tolist()
        else:
            assert reassemble(e.inputs[1:], e.targets) == row[:raw].tolist()


@pytest.mark.parametrize("seq_len", [128, 512])
def test_padded_lengths_hold_every_example_on_every_architecture(seq_len):
    spec = get_objective("ul2")
    examples = ul2(windows(seq_len, 3000), np.random.default_rng(2), UL2Options(), SPECIALS)
    in_len, tgt_len = spec.padded_lengths(seq_len, UL2Options(), "encoder_decoder")
    assert max(len(e.inputs) for e in examples) <= in_len and max(len(e.targets) for e in examples) <= tgt_len
    for arch in ("causal_decoder", "noncausal_decoder"):
        assert sum(spec.padded_lengths(seq_len, UL2Options(), arch)) == seq_len
    fill = np.mean([len(e.inputs) + len(e.targets) for e in examples]) / seq_len
    assert fill >= 0.97


def test_long_span_denoisers_get_their_own_length():
    x64 = [d for d in DEFAULTS if d.mu == 64]
    # seq_len 128: one shared raw length (93 tokens) gave them 14 and 46 noise tokens; alone they get 18, 62
    assert [noise_counts(denoiser_raw_length(128, d), d.r, d.mu)[0] for d in x64] == [18, 62]
    for seq_len, wanted in ((512, [1, 4]), (1024, [2, 8])):
        got = [
            {spans(e) for e in ul2(windows(seq_len, 20), np.random.default_rng(3), only(d), SPECIALS)}
            for d in x64
        ]
        assert got == [{n} for n in wanted]  # more than one span wherever the noise holds two means


def test_s_denoiser_draws_its_split_as_ul2_and_ends_in_eos():
    s = next(d for d in DEFAULTS if d.prefix_lm)
    raw = denoiser_raw_length(128, s)
    examples = ul2(windows(128, 4000), np.random.default_rng(4), only(s), SPECIALS)
    prefixes = np.array([len(e.inputs) - 2 for e in examples])
    assert prefixes.min() == min_prefix(raw, s.r) and prefixes.max() == raw - 1
    assert all(e.targets[-1] == SPECIALS.eos and e.inputs[-1] == SPECIALS.eos for e in examples)
    assert abs(np.mean([len(e.targets) - 1 for e in examples]) / raw - s.r) < 0.01  # targets ≈ r·L


def identify(example) -> int:
    """Which default denoiser made an example: its mode token, target length and span count."""
    mode = {v: k for k, v in SPECIALS.modes.items()}[int(example.inputs[0])]
    if mode == "S2S":
        return next(i for i, d in enumerate(DEFAULTS) if d.prefix_lm)
    matches = [
        i
        for i, d in enumerate(DEFAULTS)
        if d.mode == mode
        and (
            noise_counts(denoiser_raw_length(128, d), d.r, d.mu)
            == (len(example.targets) - spans(example) - 1, spans(example))
        )
    ]
    assert len(matches) == 1
    return matches[0]


def test_mixture_rates_are_the_papers_and_deterministic():
    tokens = windows(128, 12_000)
    examples = ul2(tokens, np.random.default_rng(5), UL2Options(), SPECIALS)
    rates = np.bincount([identify(e) for e in examples], minlength=len(DEFAULTS)) / len(examples)
    expected = {"NLU": 0.2, "S2S": 0.2, "NLG": 0.1}  # S 20%, R and X 40% each
    assert np.abs(rates - [expected[d.mode] for d in DEFAULTS]).max() <= 0.015
    again = ul2(tokens, np.random.default_rng(5), UL2Options(), SPECIALS)
    assert all(np.array_equal(a.inputs, b.inputs) for a, b in zip(examples, again, strict=True))
    weighted = UL2Options(
        denoisers=[Denoiser(mode="NLU", mu=3, r=0.15, weight=3), Denoiser(mode="S2S", r=0.25, prefix_lm=True)]
    )
    drawn = ul2(tokens, np.random.default_rng(6), weighted, SPECIALS)
    assert abs(np.mean([e.inputs[0] == SPECIALS.modes["NLU"] for e in drawn]) - 0.75) <= 0.02


def test_check_names_the_denoiser_that_cannot_fit():
    errors = get_objective("ul2").check(32, UL2Options(), SPECIALS)
    assert errors == [
        f"options.denoisers[{i}] ([NLG] mu=64, r={r:g}): mean span length 64 is longer than pretrain.seq_len 32, "
        "so not one span of that length fits; lower mu, drop this denoiser or raise pretrain.seq_len"
        for i, r in ((5, 0.15), (6, 0.5))
    ]
    assert get_objective("ul2").check(64, UL2Options(), SPECIALS) == []
    few = SpecialTokens.for_tests(num_sentinels=10)
    assert any(
        e.startswith("options.denoisers[3] ([NLG] mu=3, r=0.5): 15 noise spans") and "only 10 sentinels" in e
        for e in get_objective("ul2").check(128, UL2Options(), few)
    )
    s = UL2Options(denoisers=[Denoiser(mode="S2S", r=0.25, prefix_lm=True)])
    assert "fewer than 2 raw tokens" in get_objective("ul2").check(4, s, SPECIALS)[0]


def test_validate_rejects_an_unfittable_denoiser(tmp_path):
    raw = yaml.safe_load(SMOKE.read_text())
    raw["pretrain"]["seq_len"] = 32
    raw["pretrain"]["cells"] = {"nd-ul2": raw["pretrain"]["cells"]["nd-ul2"]}  # only the cell under test
    raw.update(adapt={}, finetune={})
    raw["evaluate"]["models"] = {"nd-ul2": "pretrain"}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert (
        "pretrain.cells.nd-ul2.objective: options.denoisers[6] ([NLG] mu=64, r=0.5): mean span"
        in result.output
    )
