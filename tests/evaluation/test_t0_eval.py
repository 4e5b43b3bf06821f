"""The T0-Eval suite end to end on local fixtures in the real datasets' formats, and its bad input.

Each of T0's 11 held-out datasets gets two dozen rows with the hub's columns, written by the test, and
``dataset_paths`` points the tasks' hub names at them, as on a cluster with the datasets on a shared
filesystem. Models are tiny random ones (CD and ED through lm-eval's HF backends, ND through ours).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.lm_eval_bridge import evaluate_lm_eval, load_tasks
from pretrainlab.evaluation.lm_eval_suites import (
    EAI_EVAL,
    EAI_EVAL_TASKS,
    T0_DATASETS,
    T0_EVAL,
    expand_suites,
)
from pretrainlab.metrics_contract import SuiteResult
from tests.conftest import ROOT

TASKS = ROOT / "lm_eval_tasks"
ROWS = 24
LIMIT = 6  # items per template: the suite's arithmetic, not its accuracy, is under test
ARCHS = ("causal_decoder", "noncausal_decoder", "encoder_decoder")  # HF causal, ours, HF seq2seq
NAMES = ["Ana", "Bram", "Corin", "Dara", "Eli", "Fenna"]
PLACES = ["Kelso", "Varn", "Dunmere", "Ostrava Bay"]


def _nli(i: int, labels: int) -> dict:
    name, place = NAMES[i % len(NAMES)], PLACES[i % len(PLACES)]
    return {"premise": f"{name} lives in {place} and works at the mill.", "hypothesis": f"{name} lives in {place}.",
            "label": i % labels}  # fmt: skip


def _rows(dataset: str, i: int) -> dict:
    """Row ``i`` of ``dataset`` with the hub dataset's columns."""
    name, other, place = NAMES[i % 6], NAMES[(i + 1) % 6], PLACES[i % 4]
    if dataset == "cb":
        return _nli(i, 3)
    if dataset == "rte":
        return {**_nli(i, 2), "idx": i}
    if dataset == "anli":
        return {"uid": f"u{i}", **_nli(i, 3), "reason": ""}
    if dataset == "wsc.fixed":
        text = f"{name} thanked {other} because she had helped."
        return {"text": text, "span1_index": 0, "span2_index": 4, "span1_text": name, "span2_text": "she",
                "idx": i, "label": i % 2}  # fmt: skip
    if dataset == "copa":
        return {"premise": f"{name} missed the boat.", "choice1": "The boat left early.",
                "choice2": f"{name} ate bread.", "question": ["cause", "effect"][i % 2], "idx": i,
                "label": i % 2}  # fmt: skip
    if dataset == "wic":
        return {"word": "bank", "sentence1": f"{name} sat on the bank.", "sentence2": f"{other} went to the bank.",
                "start1": 0, "start2": 0, "end1": 4, "end2": 4, "idx": i, "label": i % 2}  # fmt: skip
    if dataset == "winogrande":
        return {"sentence": f"{name} gave {other} a book because _ was kind.", "option1": name, "option2": other,
                "answer": str(i % 2 + 1)}  # fmt: skip
    if dataset == "hellaswag":
        return {"ind": i, "activity_label": "Baking", "ctx_a": f"{name} mixes the flour.",
                "ctx_b": "then", "ctx": f"{name} mixes the flour. then", "endings": [
                    "bakes the bread.", "paints the wall.", "sings a song.", "reads a map."],
                "source_id": f"s{i}", "split": "val", "split_type": "indomain", "label": str(i % 4)}  # fmt: skip
    if dataset == "story_cloze":
        return {"story_id": f"s{i}", "input_sentence_1": f"{name} went to {place}.",
                "input_sentence_2": "It rained.", "input_sentence_3": f"{name} had no coat.",
                "input_sentence_4": f"{name} got wet.", "sentence_quiz1": f"{name} went home to dry off.",
                "sentence_quiz2": f"{name} flew to the moon.", "answer_right_ending": i % 2 + 1}  # fmt: skip
    raise AssertionError(dataset)


def _write(path: Path, dataset: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(_rows(dataset, i)) + "\n" for i in range(ROWS)))


def write_t0_eval_datasets(root: Path) -> dict[str, str]:
    """The eleven datasets as local files under ``root``, keyed by the hub names the task YAMLs use
    (``evaluate.lm_eval.dataset_paths``): SuperGLUE as one folder with a subfolder per config, ANLI as one
    folder of its three dev splits, the rest by ``path/config``, one as a single file."""
    for config in ("cb", "rte", "wsc.fixed", "copa", "wic"):
        _write(root / "super_glue" / config / "validation.jsonl", config)
    for r in (1, 2, 3):
        _write(root / "anli" / f"dev_r{r}.jsonl", "anli")
    _write(root / "winogrande" / "validation.jsonl", "winogrande")
    _write(root / "hellaswag" / "validation.jsonl", "hellaswag")
    _write(root / "story_cloze.jsonl", "story_cloze")
    return {
        "aps/super_glue": str(root / "super_glue"),
        "facebook/anli": str(root / "anli"),
        "allenai/winogrande/winogrande_xl": str(root / "winogrande"),
        "Rowan/hellaswag": str(root / "hellaswag"),
        "LSDSem/story_cloze/2016": str(root / "story_cloze.jsonl"),
    }


