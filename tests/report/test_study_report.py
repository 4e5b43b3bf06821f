import json

import pytest

from pretrainlab.errors import UserInputError
from pretrainlab.report.study_report import build_report
from tests.report.records import evaluation, graph, task, training
from tests.report.synthetic_items import write_items

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CELLS = {
    "cd-flm": {"arch": "causal_decoder", "objective": "full_lm", "model": "tiny"},
    "ed-mlm": {"arch": "encoder_decoder", "objective": "span_corruption", "model": "tiny"},
}
MODELS = {"cd-flm": "pretrain", "ed-mlm": "pretrain", "cd-flm-mtf": "finetune"}


def _eval(model, arch, objective, nli, qa, prompt_format="plain", kind="pretrain"):
    tasks = {
        "nli_entailment": task(*nli, 1 / 3, held_out=True, cluster="nli", n=50),
        "qa_birthplace": task(*qa, 0.25, held_out=False, cluster="closed_book_qa", n=50),
    }
    return evaluation(model, tasks, kind=kind, arch=arch, objective=objective, prompt_format=prompt_format)


def _write_evaluation(root, name, evaluation):
    """``<name>.json`` and its per-item results: in each task the first round(accuracy * n) items right."""
    (root / f"metrics/evaluate/{name}.json").write_text(json.dumps(evaluation))
    tasks = evaluation["tasks"]
    write_items(
        root / f"metrics/evaluate/{name}.items.parquet",
        name,
        {t: round(e["accuracy"] * e["n"]) for t, e in tasks.items()},
        n=50,
        n_choices={t: round(1 / e["random_baseline"]) for t, e in tasks.items()},
    )


def _write_study(root, models=MODELS):
    (root / "metrics/pretrain").mkdir(parents=True)
    (root / "metrics/evaluate").mkdir(parents=True)
    (root / "metrics/finetune").mkdir(parents=True)
    (root / "plots/pretrain").mkdir(parents=True)
    for cell, spec in CELLS.items():
        metrics = training(
            arch=spec["arch"],
            objective=spec["objective"],
            parameters=1_310_720,
            non_embedding_parameters=786_432,
            tokens=2_000_000,
            flops=1.2e13,
            flops_per_token=6.0e6,
            steps=244,
            train_loss=3.1,
            val_loss=3.3,
            tokens_per_second=8200.0,
            lr_schedule="inverse_sqrt",
        )
        (root / f"metrics/pretrain/{cell}.json").write_text(json.dumps(metrics.as_json()))
        (root / f"plots/pretrain/{cell}.csv").write_text(
            "step,tokens,train_loss,val_loss,lr\n0,8192,7.5,7.4,0.0\n10,90112,5.0,,0.001\n20,172032,4.1,4.2,0.002\n"
        )
    (root / "metrics/finetune/cd-flm-mtf.json").write_text(
        json.dumps(training(parameters=1_310_720, tokens=500_000).as_json())
    )
    evals = {
        "cd-flm": _eval("cd-flm", "causal_decoder", "full_lm", (0.36, 0.30, 0.42), (0.40, 0.33, 0.47)),
        "ed-mlm": _eval(
            "ed-mlm", "encoder_decoder", "span_corruption", (0.34, 0.28, 0.40), (0.26, 0.20, 0.32), "sentinel"
        ),
        "cd-flm-mtf": _eval(
            "cd-flm-mtf",
            "causal_decoder",
            "full_lm",
            (0.55, 0.48, 0.62),
            (0.80, 0.74, 0.86),
            kind="finetune",
        ),
    }
    for name in models:
        _write_evaluation(root, name, evals[name])


def _graph(models):
    """The study's lineage: both cells, and the finetune when it is among the evaluated models."""
    finetune = {"cd-flm-mtf": {"from": "pretrain/cd-flm"}} if "cd-flm-mtf" in models else {}
    return graph(CELLS, finetune=finetune)


