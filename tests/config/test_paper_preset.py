"""presets/gpu-paper.yaml, the paper's study on real data: it validates offline, its MTF cells train on
T0's whole training mixture of P3 subsets (every training dataset, no held-out one), and ``validate``
refuses a copy that slips a P3 subset into a held-out cluster."""

from __future__ import annotations

import copy

import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from pretrainlab.finetuning.clusters import T0
from tests.conftest import ROOT

PAPER = ROOT / "presets" / "gpu-paper.yaml"
GRID = {"cd-flm", "cd-mlm", "nd-plm", "nd-mlm", "ed-plm", "ed-mlm", "nd-ul2"}


def _validate(path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", str(path)])
    return result.exit_code, result.output


def test_paper_preset_validates_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    code, output = _validate(PAPER)
    assert code == 0, output
    assert "ok (7 pretrain cells" in output


def test_paper_preset_is_the_papers_grid_with_mtf_on_t0s_mixture():
    params = yaml.safe_load(PAPER.read_text())
    cells = params["pretrain"]["cells"]
    assert set(cells) == GRID
    assert len({c["budget"]["tokens"] for c in cells.values()}) == 1  # token-matched, as the paper
    assert {a["from"] for a in params["adapt"].values()} == {"pretrain/nd-mlm", "pretrain/cd-flm"}
    for name, cell in params["finetune"].items():
        assert cell["cap"] == 500_000, name  # T0's cap
        sources = cell["sources"]
        assert len(sources) == 313, name  # t-zero's t0_train mixture
        assert {s["path"] for s in sources} == {"bigscience/P3"}
        assert len({s["task"] for s in sources}) == len(sources)
        covered = {(s["cluster"], d) for s in sources for d in T0.training[s["cluster"]]
                   if s["name"].startswith(d.replace("/", "_") + "_")}  # fmt: skip
        assert covered == {(c, d) for c, datasets in T0.training.items() for d in datasets}, name
    assert params["evaluate"]["lm_eval"]["tasks"] == ["t0_eval", "eai_eval"]
    assert set(params["evaluate"]["models"]) == GRID | set(params["adapt"]) | set(params["finetune"])


def test_a_p3_subset_in_a_held_out_cluster_is_refused(tmp_path):
    params = copy.deepcopy(yaml.safe_load(PAPER.read_text()))  # the cells share one list (a YAML alias)
    cell = params["finetune"]["nd-mlm-mtf"]
    cell["sources"] = copy.deepcopy(cell["sources"])
    cell["sources"][5] = {**cell["sources"][5], "name": "super_glue_rte_GPT_3_style", "cluster": "nli",
                          "task": "super_glue_rte_GPT_3_style"}  # fmt: skip
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params))
    code, output = _validate(bad)
    assert code == 2
    assert "finetune.nd-mlm-mtf.sources[5].cluster: 'nli' is held out by the evaluation" in output
    assert "finetune.cd-flm-mtf" not in output  # the other cells keep T0's mixture
