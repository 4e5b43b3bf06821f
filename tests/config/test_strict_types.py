"""The config boundary is strict for every key, present and future: each number of the smoke preset
refuses ``true`` and each float refuses ``.inf`` and ``.nan`` (YAML reads them all without complaint),
each error naming its key path; and every section of the schema and of the stages' Params is strict."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from pretrainlab.config import schema
from pretrainlab.config.load import ParamsError, load_params, parse_yaml
from tests.conftest import SMOKE


def leaves(node: object, path: str = "") -> Iterator[tuple[str, tuple, object]]:
    """(key path as errors spell it, the keys to reach it, value) of every scalar in ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else None
    if items is None:
        yield path, (), node
        return
    for key, value in items:
        where = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        for leaf_path, keys, leaf in leaves(value, where):
            yield leaf_path, (key, *keys), leaf


SMOKE_PARAMS = parse_yaml(SMOKE.read_text(), SMOKE)  # as the project reads it: 4.7e9 is a number
NUMBERS = [
    (p, k, v) for p, k, v in leaves(SMOKE_PARAMS) if isinstance(v, (int, float)) and not isinstance(v, bool)
]
FLOATS = [(p, k, v) for p, k, v in NUMBERS if isinstance(v, float)]


def _errors_with(tmp_path: Path, keys: tuple, value: object) -> list[str]:
    params = parse_yaml(SMOKE.read_text(), SMOKE)
    node = params
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    return info.value.errors


def test_the_preset_has_numbers_of_both_kinds():
    assert len(NUMBERS) >= 20 and len(FLOATS) >= 5, (len(NUMBERS), len(FLOATS))


@pytest.mark.parametrize(("path", "keys", "value"), NUMBERS, ids=[p for p, _, _ in NUMBERS])
def test_true_is_not_a_number(path, keys, value, tmp_path):
    errors = _errors_with(tmp_path, keys, True)
    assert any(e.startswith(f"{path}:") for e in errors), errors


@pytest.mark.parametrize(("path", "keys", "value"), FLOATS, ids=[p for p, _, _ in FLOATS])
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_a_float_must_be_finite(path, keys, value, bad, tmp_path):
    errors = _errors_with(tmp_path, keys, bad)
    assert any(e.startswith(f"{path}:") for e in errors), errors


def test_whole_floats_still_count_and_exponents_are_numbers(tmp_path):
    text = SMOKE.read_text().replace("batch_tokens: 512", "batch_tokens: 5.12e2")
    (tmp_path / "params.yaml").write_text(text)
    study = load_params(tmp_path / "params.yaml")
    assert study.pretrain.batch_tokens == 512 and isinstance(study.pretrain.batch_tokens, int)
    assert study.pretrain.cells["cd-flm"].budget.flops == 4.7e9  # `4.7e9`: a number, as in YAML 1.2


def _models() -> list[type[BaseModel]]:
    import stages.adapt
    import stages.corpus
    import stages.evaluate
    import stages.finetune
    import stages.pretrain
    import stages.report
    import stages.tokenize

    modules = [schema, stages.adapt, stages.corpus, stages.evaluate, stages.finetune, stages.pretrain]
    modules += [stages.report, stages.tokenize]
    return sorted(
        {
            m
            for module in modules
            for _, m in inspect.getmembers(module, inspect.isclass)
            # defined in the schema or a stage (a stage may also import output records, which are not input)
            if issubclass(m, BaseModel) and m.__module__ in {module.__name__ for module in modules}
        }
        - {BaseModel},
        key=lambda m: f"{m.__module__}.{m.__qualname__}",
    )


@pytest.mark.parametrize("model", _models(), ids=lambda m: f"{m.__module__}.{m.__qualname__}")
def test_every_section_is_strict(model):
    """A new section (or a stage's Params) that forgets to derive from Strict is caught here."""
    config = model.model_config
    assert config.get("strict") is True and config.get("allow_inf_nan") is False, config
    assert config.get("extra") == "forbid", config
