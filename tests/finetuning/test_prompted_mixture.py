"""Finetuning on real prompted datasets (``finetune.<cell>.sources``), on small P3-format fixtures the tests
write: JSON lines, Parquet and a ``save_to_disk`` directory. Never the network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from pretrainlab.config.schema import FinetuneCell
from pretrainlab.errors import UserInputError
from pretrainlab.finetuning.mixture import mixture_rates
from pretrainlab.finetuning.prompted_mixture import build_prompted_mixture
from pretrainlab.models.layout import collate
from pretrainlab.objectives.example import IGNORE
from tests.config.mutated_smoke import mutated_errors, write_mutated

CAP = 25
# task -> (cluster, rows, file): the cap binds for two tasks, not for the third
TASKS = {
    "ag_news_classify": ("topic_classification", 30, "p3/ag_news.jsonl"),
    "imdb_sentiment": ("sentiment", 50, "p3/imdb.parquet"),
    "paws_paraphrase": ("paraphrase_identification", 12, "p3/paws"),
}
LABELS = {
    "ag_news_classify": ["World", "Sports"],
    "imdb_sentiment": ["good", "bad"],
    "paws_paraphrase": ["yes", "no"],
}


def _rows(task: str, n: int) -> dict[str, list]:
    choices = LABELS[task]
    return {
        "inputs_pretokenized": [
            f"{task} item {i}: is story {i * 3} about {choices[i % 2]}?\n" for i in range(n)
        ],
        "targets_pretokenized": [choices[i % 2] for i in range(n)],
        "answer_choices": [choices] * n,
    }


def write_p3(root: Path) -> Path:
    """The three fixture datasets under ``root/p3`` in P3's columns."""
    import datasets

    (root / "p3").mkdir(parents=True, exist_ok=True)
    for task, (_, n, name) in TASKS.items():
        rows, path = _rows(task, n), root / name
        if name.endswith(".jsonl"):
            lines = [
                json.dumps(dict(zip(rows, values, strict=True)))
                for values in zip(*rows.values(), strict=True)
            ]
            path.write_text("\n".join(lines) + "\n")
        elif name.endswith(".parquet"):
            pq.write_table(pa.table(rows), path)
        else:
            datasets.Dataset.from_dict(rows).save_to_disk(str(path))
    return root


def source_list(**overrides) -> list[dict]:
    out = []
    for task, (cluster, _, name) in TASKS.items():
        where = {"kind": "files", "glob": name} if "." in name else {"kind": "disk", "path": name}
        out.append({**where, "cluster": cluster, "task": task, **overrides.get(task, {})})
    return out


