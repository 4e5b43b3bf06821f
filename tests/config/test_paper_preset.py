"""presets/gpu-paper.yaml, the paper's study on real data: it validates offline, its MTF cells train on
T0's whole training mixture of P3 subsets (every training dataset, no held-out one), ``validate``
refuses a copy that slips a P3 subset into a held-out cluster, and (slow) a CPU-sized copy of it runs
end to end under ``dvc repro`` on local fixtures."""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from pretrainlab.evaluation.lm_eval_suites import T0_DATASETS
from pretrainlab.finetuning.clusters import T0
from tests.conftest import ROOT
from tests.evaluation.test_t0_eval import write_t0_eval_datasets

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


# ------------------------------------------------------------------- the CPU-sized copy, end to end
CAP = 4  # rows per P3 task: the fixtures have 2-6, so some tasks are capped
LIMIT = 2  # items per lm-eval task
# What the copy finetunes and evaluates: ordering (b)'s two MTF cells (non-causal and encoder-decoder,
# each on all 313 P3 tasks) with their sources, and CD:FLM, so T0-Eval runs on every architecture. Each
# of the paper's 14 evaluations costs ~17 s of T0-Eval on the fixtures (the same code path for each
# model of an architecture); every pretraining cell and adaptation of the preset still trains.
FINETUNED = ("nd-mlm-mtf", "ed-mlm-mtf")
EVALUATED = ("cd-flm", "nd-mlm", "ed-mlm", *FINETUNED)


def cpu_sized(paper: dict, dataset_paths: dict[str, str]) -> dict:
    """The paper preset's structure (cells, adaptations, MTF cells and their 313 P3 tasks and clusters,
    T0-Eval on :data:`EVALUATED`) at a size two CPU cores run in minutes: a tiny model, tiny budgets,
    synthworld instead of FineWeb, each P3 subset a local ``save_to_disk`` folder ``p3/<subset>`` in P3's
    columns (``files`` sources would do too, at ~80 ms a file to open against ~6 ms), and the suites'
    datasets read from ``dataset_paths``."""
    params = copy.deepcopy(paper)
    params["corpus"] = {
        "sources": [{"kind": "synthworld", "documents": 600, "entities": 60, "seed": 0}],
        "filters": {"min_chars": 32, "max_chars": 20000, "exact_dedup": True,
                    "minhash": {"threshold": 0.8, "num_perm": 64}},
        "val_fraction": 0.05,
    }  # fmt: skip
    params["tokenizer"] = {"vocab_size": 512, "sentinels": 100}
    params["models"] = {"tiny": {"d_model": 32, "n_layers": 2, "n_heads": 2, "d_ff": 64}}
    params["pretrain"].update(seq_len=64, batch_tokens=512, eval_tokens=1024)
    params["pretrain"]["optimizer"] = {
        "lr": 3.0e-3,
        "weight_decay": 0.1,
        "warmup_steps": 5,
        "schedule": "cosine",
    }
    for cell in params["pretrain"]["cells"].values():
        cell.update(model="tiny", budget={"tokens": 8.0e3})
    constant = {"lr": 3.0e-3, "warmup_steps": 2, "schedule": "constant"}
    for cell in params["adapt"].values():
        cell.update(budget={"tokens": 4.0e3}, optimizer=constant)
    params["finetune"] = {name: params["finetune"][name] for name in FINETUNED}
    for cell in params["finetune"].values():
        cell.update(budget={"tokens": 4.0e3}, cap=CAP, optimizer=constant, sources=[
            {"kind": "disk", "path": f"p3/{s['name']}", "cluster": s["cluster"], "task": s["task"]}
            for s in cell["sources"]])  # fmt: skip
    params["evaluate"].update(
        items_per_task=10, held_out_items_per_task=10, bootstrap_samples=100, val_tokens=1024
    )
    params["evaluate"]["lm_eval"].update(limit=LIMIT, dataset_paths=dataset_paths)
    params["evaluate"]["models"] = {m: params["evaluate"]["models"][m] for m in EVALUATED}
    # T0-Eval only: EAI-Eval's 27 harness tasks would add ~30 s per model; it has its own
    # end-to-end test on the same fixtures (tests/evaluation/test_eai_eval.py)
    params["evaluate"]["lm_eval"]["tasks"] = ["t0_eval"]
    params["resources"] = {"device": "cpu", "precision": "fp32", "nproc_per_node": 1, "compile": False,
                           "log_interval": 10, "checkpoint_interval": 10}  # fmt: skip
    params["orchestration"] = {"max_parallel": 2}
    return params