@pytest.fixture(scope="module")
def dataset_paths(tmp_path_factory) -> dict[str, str]:
    return write_t0_eval_datasets(tmp_path_factory.mktemp("t0_data"))


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network and an empty datasets cache: only the local files can be read."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    pytest.importorskip("lm_eval")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets")
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    """A tiny byte-level BPE and a random 2-layer model per architecture, each with its card."""
    from pretrainlab.config.schema import ModelSize
    from pretrainlab.models.build import build_model
    from pretrainlab.synthworld import generate_documents
    from tests.tiny_tokenizer import tiny_tokenizer

    tokenizer, specials = tiny_tokenizer(list(generate_documents(entities=40, documents=120, seed=0)))
    root = tmp_path_factory.mktemp("t0_models")
    dirs = {}
    for arch in ARCHS:
        dirs[arch] = root / arch
        size = ModelSize(d_model=32, n_layers=2, n_heads=2, d_ff=64)
        build_model(arch, size, specials, seq_len=128, seed=0).save_pretrained(dirs[arch])
        tokenizer.save_pretrained(dirs[arch])
        card = {
            "name": arch,
            "kind": "pretrain",
            "arch": arch,
            "objective": "full_lm",
            "prompt_format": "plain",
        }
        (dirs[arch] / "pretrainlab.json").write_text(json.dumps(card))
    return dirs


@pytest.mark.parametrize("arch", ARCHS)
def test_t0_eval_reports_median_and_mean_over_templates(model_dirs, dataset_paths, arch):
    summary, suites = evaluate_lm_eval(
        model_dirs[arch], arch=arch, tasks=[T0_EVAL], include_path=TASKS, limit=LIMIT,
        dataset_paths=dataset_paths, batch_size=32,
    )  # fmt: skip
    t0 = suites[T0_EVAL]
    assert set(t0.datasets) == set(T0_DATASETS)  # all eleven held-out datasets
    for name, dataset in t0.datasets.items():
        assert len(dataset.templates) >= 2, name  # T0 asked each dataset through many templates
        reported = [summary[task]["acc"] for task in dataset.templates]  # what lm-eval reported
        assert dataset.median == pytest.approx(statistics.median(reported))
        assert dataset.mean == pytest.approx(statistics.fmean(reported))
        for task, template in dataset.templates.items():
            assert template.n == summary[task]["n"] == LIMIT
            assert len(template.correct) == LIMIT and set(template.correct) <= {0, 1}
            assert statistics.fmean(template.correct) == pytest.approx(template.accuracy)  # pairable items
    assert any(d.median != pytest.approx(d.mean) for d in t0.datasets.values())  # median is no mean here
    assert t0.average == pytest.approx(statistics.fmean(d.median for d in t0.datasets.values()))
    assert set(summary) == {task for d in t0.datasets.values() for task in d.templates}
    assert SuiteResult.model_validate(json.loads(json.dumps(t0.as_json()))) == t0  # JSON round trip


def test_every_t0_template_has_answer_choices_and_scores_a_validation_split():
    from pretrainlab.evaluation.lm_eval_bridge import task_manager

    manager = task_manager([T0_EVAL], TASKS)
    tasks = sorted(manager.task_index[T0_EVAL].tags)
    assert len(tasks) >= 2 * len(T0_DATASETS)
    for task in tasks:
        config = manager._factory._load_full_config(manager.task_index[task])
        assert config["output_type"] == "multiple_choice" and config["doc_to_choice"], task
        assert config.get("test_split") is None and config["validation_split"], task  # T0 scored dev sets


# ------------------------------------------------------------------------------------------ bad input
def test_missing_dataset_is_one_line_naming_it_and_what_to_download():
    with pytest.raises(UserInputError) as error:
        load_tasks(["t0_eval_cb"], TASKS)  # nothing cached, no dataset_paths, offline
    message = str(error.value)
    assert error.value.exit_code == 2 and "\n" not in message
    assert message.startswith("evaluate.lm_eval.tasks: task t0_cb_")
    assert "aps/super_glue/cb" in message and "datasets.load_dataset('aps/super_glue', 'cb')" in message
    assert "evaluate.lm_eval.dataset_paths" in message


