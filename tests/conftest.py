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

# `import dvc` binds DVC's log handler to the sys.stdout of that moment. Imported first inside a test
# that swaps sys.stdout (typer's CliRunner, capsys), it would keep writing to that test's stream once
# closed, and a later test of the same worker calling DVC in-process would fail on "I/O operation on
# closed file". Imported here, it writes to the session's stream.
import dvc  # noqa: E402, F401

# The modules that build a whole study (minutes each), longest first. `make test` hands each module to
# one pytest-xdist worker in collection order (--dist loadfile --no-loadscope-reorder): these go first,
# so the longest one is not left to start when the other worker has nothing left to run.
LONGEST_MODULES = (
    "tests/e2e/test_smoke_study.py",
    "tests/config/test_paper_preset.py",
    "tests/pipelines/test_study_flow.py",
)


def pytest_collection_modifyitems(config, items):
    """Stable order: the longest modules, then every module marked slow as a whole, then the rest."""

    def rank(item) -> int:
        path = item.nodeid.split("::")[0]
        if path in LONGEST_MODULES:
            return LONGEST_MODULES.index(path)
        marks = getattr(item.module, "pytestmark", [])  # one mark or a list of them
        slow_module = any(mark.name == "slow" for mark in (marks if isinstance(marks, list) else [marks]))
        return len(LONGEST_MODULES) + (0 if slow_module else 1)

    items.sort(key=rank)


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
