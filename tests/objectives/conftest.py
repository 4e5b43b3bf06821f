"""Helpers shared by the objective tests."""

from __future__ import annotations

import numpy as np
import pytest

from pretrainlab.tokenization.specials import SpecialTokens

SPECIALS = SpecialTokens.for_tests()
SENTINELS = SPECIALS.sentinels


def reassemble(inputs: np.ndarray, targets: np.ndarray) -> list[int]:
    """Undo span corruption: each sentinel in the inputs expands to the tokens after it in the targets."""
    assert inputs[-1] == SPECIALS.eos and targets[-1] == SPECIALS.eos
    spans: list[list[int]] = []
    for token in targets[:-1].tolist():
        if token in SENTINELS:
            assert token == SENTINELS[len(spans)], "target sentinels unique and in order"
            spans.append([])
        else:
            spans[-1].append(token)
    out, used = [], 0
    for token in inputs[:-1].tolist():
        if token in SENTINELS:
            assert token == SENTINELS[used], "input sentinels unique and in order"
            out += spans[used]
            used += 1
        else:
            out.append(token)
    assert used == len(spans)
    return out


@pytest.fixture(name="reassemble")
def _reassemble():
    return reassemble
