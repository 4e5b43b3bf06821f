"""Shared fixtures: the repository root, the smoke preset, a quiet single-threaded torch, and the
checkout guard (tests never read what git ignores in the checkout — see tests/checkout.py)."""

from __future__ import annotations

import os
import sys

import pytest

from tests.checkout import ROOT, CheckoutGuard, source_files

SMOKE = ROOT / "presets" / "smoke.yaml"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "PYTEST_XDIST_WORKER" in os.environ:  # `make test` runs one worker per core: the stage processes
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # a test starts must not each claim every core too

GUARD = CheckoutGuard(ROOT, source_files())
sys.addaudithook(GUARD.audit)


@pytest.fixture(autouse=True)
def _reads_only_source():
    """Fail a test that opened or listed an ignored path of the checkout (e.g. the user's data/)."""
    GUARD.take()
    yield
    if violations := GUARD.take():
        shown = "\n  ".join(sorted(set(violations))[:20])
        pytest.fail(
            "the test touched paths of the checkout that git ignores (a user's outputs after `make run`); "
            f"build test projects with tests.checkout.make_project instead:\n  {shown}",
            pytrace=False,
        )


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(1)


@pytest.fixture
def smoke_yaml() -> str:
    return SMOKE.read_text()
