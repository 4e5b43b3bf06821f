"""Faults: ``kill -9`` of ``dvc repro`` in the middle of corpus, tokenize, pretrain, finetune and
evaluate, then ``dvc repro`` again; and a full disk while a stage publishes its outputs.

After every kill, nothing half-written looks finished: each artifact on disk is either absent or
complete and consistent, and DVC still sees the killed stage as stale. The next ``dvc repro``
finishes it (DVC drops the dead process's entries from ``.dvc/tmp/rwlock`` by itself; a killed
training cell resumes from its last checkpoint). A full disk ends in one line naming the file, exit
code 1, no temporaries, and the previous version of every output intact.

One small study (one cell, one finetune, two tasks) in a throwaway DVC project serves every test;
the kill tests run in file order but each also works alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab import atomic
from pretrainlab.cli import app
from pretrainlab.errors import NonFiniteResultError
from pretrainlab.metrics_contract import CURVE_FIELDS
from tests.checkout import INPUTS_STAGE, _env, make_project, run
from tests.conftest import SMOKE
from tests.full_disk import FullDisk

pytestmark = pytest.mark.slow

CELL, FINETUNE = "cd-flm", "cd-flm-mtf"
KILL_BEFORE = "PRETRAINLAB_TEST_KILL_BEFORE_PUBLISHING"  # read by the injected sitecustomize below
DVC_DROPPED_DEAD_LOCK = "had been killed. Auto removed it from the lock file"

# Loaded by every Python process of the killed `dvc repro` (through PYTHONPATH): the moment a stage
# renames its finished temporary onto the named output, SIGKILL the whole process group (dvc, the
# stage and its workers), exactly as `kill -9 -<pgid>` would, but at a deterministic instant.
SITECUSTOMIZE = f"""
import os, signal

_target = os.environ.get({KILL_BEFORE!r})
if _target and os.getpgrp() == os.getsid(0):  # only inside the session the test started
    _replace = os.replace

    def _replace_or_die(src, dst, *args, **kwargs):
        if os.path.realpath(dst) == _target:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        return _replace(src, dst, *args, **kwargs)

    os.replace = _replace_or_die
"""


def fault_params() -> str:
    """The smoke preset cut to one pretrain cell, one finetune and two evaluated tasks."""
    p = yaml.safe_load(SMOKE.read_text())
    p["corpus"]["sources"] = [{"kind": "synthworld", "documents": 300, "entities": 40, "seed": 0}]
    p["pretrain"]["cells"] = {
        CELL: {"arch": "causal_decoder", "objective": "full_lm", "model": "nano", "budget": {"tokens": 1.0e4}}
    }
    p["adapt"] = {}
    p["finetune"] = {
        FINETUNE: {
            "from": f"pretrain/{CELL}",
            "budget": {"tokens": 8.0e3},
            "examples_per_task": 20,
            "cap": 10,
        }
    }
    p["evaluate"].update(
        models={CELL: "pretrain", FINETUNE: "finetune"},  # the report compares the two
        tasks=["nli.fact", "sentiment.review"],  # one held-out, one held-in cluster
        items_per_task=10,
        held_out_items_per_task=10,
        bootstrap_samples=100,
        val_tokens=512,
    )
    p["resources"].update(checkpoint_interval=4, num_threads=1)  # operational: tiny models, shared cores
    return yaml.safe_dump(p, sort_keys=False)


OUTPUT_FOLDERS = ("data", "metrics", "plots", "reports")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = make_project(tmp_path_factory.mktemp("faults"), fault_params())
    hooks = root.parent / f"{root.name}-hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE))
    return root


def stale_stages(project: Path) -> set[str]:
    """The stages ``dvc status`` reports, less the inputs stage's standing ``always changed``."""
    status = json.loads(run(["dvc", "status", "--json"], project).stdout or "{}")
    return {stage for stage, why in status.items() if "always changed" not in why}  # run every time anyway


