"""The metrics contract: a loss curve survives writing and reading, and a record refuses what its
writer must not write."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from pretrainlab.errors import UserInputError
from pretrainlab.metrics_contract import LossCurve, TrainingMetrics
from tests.report.records import training

HISTORY = [
    {"step": 1, "tokens": 4096, "train_loss": 7.5, "val_loss": None, "lr": 0.0001},
    {"step": 2, "tokens": 8192, "train_loss": 6.25, "val_loss": 6.5, "lr": 0.0002},
]


def test_a_curve_is_written_as_the_training_stage_always_wrote_it_and_reads_back(tmp_path):
    text = LossCurve.from_history(HISTORY).csv_text()
    assert text == "step,tokens,train_loss,val_loss,lr\n1,4096,7.5,,0.0001\n2,8192,6.25,6.5,0.0002\n"
    path = tmp_path / "curve.csv"
    path.write_text(text)
    curve = LossCurve.read(path)
    assert curve.tokens.tolist() == [4096, 8192] and math.isnan(curve.val_loss[0])
    tokens, val = curve.validation_points()
    assert tokens.tolist() == [8192] and val.tolist() == [6.5]


def test_a_curve_missing_a_column_or_holding_text_names_the_file(tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("step,tokens,train_loss\n1,10,3.0\n")
    with pytest.raises(UserInputError, match=r"curve\.csv: missing column\(s\) val_loss, lr"):
        LossCurve.read(path)
    path.write_text("step,tokens,train_loss,val_loss,lr\n1,ten,3.0,,0.1\n")
    with pytest.raises(UserInputError, match=r"curve\.csv: not a number"):
        LossCurve.read(path)


def test_a_training_record_refuses_a_misspelt_or_missing_key():
    values = training().as_json()
    with pytest.raises(ValidationError, match="val_los"):
        TrainingMetrics.model_validate(values | {"val_los": 3.0})
    del values["tokens"]
    with pytest.raises(ValidationError, match="tokens"):
        TrainingMetrics.model_validate(values)
    assert np.isnan(training(val_loss=math.nan).as_json()["val_loss"])  # NaN is the JSON writer's to refuse
