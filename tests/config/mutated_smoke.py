"""The smoke preset with one edit, written as a params file, and the errors validation names for it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pretrainlab.config.load import ParamsError, load_params
from tests.conftest import SMOKE


def write_mutated(tmp_path: Path, mutate: Callable[[dict[str, Any]], object]) -> Path:
    """``tmp_path/params.yaml``: the smoke preset after ``mutate`` edited it in place."""
    raw = yaml.safe_load(SMOKE.read_text())
    mutate(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def mutated_errors(tmp_path: Path, mutate: Callable[[dict[str, Any]], object]) -> list[str]:
    """The errors ``load_params`` raises for the edited preset (it must raise)."""
    with pytest.raises(ParamsError) as info:
        load_params(write_mutated(tmp_path, mutate))
    return info.value.errors