def test_evaluate_stage_stops_on_a_missing_dataset_before_any_work(tmp_path, monkeypatch):
    """`pretrainlab stage evaluate` with t0_eval and no datasets: exit 2, one line, nothing written."""
    import shutil

    import yaml
    from typer.testing import CliRunner

    from pretrainlab.cli import app
    from pretrainlab.synthworld import generate_documents
    from tests.conftest import SMOKE
    from tests.tiny_pretrained import save_tiny_cd_flm
    from tests.tiny_tokenizer import tiny_tokenizer

    project = tmp_path / "project"
    tokenizer, specials = tiny_tokenizer(list(generate_documents(entities=20, documents=40, seed=0)))
    tokenizer.save_pretrained(project / "data" / "tokenizer")
    save_tiny_cd_flm(project, project / "data" / "tokenizer", specials)
    shutil.copytree(TASKS, project / "lm_eval_tasks")
    params = yaml.safe_load(SMOKE.read_text())
    params["evaluate"]["lm_eval"] = {"tasks": [T0_EVAL], "include_path": "lm_eval_tasks"}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(project)
    before = sorted(str(p.relative_to(project)) for p in project.rglob("*"))
    result = CliRunner().invoke(app, ["stage", "evaluate", "--cell", "cd-flm"])
    assert result.exit_code == 2, f"{result.output}\n{result.exception!r}"
    line = result.output.strip()
    assert "\n" not in line and "needs dataset" in line and "evaluate.lm_eval.dataset_paths" in line
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == before


def test_dataset_paths_folder_without_the_scored_split_names_the_key(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps(_rows("cb", 0)) + "\n")
    with pytest.raises(
        UserInputError, match=r"dataset_paths\.aps/super_glue/cb: no .*validation\..*train\.jsonl"
    ):
        load_tasks(["t0_eval_cb"], TASKS, dataset_paths={"aps/super_glue/cb": str(tmp_path)})


def test_dataset_paths_key_no_task_reads_is_named_in_a_warning(dataset_paths, caplog):
    mapping = {**dataset_paths, "super_glue/cb": dataset_paths["aps/super_glue"]}  # the hub name, misspelt
    loaded = load_tasks(["t0_eval_cb"], TASKS, dataset_paths=mapping)
    assert len(loaded["tasks"]) >= 2  # read from the folder aps/super_glue maps
    warned = [r.getMessage() for r in caplog.records if "dataset_paths" in r.getMessage()]
    assert warned == [
        "evaluate.lm_eval.dataset_paths: no selected task reads facebook/anli, allenai/winogrande/winogrande_xl, "
        "Rowan/hellaswag, LSDSem/story_cloze/2016, super_glue/cb (they read aps/super_glue/cb)"
    ]


def test_template_without_choices_is_refused(tmp_path):
    yaml_text = (TASKS / "t0_eval" / "cb" / "gpt3_style.yaml").read_text()
    (tmp_path / "_t0_dataset").write_text((TASKS / "t0_eval" / "cb" / "_t0_dataset").read_text())
    lines = [line for line in yaml_text.splitlines() if not line.startswith("doc_to_choice")]
    (tmp_path / "no_choices.yaml").write_text("\n".join(lines).replace("t0_cb_gpt3_style", "no_choices"))
    with pytest.raises(UserInputError, match=r"no_choices\.yaml: task no_choices .*no answer choices"):
        load_tasks(["no_choices"], tmp_path)


def test_eai_eval_expands_to_installed_tasks_and_names_the_missing():
    installed = {t.harness for t in EAI_EVAL_TASKS} - {"prost"}
    names, skipped = expand_suites(["example_tiny_mc", EAI_EVAL], installed.__contains__)
    assert names == [
        "example_tiny_mc",
        *(t.harness for t in EAI_EVAL_TASKS if t.harness not in (None, "prost")),
    ]
    assert len(names) == 1 + 26  # the paper's 28 tasks but PROST and TriviaQA
    assert skipped == [
        "PROST (prost: not in the installed lm-eval)",
        "TriviaQA (generative in lm-eval 0.4; the paper's harness scored it by log-likelihood)",
    ]


def test_a_task_scored_by_exact_match_counts_by_it():
    """lm-eval's webqs (in EAI-Eval) reports ``exact_match`` (several right answers), not ``acc``: the
    suite's summary and the per-item correctness both read it."""
    from pretrainlab.evaluation.lm_eval_bridge import item_correctness
    from pretrainlab.evaluation.lm_eval_suites import EAI_EVAL, EAI_EVAL_TASKS, suite_results

    paper = next(t.paper for t in EAI_EVAL_TASKS if t.harness == "webqs")
    samples = {"webqs": [{"doc_id": 1, "exact_match": 0.0}, {"doc_id": 0, "exact_match": 1.0}]}
    correct = item_correctness({"samples": samples})
    assert correct == {"webqs": [1, 0]}
    results = suite_results([EAI_EVAL], {"webqs": {"exact_match": 0.5, "n": 2}}, correct)
    (template,) = results[EAI_EVAL].datasets[paper].templates.values()
    assert template.accuracy == 0.5 and template.correct == [1, 0]
