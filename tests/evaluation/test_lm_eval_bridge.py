"""The lm-evaluation-harness bridge agrees with our own rank classification, item by item, and turns
bad input (lm-eval missing, unknown task, bad include path) into UserInputError.

The task is tests/assets/lm_eval/tiny_mc.{yaml,jsonl}: 20 items, 3 choices, read offline through
``dataset_path: json``. Models are random tiny ones (2 layers, so the non-causal prefix matters).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pretrainlab.errors import UserInputError
from pretrainlab.evaluation.lm_eval_bridge import (
    INSTALL_HINT,
    build_lm,
    evaluate_tasks,
    load_tasks,
    run_lm_eval,
    summarise,
)
from pretrainlab.evaluation.prompt_formats import prompt_format
from pretrainlab.evaluation.rank_classification import (
    PromptFormat,
    encode_items,
    model_scorer,
    rank_classify,
)
from pretrainlab.models.load import load_pretrained
from pretrainlab.tokenization.load import load_tokenizer
from tests.conftest import ROOT

ASSETS = ROOT / "tests" / "assets" / "lm_eval"
TASK = "pretrainlab_tiny_mc"
ARCHS = ("causal_decoder", "encoder_decoder", "noncausal_decoder")
SEQ_LEN = 64


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, a throwaway datasets cache, and the repository root as working directory (where
    the task YAML's relative data_files point, as under DVC)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")  # read at import time: patch the parsed values too
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets")
    monkeypatch.chdir(ROOT)


def _card(
    model_dir: Path, arch: str, fmt: str = "plain", objective: str = "full_lm", kind="pretrain"
) -> None:
    """The model card a training stage writes (what the bridge reads the prompt format from)."""
    card = {"name": model_dir.name, "kind": kind, "arch": arch, "objective": objective, "prompt_format": fmt}
    (model_dir / "pretrainlab.json").write_text(json.dumps(card))


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    """A tiny byte-level BPE and one saved random model per architecture (tokenizer saved beside it)."""

    from pretrainlab.config.schema import ModelSize
    from pretrainlab.models.build import build_model
    from pretrainlab.synthworld import generate_documents
    from tests.tiny_tokenizer import tiny_tokenizer

    texts = list(generate_documents(entities=40, documents=120, seed=0))
    tokenizer, specials = tiny_tokenizer(texts)
    root = tmp_path_factory.mktemp("lm_eval_models")
    size = ModelSize(d_model=32, n_layers=2, n_heads=2, d_ff=64)
    dirs = {}
    for arch in ARCHS:
        dirs[arch] = root / arch
        build_model(arch, size, specials, seq_len=SEQ_LEN, seed=0).save_pretrained(dirs[arch])
        tokenizer.save_pretrained(dirs[arch])
        _card(dirs[arch], arch)
    return dirs


def _items() -> list[SimpleNamespace]:
    """The task's items as our rank classification sees them: lm-eval's context (``doc_to_text``)
    and continuation (``target_delimiter`` " " + choice)."""
    rows = [json.loads(line) for line in (ASSETS / "tiny_mc.jsonl").read_text().splitlines()]
    return [
        SimpleNamespace(prompt=r["question"], choices=[" " + c for c in r["choices"]], answer=r["label"])
        for r in rows
    ]


@pytest.mark.parametrize("arch", ARCHS)
def test_lm_eval_agrees_with_rank_classification(model_dirs, arch):
    pytest.importorskip("lm_eval")
    torch.set_num_threads(1)
    lm = build_lm(model_dirs[arch], arch=arch, batch_size=8)
    raw = evaluate_tasks(lm, load_tasks([TASK], ASSETS), log_samples=True)
    samples = sorted(raw["samples"][TASK], key=lambda s: s["doc_id"])
    items = _items()
    assert len(samples) == len(items) == 20

    # Same tokens: lm-eval's split of context + continuation is our separate tokenisation.
    encoded = encode_items(items, lm.tokenizer)
    for sample, item in zip(samples, encoded, strict=True):
        for (context, continuation), choice in zip(sample["arguments"], item.choices, strict=True):
            ctx_ids, cont_ids = lm._encode_pair(context, continuation)
            assert ctx_ids == item.prompt.tolist() and cont_ids == choice.tolist()

    # Same scores and per-item predictions (sum of log-likelihood, argmax, ties to the lowest index).
    model = load_pretrained(model_dirs[arch], arch)
    scorer = model_scorer(model, arch, load_tokenizer(model_dirs[arch])[1])
    fmt = PromptFormat()
    ours = rank_classify(encoded, scorer, fmt, arch=arch, seq_len=SEQ_LEN)
    examples = [fmt.example(i.prompt, c, arch=arch, seq_len=SEQ_LEN) for i in encoded for c in i.choices]
    our_lls = scorer(examples, [0] * len(examples))
    their_lls = np.asarray([ll for s in samples for ll, _ in s["filtered_resps"]])
    np.testing.assert_allclose(their_lls, our_lls, rtol=1e-5, atol=1e-4)
    their_predictions = [int(np.argmax([ll for ll, _ in s["filtered_resps"]])) for s in samples]
    assert their_predictions == ours.predictions.tolist()
    assert len(set(their_predictions)) > 1  # a model that always picks one index would prove little

    metrics = summarise(raw)[TASK]
    assert metrics["acc"] == pytest.approx(ours.accuracy)
    assert metrics["n"] == 20 and 0 < metrics["acc_stderr"] < 0.2
    assert 0.0 <= metrics["acc_norm"] <= 1.0


def test_noncausal_context_is_bidirectional(model_dirs):
    """Same weights (same seed), ND vs CD: only the prefix mask differs, and it changes the scores."""
    pytest.importorskip("lm_eval")
    requests = [(None, [40, 41, 42, 43, 44], [45, 46]), (None, [50, 51], [52])]
    cd = build_lm(model_dirs["causal_decoder"], arch="causal_decoder")._loglikelihood_tokens(requests)
    nd = build_lm(model_dirs["noncausal_decoder"], arch="noncausal_decoder")._loglikelihood_tokens(requests)
    assert abs(cd[0][0] - nd[0][0]) > 1e-3  # a 5-token bidirectional prefix changes layer-2 keys


def test_registered_noncausal_lm_loads_a_model_directory(model_dirs):
    """What lm-eval's CLI does with ``--model pretrainlab-noncausal --model_args pretrained=DIR``."""
    pytest.importorskip("lm_eval")
    from lm_eval.api.registry import get_model

    import pretrainlab.evaluation.lm_eval_noncausal  # noqa: F401 (registers the name)

    path = model_dirs["noncausal_decoder"]
    lm = get_model("pretrainlab-noncausal").create_from_arg_obj(
        {"pretrained": str(path)}, {"batch_size": 2, "device": "cpu"}
    )
    requests = [(None, [40, 41, 42, 43, 44], [45, 46]), (None, [50, 51], [52]), (None, [60], [61, 62])]
    ours = build_lm(path, arch="noncausal_decoder")._loglikelihood_tokens(requests)
    assert [ll for ll, _ in lm._loglikelihood_tokens(requests)] == pytest.approx(
        [ll for ll, _ in ours], abs=1e-5
    )


