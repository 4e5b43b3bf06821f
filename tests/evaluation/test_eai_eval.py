"""The EAI-Eval suite end to end on local fixtures in its datasets' hub columns
(:mod:`tests.evaluation.eai_eval_fixtures`), offline, for a tiny random causal decoder."""

from __future__ import annotations

import json

import pytest

from pretrainlab.evaluation.lm_eval_bridge import evaluate_lm_eval
from pretrainlab.evaluation.lm_eval_suites import EAI_EVAL, EAI_EVAL_TASKS
from tests.conftest import ROOT
from tests.evaluation.eai_eval_fixtures import write_eai_eval_datasets
from tests.evaluation.test_t0_eval import _write

pytestmark = pytest.mark.slow
LIMIT = 2


@pytest.fixture
def dataset_paths(tmp_path, monkeypatch) -> dict[str, str]:
    """No network, an empty datasets cache, and every EAI-Eval dataset as local files."""
    datasets = pytest.importorskip("datasets")
    pytest.importorskip("lm_eval")
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets")
    monkeypatch.chdir(ROOT)
    root = tmp_path / "data"
    for config in ("copa", "wic", "wsc.fixed"):  # the SuperGLUE configs T0-Eval's rows cover
        _write(root / "super_glue" / config / "validation.jsonl", config)
    _write(root / "winogrande" / "validation.jsonl", "winogrande")
    _write(root / "hellaswag" / "validation.jsonl", "hellaswag")
    return {
        **write_eai_eval_datasets(root),
        "allenai/winogrande/winogrande_xl": str(root / "winogrande"),
        "Rowan/hellaswag": str(root / "hellaswag"),
    }


@pytest.fixture
def model_dir(tmp_path):
    from pretrainlab.config.schema import ModelSize
    from pretrainlab.models.build import build_model
    from pretrainlab.synthworld import generate_documents
    from tests.tiny_tokenizer import tiny_tokenizer

    tokenizer, specials = tiny_tokenizer(list(generate_documents(entities=40, documents=120, seed=0)))
    folder = tmp_path / "cd"
    size = ModelSize(d_model=32, n_layers=2, n_heads=2, d_ff=64)
    build_model("causal_decoder", size, specials, seq_len=128, seed=0).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    card = {"name": "cd", "kind": "pretrain", "arch": "causal_decoder", "objective": "full_lm",
            "prompt_format": "plain"}  # fmt: skip
    (folder / "pretrainlab.json").write_text(json.dumps(card))
    return folder


def test_eai_eval_scores_every_installed_task_offline(model_dir, dataset_paths):
    summary, suites = evaluate_lm_eval(
        model_dir, arch="causal_decoder", tasks=[EAI_EVAL], include_path=None, limit=LIMIT,
        dataset_paths=dataset_paths, batch_size=32,
    )  # fmt: skip
    eai = suites[EAI_EVAL]
    assert set(eai.datasets) == {t.paper for t in EAI_EVAL_TASKS if t.harness}
    for name, dataset in eai.datasets.items():
        (template,) = dataset.templates.values()  # one harness task per dataset
        assert template.n == LIMIT and 0.0 <= template.accuracy <= 1.0, name
