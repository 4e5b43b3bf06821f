import json

import pytest

from pretrainlab.errors import UserInputError
from pretrainlab.report.study_report import build_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CELLS = {
    "cd-flm": {"arch": "causal_decoder", "objective": "full_lm", "model": "tiny"},
    "ed-mlm": {"arch": "encoder_decoder", "objective": "span_corruption", "model": "tiny"},
}
MODELS = {"cd-flm": "pretrain", "ed-mlm": "pretrain", "cd-flm-mtf": "finetune"}


def _entry(acc, lo, hi, baseline, held_out=None, cluster=None, n=None):
    entry = {
        "accuracy": acc,
        "ci95": [lo, hi],
        "accuracy_norm": acc,
        "ci95_norm": [lo, hi],
        "random_baseline": baseline,
    }
    if held_out is not None:
        entry["held_out"] = held_out
    if cluster is not None:
        entry["cluster"] = cluster
        entry["n"] = n
    return entry


def _eval(model, arch, objective, nli, qa):
    return {
        "model": model,
        "arch": arch,
        "objective": objective,
        "val_loss": 3.2,
        "bits_per_byte": 1.4,
        "tasks": {
            "nli_entailment": _entry(*nli, 1 / 3, held_out=True, cluster="nli", n=50),
            "qa_birthplace": _entry(*qa, 0.25, held_out=False, cluster="closed_book_qa", n=50),
        },
        "clusters": {
            "nli": _entry(*nli, 1 / 3, held_out=True),
            "closed_book_qa": _entry(*qa, 0.25, held_out=False),
        },
        "held_out": _entry(*nli, 1 / 3),
        "held_in": _entry(*qa, 0.25),
    }


def _write_study(root, models=MODELS):
    (root / "metrics/pretrain").mkdir(parents=True)
    (root / "metrics/evaluate").mkdir(parents=True)
    (root / "metrics/finetune").mkdir(parents=True)
    (root / "plots/pretrain").mkdir(parents=True)
    for cell, spec in CELLS.items():
        metrics = {
            "arch": spec["arch"],
            "objective": spec["objective"],
            "parameters": 1_310_720,
            "non_embedding_parameters": 786_432,
            "tokens": 2.0e6,
            "flops": 1.2e13,
            "flops_per_token": 6.0e6,
            "steps": 244,
            "train_loss": 3.1,
            "val_loss": 3.3,
            "tokens_per_second": 8200.0,
        }
        (root / f"metrics/pretrain/{cell}.json").write_text(json.dumps(metrics))
        (root / f"plots/pretrain/{cell}.csv").write_text(
            "step,tokens,train_loss,val_loss,lr\n0,8192,7.5,7.4,0.0\n10,90112,5.0,,0.001\n20,172032,4.1,4.2,0.002\n"
        )
    (root / "metrics/finetune/cd-flm-mtf.json").write_text(
        json.dumps({"parameters": 1_310_720, "tokens": 5e5})
    )
    evals = {
        "cd-flm": _eval("cd-flm", "causal_decoder", "full_lm", (0.36, 0.30, 0.42), (0.40, 0.33, 0.47)),
        "ed-mlm": _eval(
            "ed-mlm", "encoder_decoder", "span_corruption", (0.34, 0.28, 0.40), (0.26, 0.20, 0.32)
        ),
        "cd-flm-mtf": _eval(
            "cd-flm-mtf", "causal_decoder", "full_lm", (0.55, 0.48, 0.62), (0.80, 0.74, 0.86)
        ),
    }
    for name in models:
        (root / f"metrics/evaluate/{name}.json").write_text(json.dumps(evals[name]))


def _build(root, models=MODELS):
    return build_report(
        root / "metrics",
        root / "plots",
        root / "reports",
        title="Test study",
        models=models,
        pretrain_cells=CELLS,
    )


def test_report_has_every_model_baseline_and_held_out_first(tmp_path):
    _write_study(tmp_path)
    path = _build(tmp_path)
    assert path == tmp_path / "reports/study.md"
    text = path.read_text()
    assert text.startswith("# Test study")
    table = text.split("## Models")[1].split("##")[0]
    for name in MODELS:
        assert f"`{name}`" in table
    assert "random baseline" in table
    header = table.strip().splitlines()[0]
    assert header.index("nli (held out)") < header.index("Held-out avg") < header.index("Held-in avg")
    assert "closed_book_qa" not in header  # held-in clusters are in their own table
    baseline_row = next(line for line in table.splitlines() if "random baseline" in line)
    assert "33.3" in baseline_row and "25.0" in baseline_row
    # The finetuned model's held-out CI [48, 62] is above 33.3; the others' include it.
    shows = text.split("## What this shows")[1].split("##")[0]
    assert "`cd-flm-mtf` beats random" in shows
    assert "55.0* [48.0–62.0]" in table
    assert "`nli_entailment`" not in text and "nli_entailment" in text.split("## Tasks")[1]
    assert "![Pretraining loss curves](loss_curves.png)" in text
    for png in ("loss_curves.png", "cluster_bars.png"):
        data = (tmp_path / "reports" / png).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert not list((tmp_path / "reports").glob(".tmp-*"))


def test_report_says_plainly_when_no_model_beats_random(tmp_path):
    models = {"cd-flm": "pretrain", "ed-mlm": "pretrain"}
    _write_study(tmp_path, models)
    shows = _build(tmp_path, models).read_text().split("## What this shows")[1].split("##")[0]
    assert "No model beats random on the held-out clusters" in shows
    assert "`nli`: no model is above random" in shows


@pytest.mark.parametrize(
    "missing", ["metrics/evaluate/ed-mlm.json", "metrics/pretrain/cd-flm.json", "plots/pretrain/ed-mlm.csv"]
)
def test_missing_input_names_the_file(tmp_path, missing):
    _write_study(tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(UserInputError, match=missing.split("/")[-1]) as err:
        _build(tmp_path)
    assert str(tmp_path / missing) in str(err.value)
    assert not (tmp_path / "reports/study.md").exists()


def test_finetuned_model_without_training_metrics_still_reports(tmp_path):
    _write_study(tmp_path)
    (tmp_path / "metrics/finetune/cd-flm-mtf.json").unlink()
    row = next(
        line for line in _build(tmp_path).read_text().splitlines() if line.startswith("| `cd-flm-mtf`")
    )
    assert "finetune" in row and "—" in row