@pytest.mark.parametrize("arch", ["noncausal_decoder", "encoder_decoder"])
def test_span_corruption_card_is_scored_in_the_sentinel_format(model_dirs, tmp_path, arch):
    """NC-A (adapted to ND with span corruption) and ED:MLM: lm-eval scores the continuation as the filler
    of a final sentinel span, exactly as our rank classification does for the same card."""
    pytest.importorskip("lm_eval")
    import shutil

    model_dir = tmp_path / "nc-a"
    shutil.copytree(model_dirs[arch], model_dir)
    _card(model_dir, arch, "sentinel", objective="span_corruption", kind="adapt")
    lm = build_lm(model_dir, arch=arch)
    requests = [(None, [40, 41, 42, 43, 44], [45, 46]), (None, [50, 51], [52]), (None, [60], [61, 62, 63])]
    theirs = [ll for ll, _ in lm._loglikelihood_tokens(requests)]

    specials = load_tokenizer(model_dir)[1]
    fmt = prompt_format("sentinel", specials)
    examples = [fmt.example(np.array(c), np.array(x), arch=arch, seq_len=SEQ_LEN) for _, c, x in requests]
    assert all(e.inputs[-2:].tolist() == [specials.sentinels[0], specials.eos] for e in examples)
    scorer = model_scorer(load_pretrained(model_dir, arch), arch, specials)
    ours = scorer(examples, [fmt.skipped_targets] * len(examples))
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-4)
    plain = [ll for ll, _ in build_lm(model_dirs[arch], arch=arch)._loglikelihood_tokens(requests)]
    assert not np.allclose(theirs, plain, atol=1e-3)  # the format changes the scores


