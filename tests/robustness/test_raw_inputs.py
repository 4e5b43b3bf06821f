"""Raw inputs outside ``data/`` are DVC dependencies through the ``inputs`` stage's manifests: an edited
file behind a corpus ``files`` glob makes the corpus stage stale; untouched, nothing downstream reruns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.checkout import make_project, run
from tests.conftest import SMOKE

pytestmark = pytest.mark.slow

DOCUMENT = '{"text": "document %d: a paragraph long enough for the filters to keep it in the corpus."}\n'


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def _stale(project: Path) -> set[str]:
    """Stages DVC reports changed, less the ``always changed`` inputs stage (it runs every time)."""
    status = json.loads(run(["dvc", "status", "--json"], project).stdout or "{}")
    return {stage for stage, why in status.items() if why != ["always changed"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    params = yaml.safe_load(SMOKE.read_text())
    params["corpus"]["sources"] = [{"kind": "files", "glob": "raw/*.jsonl"}]
    root = make_project(tmp_path_factory.mktemp("inputs"), yaml.safe_dump(params, sort_keys=False))
    (root / "raw").mkdir()
    (root / "raw" / "a.jsonl").write_text("".join(DOCUMENT % i for i in range(200)))
    assert _ran(run(["dvc", "repro", "corpus"], root).stdout) == {"inputs", "corpus"}
    return root


def test_untouched_raw_inputs_rerun_nothing_downstream(project):
    manifest = project / "data" / "inputs" / "corpus.json"
    before = manifest.read_bytes()
    assert json.loads(before)["corpus.sources[0]"][0]["path"] == "raw/a.jsonl"
    assert _ran(run(["dvc", "repro", "corpus"], project).stdout) == {"inputs"}
    assert manifest.read_bytes() == before
    assert "corpus" not in _stale(project)


def test_an_edited_raw_input_makes_the_corpus_stale(project):
    with (project / "raw" / "a.jsonl").open("a") as handle:
        handle.write(DOCUMENT % 999)
    run(["dvc", "repro", "inputs"], project)
    assert "corpus" in _stale(project)
    assert _ran(run(["dvc", "repro", "corpus"], project).stdout) == {"inputs", "corpus"}
    assert "corpus" not in _stale(project)