# ---------------------------------------------------------------------------------- what "valid" means
def _outputs(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if not p.name.startswith(atomic._TMP_PREFIX))


def check_artifacts(root: Path, *, stock_load: bool = False) -> None:
    """Every artifact present is complete and consistent; a half-written one must not exist at all."""
    import numpy as np
    import pyarrow.parquet as pq
    from safetensors import safe_open

    corpus = root / "data" / "corpus"
    if corpus.exists():  # stats.json is written last, inside the same atomic directory
        stats = json.loads((corpus / "stats.json").read_text())
        for split, expected in stats["splits"].items():
            shards = sorted((corpus / split).glob("*.parquet"))
            assert len(shards) == expected["shards"], (split, shards)
            assert sum(pq.ParquetFile(s).metadata.num_rows for s in shards) == expected["documents"]

    tokenizer = root / "data" / "tokenizer"
    if tokenizer.exists():
        from transformers import AutoTokenizer

        assert AutoTokenizer.from_pretrained(tokenizer)("a test").input_ids

    tokens = root / "data" / "tokens"
    if tokens.exists():
        meta = json.loads((tokens / "meta.json").read_text())
        itemsize = np.dtype(meta["dtype"]).itemsize
        for split, count in meta["tokens"].items():
            assert (tokens / f"{split}.bin").stat().st_size == count * itemsize, split
            starts = np.load(tokens / f"{split}.idx.npy", allow_pickle=False)
            assert len(starts) == meta["documents"][split], split

    for model_dir in _outputs(root, "data/models/*/*"):
        config = json.loads((model_dir / "config.json").read_text())
        card = json.loads((model_dir / "pretrainlab.json").read_text())
        with safe_open(model_dir / "model.safetensors", "pt") as weights:
            assert len(list(weights.keys())) > 0, model_dir
        if stock_load:  # no project code: the model and the tokenizer saved beside it
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
            ids = AutoTokenizer.from_pretrained(model_dir)(
                "Mira was born here.", return_tensors="pt"
            ).input_ids
            with torch.no_grad():
                logits = model(ids).logits
            assert logits.shape[-1] == config["vocab_size"] and logits.isfinite().all(), model_dir
        assert card["arch"] == "causal_decoder"

    for metrics in _outputs(root, "metrics/*/*.json"):
        payload = json.loads(metrics.read_text())
        assert payload, metrics
        if metrics.parent.name in ("pretrain", "finetune"):  # written last: the model and curve are out
            assert (root / "data" / "models" / metrics.parent.name / metrics.stem / "config.json").is_file()
            assert (root / "plots" / metrics.parent.name / f"{metrics.stem}.csv").is_file()
    for curve in _outputs(root, "plots/*/*.csv"):
        header, *rows = curve.read_text().splitlines()
        assert header.split(",") == list(CURVE_FIELDS) and rows, curve
    report = root / "reports" / "study.md"
    if report.exists():
        assert "|" in report.read_text()


def leftovers(root: Path) -> list[str]:
    """Temporaries of interrupted writes next to the outputs (checkpoints keep their own)."""
    found = []
    for folder in OUTPUT_FOLDERS:
        found += [str(p.relative_to(root)) for p in (root / folder).rglob(f"{atomic._TMP_PREFIX}*")]
    return sorted(p for p in found if not p.startswith("data/checkpoints"))


def dead_writers(root: Path) -> set[int]:
    """Pids holding write locks in DVC's ``.dvc/tmp/rwlock`` that no longer run (what a kill leaves
    behind on the killed stage's outputs; its stale read locks block nothing and stay until a writer
    of those paths comes)."""
    path = root / ".dvc" / "tmp" / "rwlock"
    if not path.exists() or not path.read_text().strip():
        return set()
    writers = json.loads(path.read_text()).get("write", {}).values()
    return {info["pid"] for info in writers if not psutil.pid_exists(info["pid"])}


