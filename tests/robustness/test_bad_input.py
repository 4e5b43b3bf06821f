"""The bad-input catalogue: each case exits with code 2, names the culprit (a key path or a file),
and leaves the project's tree exactly as it was (listing with sizes and content hashes compared).

Cases run the real CLI in-process inside a throwaway project directory. A shared fixture provides
a trained tokenizer and a saved model for the checkpoint cases.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from tests.conftest import SMOKE


def tree_snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """relative path -> (size, sha256) for every file under ``root``."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def smoke_params(mutate: Callable[[dict], None] | None = None) -> dict:
    params = yaml.safe_load(SMOKE.read_text())
    if mutate:
        mutate(params)
    return params


def files_source(glob: str, text_field: str = "text") -> Callable[[dict], None]:
    def mutate(p: dict) -> None:
        p["corpus"]["sources"] = [{"kind": "files", "glob": glob, "text_field": text_field}]

    return mutate


@dataclass
class Case:
    name: str
    argv: list[str]
    culprit: str  # must appear in the message
    mutate: Callable[[dict], None] | None = None
    prepare: Callable[[Path], None] = field(default=lambda root: None)
    params_text: str | None = None  # raw params.yaml text instead of the mutated smoke preset


def _cell(**fields) -> Callable[[dict], None]:
    return lambda p: p["pretrain"]["cells"]["cd-flm"].update(fields)


def _write(path: str, data: bytes) -> Callable[[Path], None]:
    def prepare(root: Path) -> None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)

    return prepare


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


VALIDATE = ["validate", "params.yaml"]
CORPUS = ["stage", "corpus"]