def cell(sources: list[dict], cap: int = CAP) -> FinetuneCell:
    return FinetuneCell.model_validate(
        {"from": "pretrain/cd-flm", "budget": {"tokens": 1e5}, "cap": cap, "sources": sources}
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return write_p3(tmp_path_factory.mktemp("p3project"))


@pytest.fixture(scope="module")
def tokenizer_and_specials(project):
    from tests.tiny_tokenizer import tiny_tokenizer

    texts = [t for task, (_, n, _) in TASKS.items() for t in _rows(task, n)["inputs_pretokenized"]]
    return tiny_tokenizer(texts + [" ".join(c) for c in LABELS.values()], vocab_size=400)


def build(project, tokenizer_and_specials, folder, sources, *, arch="causal_decoder", cap=CAP, seed=0):
    tokenizer, specials = tokenizer_and_specials
    return build_prompted_mixture(
        cell(sources, cap),
        "finetune.x",
        tokenizer,
        specials,
        folder,
        seq_len=64,
        arch=arch,
        objective="full_lm",
        seed=seed,
        world=None,
        root=project,
    )


@pytest.fixture(scope="module")
def mixture(project, tokenizer_and_specials, tmp_path_factory):
    return build(project, tokenizer_and_specials, tmp_path_factory.mktemp("mix") / "m", source_list())


def test_mixture_rates_are_examples_proportional_with_the_cap(mixture):
    sizes = {task: n for task, (_, n, _) in TASKS.items()}
    counts = mixture.task_counts()
    assert (
        counts
        == {task: min(n, CAP) for task, n in sizes.items()}
        == {
            "ag_news_classify": 25,
            "imdb_sentiment": 25,
            "paws_paraphrase": 12,
        }
    )
    rates = mixture_rates(sizes, CAP)
    for task, count in counts.items():
        assert count / len(mixture) == pytest.approx(rates[task])
    assert [(t["name"], t["n"], t["k"]) for t in mixture.tasks] == [
        (t, n, min(n, CAP)) for t, n in sizes.items()
    ]


def test_capped_rows_are_distinct_rows_drawn_across_the_source(mixture, tokenizer_and_specials):
    tokenizer, _ = tokenizer_and_specials
    prompts = [tokenizer.decode(mixture[i].inputs) for i in range(len(mixture))]
    assert len(set(prompts)) == len(mixture)  # no row twice
    imdb = sorted(int(p.split()[2].rstrip(":")) for p in prompts if p.startswith("imdb_sentiment"))
    assert len(imdb) == CAP and imdb[-1] >= CAP  # a uniform draw, not the first 25 rows
    tasks = [p.split()[0] for p in prompts[:20]]
    assert len(set(tasks)) > 1  # shuffled: the validation slice at the front is not one task


@pytest.mark.parametrize("arch", ["causal_decoder", "noncausal_decoder", "encoder_decoder"])
def test_loss_is_on_the_target_and_eos_only(project, tokenizer_and_specials, tmp_path, arch):
    tokenizer, specials = tokenizer_and_specials
    mixture = build(project, tokenizer_and_specials, tmp_path / "m", source_list(), arch=arch)
    target_of = {
        prompt: target
        for task, (_, n, _) in TASKS.items()
        for prompt, target in zip(*list(_rows(task, n).values())[:2], strict=True)
    }
    examples = [mixture[i] for i in range(8)]
    input_len = max(len(e.inputs) for e in examples)
    target_len = max(len(e.targets) for e in examples)
    batch = collate(examples, arch, specials, input_len if arch == "encoder_decoder" else 64, target_len)
    for row, example in enumerate(examples):
        prompt = tokenizer.decode(example.inputs)
        assert tokenizer.decode(example.targets) == target_of[prompt] + "</s>"
        labels = batch.labels[row]
        assert labels[labels != IGNORE].tolist() == example.targets.tolist()


def test_a_held_out_cluster_or_dataset_is_refused_at_validate_time(tmp_path, project):
    def add(sources):
        def mutate(raw):
            raw["finetune"]["cd-flm-mtf"]["sources"] = sources

        return mutate

    nli = source_list()
    nli[1]["cluster"] = "nli"
    errors = mutated_errors(tmp_path, add(nli))
    assert any(e.startswith("finetune.cd-flm-mtf.sources[1].cluster: 'nli' is held out") for e in errors), (
        errors
    )

    disguised = source_list()
    disguised[0] = {
        "kind": "hf",
        "path": "bigscience/P3",
        "name": "super_glue_rte_GPT_3_style",
        "cluster": "sentiment",
        "task": "rte",
    }
    errors = mutated_errors(tmp_path, add(disguised))
    assert any(
        "finetune.cd-flm-mtf.sources[0]: 'super_glue/rte' is a held-out dataset" in e for e in errors
    ), errors

    path = write_mutated(tmp_path, add(nli))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "finetune.cd-flm-mtf.sources[1].cluster" in result.output and "'nli'" in result.output


@pytest.mark.parametrize("task", list(TASKS))
def test_a_missing_column_names_the_key_and_lists_the_columns(
    project, tokenizer_and_specials, tmp_path, task
):
    sources = source_list(**{task: {"columns": {"inputs": "prompt"}}})
    i = list(TASKS).index(task)
    with pytest.raises(UserInputError) as info:
        build(project, tokenizer_and_specials, tmp_path / "m", sources)
    message = str(info.value)
    assert message.startswith(f"finetune.x.sources[{i}].columns.inputs: ")
    assert "no column 'prompt'" in message
    assert "columns present: answer_choices, inputs_pretokenized, targets_pretokenized" in message
    assert not (tmp_path / "m").exists()


def test_rank_classification_needs_choices(project, tokenizer_and_specials, tmp_path):
    rows = _rows("ag_news_classify", 6)
    bare = tmp_path / "bare.jsonl"
    pairs = zip(*list(rows.values())[:2], strict=True)
    bare.write_text(
        "".join(json.dumps({"inputs_pretokenized": p, "targets_pretokenized": t}) + "\n" for p, t in pairs)
    )
    source = {
        "kind": "files",
        "glob": "bare.jsonl",
        "cluster": "topic_classification",
        "task": "t",
        "rank_classification": True,
    }
    with pytest.raises(UserInputError) as info:
        build(tmp_path, tokenizer_and_specials, tmp_path / "m", [source])
    assert str(info.value).startswith("finetune.x.sources[0].columns.choices: bare.jsonl has no column")
    assert "rank-classification" in str(info.value)
    assert str(info.value).endswith("columns present: inputs_pretokenized, targets_pretokenized")
    training_only = {**source, "rank_classification": False}  # training itself needs no choices
    assert len(build(tmp_path, tokenizer_and_specials, tmp_path / "ok", [training_only])) == 6

    pq.write_table(
        pa.table({**rows, "answer_choices": [["World", "Sports"]] * 3 + [[]] * 3}), tmp_path / "e.parquet"
    )
    with pytest.raises(
        UserInputError, match=r"^finetune\.x\.sources\[0\]\.columns\.choices: e\.parquet row 3 has no"
    ):
        build(tmp_path, tokenizer_and_specials, tmp_path / "m", [{**source, "glob": "e.parquet"}])
    assert not (tmp_path / "m").exists()


def test_an_unknown_hub_dataset_offline_says_what_to_download(
    project, tokenizer_and_specials, tmp_path, monkeypatch
):
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)  # read at import: patched, not the env
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    source = {
        "kind": "hf",
        "path": "nobody/no-such-p3",
        "name": "x_template",
        "cluster": "sentiment",
        "task": "t",
    }
    with pytest.raises(UserInputError) as info:
        build(project, tokenizer_and_specials, tmp_path / "m", [source])
    assert str(info.value).startswith("finetune.x.sources[0].path: dataset 'nobody/no-such-p3'")
    assert "Download it first while online" in str(info.value)
    assert not (tmp_path / "m").exists()