# ---------------------------------------------------------------------------------- running dvc
def repro(root: Path, *targets: str) -> str:
    """``dvc repro`` to completion; after a kill DVC must clear the dead process's locks itself."""
    dead = dead_writers(root)
    result = run(["dvc", "repro", *targets], root)
    output = result.stdout + result.stderr
    if dead:
        assert DVC_DROPPED_DEAD_LOCK in output, output[-3000:]
    assert not dead_writers(root)
    return output


@dataclass(frozen=True)
class Kill:
    """Where to ``kill -9`` a running ``dvc repro``: when ``poll(project)`` turns true, or at the
    instant the stage renames its finished temporary onto ``before_publishing``."""

    stage: str
    poll: Callable[[Path], bool] | None = None
    before_publishing: str | None = None


def _exists(pattern: str) -> Callable[[Path], bool]:
    return lambda root: any(root.glob(pattern))


KILLS = {
    # mid-build: the corpus is being written into data/.tmp-corpus.<pid>/
    "corpus": Kill("corpus", poll=_exists("data/.tmp-corpus.*")),
    # data/tokenizer is out, data/tokens is fully written but not yet renamed into place
    "tokenize": Kill("tokenize", before_publishing="data/tokens"),
    # mid-training, once a checkpoint exists (the rerun must resume from it)
    "pretrain": Kill(f"pretrain@{CELL}", poll=_exists(f"data/checkpoints/pretrain/{CELL}/step-*")),
    # while publishing: the model and loss curve are out, the metrics (the finished-marker) not yet
    "finetune": Kill(f"finetune@{FINETUNE}", before_publishing=f"metrics/finetune/{FINETUNE}.json"),
    # the metrics JSON is fully written to its temporary, not yet renamed
    "evaluate": Kill(f"evaluate@{FINETUNE}", before_publishing=f"metrics/evaluate/{FINETUNE}.json"),
}


