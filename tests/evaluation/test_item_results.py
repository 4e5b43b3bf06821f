"""Per-item results: what rank classification decided for each item, kept beside the metrics."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pretrainlab import atomic
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.item_results import (
    item_key,
    item_table,
    items_file,
    publish_evaluation,
    read_item_table,
)
from pretrainlab.evaluation.prompt_layout import PromptFormat
from pretrainlab.evaluation.rank_classification import EncodedItem, rank_classify
from pretrainlab.metrics_contract import EvaluationMetrics
from tests.full_disk import FullDisk

ITEMS = [
    SimpleNamespace(prompt="Is it so?", choices=(" yes", " no", " maybe"), answer=0),
    SimpleNamespace(prompt="Which one?", choices=(" a", " bbbb"), answer=1),
]


def _result():
    """Choice scores 0, -1, -2 | -3, -3.5: item 0 picks 'yes' (right); item 1 picks ' a' by sum (wrong)
    but ' bbbb' per token (3 tokens: -3.5 / 3 > -3 / 1)."""
    encoded = [
        EncodedItem(np.array([1, 2]), (np.array([5]), np.array([6]), np.array([7])), 0, (4, 3, 6)),
        EncodedItem(np.array([3]), (np.array([8]), np.array([9, 10, 11])), 1, (2, 5)),
    ]
    scores = np.array([0.0, -1.0, -2.0, -3.0, -3.5])
    return rank_classify(
        encoded, lambda ex, skip: scores[: len(ex)], PromptFormat(), arch="causal_decoder", seq_len=16
    )


def test_item_table_keeps_every_choice_score_and_what_was_decided(tmp_path):
    table = item_table("cd-flm", {"t.one": _result()}, {"t.one": ITEMS}).to_pydict()
    assert table["model"] == ["cd-flm"] * 2 and table["item"] == [0, 1]
    assert table["answer"] == [0, 1] and table["n_choices"] == [3, 2] and table["prediction"] == [0, 0]
    assert table["correct"] == [True, False] and table["correct_norm"] == [True, True]
    assert table["log_likelihood"] == [[0.0, -1.0, -2.0], [-3.0, -3.5]]
    assert table["choice_tokens"] == [[1, 1, 1], [1, 3]] and table["choice_bytes"] == [[4, 3, 6], [2, 5]]
    assert table["item_key"][0] == item_key("Is it so?", (" yes", " no", " maybe")) != table["item_key"][1]


def _metrics(val_loss: float = 1.0) -> EvaluationMetrics:
    """The smallest valid metrics record (no tasks scored)."""
    return EvaluationMetrics(
        model="cd-flm",
        kind="pretrain",
        arch="causal_decoder",
        objective="full_lm",
        prompt_format="plain",
        val_loss=val_loss,
        bits_per_byte=None,
        val_tokens_scored=1,
        tasks={},
        clusters={},
        held_out=None,
        held_in=None,
    )


def test_publish_writes_metrics_and_items_side_by_side_and_reads_back(tmp_path):
    metrics_json = tmp_path / "evaluate" / "cd-flm.json"
    publish_evaluation(metrics_json, _metrics(), item_table("cd-flm", {"t.one": _result()}, {"t.one": ITEMS}))
    assert json.loads(metrics_json.read_text()) == _metrics().as_json()
    assert items_file(metrics_json) == tmp_path / "evaluate" / "cd-flm.items.parquet"
    read = read_item_table(items_file(metrics_json), "cd-flm")
    assert list(read) == ["t.one"]
    assert read["t.one"].correct.tolist() == [True, False]
    assert read["t.one"].chance.tolist() == pytest.approx([1 / 3, 1 / 2])
    assert sorted(p.name for p in metrics_json.parent.iterdir()) == ["cd-flm.items.parquet", "cd-flm.json"]


@pytest.mark.parametrize("failing", ["cd-flm.json", "cd-flm.items.parquet"])
def test_a_failed_publish_keeps_the_previous_pair_and_names_the_file(tmp_path, monkeypatch, failing):
    metrics_json = tmp_path / "cd-flm.json"
    table = item_table("cd-flm", {"t.one": _result()}, {"t.one": ITEMS})
    publish_evaluation(metrics_json, _metrics(1.0), table)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    real_open = open
    monkeypatch.setattr(
        atomic,
        "open",
        lambda path, mode="r": (
            FullDisk(real_open(path, mode)) if failing in str(path) else real_open(path, mode)
        ),
        raising=False,
    )
    with pytest.raises(OSError, match="No space left on device") as caught:
        publish_evaluation(metrics_json, _metrics(2.0), table)
    assert caught.value.filename == str(tmp_path / failing)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporaries either


def test_unusable_items_files_name_the_model(tmp_path):
    with pytest.raises(
        UserInputError, match=r"nd-plm.items.parquet: per-item results of model 'nd-plm' not found"
    ):
        read_item_table(tmp_path / "nd-plm.items.parquet", "nd-plm")
    path = tmp_path / "x.items.parquet"
    pq.write_table(pa.table({"task": ["t"], "item": [0]}), path)
    with pytest.raises(UserInputError, match=r"'x' lack column\(s\) item_key, n_choices, correct"):
        read_item_table(path, "x")
    path.write_text("not parquet")
    with pytest.raises(UserInputError, match=r"unreadable.*dvc repro evaluate@x"):
        read_item_table(path, "x")