def _build(root, models=MODELS):
    return build_report(
        root / "metrics",
        root / "plots",
        root / "reports",
        title="Test study",
        models=models,
        graph=_graph(models),
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


ADAPT = {
    "cd-flm-to-nd-mlm": {
        "from": "pretrain/cd-flm",
        "arch": "noncausal_decoder",
        "objective": "span_corruption",
    },
    "ed-to-cd-flm": {"from": "pretrain/ed-mlm", "arch": "causal_decoder", "objective": "full_lm"},
}
FINETUNE = {
    "cd-flm-mtf": {"from": "pretrain/cd-flm"},
    "nd-mlm-mtf": {"from": "adapt/cd-flm-to-nd-mlm"},
}
LINEAGE_MODELS = MODELS | {"cd-flm-to-nd-mlm": "adapt", "ed-to-cd-flm": "adapt", "nd-mlm-mtf": "finetune"}


def _write_lineage_study(root, models=LINEAGE_MODELS):
    _write_study(root, {n: k for n, k in models.items() if n in MODELS})
    (root / "plots/adapt").mkdir(parents=True)
    # ed-to-cd-flm ends at val loss 5.8 after 2000 tokens; cd-flm from scratch gets from 7.4 (8192
    # tokens) to 4.2 (172032), so it reaches 5.8 halfway, at 90112 tokens: a 45.06x speed-up.
    (root / "metrics/adapt").mkdir(parents=True)
    for name in ADAPT:
        (root / f"plots/adapt/{name}.csv").write_text(
            "step,tokens,train_loss,val_loss,lr\n1,1000,6.0,6.0,0.001\n2,2000,5.9,5.8,0.001\n"
        )
        (root / f"metrics/adapt/{name}.json").write_text(
            json.dumps(training(tokens=2000, lr_schedule="constant").as_json())
        )
    evals = {
        "cd-flm-to-nd-mlm": _eval(
            "cd-flm-to-nd-mlm",
            "noncausal_decoder",
            "span_corruption",
            (0.35, 0.29, 0.41),
            (0.3, 0.2, 0.4),
            "sentinel",
            kind="adapt",
        ),
        "ed-to-cd-flm": _eval(
            "ed-to-cd-flm", "causal_decoder", "full_lm", (0.33, 0.27, 0.39), (0.3, 0.2, 0.4), kind="adapt"
        ),
        "nd-mlm-mtf": _eval(
            "nd-mlm-mtf",
            "noncausal_decoder",
            "span_corruption",
            (0.60, 0.55, 0.65),
            (0.8, 0.7, 0.9),
            kind="finetune",
        ),
    }
    for name in models:
        if name in evals:
            _write_evaluation(root, name, evals[name])


def _build_lineage(root, models=LINEAGE_MODELS):
    return build_report(
        root / "metrics",
        root / "plots",
        root / "reports",
        title="Lineage study",
        models=models,
        graph=graph(CELLS, ADAPT, FINETUNE),
    )


def _row(table, first_cell):
    return next(line for line in table.splitlines() if line.startswith(f"| {first_cell} |"))


def test_table8_has_pretrain_and_adapted_rows_mtf_columns_and_the_papers_numbers(tmp_path):
    _write_lineage_study(tmp_path)
    text = _build_lineage(tmp_path).read_text()
    table = text.split("## Table 8 analogue")[1].split("##")[0]
    header = next(line for line in table.splitlines() if line.startswith("| Model"))
    for column in ("After pretraining", "After MTF", "Paper after pretraining (EAI / T0)", "Paper after MTF"):
        assert column in header
    assert _row(table, "`cd-flm`") == (
        "| `cd-flm` | CD:FLM | 36.0 [30.0–42.0] | 55.0* [48.0–62.0] | `cd-flm-mtf` | 44.2 / 42.4 | 50.4 / 51.4 |"
    )
    assert _row(table, "`ed-mlm`") == "| `ed-mlm` | ED:MLM | 34.0 [28.0–40.0] | — | — | — | 51.3 / 60.6 |"
    adapted = _row(table, "`cd-flm-to-nd-mlm`")
    assert (
        "| CD:FLM → ND:MLM | 35.0 [29.0–41.0] | 60.0* [55.0–65.0] | `nd-mlm-mtf` | — | 52.3 / 54.9 |"
        in adapted
    )
    assert "| ED:MLM → CD:FLM | 33.0 [27.0–39.0] | — | — | — | — |" in _row(table, "`ed-to-cd-flm`")
    assert "| 33.3 | 33.3 |  | 32.9 / 41.7 | 32.9 / 41.7 |" in _row(table, "**random baseline**")
    assert "does not train: ND:PLM, ED:PLM, CD:MLM, ND:MLM." in table


def test_report_shows_speed_ups_orderings_and_every_model_in_the_bars(tmp_path):
    _write_lineage_study(tmp_path)
    text = _build_lineage(tmp_path).read_text()
    adaptation = text.split("## Adaptation")[1].split("##")[0]
    assert (
        "| `ed-to-cd-flm` | ED:MLM → CD:FLM | ED:MLM → CD:FLM | `cd-flm` | 2,000,000 | 2,000 | 5.800 | 90,112 | 45.06× | — |"
        in (adaptation)
    )
    assert "no from-scratch ND:MLM cell in the study | 3.3× (CD:FLM → ND:MLM) |" in adaptation
    assert "![Adaptation curves](adaptation_curves.png)" in adaptation
    shows = text.split("## What this shows")[1].split("##")[0]
    # One item more right of 50 (cd-flm vs ed-mlm), two of 50 (nd-mlm-mtf vs cd-flm-mtf): paired
    # intervals that reach 0, so neither point-estimate win counts.
    assert (
        "**(a) After pretraining only, CD:FLM is the best zero-shot model** — **unresolved**. `cd-flm` (CD:FLM) "
        "36.0% against `ed-mlm` (ED:MLM) 34.0%: paired difference +2.0 points, "
        "95% interval [+0.0, +6.0]" in shows
    )
    assert "**(b) After MTF, non-causal / encoder-decoder MLM models beat CD:FLM** — **unresolved**" in shows
    assert "`nd-mlm-mtf` (CD:FLM → ND:MLM + MTF) 60.0%: unresolved, paired difference +4.0 points" in shows
    assert "Comparisons are paired" in shows and "**Resolving power.**" in shows
    # the one measured factor is not the paper's kind (ED:MLM -> CD:FLM is not LM-A): nothing decides (c)
    assert "**(c) Adapting is cheaper than training from scratch** — **unresolved**." in shows
    assert "`cd-flm-to-nd-mlm` (NC-A, CD:FLM → ND:MLM) no from-scratch ND:MLM cell in the study" in shows
    assert "Not part of the paper's claim: `ed-to-cd-flm` (ED:MLM → CD:FLM) 45.06× against `cd-flm`" in shows
    clusters = text.split("## Clusters")[1].split("##")[0]
    for name in LINEAGE_MODELS:
        assert f"| `{name}` |" in clusters
    for png in ("adaptation_curves.png", "cluster_bars.png"):
        assert (tmp_path / "reports" / png).read_bytes().startswith(PNG_MAGIC)


def test_finetune_whose_source_has_no_evaluation_names_the_file(tmp_path):
    models = {n: k for n, k in LINEAGE_MODELS.items() if n != "cd-flm-to-nd-mlm"}
    _write_lineage_study(tmp_path, models)
    missing = tmp_path / "metrics/evaluate/cd-flm-to-nd-mlm.json"
    with pytest.raises(UserInputError, match="the source of finetune 'nd-mlm-mtf'") as err:
        _build_lineage(tmp_path, models)
    assert str(missing) in str(err.value) and "evaluate.models" in str(err.value)
    assert not (tmp_path / "reports").exists()


def test_missing_adaptation_curve_names_the_file(tmp_path):
    _write_lineage_study(tmp_path)
    (tmp_path / "plots/adapt/ed-to-cd-flm.csv").unlink()
    with pytest.raises(UserInputError, match="ed-to-cd-flm.csv"):
        _build_lineage(tmp_path)


def test_report_stage_passes_the_lineage_graph(monkeypatch):
    from pretrainlab.config.schema import AdaptCell, FinetuneCell, PretrainCell, ReportConfig
    from stages import report

    seen = {}
    monkeypatch.setattr(report, "build_report", lambda *args, **kwargs: seen.update(kwargs))
    budget = {"budget": {"tokens": 1e4}}
    report.run(
        report.Params(
            report=ReportConfig(),
            models={},
            pretrain_cells={"cd-flm": PretrainCell.model_validate(CELLS["cd-flm"] | budget)},
            adapt_cells={"x": AdaptCell.model_validate(ADAPT["cd-flm-to-nd-mlm"] | budget)},
            finetune_cells={"y": FinetuneCell.model_validate({"from": "adapt/x"} | budget)},
            seeds=[],
            seed=0,
        )
    )
    lineage = seen["graph"]
    assert list(lineage) == ["pretrain/cd-flm", "adapt/x", "finetune/y"]
    assert lineage["adapt/x"].parent == "pretrain/cd-flm" and lineage["finetune/y"].parent == "adapt/x"
    assert lineage["finetune/y"].arch == "noncausal_decoder" and lineage["finetune/y"].size == "tiny"


def test_report_prints_each_models_prompt_format_and_the_resolving_power(tmp_path):
    _write_study(tmp_path)
    text = _build(tmp_path).read_text()
    table = text.split("## Models")[1].split("##")[0]
    assert "| Prompt format |" in table.splitlines()[2]
    assert _row(table, "`ed-mlm`").split(" | ")[4] == "`sentinel`"
    assert _row(table, "`cd-flm-mtf`").split(" | ")[4] == "`plain`"
    shows = text.split("## What this shows")[1].split("## Adaptation")[0]
    # 3 models on 50 held-out items, right on the first 18, 17 and 28 (round(0.55 * 50)): pairs disagree on
    # 1, 10 and 11 items, d = 22 / 150 = 14.7%; (1.960 + 0.842) * sqrt(0.14667 / 50) = 0.1517.
    assert "(1 task, 50 items each)" in shows and "nli_entailment 14.7%" in shows
    assert "**15.2 points**" in shows and "3 pairs of the 3 models" in shows


@pytest.mark.parametrize("model", ["ed-mlm", "cd-flm-mtf"])
def test_evaluation_without_per_item_results_names_the_model(tmp_path, model):
    _write_study(tmp_path)
    missing = tmp_path / f"metrics/evaluate/{model}.items.parquet"
    missing.unlink()
    with pytest.raises(UserInputError, match=rf"per-item results of model '{model}' not found") as err:
        _build(tmp_path)
    assert str(missing) in str(err.value) and f"dvc repro evaluate@{model}" in str(err.value)
    assert not (tmp_path / "reports").exists()


def test_evaluations_of_other_items_or_tasks_are_refused(tmp_path):
    _write_study(tmp_path)
    items = tmp_path / "metrics/evaluate/ed-mlm.items.parquet"
    write_items(
        items,
        "ed-mlm",
        {"nli_entailment": 17, "qa_birthplace": 13},
        n=40,
        n_choices={"nli_entailment": 3, "qa_birthplace": 4},
    )
    with pytest.raises(
        UserInputError, match=r"'ed-mlm' was asked other items than 'cd-flm' in task 'nli_entailment'"
    ):
        _build(tmp_path)
    write_items(items, "ed-mlm", {"nli_entailment": 17}, n=50, n_choices={"nli_entailment": 3})
    with pytest.raises(
        UserInputError, match=r"'ed-mlm' was evaluated on other tasks than 'cd-flm' \(missing: qa_birthplace"
    ):
        _build(tmp_path)
    assert not (tmp_path / "reports").exists()


def test_metrics_without_a_prompt_format_ask_to_rerun_evaluate(tmp_path):
    _write_study(tmp_path)
    path = tmp_path / "metrics/evaluate/ed-mlm.json"
    metrics = json.loads(path.read_text())
    del metrics["prompt_format"]
    path.write_text(json.dumps(metrics))
    with pytest.raises(UserInputError, match=r"ed-mlm\.json: no `prompt_format`.*dvc repro evaluate@ed-mlm"):
        _build(tmp_path)
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("kind"), r"no `kind` \(written by an older stage\)"),
        (lambda m: m.update(heldout=None), r"unknown key `heldout`"),
        (lambda m: m["tasks"]["nli_entailment"].update(n="many"), r"`tasks\.nli_entailment\.n`"),
    ],
)
def test_metrics_that_do_not_fit_the_contract_name_file_and_key(tmp_path, change, message):
    _write_study(tmp_path)
    path = tmp_path / "metrics/evaluate/cd-flm.json"
    metrics = json.loads(path.read_text())
    change(metrics)
    path.write_text(json.dumps(metrics))
    with pytest.raises(UserInputError, match=message) as err:
        _build(tmp_path)
    assert str(path) in str(err.value) and "dvc repro evaluate@cd-flm" in str(err.value)
    assert not (tmp_path / "reports").exists()