def test_card_without_a_prompt_format_asks_to_rerun_training(model_dirs, tmp_path):
    pytest.importorskip("lm_eval")
    import shutil

    model_dir = tmp_path / "old-model"
    shutil.copytree(model_dirs["causal_decoder"], model_dir)
    card = json.loads((model_dir / "pretrainlab.json").read_text())
    del card["prompt_format"]
    card["name"] = "old-model"
    (model_dir / "pretrainlab.json").write_text(json.dumps(card))
    with pytest.raises(UserInputError, match=r"no `prompt_format`.*dvc repro -f -s pretrain@old-model"):
        run_lm_eval(model_dir, arch="causal_decoder", tasks=[TASK], include_path=ASSETS)


def test_run_lm_eval_noncausal_end_to_end(model_dirs):
    pytest.importorskip("lm_eval")
    out = run_lm_eval(
        model_dirs["noncausal_decoder"], arch="noncausal_decoder", tasks=[TASK], include_path=ASSETS, limit=6
    )
    json.dumps(out)  # plain JSON for metrics/evaluate/<model>.json
    assert set(out) == {TASK}
    assert out[TASK]["n"] == 6
    assert {"acc", "acc_stderr", "acc_norm", "acc_norm_stderr"} <= set(out[TASK])


# ------------------------------------------------------------------------------------------ bad input
def test_unknown_task_is_named_before_the_model_is_loaded(tmp_path):
    pytest.importorskip("lm_eval")
    with pytest.raises(UserInputError, match=r"pretrainlab_tiny_mcq.*did you mean.*pretrainlab_tiny_mc"):
        run_lm_eval(  # the model directory does not exist: tasks are checked first
            tmp_path / "no-model", arch="causal_decoder", tasks=["pretrainlab_tiny_mcq"], include_path=ASSETS
        )


def test_missing_include_path(tmp_path):
    pytest.importorskip("lm_eval")
    with pytest.raises(UserInputError, match=r"evaluate\.lm_eval\.include_path.*nowhere"):
        run_lm_eval(tmp_path, arch="causal_decoder", tasks=[TASK], include_path=tmp_path / "nowhere")


def test_missing_data_file_names_it(tmp_path):
    pytest.importorskip("lm_eval")
    yaml_text = (ASSETS / "tiny_mc.yaml").read_text().replace("tiny_mc.jsonl", "gone.jsonl")
    (tmp_path / "gone.yaml").write_text(yaml_text.replace(f"task: {TASK}", "task: gone_mc"))
    _card(tmp_path, "causal_decoder")
    with pytest.raises(UserInputError, match=r"gone_mc.*gone\.jsonl"):
        run_lm_eval(tmp_path, arch="causal_decoder", tasks=["gone_mc"], include_path=tmp_path)


def test_generative_task_refused_for_noncausal(tmp_path):
    pytest.importorskip("lm_eval")
    (tmp_path / "gen.yaml").write_text(
        (ASSETS / "tiny_mc.yaml")
        .read_text()
        .replace(f"task: {TASK}", "task: gen_tiny")
        .replace("output_type: multiple_choice", "output_type: generate_until")
    )
    _card(tmp_path, "noncausal_decoder")
    with pytest.raises(UserInputError, match=r"gen_tiny generate text"):
        run_lm_eval(tmp_path, arch="noncausal_decoder", tasks=["gen_tiny"], include_path=tmp_path)
    _card(tmp_path, "causal_decoder", "sentinel", objective="span_corruption")  # our LM: no generation either
    with pytest.raises(UserInputError, match=r"gen_tiny generate text.*prompt format sentinel"):
        run_lm_eval(tmp_path, arch="causal_decoder", tasks=["gen_tiny"], include_path=tmp_path)


def test_encoder_is_refused(tmp_path):
    pytest.importorskip("lm_eval")
    with pytest.raises(UserInputError, match=r"encoder"):
        run_lm_eval(tmp_path, arch="encoder", tasks=[TASK], include_path=ASSETS)


def test_lm_eval_not_installed_gives_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "lm_eval", None)  # `import lm_eval` now raises ImportError
    with pytest.raises(UserInputError, match=r"pip install 'pretrainlab\[eval\]'") as error:
        run_lm_eval(tmp_path, arch="causal_decoder", tasks=[TASK], include_path=ASSETS)
    assert INSTALL_HINT in str(error.value)
