"""Every worked example in a docstring of the package, the stages and the flows runs and prints what it
shows: an example that no longer holds is a bug a reader would copy (pytest alone does not run them)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import pipelines
import pretrainlab
import stages

MODULES = sorted(
    info.name
    for package in (pretrainlab, stages, pipelines)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # doctest's debugger reads a .pdbrc in the working directory
    result = doctest.testmod(importlib.import_module(name), verbose=False, report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} docstring examples fail"


def test_the_examples_are_found():
    """A module list that came out empty (a renamed package) would pass every test above."""
    assert {"pretrainlab.objectives.span_corruption", "pretrainlab.evaluation.paired"} <= set(MODULES)