def test_training_metrics_of_an_older_stage_ask_to_rerun_it(tmp_path):
    _write_study(tmp_path)
    path = tmp_path / "metrics/pretrain/ed-mlm.json"
    metrics = json.loads(path.read_text())
    del metrics["padded_positions"]
    path.write_text(json.dumps(metrics))
    with pytest.raises(
        UserInputError, match=r"ed-mlm\.json: no `padded_positions`.*dvc repro pretrain@ed-mlm"
    ):
        _build(tmp_path)


def _build_seeded(root):
    """The report of the study under ``root`` with replicate seed 1."""
    return build_report(
        root / "metrics",
        root / "plots",
        root / "reports",
        title="Seeds",
        models=MODELS,
        graph=_graph(MODELS),
        seeds=[1],
        primary_seed=0,
    )


def test_replicates_under_study_seeds_enter_the_comparisons(tmp_path):
    _write_study(tmp_path)
    for cell in CELLS:
        evaluation = json.loads((tmp_path / f"metrics/evaluate/{cell}.json").read_text())
        _write_evaluation(tmp_path, f"{cell}-seed1", evaluation | {"model": f"{cell}-seed1"})

    def build():
        return _build_seeded(tmp_path)

    shows = build().read_text().split("## What this shows")[1].split("## Adaptation")[0]
    assert "`cd-flm` (CD:FLM) 36.0% (mean of 2 seeds)" in shows
    assert "a cell trained under several seeds also has its seeds resampled, per model" in shows
    (tmp_path / "metrics/evaluate/ed-mlm-seed1.items.parquet").unlink()
    with pytest.raises(
        UserInputError, match=r"ed-mlm-seed1\.items\.parquet: per-item results of model 'ed-mlm-seed1'"
    ) as err:
        build()
    assert "dvc repro evaluate-replicate@ed-mlm-1" in str(err.value)