def write_p3_subsets(project, names: list[str]) -> dict[str, int]:
    """Each P3 subset as a few rows in P3's columns, saved where the copy's sources look; -> rows."""
    import datasets

    rows = {}
    for i, name in enumerate(names):
        rows[name] = 2 + i % 5
        data = [{"inputs_pretokenized": f"Task {name}, example {j}: is the answer yes or no?",
                 "targets_pretokenized": ["yes", "no"][j % 2], "answer_choices": ["yes", "no"]}
                for j in range(rows[name])]  # fmt: skip
        datasets.Dataset.from_list(data).save_to_disk(str(project / "p3" / name))
    return rows


@pytest.fixture(scope="module")
def paper_copy(tmp_path_factory):
    """The CPU-sized copy run by ``dvc repro`` offline: (project, its params, P3 rows, stages run)."""
    from tests.checkout import make_project, run

    tmp = tmp_path_factory.mktemp("paper")
    with pytest.MonkeyPatch.context() as patch:
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            patch.setenv(var, "1")
        patch.setenv("HF_HOME", str(tmp / "hf"))
        params = cpu_sized(yaml.safe_load(PAPER.read_text()), write_t0_eval_datasets(tmp / "t0_data"))
        project = make_project(tmp / "project", yaml.safe_dump(params, sort_keys=False))
        names = [s["task"] for s in yaml.safe_load(PAPER.read_text())["finetune"]["cd-flm-mtf"]["sources"]]
        rows = write_p3_subsets(project, names)
        out = run(["dvc", "repro"], project, timeout=1800).stdout
    return project, params, rows, set(re.findall(r"Running stage '([^']+)'", out))


@pytest.mark.slow
def test_cpu_sized_paper_study_runs_end_to_end(paper_copy):
    project, params, rows, ran = paper_copy
    expected = {"corpus", "tokenize", "report"}
    expected |= {f"pretrain@{c}" for c in params["pretrain"]["cells"]}
    expected |= {f"adapt@{c}" for c in params["adapt"]} | {f"finetune@{c}" for c in params["finetune"]}
    expected |= {f"evaluate@{m}" for m in params["evaluate"]["models"]}
    assert expected <= ran, sorted(expected - ran)

    # every MTF cell trained on the P3 mixture: each of T0's 313 tasks, in its cluster, capped as T0 did
    for name, cell in params["finetune"].items():
        tasks = json.loads((project / "data" / "mixtures" / name / "tasks.json").read_text())
        assert [t["name"] for t in tasks] == [s["task"] for s in cell["sources"]], name
        assert [t["cluster"] for t in tasks] == [s["cluster"] for s in cell["sources"]], name
        assert all(t["n"] == rows[t["name"]] and t["k"] == min(t["n"], CAP) for t in tasks), name

    # every evaluated model has T0-Eval's eleven datasets, and the report shows each in that section
    report = (project / "reports" / "study.md").read_text()
    assert "## T0-Eval and EAI-Eval" in report
    section = report.split("## T0-Eval and EAI-Eval", 1)[1]
    for model in params["evaluate"]["models"]:
        metrics = json.loads((project / "metrics" / "evaluate" / f"{model}.json").read_text())
        assert set(metrics["lm_eval_suites"]["t0_eval"]["datasets"]) == set(T0_DATASETS), model
        assert f"`{model}`" in section, model
