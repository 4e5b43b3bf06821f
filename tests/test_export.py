"""``pretrainlab export``: a shareable model directory with a complete model card, loaded by stock
transformers in a fresh process with the original's logits; ``--push`` through ``HfApi`` (faked)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pretrainlab import paths
from pretrainlab.atomic import write_json
from pretrainlab.cli import app
from pretrainlab.config.schema import ModelSize
from pretrainlab.export.model_card import SECTIONS
from pretrainlab.metrics_contract import EvaluationMetrics, TrainingMetrics
from pretrainlab.models.build import build_model
from pretrainlab.models.load import load_pretrained
from pretrainlab.models.masks import prefix_lm_attention_mask
from pretrainlab.training.cell import ModelCard, save_model
from tests.tiny_tokenizer import tiny_tokenizer

runner = CliRunner()
SEQ_LEN = 32
SIZE = ModelSize(d_model=32, n_layers=2, n_heads=2, d_ff=64)
TEXTS = [f"Question: Where was Mira {i} born?\nAnswer: Velmora, by the river {i % 7}." for i in range(200)]


def _training_metrics(arch: str, objective: str, tokens: int, flops: float) -> dict:
    return TrainingMetrics.model_validate(
        {
            **dict(arch=arch, objective=objective, steps=3, batch_size=4, tokens_per_step=tokens / 3),
            **dict(padded_tokens_per_step=128, tokens=tokens, padded_positions=tokens, flops=flops),
            **dict(flops_per_token=flops / tokens, parameters=54_321, non_embedding_parameters=12_345),
            **dict(train_loss=3.5, val_loss=3.6, tokens_per_second=1e3, train_seconds=1.0, mfu=None),
            **dict(device="cpu", world_size=1),
        }
    ).as_json()


def _evaluation(name: str, kind: str) -> dict:
    accuracy = {"ci95": (0.5, 0.7), "accuracy_norm": 0.6, "ci95_norm": (0.5, 0.7), "random_baseline": 0.25}
    task = {**accuracy, "accuracy": 0.625, "cluster": "qa", "held_out": True, "n": 40}
    task |= {"accuracy_byte_norm": 0.6, "ci95_byte_norm": (0.5, 0.7)}
    mean = {**accuracy, "accuracy": 0.625, "tasks": ["capital_qa"]}
    return EvaluationMetrics.model_validate(
        {
            **dict(
                model=name, kind=kind, arch="noncausal_decoder", objective="prefix_lm", prompt_format="plain"
            ),
            **dict(val_loss=3.25, bits_per_byte=1.5, val_tokens_scored=4096, tasks={"capital_qa": task}),
            **dict(clusters={"qa": {**mean, "held_out": True}}, held_out=mean, held_in=None),
            "lm_eval": {
                "arc_easy": {"acc": 0.5, "acc_stderr": 0.05, "n": 40},
                "t0_cb_gpt3_style": {"acc": 0.5, "n": 2},
                "t0_cb_can_we_infer": {"acc": 1.0, "n": 2},
            },
            "lm_eval_suites": {
                "t0_eval": {
                    "datasets": {
                        "cb": {
                            "median": 0.75,
                            "mean": 0.75,
                            "templates": {
                                "t0_cb_gpt3_style": {"accuracy": 0.5, "n": 2, "correct": [1, 0]},
                                "t0_cb_can_we_infer": {"accuracy": 1.0, "n": 2, "correct": [1, 1]},
                            },
                        }
                    },
                    "average": 0.75,
                }
            },
        }
    ).as_json()


def _train_a_little(model: torch.nn.Module, arch: str, vocab: int) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    ids = torch.randint(10, vocab, (4, 16), generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        extra = {"decoder_input_ids": ids} if arch == "encoder_decoder" else {}
        model(input_ids=ids, labels=ids, **extra).loss.backward()
        optimizer.step()
        optimizer.zero_grad()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding pretrain/nd-plm, its finetune nd-plm-mtf (evaluated), and pretrain/ed-mlm."""
    root = tmp_path_factory.mktemp("project")
    tokenizer, specials = tiny_tokenizer(TEXTS, vocab_size=400, sentinels=4)
    tokenizer.save_pretrained(str(root / "tokenizer"))
    models = [
        ("pretrain", "nd-plm", "noncausal_decoder", "prefix_lm", None),
        ("finetune", "nd-plm-mtf", "noncausal_decoder", "prefix_lm", "pretrain/nd-plm"),
        ("pretrain", "ed-mlm", "encoder_decoder", "span_corruption", None),
    ]
    for i, (kind, name, arch, objective, source) in enumerate(models):
        model = build_model(arch, SIZE, specials, seq_len=SEQ_LEN, seed=i)
        _train_a_little(model, arch, specials.vocab_size)
        card = ModelCard(
            name, kind, arch, objective, "plain", SEQ_LEN, "abc123", source, 1234 if source else None
        )
        save_model(model, root / paths.model_dir(kind, name), root / "tokenizer", card.as_json("fp-" + name))
        write_json(
            root / paths.metrics_file(kind, name), _training_metrics(arch, objective, 6400 * (i + 1), 2e9)
        )
    write_json(root / paths.metrics_file("evaluate", "nd-plm-mtf"), _evaluation("nd-plm-mtf", "finetune"))
    return root


