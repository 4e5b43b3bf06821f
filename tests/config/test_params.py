"""params.yaml validation: every error names its key path; the CLI exits 2 and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from pretrainlab.config.load import json_schema, load_params
from tests.config.mutated_smoke import mutated_errors, write_mutated
from tests.conftest import ROOT, SMOKE

PARAMS_FILES = [ROOT / "params.yaml", *sorted((ROOT / "presets").glob("*.yaml"))]


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: p.name)
def test_shipped_params_are_valid(path: Path):
    study = load_params(path)
    assert study.pretrain.cells


def test_unknown_key_is_named(tmp_path):
    errors = mutated_errors(tmp_path, lambda p: p["pretrain"].update(sequence_length=12))
    assert any(e.startswith("pretrain.sequence_length:") for e in errors)


def test_an_error_inside_any_kind_of_source_is_named_without_pydantic_union_tag(tmp_path):
    """Every ``kind`` of corpus and finetune source (read off the schema, so a new kind is covered)."""
    from pretrainlab.config.load import union_tags

    assert {"synthworld", "files", "hf", "disk"} <= union_tags()

    def mutate(p):
        cell = next(iter(p["finetune"]))
        p["corpus"]["sources"] = [{"kind": "files", "glob": "raw/*", "bogus": 1}]
        p["finetune"][cell]["sources"] = [
            {"kind": kind, "cluster": "closed_book_qa", "task": kind, "bogus": 1}
            for kind in ("hf", "files", "disk")
        ]

    errors = mutated_errors(tmp_path, mutate)
    cell = next(iter(yaml.safe_load(SMOKE.read_text())["finetune"]))
    assert any(e.startswith("corpus.sources[0].bogus:") for e in errors), errors
    for i in range(3):
        assert any(e.startswith(f"finetune.{cell}.sources[{i}].bogus:") for e in errors), errors


def test_wrong_type_and_nonpositive_budget_are_all_reported(tmp_path):
    def mutate(p):
        p["pretrain"]["seq_len"] = "long"
        p["pretrain"]["cells"]["cd-flm"]["budget"] = {"tokens": -5}

    errors = mutated_errors(tmp_path, mutate)
    assert any(e.startswith("pretrain.seq_len:") for e in errors)
    assert any(e.startswith("pretrain.cells.cd-flm.budget.tokens:") for e in errors)


def test_undefined_model_size(tmp_path):
    errors = mutated_errors(tmp_path, lambda p: p["pretrain"]["cells"]["cd-flm"].update(model="huge"))
    assert errors == ["pretrain.cells.cd-flm.model: unknown model size 'huge' (defined: nano)"]


def test_budget_below_one_step(tmp_path):
    errors = mutated_errors(
        tmp_path, lambda p: p["pretrain"]["cells"]["cd-flm"].update(budget={"tokens": 10})
    )
    assert len(errors) == 1 and errors[0].startswith("pretrain.cells.cd-flm.budget.tokens:")
    assert "one step" in errors[0]


def test_unknown_architecture_lists_valid_names(tmp_path):
    errors = mutated_errors(tmp_path, lambda p: p["pretrain"]["cells"]["cd-flm"].update(arch="rnn"))
    assert errors[0].startswith("pretrain.cells.cd-flm.arch:")
    assert "causal_decoder" in errors[0] and "encoder_decoder" in errors[0]


def test_meaningless_pair_is_rejected(tmp_path):
    errors = mutated_errors(
        tmp_path, lambda p: p["pretrain"]["cells"]["cd-flm"].update(arch="encoder_decoder")
    )
    assert any(e.startswith("pretrain.cells.cd-flm.objective:") and "does not fit" in e for e in errors)


def test_unsafe_cell_name_is_rejected(tmp_path):
    def mutate(p):
        p["pretrain"]["cells"]["../x"] = p["pretrain"]["cells"]["cd-flm"]

    errors = mutated_errors(tmp_path, mutate)
    assert any(e.startswith("pretrain.cells.../x") for e in errors)


def test_evaluated_model_must_exist(tmp_path):
    errors = mutated_errors(tmp_path, lambda p: p["evaluate"]["models"].update({"ghost": "pretrain"}))
    assert errors == ["evaluate.models.ghost: no pretrain model named 'ghost' is defined"]


def test_tokenizer_needs_exactly_one_mode(tmp_path):
    errors = mutated_errors(tmp_path, lambda p: p["tokenizer"].update(pretrained="somewhere"))
    assert any(e.startswith("tokenizer:") and "exactly one" in e for e in errors)


def test_cli_validate_exit_codes(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(SMOKE)])
    assert ok.exit_code == 0, ok.output
    bad = write_mutated(
        tmp_path, lambda p: p["pretrain"]["cells"]["cd-flm"].update(model="huge", colour="red")
    )
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "pretrain.cells.cd-flm.colour" in result.output
    assert sorted(tmp_path.iterdir()) == before


def test_cli_unknown_stage_exits_2(tmp_path):
    result = CliRunner().invoke(app, ["stage", "bake", "--params", str(SMOKE)])
    assert result.exit_code == 2 and "valid stages" in result.output


def test_committed_schema_is_current():
    committed = json.loads((ROOT / "params.schema.json").read_text())
    assert committed == json.loads(json_schema()), "run `pretrainlab schema` and commit params.schema.json"


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: p.name)
def test_params_reference_the_schema(path: Path):
    """Editors find the schema from every params file, and from a preset copied over params.yaml."""
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=params.schema.json", first
    for folder in (path.parent, ROOT):  # where it is, and where `cp presets/<name>.yaml params.yaml` puts it
        assert (folder / "params.schema.json").read_bytes() == (ROOT / "params.schema.json").read_bytes()
