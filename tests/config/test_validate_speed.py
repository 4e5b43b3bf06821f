"""``pretrainlab validate`` answers in well under a second because it imports neither torch nor
transformers (parameter counts, FLOPs and step plans are closed-form); the corpus and report stages
start without them too, and ``--help`` without the Prefect app. Each check runs the CLI in a fresh
interpreter and lists the heavy modules left in ``sys.modules`` (timings: benchmarks/validate_time.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.checkout import ROOT

RUN_CLI = """
import importlib, sys
HEAVY = {"torch", "transformers", "prefect", "pipelines"}
from pretrainlab.cli import app
args = sys.argv[1:]
if args[0] == "stage":  # stop where the stage's work would begin
    importlib.import_module(f"stages.{args[1]}").main = lambda study, cell: print("stage reached")
try:
    app(args)
except SystemExit as done:
    assert not done.code, done.code
print("loaded:", sorted({m.split(".")[0] for m in sys.modules} & HEAVY))
"""


def cli_in_fresh_interpreter(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize(
    "params", ["params.yaml", "presets/gpu-125m.yaml", "presets/gpu-paper.yaml", "presets/smoke.yaml"]
)
def test_validate_imports_no_torch(params):
    out = cli_in_fresh_interpreter("validate", params)
    assert f"{params}: ok" in out
    assert out.splitlines()[-1] == "loaded: []"


@pytest.mark.parametrize("stage", ["corpus", "report"])
def test_corpus_and_report_stages_start_without_torch(stage):
    out = cli_in_fresh_interpreter("stage", stage, "--params", "params.yaml")
    assert "stage reached" in out
    assert out.splitlines()[-1] == "loaded: []"


def test_help_lists_flow_without_importing_prefect():
    out = cli_in_fresh_interpreter("--help")
    assert "flow" in out and "Prefect entry points" in out
    assert out.splitlines()[-1] == "loaded: ['pipelines']"  # flow's help line; not prefect, not torch