def test_table8_shows_a_seeded_cell_as_the_mean_over_its_seeds(tmp_path):
    """Its first seed's file holds one run: the table pools the seeds, as the orderings do."""
    _write_study(tmp_path)
    seed0 = json.loads((tmp_path / "metrics/evaluate/cd-flm.json").read_text())
    better = {t: e | {"accuracy": min(1.0, e["accuracy"] + 0.2)} for t, e in seed0["tasks"].items()}
    for cell in CELLS:
        evaluation = json.loads((tmp_path / f"metrics/evaluate/{cell}.json").read_text())
        if cell == "cd-flm":
            evaluation = evaluation | {"tasks": better}
        _write_evaluation(tmp_path, f"{cell}-seed1", evaluation | {"model": f"{cell}-seed1"})
    held_out = seed0["held_out"]["tasks"]
    pooled = sum(
        round(seed0["tasks"][t]["accuracy"] * 50) + round(better[t]["accuracy"] * 50) for t in held_out
    ) / (100 * len(held_out))
    table = _build_seeded(tmp_path).read_text().split("## Table 8 analogue")[1].split("## What this shows")[0]
    row = next(line for line in table.splitlines() if line.startswith("| `cd-flm` |"))
    assert f"| {100 * pooled:.1f}" in row and "(2 seeds)" in row, row
    assert f"{100 * seed0['held_out']['accuracy']:.1f}" not in row.split("|")[3]
