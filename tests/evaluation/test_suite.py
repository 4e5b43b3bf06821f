import json
import shutil

import numpy as np
import pytest
import torch

from pretrainlab.config.schema import EvaluateConfig, ModelSize
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.item_results import read_item_table, write_item_table
from pretrainlab.evaluation.rank_classification import RankResult
from pretrainlab.evaluation.suite import evaluate_model, resolve_tasks, summarise
from pretrainlab.metrics_contract import EvaluationMetrics
from pretrainlab.models.load import MODEL_CARD
from pretrainlab.synthworld import HELD_OUT_CLUSTERS, TASK_FAMILIES, generate_documents

WORLD = {"entities": 40, "documents": 120, "seed": 0}
TASKS = ["nli.fact", "coreference.gender", "closed_book_qa.birthplace", "sentiment.review"]


def _config(**overrides) -> EvaluateConfig:
    fields = dict(
        models={},
        tasks="all",
        items_per_task=200,
        held_out_items_per_task=200,
        bootstrap_samples=1000,
        val_tokens=65536,
        seed=0,
        lm_eval=None,
    )
    return EvaluateConfig(**{**fields, **overrides})


def test_resolve_tasks():
    assert resolve_tasks("all") == sorted(TASK_FAMILIES)
    assert resolve_tasks(["nli.fact", "nli.fact"]) == ["nli.fact"]
    with pytest.raises(UserInputError, match=r"evaluate\.tasks.*no_such_task.*nli\.fact"):
        resolve_tasks(["nli.fact", "no_such_task"])


def _result(correct):
    correct = np.asarray(correct, dtype=bool)
    return RankResult(correct, correct, correct, np.zeros(len(correct), dtype=np.int64))