def test_a_cell_with_only_sources_trains_end_to_end(project, tokenizer_and_specials, tmp_path, monkeypatch):
    from pretrainlab.models.load import MODEL_CARD
    from tests.conftest import SMOKE
    from tests.tiny_pretrained import save_tiny_cd_flm

    tokenizer, specials = tokenizer_and_specials
    root = tmp_path / "study"
    write_p3(root)
    tok_dir = root / "data" / "tokenizer"  # the stage publishes it beside the model
    tokenizer.save_pretrained(str(tok_dir))
    save_tiny_cd_flm(root, tok_dir, specials)
    params = yaml.safe_load(SMOKE.read_text())
    params["finetune"]["cd-flm-mtf"] = {
        "from": "pretrain/cd-flm",
        "budget": {"tokens": 6000},
        "cap": CAP,
        "sources": source_list(),
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(root)
    bad = yaml.safe_load((root / "params.yaml").read_text())
    bad["finetune"]["cd-flm-mtf"]["sources"][1]["columns"] = {"targets": "label"}
    (root / "params.yaml").write_text(yaml.safe_dump(bad))
    result = CliRunner().invoke(app, ["stage", "finetune", "--cell", "cd-flm-mtf"])
    assert result.exit_code == 2
    culprit = "finetune.cd-flm-mtf.sources[1].columns.targets: p3/imdb.parquet has no column 'label'"
    assert culprit in " ".join(result.output.split())
    assert sorted(p.name for p in (root / "data").iterdir()) == ["models", "tokenizer"]  # nothing written

    (root / "params.yaml").write_text(yaml.safe_dump(params))
    result = CliRunner().invoke(app, ["stage", "finetune", "--cell", "cd-flm-mtf"])
    assert result.exit_code == 0, result.output
    written = json.loads((root / "data" / "mixtures" / "cd-flm-mtf" / "tasks.json").read_text())
    assert {t["name"]: t["k"] for t in written} == {
        "ag_news_classify": 25,
        "imdb_sentiment": 25,
        "paws_paraphrase": 12,
    }
    assert sorted(p.name for p in (root / "data" / "mixtures").iterdir()) == [
        "cd-flm-mtf"
    ]  # no temporary left
    finetuned = json.loads((root / "data" / "models" / "finetune" / "cd-flm-mtf" / MODEL_CARD).read_text())
    assert finetuned["mixture_examples"] == 62 - max(1, int(62 * 0.05))  # the rest validate
    metrics = json.loads((root / "metrics" / "finetune" / "cd-flm-mtf.json").read_text())
    assert metrics["steps"] >= 2 and np.isfinite(metrics["train_loss"])


def test_the_inputs_stage_lists_a_cells_source_files_so_an_edit_reruns_it(tmp_path, monkeypatch):
    from pretrainlab.config.load import load_params
    from stages import inputs

    write_p3(tmp_path)
    monkeypatch.chdir(tmp_path)

    def mutate(raw):
        raw["finetune"]["cd-flm-mtf"]["sources"] = source_list()

    study = load_params(write_mutated(tmp_path, mutate))
    params = inputs.Params(**inputs.read(study, inputs.study_keys(study)))
    inputs.run(params, tmp_path)
    manifest = tmp_path / "data" / "inputs" / "finetune.json"
    listed = json.loads(manifest.read_text())
    assert {key: [row["path"] for row in rows] for key, rows in listed.items()} == {
        "finetune.cd-flm-mtf.sources[0]": ["p3/ag_news.jsonl"],
        "finetune.cd-flm-mtf.sources[1]": ["p3/imdb.parquet"],
        "finetune.cd-flm-mtf.sources[2]": sorted(
            p.relative_to(tmp_path).as_posix() for p in (tmp_path / "p3" / "paws").rglob("*") if p.is_file()
        ),
    }
    others = {
        p.name: p.read_bytes()
        for p in (tmp_path / "data" / "inputs").glob("*.json")
        if p.name not in (manifest.name, "sha256-cache.json")
    }
    before = manifest.read_bytes()
    with (tmp_path / "p3" / "imdb.parquet").open("ab") as handle:
        handle.write(b"\0")
    inputs.run(params, tmp_path)
    assert manifest.read_bytes() != before  # the finetune stage depends on it: DVC reruns the cell
    assert {
        p.name: p.read_bytes()
        for p in (tmp_path / "data" / "inputs").glob("*.json")
        if p.name not in (manifest.name, "sha256-cache.json")
    } == others
