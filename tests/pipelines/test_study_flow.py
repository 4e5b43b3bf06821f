"""The smoke study through the study flow: the same artifacts and dvc.lock as `dvc repro`, cells side by
side without lock errors, nothing rerun on a second run, and only one cell's chain after its change.

The smoke preset is cut to its first two pretrain cells (each evaluated; adaptation and finetuning
sections emptied) at a quarter of their budgets, so the module stays within a couple of minutes on two
CPU cores.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from prefect.artifacts import Artifact

from pipelines.dag import read_graph
from pipelines.repro import RAN, UP_TO_DATE
from pipelines.study import study_flow
from tests.checkout import _env, make_project, run
from tests.conftest import SMOKE

pytestmark = pytest.mark.slow


def two_cell_study() -> dict:
    params = yaml.safe_load(SMOKE.read_text())
    cells = dict(list(params["pretrain"]["cells"].items())[:2])
    if len(cells) < 2:  # a one-cell preset: clone its cell so two can run side by side
        ((name, cell),) = cells.items()
        cells[f"{name}-twin"] = cell
    for cell in cells.values():
        cell["budget"] = {
            key: float(value) / 4 for key, value in cell["budget"].items()
        }  # "3.0e9" is a str to PyYAML
    params["pretrain"]["cells"] = cells
    params["evaluate"]["models"] = {name: "pretrain" for name in cells}
    for section in ("adapt", "finetune"):  # stages built on other cells; empty foreach sources
        if section in params:
            params[section] = {}
    return params


@pytest.fixture(scope="module")
def study(tmp_path_factory, prefect_api):
    """One flow run (max_parallel 2) and, alongside it, a plain `dvc repro` of the same study."""
    params = yaml.safe_dump(two_cell_study(), sort_keys=False)
    root = tmp_path_factory.mktemp("study")
    flowed, reference = make_project(root / "flow", params), make_project(root / "repro", params)
    plain = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro"],
        cwd=reference,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    results = study_flow(repo=str(flowed), max_parallel=2)
    output, _ = plain.communicate(timeout=900)
    assert plain.returncode == 0, output
    return {"flow": flowed, "repro": reference, "results": {r.stage: r for r in results}}


TIMING_KEYS = ("seconds", "per_second")  # metrics keys that hold wall-clock measurements


def without_timing(path) -> dict:
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.endswith(TIMING_KEYS)}


def comparable_lock(project) -> dict:
    """dvc.lock minus what wall-clock time touches: the hashes of metrics files (throughput), of
    dependencies on them, and of the outputs of stages that read them (the report's table)."""
    graph = read_graph(project)
    timing = {str(path) for paths in graph.metrics.values() for path in paths}

    def touches(path: str) -> bool:
        return any(t == path or t.startswith(path.rstrip("/") + "/") for t in timing)

    stages = {  # keyed as the graph names them: the inputs stage's lock is inputs/dvc.lock
        prefix + name: stage
        for lock, prefix in (("dvc.lock", ""), ("inputs/dvc.lock", "inputs/dvc.yaml:"))
        for name, stage in yaml.safe_load((project / lock).read_text())["stages"].items()
    }
    comparable = {}
    for name, stage in stages.items():
        deps = {d["path"]: d.get("md5") for d in stage.get("deps", [])}
        reads_timing = any(touches(path) for path in deps)
        comparable[name] = {
            "cmd": stage["cmd"],
            "params": stage.get("params", {}),
            "deps": {path: md5 for path, md5 in deps.items() if not touches(path)},
            "outs": {
                o["path"]: o.get("md5")
                for o in stage.get("outs", [])
                if not touches(o["path"]) and not reads_timing
            },
        }
    return comparable


def test_flow_yields_the_same_artifacts_and_lock_as_dvc_repro(study):
    flowed, reference = study["flow"], study["repro"]
    ours, theirs = comparable_lock(flowed), comparable_lock(reference)
    assert set(ours) == set(read_graph(flowed).order)
    assert ours == theirs
    assert any(path.startswith("data/models/") for stage in ours.values() for path in stage["outs"])
    for paths in read_graph(flowed).metrics.values():
        for path in paths:
            assert without_timing(flowed / path) == without_timing(reference / path), path


def test_two_cells_train_side_by_side_without_lock_errors(study):
    results = study["results"]
    assert {r.status for r in results.values()} == {RAN}
    assert all(r.attempts == 1 for r in results.values()), "a retry means a (lock) failure happened"
    first, second = (results[name] for name in results if name.startswith("pretrain@"))
    assert first.started < second.finished and second.started < first.finished, "the cells did not overlap"


def test_summary_artifact_lists_each_stage_with_key_metrics(study):
    markdown = Artifact.get("study-summary").data
    for name in study["results"]:
        assert f"| `{name}` | ran |" in markdown
    pretrain_row = next(line for line in markdown.splitlines() if line.startswith("| `pretrain@"))
    evaluate_row = next(line for line in markdown.splitlines() if line.startswith("| `evaluate@"))
    assert "val_loss" in pretrain_row and "tokens/s" in pretrain_row
    assert "held-out acc" in evaluate_row and "bits/byte" in evaluate_row


def test_a_second_run_executes_no_stage(study):
    always = read_graph(study["flow"]).always_changed  # the inputs stage: DVC runs it every time
    results = study_flow(repo=str(study["flow"]), max_parallel=2)
    assert always and {r.status for r in results if r.stage in always} == {RAN}
    assert {r.status for r in results if r.stage not in always} == {UP_TO_DATE}


def test_changing_one_cell_reruns_only_its_chain(study):
    project = study["flow"]
    params = yaml.safe_load((project / "params.yaml").read_text())
    cell = next(iter(params["pretrain"]["cells"]))
    budget = params["pretrain"]["cells"][cell]["budget"]
    key = next(iter(budget))
    budget[key] = float(budget[key]) * 0.75
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    graph = read_graph(project)
    chain = {f"pretrain@{cell}"} | graph.downstream(f"pretrain@{cell}") | graph.always_changed
    results = {r.stage: r.status for r in study_flow(repo=str(project), max_parallel=2)}
    assert {name for name, status in results.items() if status == RAN} == chain
    assert {name for name, status in results.items() if status != RAN} == set(graph.order) - chain
    changed = json.loads(run(["dvc", "status", "--json"], project).stdout or "{}")
    assert {name: change for name, change in changed.items() if change != ["always changed"]} == {}
