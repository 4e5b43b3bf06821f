"""The evaluate stage scores each snapshot a training kept (``eval_at``) as it scores the final model:
one learning-curve point per snapshot and one for the final model, with the tokens and FLOPs spent to
reach it and per-item results; a snapshot the training declared but did not keep stops it (exit 2),
writing nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from pretrainlab.config.schema import ModelSize, SynthworldSource
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.learning_curve import curve_file, curve_items_file, read_curve, read_curve_items
from pretrainlab.models.build import build_model
from pretrainlab.models.load import MODEL_CARD
from pretrainlab.synthworld import generate_documents
from stages import evaluate as evaluate_stage
from tests.tiny_tokenizer import tiny_tokenizer

WORLD = {"entities": 40, "documents": 120, "seed": 0}
TASKS = ["nli.fact", "closed_book_qa.birthplace"]
ITEMS = 10
SNAPSHOTS = {300: (2, 256, 2.0e6), 640: (5, 640, 5.0e6)}  # eval_at tokens -> step, tokens, FLOPs
FINAL = {"steps": 12, "tokens": 1536, "flops": 1.2e7}


def _training_metrics() -> dict:
    return {
        "arch": "causal_decoder",
        "objective": "full_lm",
        "batch_size": 4,
        "tokens_per_step": 128.0,
        "padded_tokens_per_step": 128,
        "padded_positions": 1536,
        "flops_per_token": 1e4,
        "parameters": 1000,
        "non_embedding_parameters": 500,
        "train_loss": 3.0,
        "val_loss": 3.1,
        "tokens_per_second": 1e3,
        "train_seconds": 1.5,
        "mfu": None,
        "device": "cpu",
        "world_size": 1,
        **FINAL,
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project with a trained-looking tiny model, its two snapshots, its training metrics and a val stream."""
    root = tmp_path_factory.mktemp("project")
    texts = list(generate_documents(**WORLD))
    tokenizer, specials = tiny_tokenizer(texts)
    ids = [
        np.asarray(tokenizer(t, add_special_tokens=False)["input_ids"] + [specials.eos]) for t in texts[:20]
    ]
    tokens_dir = root / "data" / "tokens"
    tokens_dir.mkdir(parents=True)
    np.concatenate(ids).astype(np.uint16).tofile(tokens_dir / "val.bin")
    np.save(tokens_dir / "val.idx.npy", np.concatenate([[0], np.cumsum([len(i) for i in ids])[:-1]]))
    meta = {
        "vocab_size": specials.vocab_size,
        "dtype": "uint16",
        "eos_id": specials.eos,
        "tokens": {"val": int(sum(len(i) for i in ids))},
        "documents": {"val": len(ids)},
        "bytes": {"val": sum(len(t.encode()) for t in texts[:20])},
        "tokenizer_sha256": "test",
    }
    (tokens_dir / "meta.json").write_text(json.dumps(meta))

    size = ModelSize(d_model=32, n_layers=1, n_heads=2, d_ff=64)
    card = {
        "name": "tiny",
        "kind": "pretrain",
        "arch": "causal_decoder",
        "objective": "full_lm",
        "prompt_format": "plain",
        "seq_len": 64,
        "tokenizer_sha256": "test",
        "fingerprint": "fp",
        "eval_at": sorted(SNAPSHOTS),
    }
    model_dir = root / "data" / "models" / "pretrain" / "tiny"
    folders = {model_dir: card}
    for n, (step, tokens, flops) in SNAPSHOTS.items():
        point = {"eval_at_tokens": n, "step": step, "tokens": tokens, "flops": flops}
        folders[model_dir / "snapshots" / f"tokens-{n}"] = {**card, "snapshot": point}
    for seed, (folder, folder_card) in enumerate(folders.items()):  # other weights at each point
        build_model("causal_decoder", size, specials, seq_len=64, seed=seed).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / MODEL_CARD).write_text(json.dumps(folder_card))
    metrics = root / "metrics" / "pretrain" / "tiny.json"
    metrics.parent.mkdir(parents=True)
    metrics.write_text(json.dumps(_training_metrics()))
    return root


def _params() -> evaluate_stage.Params:
    return evaluate_stage.Params(
        tasks=TASKS,
        items_per_task=ITEMS,
        held_out_items_per_task=ITEMS,
        bootstrap_samples=100,
        val_tokens=512,
        seed=0,
        lm_eval=None,
        world=SynthworldSource(kind="synthworld", **WORLD),
        seq_len=64,
    )


@pytest.fixture(scope="module")
def evaluated(project) -> Path:
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        evaluate_stage.run("tiny", "pretrain", _params(), "cpu")
    return project / "metrics" / "evaluate" / "tiny.json"


def test_the_curve_has_a_point_per_snapshot_and_the_final_model(evaluated):
    curve = read_curve(evaluated, "rerun")
    assert curve.model == "tiny" and curve.kind == "pretrain"
    assert [p.snapshot for p in curve.points] == ["tokens-300", "tokens-640", "final"]
    assert [(p.eval_at_tokens, p.step, p.tokens, p.flops) for p in curve.points] == [
        (300, 2, 256, 2.0e6),
        (640, 5, 640, 5.0e6),
        (None, 12, 1536, 1.2e7),
    ]
    final = json.loads(evaluated.read_text())  # the final model's metrics, as before the curve existed
    assert curve.points[-1].val_loss == final["val_loss"]
    assert curve.points[-1].held_out.model_dump(mode="json") == final["held_out"]
    assert len({p.val_loss for p in curve.points}) == 3  # three different models were scored
    for point in curve.points:
        assert point.val_loss > 0 and point.bits_per_byte > 0 and point.held_in is not None


def test_each_point_has_its_per_item_results(evaluated):
    curve = read_curve(evaluated, "rerun")
    items = read_curve_items(evaluated, "tiny", "rerun")
    assert list(items) == ["tokens-300", "tokens-640", "final"]
    table = pq.read_table(curve_items_file(evaluated))
    assert table.num_rows == 3 * ITEMS * len(TASKS) and set(table.column("model").to_pylist()) == {"tiny"}
    for point in curve.points:
        held_out = [t for t in point.held_out.tasks]
        accuracy = np.mean([items[point.snapshot][t].correct.mean() for t in held_out])
        assert accuracy == pytest.approx(point.held_out.accuracy)


def test_a_declared_snapshot_that_is_missing_stops_the_stage_before_any_write(project, tmp_path, monkeypatch):
    copy = tmp_path / "project"
    shutil.copytree(project / "data", copy / "data")
    shutil.copytree(project / "metrics" / "pretrain", copy / "metrics" / "pretrain")
    shutil.rmtree(copy / "data" / "models" / "pretrain" / "tiny" / "snapshots" / "tokens-640")
    monkeypatch.chdir(copy)
    with pytest.raises(
        UserInputError, match=r"snapshots: no snapshot tokens-640, though its training declared"
    ):
        evaluate_stage.run("tiny", "pretrain", _params(), "cpu")
    assert not (copy / "metrics" / "evaluate").exists()
    assert not curve_file(copy / "metrics" / "evaluate" / "tiny.json").exists()