CASES = [
    # ---------------------------------------------------------------------------------- params
    Case(
        "unknown key", VALIDATE, "pretrain.sequence_length", lambda p: p["pretrain"].update(sequence_length=3)
    ),
    Case("wrong type", VALIDATE, "pretrain.seq_len", lambda p: p["pretrain"].update(seq_len="long")),
    Case("zero budget", VALIDATE, "pretrain.cells.cd-flm.budget.flops", _cell(budget={"flops": 0})),
    Case("negative budget", VALIDATE, "pretrain.cells.cd-flm.budget.tokens", _cell(budget={"tokens": -1})),
    Case(
        "two budgets", VALIDATE, "pretrain.cells.cd-flm.budget", _cell(budget={"tokens": 1e6, "flops": 1e12})
    ),
    Case(
        "budget below one step", VALIDATE, "pretrain.cells.cd-flm.budget.tokens", _cell(budget={"tokens": 5})
    ),
    Case("undefined model size", VALIDATE, "pretrain.cells.cd-flm.model", _cell(model="huge")),
    Case("unknown architecture", VALIDATE, "pretrain.cells.cd-flm.arch", _cell(arch="rnn")),
    Case("unknown objective", VALIDATE, "pretrain.cells.cd-flm.objective", _cell(objective="contrastive")),
    Case("meaningless pair", VALIDATE, "pretrain.cells.cd-flm.objective", _cell(arch="encoder_decoder")),
    Case(
        "bad objective option",
        VALIDATE,
        "pretrain.cells.cd-flm.options",
        _cell(objective="prefix_lm", arch="noncausal_decoder", options={"noise": 1}),
    ),
    Case(
        "sequence too short for spans",
        VALIDATE,
        "pretrain.cells.cd-flm.objective",
        _cell(objective="span_corruption", options={"noise_density": 0.5, "mean_noise_span_length": 100}),
    ),
    Case(
        "unsafe cell name ../x",
        VALIDATE,
        "pretrain.cells.../x",
        lambda p: p["pretrain"]["cells"].update({"../x": p["pretrain"]["cells"]["cd-flm"]}),
    ),
    Case(
        "cell name with spaces",
        VALIDATE,
        "pretrain.cells.my cell",
        lambda p: p["pretrain"]["cells"].update({"my cell": p["pretrain"]["cells"]["cd-flm"]}),
    ),
    Case(
        "heads do not divide d_model",
        VALIDATE,
        "models.nano",
        lambda p: p["models"]["nano"].update(n_heads=3),
    ),
    Case(
        "min_chars above max_chars",
        VALIDATE,
        "corpus.filters",
        lambda p: p["corpus"]["filters"].update(min_chars=50, max_chars=40),
    ),
    Case(
        "vocab smaller than the specials",
        VALIDATE,
        "tokenizer.vocab_size",
        lambda p: p["tokenizer"].update(vocab_size=320),
    ),
    Case(
        "tokenizer dir that does not exist",
        VALIDATE,
        "tokenizer.pretrained",
        lambda p: p.update(tokenizer={"pretrained": "nowhere/tok"}),
    ),
    Case(
        "evaluated model not defined",
        VALIDATE,
        "evaluate.models.ghost",
        lambda p: p["evaluate"]["models"].update(ghost="pretrain"),
    ),
    Case(
        "unknown source kind",
        VALIDATE,
        "corpus.sources[0]",
        lambda p: p["corpus"].update(sources=[{"kind": "ftp", "url": "x"}]),
    ),
    Case(
        "adaptation cycle",
        VALIDATE,
        "adapt.a.from",
        lambda p: p["adapt"].update(
            {
                "a": {
                    "from": "adapt/b",
                    "arch": "causal_decoder",
                    "objective": "full_lm",
                    "budget": {"flops": 1e9},
                },
                "b": {
                    "from": "adapt/a",
                    "arch": "causal_decoder",
                    "objective": "full_lm",
                    "budget": {"flops": 1e9},
                },
            }
        ),
    ),
    Case(
        "adapting from an unknown model",
        VALIDATE,
        "adapt.x.from",
        lambda p: p["adapt"].update(
            {
                "x": {
                    "from": "pretrain/ghost",
                    "arch": "causal_decoder",
                    "objective": "full_lm",
                    "budget": {"flops": 1e9},
                },
            }
        ),
    ),
    Case(
        "invalid adaptation target pair",
        VALIDATE,
        "adapt.x.objective",
        lambda p: p["adapt"].update(
            {
                "x": {
                    "from": "pretrain/cd-flm",
                    "arch": "encoder_decoder",
                    "objective": "full_lm",
                    "budget": {"flops": 1e9},
                },
            }
        ),
    ),
    Case(
        "warm-up without random cross-attention",
        VALIDATE,
        "adapt.x.warmup_steps",
        lambda p: p["adapt"].update(
            {
                "x": {
                    "from": "pretrain/cd-flm",
                    "arch": "encoder_decoder",
                    "objective": "prefix_lm",
                    "budget": {"flops": 1e9},
                    "warmup_steps": 5,
                },
            }
        ),
    ),
    Case(
        "finetuned model not evaluated",
        VALIDATE,
        "evaluate.models",
        lambda p: p["evaluate"]["models"].pop("cd-flm-mtf"),
    ),
    Case("not YAML", VALIDATE, "params.yaml", params_text="seed: [unclosed\n"),
    Case("top level not a mapping", VALIDATE, "params.yaml", params_text="- 1\n- 2\n"),
    Case("params file missing", ["validate", "absent.yaml"], "absent.yaml"),
    # ---------------------------------------------------------------------------------- CLI
    Case("unknown stage", ["stage", "bake"], "bake"),
    Case("cell stage without --cell", ["stage", "pretrain"], "--cell"),
    Case("unknown cell", ["stage", "pretrain", "--cell", "ghost"], "ghost"),
    Case(
        "evaluate before its model exists",
        ["stage", "evaluate", "--cell", "cd-flm"],
        "data/models/pretrain/cd-flm",
    ),
    # ---------------------------------------------------------------------------------- corpus files
    Case("glob matching nothing", CORPUS, "corpus.sources[0].glob", files_source("raw/*.jsonl")),
    Case(
        "empty after filters",
        CORPUS,
        "min_chars",
        lambda p: p["corpus"]["filters"].update(min_chars=100000, max_chars=200000),
    ),
    Case(
        "truncated gzip",
        CORPUS,
        "raw/a.jsonl.gz",
        files_source("raw/*.jsonl.gz"),
        _write("raw/a.jsonl.gz", _gz('{"text": "hello there, a long enough document"}\n' * 50)[:-30]),
    ),
    Case(
        "corrupt parquet",
        CORPUS,
        "raw/a.parquet",
        files_source("raw/*.parquet"),
        _write("raw/a.parquet", b"PAR1 this is not really parquet PAR1"),
    ),
    Case(
        "missing text field",
        CORPUS,
        "body",
        files_source("raw/*.jsonl", text_field="body"),
        _write("raw/a.jsonl", b'{"text": "some document text that is long enough to keep"}\n'),
    ),
    Case(
        "unparseable JSON line",
        CORPUS,
        "raw/a.jsonl",
        files_source("raw/*.jsonl"),
        _write("raw/a.jsonl", b'{"text": "ok document that is long enough to keep"}\n{"text": oops\n'),
    ),
    Case("empty file", CORPUS, "corpus", files_source("raw/*.jsonl"), _write("raw/a.jsonl", b"")),
    # ---------------------------------------------------------------------------------- tokenizer dir
    Case(
        "tokenizer dir without tokenizer.json",
        ["stage", "tokenize"],
        "tok",
        lambda p: p.update(tokenizer={"pretrained": "tok"}),
        _write("tok/README", b"not a tokenizer"),
    ),
    Case(
        "tokenizer.json that is not JSON",
        ["stage", "tokenize"],
        "tok",
        lambda p: p.update(tokenizer={"pretrained": "tok"}),
        _write("tok/tokenizer.json", b"{not json"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_exits_2_names_culprit_and_writes_nothing(case: Case, tmp_path, monkeypatch):
    text = case.params_text if case.params_text is not None else yaml.safe_dump(smoke_params(case.mutate))
    (tmp_path / "params.yaml").write_text(text)
    case.prepare(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = tree_snapshot(tmp_path)
    result = CliRunner().invoke(app, case.argv)
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}\n{result.exception!r}"
    assert case.culprit in result.output, result.output
    assert tree_snapshot(tmp_path) == before


# ---------------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    """A project with a trained tokenizer and a saved (random) cd-flm model, as the stages lay them out."""
    from pretrainlab.atomic import write_json
    from pretrainlab.tokenization.load import load_tokenizer
    from pretrainlab.tokenization.train_bpe import wrap_for_transformers  # noqa: F401 - import check
    from tests.report.records import training
    from tests.tiny_pretrained import save_tiny_cd_flm

    root = tmp_path_factory.mktemp("ckpt")
    tok_dir = root / "data" / "tokenizer"
    _train_tiny_tokenizer(tok_dir)
    _, specials = load_tokenizer(tok_dir)
    save_tiny_cd_flm(root, tok_dir, specials)
    write_json(root / "metrics" / "pretrain" / "cd-flm.json", training().as_json())  # its finished-marker
    return root


def _train_tiny_tokenizer(out_dir: Path) -> None:
    from pretrainlab.config.schema import TokenizerConfig
    from pretrainlab.tokenization.train_bpe import train_tokenizer

    corpus = out_dir.parent / "corpus"
    import pyarrow as pa

    from pretrainlab.corpus.shards import ShardWriter

    texts = [
        f"document number {i} talks about the city of Velmora and its {i * 7} people." for i in range(200)
    ]
    writer = ShardWriter(corpus / "train")
    writer.write(pa.table({"text": texts, "source": ["t"] * len(texts)}))
    writer.close()
    train_tokenizer(corpus, TokenizerConfig(vocab_size=512, sentinels=100), out_dir)


def _damage(kind: str, model_dir: Path) -> None:
    weights = model_dir / "model.safetensors"
    if kind == "truncated safetensors":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif kind == "wrong architecture":
        config = yaml.safe_load((model_dir / "config.json").read_text())
        config["model_type"] = "t5gemma"
        (model_dir / "config.json").write_text(yaml.safe_dump(config))
    elif kind == "wrong vocabulary":
        import json

        config = json.loads((model_dir / "config.json").read_text())
        config["vocab_size"] = 999
        (model_dir / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("kind", ["truncated safetensors", "wrong architecture", "wrong vocabulary"])
def test_bad_checkpoint_exits_2(kind, saved_model, tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(saved_model, project)
    (project / "params.yaml").write_text(yaml.safe_dump(smoke_params()))
    model_dir = project / "data" / "models" / "pretrain" / "cd-flm"
    _damage(kind, model_dir)
    monkeypatch.chdir(project)
    before = tree_snapshot(project)
    result = CliRunner().invoke(app, ["stage", "evaluate", "--cell", "cd-flm"])
    assert result.exit_code == 2, f"{result.output}\n{result.exception!r}"
    assert "data/models/pretrain/cd-flm" in result.output
    assert tree_snapshot(project) == before


def test_unknown_lm_eval_task_exits_2(saved_model, tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(saved_model, project)
    params = smoke_params(lambda p: p["evaluate"].update(lm_eval={"tasks": ["no_such_task_xyz"]}))
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(project)
    before = tree_snapshot(project)
    result = CliRunner().invoke(app, ["stage", "evaluate", "--cell", "cd-flm"])
    assert result.exit_code == 2, f"{result.output}\n{result.exception!r}"
    assert "no_such_task_xyz" in result.output
    assert tree_snapshot(project) == before
