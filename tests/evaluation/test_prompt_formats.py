"""A model's prompt format follows its last training objective (recorded in its card), not the stage
that made it: NC-A (adapted to a non-causal decoder with span corruption) is scored with sentinels."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from pretrainlab.config.schema import EvaluateConfig, SynthworldSource
from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.item_results import SCHEMA
from pretrainlab.evaluation.prompt_formats import card_prompt_format, prompt_format, prompt_format_name
from pretrainlab.evaluation.rank_classification import EncodedItem, rank_classify
from pretrainlab.evaluation.suite import Evaluation
from pretrainlab.tokenization.specials import SpecialTokens
from tests.report.records import training

SPECIALS = SpecialTokens.for_tests()


@pytest.mark.parametrize(
    ("objective", "finetuned", "expected"),
    [
        ("full_lm", False, "plain"),
        ("prefix_lm", False, "plain"),
        ("span_corruption", False, "sentinel"),
        ("ul2", False, "ul2_s2s"),
        ("mlm", False, "mask_fill"),
        ("span_corruption", True, "plain"),  # MTF trains on prompt -> answer
        ("ul2", True, "plain"),
    ],
)
def test_format_is_a_function_of_the_last_objective_and_of_mtf(objective, finetuned, expected):
    assert prompt_format_name(objective, multitask_finetuned=finetuned) == expected


def test_nc_a_style_card_is_scored_in_the_sentinel_format():
    """kind adapt, last objective span_corruption: what the adapt stage records, what the scorer uses."""
    card = {"name": "cd-flm-to-nd-mlm", "kind": "adapt", "arch": "noncausal_decoder"}
    card |= {"objective": "span_corruption", "prompt_format": prompt_format_name("span_corruption")}
    fmt = prompt_format(card_prompt_format("unused", card), SPECIALS)
    seen = []

    def scorer(examples, skip):
        seen.extend(zip(examples, skip, strict=True))
        return np.arange(len(examples), dtype=np.float64)

    item = EncodedItem(np.array([40, 41]), (np.array([50]), np.array([51, 52])), 1, (3, 4))
    rank_classify([item], scorer, fmt, arch="noncausal_decoder", seq_len=32)
    s0 = SPECIALS.sentinels[0]
    assert [e.inputs.tolist() for e, _ in seen] == [[40, 41, s0, SPECIALS.eos]] * 2
    assert [e.targets.tolist() for e, _ in seen] == [[s0, 50], [s0, 51, 52]]
    assert [skip for _, skip in seen] == [1, 1]  # the sentinel target is not scored


def _project(tmp_path, monkeypatch, card: dict) -> None:
    monkeypatch.chdir(tmp_path)
    model_dir = tmp_path / "data/models/adapt/nc-a"
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text("{}")
    (model_dir / "pretrainlab.json").write_text(json.dumps(card))


def _params() -> SimpleNamespace:
    """What the evaluate stage's ``run`` reads of its params."""
    config = EvaluateConfig(
        models={"nc-a": "adapt"},
        tasks="all",
        items_per_task=10,
        held_out_items_per_task=10,
        bootstrap_samples=100,
        val_tokens=64,
        seed=0,
        lm_eval=None,
    )
    return SimpleNamespace(evaluate=config, world=SynthworldSource(kind="synthworld"), seq_len=32)


def test_evaluate_stage_passes_the_cards_format_and_writes_items_beside_the_metrics(tmp_path, monkeypatch):
    from stages import evaluate

    card = {
        "name": "nc-a",
        "kind": "adapt",
        "arch": "noncausal_decoder",
        "objective": "span_corruption",
        "seq_len": 32,
    }
    _project(tmp_path, monkeypatch, card | {"prompt_format": "sentinel"})
    seen = {}

    def fake_evaluate_model(model_dir, **kwargs):
        seen.update(kwargs)
        metrics = {
            "model": "nc-a",
            "arch": kwargs["arch"],
            "objective": kwargs["objective"],
            "prompt_format": kwargs["prompt_format_name"],
            **{"val_loss": 1.0, "bits_per_byte": 1.0, "val_tokens_scored": 1, "tasks": {}, "clusters": {}},
            **{"held_out": None, "held_in": None},
        }
        return Evaluation(metrics, pa.Table.from_pylist([], schema=SCHEMA))

    monkeypatch.setattr(evaluate, "evaluate_model", fake_evaluate_model)
    monkeypatch.setattr(evaluate, "load_tokenizer", lambda path: (None, SPECIALS))
    (tmp_path / "metrics/adapt").mkdir(parents=True)  # the training stage's record: the final curve point
    (tmp_path / "metrics/adapt/nc-a.json").write_text(json.dumps(training().as_json()))
    evaluate.run("nc-a", "adapt", _params(), "cpu")
    assert seen["prompt_format_name"] == "sentinel"  # not "plain" because the stage was adapt
    assert json.loads((tmp_path / "metrics/evaluate/nc-a.json").read_text())["prompt_format"] == "sentinel"
    assert (tmp_path / "metrics/evaluate/nc-a.items.parquet").is_file()


def test_card_without_the_field_exits_2_naming_the_stage_to_rerun(tmp_path, monkeypatch):
    from stages import evaluate

    card = {"name": "nc-a", "kind": "adapt", "arch": "noncausal_decoder", "objective": "span_corruption"}
    _project(tmp_path, monkeypatch, card | {"seq_len": 32})
    with pytest.raises(
        UserInputError, match=r"pretrainlab\.json.*no `prompt_format`.*dvc repro -f -s adapt@nc-a"
    ):
        evaluate.run("nc-a", "adapt", _params(), "cpu")
    assert not (tmp_path / "metrics").exists()


def test_a_replicates_card_names_its_replicate_stage():
    card = {"name": "cd-flm-seed3", "kind": "pretrain", "arch": "causal_decoder", "objective": "full_lm"}
    with pytest.raises(UserInputError, match=r"pretrain-replicate@cd-flm-3"):
        card_prompt_format("data/models/pretrain/cd-flm-seed3", card)
    with pytest.raises(UserInputError, match=r"'sentinels', not one of plain, sentinel"):
        card_prompt_format("somewhere", card | {"prompt_format": "sentinels"})
