"""``eval_at`` (the snapshots a training stage keeps): a point the training cannot snapshot is named by
its key and ``pretrainlab validate`` exits 2, writing nothing."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from pretrainlab.config.load import load_params
from tests.config.mutated_smoke import mutated_errors, write_mutated
from tests.conftest import SMOKE

# the smoke study's cells take 512 tokens a step (nd-ul2: 510) and buy 16896 to 22016 tokens


def _pretrain_points(*tokens: int):
    return lambda p: p["pretrain"].update(eval_at={"tokens": list(tokens)})


def test_points_within_the_budget_are_valid(tmp_path):
    study = load_params(write_mutated(tmp_path, _pretrain_points(2000, 8000)))
    assert study.pretrain.eval_at.tokens == [2000, 8000]
    assert load_params(SMOKE).pretrain.eval_at.tokens == []  # none unless declared


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ((0, 2000), "pretrain.eval_at.tokens[0]: Input should be greater than 0"),
        ((4000, 2000), "pretrain.eval_at.tokens: Value error, 2000 is out of order (after 4000)"),
        ((2000, 2000), "pretrain.eval_at.tokens: Value error, 2000 is repeated"),
    ],
)
def test_non_positive_unsorted_and_repeated_points_are_named(tmp_path, points, expected):
    errors = mutated_errors(tmp_path, _pretrain_points(*points))
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_points_each_cell_cannot_snapshot_are_named_with_the_cell(tmp_path):
    errors = mutated_errors(tmp_path, _pretrain_points(100, 2000, 2040, 10**9))
    cd = [e for e in errors if "pretrain.cells.cd-flm" in e]
    assert cd == [
        "pretrain.eval_at.tokens[0]: 100 is less than one step of pretrain.cells.cd-flm (512 tokens per step)",
        "pretrain.eval_at.tokens[2]: 2040 falls on the same step as tokens[1] (step 3 of "
        "pretrain.cells.cd-flm, 512 tokens per step): keep one",
        "pretrain.eval_at.tokens[3]: 1000000000 is beyond the budget of pretrain.cells.cd-flm (16896 tokens)",
    ]
    assert {e.split(" of pretrain.cells.")[1].split(" ")[0].rstrip(",") for e in errors} == {
        "cd-flm",
        "nd-plm",
        "ed-mlm",
        "nd-ul2",
        "enc-mlm",
    }


def test_adapt_and_finetune_points_beyond_their_budget_are_named(tmp_path):
    raw = yaml.safe_load(SMOKE.read_text())
    adaptation, finetuned = next(iter(raw["adapt"])), next(iter(raw["finetune"]))

    def mutate_first(p):
        p["adapt"][adaptation]["eval_at"] = {"tokens": [10**9]}
        p["finetune"][finetuned]["eval_at"] = {"tokens": [10**9]}

    errors = mutated_errors(tmp_path, mutate_first)
    assert [e.split(":")[0] for e in errors] == [
        f"adapt.{adaptation}.eval_at.tokens[0]",
        f"finetune.{finetuned}.eval_at.tokens[0]",
    ], errors
    assert all("is beyond the budget of" in e for e in errors)


def test_validate_exits_2_naming_the_key_and_writes_nothing(tmp_path):
    bad = write_mutated(tmp_path, _pretrain_points(2000, 10**9))
    before = sorted(tmp_path.iterdir())
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "pretrain.eval_at.tokens[1]" in result.output
    assert sorted(tmp_path.iterdir()) == before


def test_an_adaptation_point_within_its_cross_attention_warm_up_is_named(tmp_path):
    errors = mutated_errors(
        tmp_path, lambda p: p["adapt"]["cd-flm-to-ed-plm"].update(eval_at={"tokens": [600]})
    )
    assert len(errors) == 1, errors
    assert errors[0].startswith(
        "adapt.cd-flm-to-ed-plm.eval_at.tokens[0]: 600 falls within the 3 cross-attention warm-up steps"
    ), errors