def repro_killed(root: Path, kill: Kill, timeout: float = 240) -> str:
    """Start ``dvc repro`` in its own session and SIGKILL the whole process group at ``kill``."""
    env = {**_env(), "OMP_NUM_THREADS": "1"}
    if kill.before_publishing:
        hooks = root.parent / f"{root.name}-hooks"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hooks), env.get("PYTHONPATH")]))
        env[KILL_BEFORE] = os.path.realpath(root / kill.before_publishing)
    dead = dead_writers(root)
    process = subprocess.Popen(
        ["dvc", "repro"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if (kill.poll and kill.poll(root)) or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait(timeout=60)
    reader.join(timeout=60)
    output = "".join(lines)
    assert time.monotonic() <= deadline, f"no kill point reached in {timeout}s:\n{output[-3000:]}"
    assert process.returncode == -signal.SIGKILL, f"exit {process.returncode}:\n{output[-3000:]}"
    assert f"Running stage '{kill.stage}'" in output, output[-3000:]
    if dead:
        assert DVC_DROPPED_DEAD_LOCK in output, output[-3000:]
    return output


# ---------------------------------------------------------------------------------- kill -9
@pytest.mark.parametrize("name", list(KILLS))
def test_sigkill_mid_stage_then_repro_completes_with_valid_artifacts(name, project):
    kill = KILLS[name]
    repro_killed(project, kill)

    assert dead_writers(project), "the kill leaves DVC's write lock on the stage's outputs"
    check_artifacts(project)  # nothing half-written looks finished
    assert kill.stage in stale_stages(project), "DVC must not take the killed stage as done"
    if name == "finetune":  # the cell's model was already out: the missing metrics mark it unfinished
        assert (project / "data" / "models" / "finetune" / FINETUNE / "config.json").is_file()
        assert not (project / "metrics" / "finetune" / f"{FINETUNE}.json").exists()
    if name == "evaluate":  # the killed write left its temporary; the metrics file is simply absent
        assert not (project / "metrics" / "evaluate" / f"{FINETUNE}.json").exists()
        assert [p.rsplit(".", 1)[0] for p in leftovers(project)] == [f"metrics/evaluate/.tmp-{FINETUNE}.json"]

    output = repro(project, kill.stage)
    if name in ("pretrain", "finetune"):
        assert "resuming from" in output, output[-3000:]
    assert not leftovers(project), leftovers(project)  # the killed write's temporary included
    check_artifacts(project)


@pytest.fixture(scope="module")
def finished(project) -> Path:
    """The study run to the end (after the kill tests, that finishes what they left)."""
    repro(project)
    return project


def test_repro_after_the_kills_leaves_a_clean_study_that_stock_transformers_loads(finished):
    project = finished
    assert stale_stages(project) == set()
    assert not leftovers(project), leftovers(project)
    assert not any((project / "data" / "checkpoints").rglob("step-*")), "checkpoints go once published"
    check_artifacts(project, stock_load=True)
    metrics = json.loads((project / "metrics" / "evaluate" / f"{FINETUNE}.json").read_text())
    assert 0.0 <= metrics["held_out"]["accuracy"] <= 1.0


# ---------------------------------------------------------------------------------- full disk
def _full_disk_open(path, mode: str = "r") -> FullDisk:
    return FullDisk(open(path, mode), room=64)  # noqa: SIM115 - closed by _FullDisk.__exit__


def snapshot(root: Path, folders: tuple[str, ...]) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted((root / folder).rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("argv", "outputs", "culprit"),
    [
        (["stage", "evaluate", "--cell", FINETUNE], ("metrics",), f"metrics/evaluate/{FINETUNE}.json"),
        (["stage", "report"], ("reports",), "reports/"),
        (["stage", "tokenize"], ("data/tokenizer", "data/tokens"), "data/tokens/meta.json"),
    ],
    ids=["evaluate", "report", "tokenize"],
)
def test_full_disk_gives_one_clean_error_and_keeps_the_previous_outputs(
    argv, outputs, culprit, finished, monkeypatch
):
    project = finished
    before = snapshot(project, outputs)
    monkeypatch.setattr(atomic, "open", _full_disk_open, raising=False)
    monkeypatch.chdir(project)
    result = CliRunner().invoke(app, argv)

    assert result.exit_code == 1, f"{result.output}\n{result.exception!r}"
    assert "No space left on device" in result.output and culprit in result.output, result.output
    assert "Traceback" not in result.output and result.output.count("error:") == 1, result.output
    assert snapshot(project, outputs) == before
    assert not leftovers(project), leftovers(project)
    check_artifacts(project)


def test_a_failed_write_keeps_the_previous_version_and_names_the_output(tmp_path, monkeypatch):
    folder, single = tmp_path / "tokens", tmp_path / "metrics.json"
    with atomic.atomic_dir(folder) as tmp:
        (tmp / "a.bin").write_bytes(b"old")
    atomic.write_json(single, {"old": True})
    monkeypatch.setattr(atomic, "open", _full_disk_open, raising=False)

    with pytest.raises(OSError, match="No space left on device") as caught:
        atomic.write_json(single, {"new": "x" * 1000})
    assert caught.value.filename == str(single)
    with pytest.raises(OSError) as caught, atomic.atomic_dir(folder) as tmp:
        (tmp / "a.bin").write_bytes(b"new")
        atomic.write_json(tmp / "meta.json", {"new": "x" * 1000})
    assert caught.value.filename == str(folder / "meta.json")  # where it was going, not the temporary

    assert json.loads(single.read_text()) == {"old": True}
    assert sorted(p.name for p in folder.iterdir()) == ["a.bin"] and (folder / "a.bin").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "tokens"]


def test_temporaries_of_killed_writers_go_with_the_next_write_but_a_live_writers_stay(tmp_path):
    dead = _finished_pid()
    final = tmp_path / "cd-flm.json"
    killed = [tmp_path / f".tmp-cd-flm.json.{dead}", tmp_path / f".tmp-old-cd-flm.json.{dead}"]
    live = tmp_path / f".tmp-cd-flm.json.{os.getppid()}"  # a running process
    other = tmp_path / f".tmp-nd-plm.json.{dead}"  # another output's: not this write's business
    for path in [*killed, live, other]:
        path.write_text("partial")
    atomic.write_json(final, {"ok": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([final.name, live.name, other.name])


def _finished_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# ---------------------------------------------------------------------------------- finished outputs survive
def _output_snapshot(root: Path, *outputs: str) -> dict[str, tuple[int, str]]:
    """path -> (size, sha256) of every file of ``outputs`` (files or folders) under ``root``."""
    found = {}
    for output in outputs:
        path = root / output
        for p in sorted([path] if path.is_file() else path.rglob("*")):
            if p.is_file():
                found[str(p.relative_to(root))] = (
                    p.stat().st_size,
                    hashlib.sha256(p.read_bytes()).hexdigest(),
                )
    return found


def test_a_stage_that_fails_under_dvc_leaves_its_outputs_recoverable_with_dvc_checkout(finished):
    """DVC deletes a stage's outputs before running it; metrics, plots and reports are in its cache too
    (no ``cache: false``), so ``dvc checkout`` brings back every byte after a failed run."""
    project = finished
    outputs = (f"metrics/evaluate/{FINETUNE}.json", f"metrics/evaluate/{FINETUNE}.items.parquet")
    before = _output_snapshot(project, *outputs)
    assert len(before) == 2, before
    original = (project / "params.yaml").read_text()
    params = yaml.safe_load(original)
    params["evaluate"]["lm_eval"] = {"tasks": ["no_such_task_xyz"]}  # found only when the stage runs
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        failed = run(["dvc", "repro", f"evaluate@{FINETUNE}"], project, check=False)
        assert failed.returncode != 0 and "no_such_task_xyz" in failed.stdout + failed.stderr
        assert _output_snapshot(project, *outputs) != before  # DVC removed them before the run
    finally:
        (project / "params.yaml").write_text(original)
    run(["dvc", "checkout", f"evaluate@{FINETUNE}"], project)
    assert _output_snapshot(project, *outputs) == before
    assert stale_stages(project) == set()


STAGE_OUTPUTS = {
    INPUTS_STAGE: ("data/inputs",),
    "corpus": ("data/corpus",),
    "tokenize": ("data/tokenizer", "data/tokens"),
    f"pretrain@{CELL}": (f"data/models/pretrain/{CELL}", f"metrics/pretrain/{CELL}.json", f"plots/pretrain/{CELL}.csv"),
    f"finetune@{FINETUNE}": (
        f"data/models/finetune/{FINETUNE}", f"metrics/finetune/{FINETUNE}.json", f"plots/finetune/{FINETUNE}.csv"
    ),
    f"evaluate@{CELL}": (f"metrics/evaluate/{CELL}.json", f"metrics/evaluate/{CELL}.items.parquet"),
    "report": ("reports",),
}  # fmt: skip


@pytest.mark.parametrize("stage", list(STAGE_OUTPUTS))
def test_every_stage_that_fails_at_stage_time_leaves_its_outputs_recoverable(stage, finished):
    """Each stage, forced to run with an input found only when it runs (a launcher's ``RANK`` left in
    the environment): DVC deletes its outputs first, the stage exits 2, and ``dvc checkout`` brings
    back every byte of them, and of every other output."""
    project = finished
    everything = _output_snapshot(project, *OUTPUT_FOLDERS)
    ours = _output_snapshot(project, *STAGE_OUTPUTS[stage])
    assert ours, stage
    failed = subprocess.run(
        ["dvc", "repro", "--force", "--single-item", stage],
        cwd=project,
        env={**_env(), "RANK": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert failed.returncode != 0 and "RANK=1" in failed.stdout + failed.stderr, failed.stdout[-2000:]
    assert _output_snapshot(project, *STAGE_OUTPUTS[stage]) != ours  # DVC removed them before the run
    run(["dvc", "checkout", stage], project)
    assert _output_snapshot(project, *OUTPUT_FOLDERS) == everything
    assert stale_stages(project) == set()


def test_a_training_stage_that_fails_leaves_the_finished_cell_as_it_was(finished, monkeypatch):
    """A direct ``pretrainlab stage pretrain`` whose result is NaN (a diverged run): exit 1, one line
    naming the metrics file and the key, and the earlier model, curve and metrics byte-identical."""
    from pretrainlab.training import cell as training_cell

    project = finished
    outputs = (f"data/models/pretrain/{CELL}", f"metrics/pretrain/{CELL}.json", f"plots/pretrain/{CELL}.csv")
    before = _output_snapshot(project, *outputs)
    real = training_cell._result_metrics
    monkeypatch.setattr(
        training_cell, "_result_metrics", lambda result: {**real(result), "train_loss": math.nan}
    )
    monkeypatch.chdir(project)
    try:
        result = CliRunner().invoke(app, ["stage", "pretrain", "--cell", CELL])
    finally:
        shutil.rmtree(
            project / "data" / "checkpoints" / "pretrain" / CELL, ignore_errors=True
        )  # not an output

    assert result.exit_code == 1, f"{result.output}\n{result.exception!r}"
    assert f"metrics/pretrain/{CELL}.json" in result.output and "train_loss = nan" in result.output
    assert "Traceback" not in result.output and result.output.count("error:") == 1, result.output
    assert _output_snapshot(project, *outputs) == before
    assert not leftovers(project), leftovers(project)
    assert stale_stages(project) == set()


def test_json_with_nan_or_infinity_is_refused_naming_the_file_and_key(tmp_path):
    final = tmp_path / "metrics.json"
    atomic.write_json(final, {"accuracy": 0.5})
    with pytest.raises(NonFiniteResultError) as caught:
        atomic.write_json(final, {"held_out": {"ci95": [0.1, math.nan]}, "loss": -math.inf})
    assert str(final) in str(caught.value) and "held_out.ci95[1] = nan" in str(caught.value)
    assert "loss = -inf" in str(caught.value) and caught.value.exit_code == 1
    assert json.loads(final.read_text()) == {"accuracy": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_every_json_file_is_written_by_the_one_checked_writer():
    """``json.dump``/``json.dumps`` to a file only in atomic.py; a new writer elsewhere is caught here."""
    import ast

    from tests.checkout import ROOT

    allowed = {
        "pretrainlab/atomic.py",  # the writer
        "pretrainlab/config/fingerprint.py",  # a hash, not a file
        "pretrainlab/config/load.py",  # the JSON Schema: no numbers from results
    }
    found = []
    for path in sorted([*(ROOT / "pretrainlab").rglob("*.py"), *(ROOT / "stages").rglob("*.py")]):
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("dump", "dumps")
                and isinstance(node.value, ast.Name)
                and node.value.id == "json"
                and rel not in allowed
            ):
                found.append(f"{rel}:{node.lineno}")
    assert found == [], "write JSON with pretrainlab.atomic.write_json / json_text (NaN refused)"


def test_remove_takes_the_output_and_dead_writers_temporaries_but_not_a_live_ones(tmp_path):
    final = tmp_path / "cd-flm"
    (final / "sub").mkdir(parents=True)
    (final / "sub" / "model.safetensors").write_bytes(b"weights")
    dead = tmp_path / f".tmp-cd-flm.{_finished_pid()}"
    live = tmp_path / f".tmp-cd-flm.{os.getppid()}"
    for path in (dead, live):
        path.mkdir()
    atomic.remove(final)
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]
    atomic.remove(final)  # nothing there: no error
