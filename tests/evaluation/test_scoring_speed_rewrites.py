"""The shortcuts that make shared-prompt scoring fast compute what the plain formulation computes."""

import numpy as np
import torch
import torch.nn.functional as F

from pretrainlab.evaluation.batched_scoring import group_by_inputs, layout_rows
from pretrainlab.evaluation.scoring_stack import _rotary_tables, _rotate, gelu_tanh_times
from pretrainlab.objectives.example import Example
from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests(vocab_size=160, num_sentinels=8)
A, B, C, X, Y, Z = 20, 21, 22, 30, 31, 32


def test_gelu_rewrite_equals_torch_gelu_tanh():
    gate, up = torch.randn(2, 64, 48, generator=torch.Generator().manual_seed(0)) * 4
    want = F.gelu(gate, approximate="tanh") * up
    torch.testing.assert_close(gelu_tanh_times(gate, up), want, rtol=1e-5, atol=1e-5)


def test_rope_roll_equals_rotate_half():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 3, 8, generator=g)
    cos, sin = torch.randn(2, 5, 8, generator=g), torch.randn(2, 5, 8, generator=g)  # halves differ
    rotate_half = torch.cat([-x[..., 4:], x[..., :4]], dim=-1)
    want = x * cos[:, :, None] + rotate_half * sin[:, :, None]
    torch.testing.assert_close(_rotate(x, *_rotary_tables(cos, sin)), want, rtol=1e-6, atol=1e-6)


def _worked_example(arch):
    """The module docstring's example: inputs [a b c], choices [x y] and [z]."""
    prompt = np.asarray([A, B, C])
    examples = [Example(prompt, np.asarray([X, Y])), Example(prompt, np.asarray([Z]))]
    groups, labels = group_by_inputs(examples, [0, 0], arch)
    assert len(groups) == 1
    (row,) = layout_rows(groups[0], arch, SPECIALS, labels, max_tokens=8192)
    return row


def test_decoder_row_of_the_worked_example():
    row = _worked_example("causal_decoder")
    assert row.tokens.tolist() == [A, B, C, X, Y, Z]
    assert row.positions.tolist() == [0, 1, 2, 3, 4, 3]
    assert row.branch.tolist() == [0, 0, 0, 1, 1, 2]
    # (position in the row, label, example): x at c, y at x; z at c
    assert row.scored.tolist() == [[2, X, 0], [3, Y, 0], [2, Z, 1]]
    assert _worked_example("noncausal_decoder").bidirectional.tolist() == [True] * 3 + [False] * 3


def test_encoder_decoder_row_of_the_worked_example_shares_the_start_token():
    row = _worked_example("encoder_decoder")
    assert row.encoder_tokens.tolist() == [A, B, C]
    assert row.tokens.tolist() == [SPECIALS.bos, X]  # z's branch is empty: bos is all it reads
    assert row.positions.tolist() == [0, 1]
    assert row.scored.tolist() == [[0, X, 0], [1, Y, 0], [0, Z, 1]]
