"""The smoke preset end to end with `dvc repro` in a temporary project, then what a user checks:
stock transformers loads the artifacts, the report has numbers, and DVC reruns only what changed."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.checkout import INPUTS_STAGE, make_project, run
from tests.conftest import SMOKE

pytestmark = pytest.mark.slow


def stale_stages(project: Path) -> set[str]:
    """Stages ``dvc status`` reports stale, less ``inputs`` (always run: it fingerprints the raw inputs)."""
    status = json.loads(run(["dvc", "status", "--json"], project).stdout or "{}")
    return {stage for stage, why in status.items() if "always changed" not in why}  # run every time anyway


def reproduced_stages(project: Path) -> set[str]:
    """Run ``dvc repro`` and return the stages it actually ran."""
    out = run(["dvc", "repro"], project).stdout
    return set(re.findall(r"Running stage '([^']+)'", out)) - {INPUTS_STAGE}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("smoke"), SMOKE.read_text())
    run(["dvc", "repro"], project)
    return project


def test_report_and_metrics_have_numbers(study):
    report = (study / "reports" / "study.md").read_text()
    cells = yaml.safe_load(SMOKE.read_text())["pretrain"]["cells"]
    for cell in cells:
        assert f"`{cell}`" in report
        metrics = json.loads((study / "metrics" / "pretrain" / f"{cell}.json").read_text())
        assert metrics["steps"] > 0 and metrics["tokens"] > 0 and metrics["tokens_per_second"] > 0
        assert metrics["val_loss"] < metrics["parameters"]  # a number, not NaN
        evaluation = json.loads((study / "metrics" / "evaluate" / f"{cell}.json").read_text())
        assert 0.0 <= evaluation["held_out"]["accuracy"] <= 1.0
        if cells[cell]["arch"] != "encoder":  # a BERT-style encoder has no next-token loss
            assert evaluation["bits_per_byte"] > 0
    assert "random baseline" in report
    assert (study / "reports" / "loss_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stats = json.loads((study / "data" / "corpus" / "stats.json").read_text())
    assert stats["documents_out"] > 0


def test_multitask_finetuning_learns_its_mixture(study):
    """MTF trains on the training clusters' prompts: its loss on held-out examples of that mixture falls
    by a clear margin. (At smoke scale held-in *accuracy* is not a test: 10 items per task and a 37k-
    parameter model put any difference inside the paired interval — the report says so. An earlier
    version asserted a point-estimate rise that synthworld's label imbalance used to supply.)"""
    finetunes = yaml.safe_load(SMOKE.read_text())["finetune"]
    assert finetunes
    for name in finetunes:
        with (study / "plots" / "finetune" / f"{name}.csv").open() as handle:
            val = [float(row["val_loss"]) for row in csv.DictReader(handle) if row["val_loss"]]
        final = json.loads((study / "metrics" / "finetune" / f"{name}.json").read_text())["val_loss"]
        assert len(val) >= 2 and final < 0.8 * val[0], f"{name}: MTF val loss {val[0]:.3f} -> {final:.3f}"
        evaluation = json.loads((study / "metrics" / "evaluate" / f"{name}.json").read_text())
        assert evaluation["prompt_format"] == "plain"  # MTF teaches prompt -> answer, whatever came before


STOCK_LOAD = """
import sys, numpy as np, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained(sys.argv[1]).eval()
tok = AutoTokenizer.from_pretrained(sys.argv[2])
ids = tok("Mira was born in a small city.", return_tensors="pt").input_ids
assert tok.decode(ids[0]) == "Mira was born in a small city.", tok.decode(ids[0])
with torch.no_grad():
    np.save(sys.argv[3], model(ids).logits.numpy())
np.save(sys.argv[4], ids.numpy())
assert "pretrainlab" not in sys.modules
"""


def test_checkpoint_loads_in_stock_transformers_with_same_logits(study, tmp_path):
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    from pretrainlab.models.layout import ModelBatch, forward_logits

    model_dir = study / "data" / "models" / "pretrain" / "cd-flm"
    logits_file, ids_file = tmp_path / "logits.npy", tmp_path / "ids.npy"
    run(
        [
            sys.executable,
            "-c",
            STOCK_LOAD,
            str(model_dir),
            str(study / "data" / "tokenizer"),
            str(logits_file),
            str(ids_file),
        ],
        tmp_path,
    )
    ids = torch.from_numpy(np.load(ids_file))
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    batch = ModelBatch(
        input_ids=ids,
        labels=torch.full((1, ids.shape[1] - 1), -100),
        attention_mask=torch.ones_like(ids),
        prefix_lengths=torch.zeros(1, dtype=torch.long),
    )
    with torch.no_grad():
        ours = forward_logits(model, "causal_decoder", batch)
    stock = torch.from_numpy(np.load(logits_file))[:, :-1]
    torch.testing.assert_close(ours, stock, atol=1e-5, rtol=1e-5)


def test_adaptation_chain_reruns_exactly_its_downstream(study):
    """CD:FLM -> ND:MLM -> MTF: changing the adaptation's budget reruns it and what descends from it."""
    params_file = study / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    chain = {
        name
        for name, cell in params["adapt"].items()
        if cell["from"] == "pretrain/cd-flm" and cell["objective"] == "span_corruption"
    }
    assert chain, "the smoke preset must hold a CD:FLM -> ND:MLM adaptation"
    first = sorted(chain)[0]
    finetunes = {name for name, cell in params["finetune"].items() if cell["from"] == f"adapt/{first}"}
    assert finetunes, "the smoke preset must finetune the adapted model"
    try:
        params["adapt"][first]["budget"] = {"flops": float(params["adapt"][first]["budget"]["flops"]) * 1.5}
        params_file.write_text(yaml.safe_dump(params))
        # the report reads the adapt section too (it labels the adaptations), so it is stale at once
        assert stale_stages(study) == {f"adapt@{first}", "report"}
        evaluated = {f"evaluate@{m}" for m in [first, *finetunes] if m in params["evaluate"]["models"]}
        expected = {f"adapt@{first}", *(f"finetune@{f}" for f in finetunes), *evaluated, "report"}
        assert reproduced_stages(study) == expected
    finally:  # back to the finished study the next test starts from
        params_file.write_text(original)
        run(["dvc", "repro"], study)
    assert stale_stages(study) == set()


def test_a_replicate_trains_and_evaluates_under_its_own_seed(study, tmp_path):
    """``--seed N`` (one of study.seeds) reaches the stage as a seed, not a name to parse: the replicate
    ``<cell>-seed<N>`` trains from other initial weights and is evaluated under its own name; a seed not
    in study.seeds is refused naming it. (Run beside the study's own stages, then removed: the study is
    up to date again for the next test.)"""
    params = yaml.safe_load(SMOKE.read_text())
    params["study"]["seeds"] = [7]
    seeded = tmp_path / "seeded.yaml"
    seeded.write_text(yaml.safe_dump(params, sort_keys=False))
    cell = next(iter(params["pretrain"]["cells"]))
    stage = ["pretrainlab", "stage"]
    try:
        run([*stage, "pretrain", "--cell", cell, "--seed", "7", "--params", str(seeded)], study)
        replicate = study / "data" / "models" / "pretrain" / f"{cell}-seed7"
        card = json.loads((replicate / "pretrainlab.json").read_text())
        assert card["name"] == f"{cell}-seed7"
        original = study / "data" / "models" / "pretrain" / cell / "model.safetensors"
        assert (replicate / "model.safetensors").read_bytes() != original.read_bytes()
        run([*stage, "evaluate", "--cell", cell, "--seed", "7", "--params", str(seeded)], study)
        metrics = json.loads((study / "metrics" / "evaluate" / f"{cell}-seed7.json").read_text())
        assert metrics["model"] == f"{cell}-seed7" and metrics["kind"] == "pretrain"
        argv = [*stage, "pretrain", "--cell", cell, "--seed", "8", "--params", str(seeded)]
        refused = run(argv, study, check=False)
        assert refused.returncode == 2 and "--seed 8" in refused.stderr and "Traceback" not in refused.stderr
    finally:
        for folder in ("data", "metrics", "plots"):
            for path in sorted((study / folder).rglob(f"{cell}-seed7*"), reverse=True):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert stale_stages(study) == set()


def test_an_evaluation_sent_to_slurm_gives_the_local_numbers(study, tmp_path):
    """``resources.launcher: slurm`` sends an evaluate stage to SLURM as a job of one node and one task
    (here submitit's local executor: a process on this machine): the stage streams the job's lines and
    writes the metrics the study's own local run wrote, byte for byte. (The study's files are put back
    afterwards, so it is up to date again for the next test.)"""
    params = yaml.safe_load((study / "params.yaml").read_text())
    params["resources"].update(
        launcher="slurm", slurm={"executor": "local", "folder": str(tmp_path / "jobs")}
    )
    submitted = tmp_path / "slurm.yaml"
    submitted.write_text(yaml.safe_dump(params, sort_keys=False))
    cell = next(iter(params["evaluate"]["models"]))
    outputs = [study / "metrics" / "evaluate" / f"{cell}.{suffix}" for suffix in ("json", "items.parquet")]
    local = {path: path.read_bytes() for path in outputs}
    try:
        for path in outputs:
            path.unlink()  # what the job writes, not what the study left
        result = run(["pretrainlab", "stage", "evaluate", "--cell", cell, "--params", str(submitted)], study)
        assert "SLURM job" in result.stdout + result.stderr
        assert f"{cell}: val loss" in result.stdout + result.stderr  # the job's own log line, streamed
        assert outputs[0].read_bytes() == local[outputs[0]]
        import pyarrow.parquet as pq

        assert pq.read_table(outputs[1]).equals(pq.read_table(io.BytesIO(local[outputs[1]])))
    finally:
        for path, data in local.items():
            path.write_bytes(data)
    assert stale_stages(study) == set()


def test_an_edit_to_model_code_makes_every_evaluation_stale(study):
    """evaluate runs pretrainlab/models (collate, forward_logits, load): an edit there must rerun it,
    or every evaluation stays "up to date" with numbers the new code would not give."""
    layout = study / "pretrainlab" / "models" / "layout.py"
    original = layout.read_text()
    evaluations = {f"evaluate@{name}" for name in yaml.safe_load(SMOKE.read_text())["evaluate"]["models"]}
    try:
        layout.write_text(original + "\n# how logits line up with labels, edited\n")
        stale = stale_stages(study)
        assert evaluations <= stale, f"up to date despite the edit: {sorted(evaluations - stale)}"
    finally:  # the file as it was: the study is up to date again for the next test
        layout.write_text(original)
    assert stale_stages(study) == set()


def test_bytecode_python_writes_beside_the_code_makes_nothing_stale(study):
    """A stage's code deps include package folders; Python writes ``__pycache__`` into them on import
    (unless PYTHONDONTWRITEBYTECODE is set): DVC must hash the code, not the bytecode (.dvcignore)."""
    import compileall

    folders = [study / "pretrainlab", study / "stages", study / "pipelines"]
    try:
        assert all(compileall.compile_dir(str(folder), quiet=1, force=True) for folder in folders)
        assert any((study / "pretrainlab" / "models" / "__pycache__").glob("*.pyc"))
        assert stale_stages(study) == set()
    finally:
        for cache in [c for folder in folders for c in folder.rglob("__pycache__")]:
            shutil.rmtree(cache)


def test_a_change_makes_stale_only_what_it_touches(study):
    """An operational key invalidates nothing; an evaluation key every evaluation and nothing upstream.
    (That `dvc repro` then runs exactly the stale stages and what descends from them is the adaptation
    chain's test above: rerunning the eleven evaluations here would add minutes and nothing new.)"""
    assert stale_stages(study) == set(), "a finished study must be up to date"
    params_file = study / "params.yaml"
    original = params_file.read_text()
    try:
        params = yaml.safe_load(original)
        params["resources"]["log_interval"] = 3
        params["resources"]["device"] = "auto"
        params["tracking"] = {"sinks": ["dvclive"], "group": "renamed"}
        params_file.write_text(yaml.safe_dump(params))
        assert stale_stages(study) == set(), "operational keys must never invalidate a stage"

        params["evaluate"]["items_per_task"] = 12
        params_file.write_text(yaml.safe_dump(params))
        evaluated = {f"evaluate@{name}" for name in params["evaluate"]["models"]}
        assert stale_stages(study) == evaluated
    finally:  # the params as they were: the study is up to date again
        params_file.write_text(original)
    assert stale_stages(study) == set()