def _export(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.chdir(project)
    return runner.invoke(app, ["export", *args])


def _snippet_logits(export_dir: Path, out: Path) -> np.ndarray:
    """Run the card's usage snippet in a fresh Python (stock transformers only); its logits."""
    card = (export_dir / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", card, re.S).group(1)  # type: ignore[union-attr]
    script = code + f"\nimport numpy\nnumpy.save({str(out)!r}, logits.detach().numpy())\n"
    subprocess.run([sys.executable, "-c", script], check=True, cwd=export_dir.parent, timeout=600)
    return np.load(out)


def test_export_writes_a_complete_card_and_loads_in_a_fresh_process(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _export(project, monkeypatch, "finetune/nd-plm-mtf", "--to", str(tmp_path / "nd"))
    assert result.exit_code == 0, result.output
    out = tmp_path / "nd"
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "pretrainlab.json"} <= {
        p.name for p in out.iterdir()
    }
    card = (out / "README.md").read_text()
    headings = re.findall(r"(?m)^## (.+)$", card)
    assert headings == list(SECTIONS)
    lineage = card.split("## Lineage")[1].split("##")[0]
    assert lineage.index("`pretrain/nd-plm`") < lineage.index("`finetune/nd-plm-mtf` (from pretrain/nd-plm)")
    assert "multitask prompted finetuning on 1,234 examples" in lineage
    compute = card.split("## Training tokens and FLOPs")[1].split("##")[0]
    assert (
        "| `pretrain/nd-plm` | 6,400 | 2e+09 | 3 |" in compute and "| total | 19,200 | 4e+09 | |" in compute
    )
    assert "| held-out tasks | 62.5% [50.0–70.0] (chance 25.0%) |" in card
    assert "| capital_qa | qa (held out) | 62.5% | 25.0% | 40 |" in card
    assert "| arc_easy | acc | 0.5 |" in card  # lm-evaluation-harness results
    assert (
        "t0_eval (average of the datasets' medians: 75.0%)" in card and "| cb | 75.0% | 75.0% | 2 |" in card
    )
    assert "t0_cb_gpt3_style" not in card  # a suite's templates: summarised, not listed one by one
    assert "prefix_lm" in card.split("## Objective")[1] and "| d_model | 32 |" in card
    assert "attention_mask=mask" in card  # the non-causal prefix mask

    # The card's own snippet, run in a fresh process on the export, gives the original model's logits.
    logits = _snippet_logits(out, tmp_path / "logits.npy")
    original = load_pretrained(project / "data/models/finetune/nd-plm-mtf", "noncausal_decoder")
    tokenizer = __import__("transformers").AutoTokenizer.from_pretrained(str(out))
    ids = tokenizer("Question: Where was Mira born?\nAnswer: Velmora", return_tensors="pt").input_ids
    with torch.no_grad():
        mask = prefix_lm_attention_mask(torch.tensor([9]), ids.shape[1])
        expected = original(ids, attention_mask=mask).logits.numpy()
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-5)


def test_an_encoder_decoder_export_loads_as_seq2seq_and_says_it_was_not_evaluated(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _export(project, monkeypatch, "pretrain/ed-mlm", "--to", str(tmp_path / "ed"))
    assert result.exit_code == 0, result.output
    card = (tmp_path / "ed" / "README.md").read_text()
    assert "Not evaluated yet (`dvc repro evaluate@ed-mlm`" in card and "attention_mask=mask" not in card
    assert "AutoModelForSeq2SeqLM" in card and "| encoder d_model | 32 |" in card
    logits = _snippet_logits(tmp_path / "ed", tmp_path / "logits.npy")
    original = load_pretrained(project / "data/models/pretrain/ed-mlm", "encoder_decoder")
    tokenizer = __import__("transformers").AutoTokenizer.from_pretrained(str(tmp_path / "ed"))
    ids = tokenizer("Question: Where was Mira born?\nAnswer:", return_tensors="pt").input_ids
    with torch.no_grad():
        expected = original(input_ids=ids, decoder_input_ids=torch.tensor([[tokenizer.bos_token_id]])).logits
    np.testing.assert_allclose(logits, expected.numpy(), rtol=0, atol=1e-5)


def test_an_existing_directory_is_refused_unless_forced(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = _export(project, monkeypatch, "pretrain/nd-plm", "--to", str(out))
    assert result.exit_code == 2 and "already exists; pass --force to replace it" in result.output
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    result = _export(project, monkeypatch, "pretrain/nd-plm", "--to", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists() and (out / "README.md").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no temporary left behind


def test_a_model_that_is_not_there_is_named(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _export(project, monkeypatch, "pretrain/nope", "--to", str(tmp_path / "x"))
    assert result.exit_code == 2 and "run `dvc repro pretrain@nope` first" in result.output
    result = _export(project, monkeypatch, "nd-plm", "--to", str(tmp_path / "x"))
    assert result.exit_code == 2 and "name a model as <stage>/<name>" in result.output
    assert not (tmp_path / "x").exists()


class _FakeHfApi:
    calls: list[tuple[str, dict]] = []

    def create_repo(self, repo_id: str, **kwargs) -> None:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs) -> str:
        self.calls.append(
            (
                "upload_folder",
                {**kwargs, "files": sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())},
            )
        )
        return "https://huggingface.co/me/nd-plm/commit/1"


def test_push_uploads_the_export_through_hfapi(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", _FakeHfApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_test")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    _FakeHfApi.calls.clear()
    result = _export(
        project, monkeypatch, "pretrain/nd-plm", "--to", str(tmp_path / "nd"), "--push", "me/nd-plm"
    )
    assert result.exit_code == 0, result.output
    assert "pushed to https://huggingface.co/me/nd-plm/commit/1" in result.output
    (create, created), (upload, uploaded) = _FakeHfApi.calls
    assert (create, created["repo_id"], created["exist_ok"]) == ("create_repo", "me/nd-plm", True)
    assert (upload, uploaded["repo_id"], uploaded["folder_path"]) == (
        "upload_folder",
        "me/nd-plm",
        str(tmp_path / "nd"),
    )
    assert "README.md" in uploaded["files"] and "model.safetensors" in uploaded["files"]
    assert 'from_pretrained("me/nd-plm")' in (tmp_path / "nd" / "README.md").read_text()


@pytest.mark.parametrize(
    ("offline", "token", "message"),
    [
        (True, "hf_test", "--push me/nd-plm: offline (HF_HUB_OFFLINE is set)"),
        (False, None, "--push me/nd-plm: no Hugging Face token; set HF_TOKEN or run `hf auth login`"),
    ],
)
def test_push_offline_or_without_a_token_is_one_line_and_writes_nothing(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    offline: bool,
    token: str | None,
    message: str,
) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", _FakeHfApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: token)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline)
    _FakeHfApi.calls.clear()
    result = _export(
        project, monkeypatch, "pretrain/nd-plm", "--to", str(tmp_path / "nd"), "--push", "me/nd-plm"
    )
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "nd").exists() and _FakeHfApi.calls == []
