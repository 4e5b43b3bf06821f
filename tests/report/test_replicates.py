"""Seeds: a cell and its replicates are summarised as mean ± 95% t-interval across seeds."""

from __future__ import annotations

import json

import pytest

from pretrainlab.errors import UserInputError
from pretrainlab.report.replicates import mean_ci, seeds_table
from tests.report.records import evaluation, task


def test_t_interval_on_known_values():
    mean, low, high = mean_ci([0.40, 0.50, 0.60])
    # sd = 0.1, t(0.975, 2) = 4.303 -> half-width 4.303 * 0.1 / sqrt(3) = 0.2484
    assert mean == pytest.approx(0.5)
    assert (low, high) == pytest.approx((0.5 - 0.2484, 0.5 + 0.2484), abs=1e-4)
    assert mean_ci([0.3]) == (0.3, 0.3, 0.3)


def _evaluation(path, held_out, val_loss):
    tasks = {"nli.fact": task(held_out, 0.0, 1.0, 1 / 3, cluster="nli", held_out=True, n=50)}
    path.write_text(json.dumps(evaluation(path.stem, tasks, val_loss=val_loss)))


def test_seeds_table_aggregates_a_cell_and_its_replicates(tmp_path):
    (tmp_path / "evaluate").mkdir()
    for name, acc, loss in (("cd-flm", 0.40, 3.0), ("cd-flm-seed1", 0.50, 3.2), ("cd-flm-seed2", 0.60, 3.4)):
        _evaluation(tmp_path / "evaluate" / f"{name}.json", acc, loss)
    table = seeds_table(tmp_path, ["cd-flm"], [1, 2], primary_seed=0)
    assert table[2] == "| `cd-flm` | 0, 1, 2 | 50.0 [25.2–74.8] | — | 3.200 [2.703–3.697] |"
    assert seeds_table(tmp_path, ["cd-flm"], [], primary_seed=0) == []


def test_a_missing_replicate_is_named(tmp_path):
    (tmp_path / "evaluate").mkdir()
    _evaluation(tmp_path / "evaluate" / "cd-flm.json", 0.4, 3.0)
    with pytest.raises(UserInputError, match="cd-flm-seed1.json") as err:
        seeds_table(tmp_path, ["cd-flm"], [1], primary_seed=0)
    assert "dvc repro evaluate-replicate@cd-flm-1" in str(err.value)
