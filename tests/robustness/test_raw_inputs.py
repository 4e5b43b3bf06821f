"""Raw inputs outside ``data/`` are DVC dependencies through the ``inputs`` stage's manifests: an edited
file behind a corpus ``files`` glob makes the corpus stage stale; untouched, nothing downstream reruns.
Every kind of raw input (files glob, local hf folder, pretrained tokenizer, an adaptation's sources,
a finetune cell's prompted sources, lm-eval task YAMLs) is listed, and an edit changes only its consumer's manifest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.checkout import INPUTS_STAGE, make_project, run
from tests.conftest import SMOKE

DOCUMENT = '{"text": "document %d: a paragraph long enough for the filters to keep it in the corpus."}\n'


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def _stale(project: Path) -> set[str]:
    """Stages DVC reports changed, less the ``always changed`` inputs stage (it runs every time)."""
    status = json.loads(run(["dvc", "status", "--json"], project).stdout or "{}")
    return {stage for stage, why in status.items() if why != ["always changed"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A DVC project whose corpus is one raw file, its corpus stage run."""
    params = yaml.safe_load(SMOKE.read_text())
    params["corpus"]["sources"] = [{"kind": "files", "glob": "raw/*.jsonl"}]
    root = make_project(tmp_path_factory.mktemp("inputs"), yaml.safe_dump(params, sort_keys=False))
    (root / "raw").mkdir()
    (root / "raw" / "a.jsonl").write_text("".join(DOCUMENT % i for i in range(200)))
    assert _ran(run(["dvc", "repro", "corpus"], root).stdout) == {INPUTS_STAGE, "corpus"}
    return root


@pytest.mark.slow
def test_untouched_raw_inputs_rerun_nothing_downstream(project):
    manifest = project / "data" / "inputs" / "corpus.json"
    before = manifest.read_bytes()
    assert json.loads(before)["corpus.sources[0]"][0]["path"] == "raw/a.jsonl"
    assert _ran(run(["dvc", "repro", "corpus"], project).stdout) == {INPUTS_STAGE}
    assert manifest.read_bytes() == before
    assert "corpus" not in _stale(project)


@pytest.mark.slow
def test_an_edited_raw_input_makes_the_corpus_stale(project):
    with (project / "raw" / "a.jsonl").open("a") as handle:
        handle.write(DOCUMENT % 999)
    run(["dvc", "repro", INPUTS_STAGE], project)
    assert "corpus" in _stale(project)
    assert _ran(run(["dvc", "repro", "corpus"], project).stdout) == {INPUTS_STAGE, "corpus"}
    assert "corpus" not in _stale(project)


# ---------------------------------------------------------------------------------- every kind of raw input
def _study_with_every_raw_input(root: Path):
    """A project naming each kind of raw input: a files glob, a local hf folder, a pretrained tokenizer
    folder, an adaptation's own sources, a finetune cell's prompted files, lm-eval task YAMLs and a local
    copy of an lm-eval dataset; returns the inputs stage's Params."""
    from pretrainlab.config.load import load_params
    from stages import inputs

    for rel, text in {
        "raw/a.jsonl": DOCUMENT % 1,
        "hf_local/train.jsonl": DOCUMENT % 2,
        "tok/tokenizer.json": "{}",
        "more/b.jsonl": DOCUMENT % 3,
        "p3/qa.jsonl": '{"inputs_pretokenized": "Q: why?", "targets_pretokenized": "because"}\n',
        "tasks/t.yaml": "task: t\n",
        "cb_local/validation.jsonl": '{"premise": "p", "hypothesis": "h", "label": 0}\n',
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    params = yaml.safe_load(SMOKE.read_text())
    params["corpus"]["sources"] = [
        {"kind": "files", "glob": "raw/*.jsonl"},
        {"kind": "hf", "path": "./hf_local"},
        {"kind": "synthworld", "documents": 100, "entities": 20},
    ]
    params["tokenizer"] = {"pretrained": "tok"}
    first = next(iter(params["adapt"]))
    params["adapt"][first]["sources"] = [{"kind": "files", "glob": "more/*.jsonl"}]
    tuned = next(iter(params["finetune"]))
    params["finetune"][tuned]["sources"] = [
        {"kind": "files", "glob": "p3/*.jsonl", "cluster": "closed_book_qa", "task": "qa"}
    ]
    params["evaluate"]["lm_eval"] = {
        "tasks": ["t"],
        "include_path": "tasks",
        "dataset_paths": {"aps/super_glue/cb": "cb_local"},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    study = load_params(root / "params.yaml")
    return inputs, inputs.Params(**inputs.read(study, inputs.study_keys(study)))


def _manifests(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "data" / "inputs").glob("*.json"))}


def test_each_kind_of_raw_input_is_listed_and_an_edit_changes_only_its_consumers_manifest(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    inputs, params = _study_with_every_raw_input(tmp_path)
    inputs.run(params, tmp_path)
    first = _manifests(tmp_path)
    listed = {
        name: sorted(row["path"] for rows in json.loads(text).values() for row in rows)
        for name, text in first.items()
        if name != "sha256-cache.json"
    }
    assert listed == {
        "corpus.json": ["hf_local/train.jsonl", "raw/a.jsonl"],
        "tokenizer.json": ["tok/tokenizer.json"],
        "adapt.json": ["more/b.jsonl"],
        "finetune.json": ["p3/qa.jsonl"],
        "evaluate.json": ["cb_local/validation.jsonl", "tasks/t.yaml"],
    }
    inputs.run(params, tmp_path)
    assert _manifests(tmp_path) == first  # unchanged inputs: byte-identical, nothing reruns

    for edited, consumer in [
        ("hf_local/train.jsonl", "corpus.json"),
        ("tok/tokenizer.json", "tokenizer.json"),
        ("more/b.jsonl", "adapt.json"),
        ("p3/qa.jsonl", "finetune.json"),
        ("tasks/t.yaml", "evaluate.json"),
        ("cb_local/validation.jsonl", "evaluate.json"),
    ]:
        before = _manifests(tmp_path)
        with (tmp_path / edited).open("a") as handle:
            handle.write("\n")
        inputs.run(params, tmp_path)
        after = _manifests(tmp_path)
        changed = {name for name in after if after[name] != before.get(name)} - {"sha256-cache.json"}
        assert changed == {consumer}, edited