def test_summary_means_over_tasks_and_splits_held_out():
    config = _config(bootstrap_samples=200)
    results = {
        "nli.fact": _result([1] * 30 + [0] * 70),  # 0.3
        "coreference.gender": _result([1] * 90 + [0] * 10),  # 0.9
        "closed_book_qa.birthplace": _result([1] * 10 + [0] * 10),  # 0.5
    }
    summary = summarise(results, config)
    assert summary["tasks"]["nli.fact"]["accuracy"] == pytest.approx(0.3)
    assert summary["tasks"]["nli.fact"]["random_baseline"] == pytest.approx(1 / 3)
    assert summary["clusters"]["nli"]["held_out"] is True
    assert summary["clusters"]["closed_book_qa"]["held_out"] is False
    held_out = summary["held_out"]
    assert held_out["accuracy"] == pytest.approx(0.6)  # unweighted mean of 0.3 and 0.9
    assert held_out["random_baseline"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert held_out["ci95"][0] < 0.6 < held_out["ci95"][1]
    assert summary["held_in"]["accuracy"] == pytest.approx(0.5)
    assert summary == summarise(results, config)  # seeded: identical twice
    json.dumps(summary)  # plain JSON types only


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A trained tiny BPE, an encoded val stream and a saved random-init model per architecture."""

    from pretrainlab.models.build import build_model
    from tests.tiny_tokenizer import tiny_tokenizer

    root = tmp_path_factory.mktemp("study")
    texts = list(generate_documents(**WORLD))
    tokenizer, specials = tiny_tokenizer(texts)

    val = texts[:20]
    ids = [np.asarray(tokenizer(t, add_special_tokens=False)["input_ids"] + [specials.eos]) for t in val]
    tokens_dir = root / "tokens"
    tokens_dir.mkdir()
    np.concatenate(ids).astype(np.uint16).tofile(tokens_dir / "val.bin")
    starts = np.concatenate([[0], np.cumsum([len(i) for i in ids])[:-1]]).astype(np.int64)
    np.save(tokens_dir / "val.idx.npy", starts)
    n_tokens, n_bytes = int(sum(len(i) for i in ids)), sum(len(t.encode()) for t in val)
    meta = {
        "vocab_size": specials.vocab_size,
        "dtype": "uint16",
        "eos_id": specials.eos,
        "tokens": {"val": n_tokens},
        "documents": {"val": len(ids)},
        "bytes": {"val": n_bytes},
        "tokenizer_sha256": "test",
    }
    (tokens_dir / "meta.json").write_text(json.dumps(meta))

    size = ModelSize(d_model=32, n_layers=1, n_heads=2, d_ff=64)
    model_dirs = {}
    for arch in ("causal_decoder", "encoder_decoder"):
        model_dirs[arch] = root / "models" / f"{arch}-cell"
        build_model(arch, size, specials, seq_len=64, seed=0).save_pretrained(model_dirs[arch])
    return tokenizer, specials, tokens_dir, model_dirs


@pytest.mark.parametrize(
    ("arch", "objective", "prompt_format"),
    [
        ("causal_decoder", "full_lm", "plain"),
        ("encoder_decoder", "span_corruption", "sentinel"),
        ("encoder_decoder", "ul2", "plain"),
    ],
)
def test_evaluate_model_end_to_end(study, arch, objective, prompt_format, tmp_path):
    torch.set_num_threads(1)
    tokenizer, specials, tokens_dir, model_dirs = study
    config = _config(
        tasks=TASKS, items_per_task=12, held_out_items_per_task=12, bootstrap_samples=100, val_tokens=512
    )
    evaluation = evaluate_model(
        model_dirs[arch],
        arch=arch,
        objective=objective,
        prompt_format_name=prompt_format,
        tokenizer=tokenizer,
        specials=specials,
        tokens_dir=tokens_dir,
        config=config,
        world=WORLD,
        seq_len=64,
    )
    out = evaluation.metrics
    json.dumps(out)
    EvaluationMetrics.model_validate({**out, "kind": "pretrain"})  # what the evaluate stage publishes
    assert out["model"] == f"{arch}-cell" and out["arch"] == arch and out["objective"] == objective
    assert out["prompt_format"] == prompt_format
    assert out["val_loss"] > 0 and out["bits_per_byte"] > 0
    assert sorted(out["tasks"]) == sorted(TASKS)
    for task in TASKS:
        entry = out["tasks"][task]
        assert entry["n"] == 12
        assert 0.0 <= entry["ci95"][0] <= entry["accuracy"] <= entry["ci95"][1] <= 1.0
        assert entry["held_out"] == (entry["cluster"] in HELD_OUT_CLUSTERS)
        reference = entry["reference"]  # the same items, scored by references that never saw the corpus
        assert reference["chance"] == pytest.approx(entry["random_baseline"])
        assert 0.0 <= reference["majority"] <= 1.0 and 0.0 <= reference["shortcut"] <= 1.0
        assert reference["flagged"] == [
            kind for kind in ("majority", "shortcut") if reference[f"{kind}_p_value"] < 0.05
        ]
    assert set(out["clusters"]) == {"nli", "coreference", "closed_book_qa", "sentiment"}
    assert out["held_out"]["tasks"] == ["coreference.gender", "nli.fact"]
    assert out["held_in"]["random_baseline"] == pytest.approx((1 / 4 + 1 / 2) / 2)

    # The per-item results hold what the metrics were computed from, and survive a parquet round trip.
    items = evaluation.items.to_pydict()
    assert len(items["item"]) == 12 * len(TASKS) and set(items["model"]) == {f"{arch}-cell"}
    for task in TASKS:
        correct = [c for t, c in zip(items["task"], items["correct"], strict=True) if t == task]
        assert np.mean(correct) == pytest.approx(out["tasks"][task]["accuracy"])
    for lls, answer, prediction, n in zip(
        items["log_likelihood"], items["answer"], items["prediction"], items["n_choices"], strict=True
    ):
        assert len(lls) == n and prediction == int(np.argmax(lls)) and 0 <= answer < n
    path = tmp_path / "model.items.parquet"
    write_item_table(path, evaluation.items)
    read = read_item_table(path, f"{arch}-cell")
    assert sorted(read) == sorted(TASKS)
    assert read[TASKS[0]].correct.mean() == pytest.approx(out["tasks"][TASKS[0]]["accuracy"])


def test_a_model_trained_with_another_tokenizer_is_not_evaluated(study, tmp_path):
    tokenizer, specials, tokens_dir, model_dirs = study
    model_dir = tmp_path / "retokenized"
    shutil.copytree(model_dirs["causal_decoder"], model_dir)
    (model_dir / MODEL_CARD).write_text(json.dumps({"tokenizer_sha256": "an-older-tokenizer"}))
    with pytest.raises(UserInputError, match="trained with tokenizer an-older-tok"):
        evaluate_model(
            model_dir,
            arch="causal_decoder",
            objective="full_lm",
            prompt_format_name="plain",
            tokenizer=tokenizer,
            specials=specials,
            tokens_dir=tokens_dir,
            config=_config(
                tasks=TASKS,
                items_per_task=12,
                held_out_items_per_task=12,
                bootstrap_samples=100,
                val_tokens=512,
            ),
            world=WORLD,
            seq_len=64,
        )
