"""The bad-input catalogue, continued: inputs that used to pass and be silently wrong later.

A key given twice (YAML keeps the last), ``true`` where a number goes (YAML's 1), ``.inf``/``.nan``
where a float goes, sizes no machine holds, task names only the evaluate stage knew, a tokenizer read
from the tokenize stage's own output, and a launcher's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` left in
the shell. Each exits with code 2, names the culprit, prints no traceback and leaves the tree as it was.
"""

from __future__ import annotations

import time

import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import CELL_STAGES, STAGES, app
from stages import LAUNCHER_VARIABLES, TORCHRUN_WORKER_MARK, check_environment
from tests.conftest import SMOKE
from tests.robustness.test_bad_input import VALIDATE, Case, _cell, _write, smoke_params, tree_snapshot


def _with_line_after(anchor: str, line: str) -> str:
    """The smoke preset's text with ``line`` inserted after the line that starts with ``anchor``."""
    lines = SMOKE.read_text().splitlines()
    at = next(i for i, text in enumerate(lines) if text.startswith(anchor))
    return "\n".join([*lines[: at + 1], line, *lines[at + 1 :]]) + "\n"


SEQ_LEN_LINE = next(n for n, t in enumerate(SMOKE.read_text().splitlines(), 1) if t.startswith("  seq_len:"))


def _ul2_weight(weight: float):
    denoiser = {"mode": "NLU", "mu": 3.0, "r": 0.15, "weight": weight}
    return lambda p: p["pretrain"]["cells"]["nd-ul2"].update(options={"denoisers": [denoiser]})


CASES = [
    # ------------------------------------------------------------------ a key given twice
    Case(
        "top-level key twice", VALIDATE, "seed: given twice", params_text=_with_line_after("seed:", "seed: 1")
    ),
    Case(
        "nested key twice",
        VALIDATE,
        f"pretrain.seq_len: given twice (lines {SEQ_LEN_LINE} and {SEQ_LEN_LINE + 1})",
        params_text=_with_line_after("  seq_len:", "  seq_len: 128"),
    ),
    # ------------------------------------------------------------------ strict types
    Case("seed: true", VALIDATE, "seed", lambda p: p.update(seed=True)),
    Case(
        "n_layers: true",
        VALIDATE,
        "models.nano.n_layers",
        lambda p: p["models"]["nano"].update(n_layers=True),
    ),
    Case(
        "a number for a flag",
        VALIDATE,
        "corpus.filters.exact_dedup",
        lambda p: p["corpus"]["filters"].update(exact_dedup=1),
    ),
    Case(
        "a quoted number",
        VALIDATE,
        "pretrain.batch_tokens",
        lambda p: p["pretrain"].update(batch_tokens="512"),
    ),
    Case(
        "a fraction for a count",
        VALIDATE,
        "pretrain.eval_tokens",
        lambda p: p["pretrain"].update(eval_tokens=1024.5),
    ),
    # ------------------------------------------------------------------ non-finite numbers
    Case(
        "budget tokens .inf",
        VALIDATE,
        "pretrain.cells.cd-flm.budget.tokens",
        _cell(budget={"tokens": float("inf")}),
    ),
    Case(
        "budget flops .nan",
        VALIDATE,
        "pretrain.cells.cd-flm.budget.flops",
        _cell(budget={"flops": float("nan")}),
    ),
    Case(
        "lr .nan",
        VALIDATE,
        "pretrain.optimizer.lr",
        lambda p: p["pretrain"]["optimizer"].update(lr=float("nan")),
    ),
    Case(
        "UL2 weight .inf",
        VALIDATE,
        "pretrain.cells.nd-ul2.options.denoisers[0].weight",
        _ul2_weight(float("inf")),
    ),
    # ------------------------------------------------------------------ out of range
    Case("negative seed", VALIDATE, "seed", lambda p: p.update(seed=-1)),
    Case("seed past 2**32-1", VALIDATE, "evaluate.seed", lambda p: p["evaluate"].update(seed=2**32)),
    Case("replicate seed true", VALIDATE, "study.seeds[0]", lambda p: p["study"].update(seeds=[True])),
    Case(
        "replicated cell the study does not evaluate",  # its replicates would be, and the report fail at the end
        VALIDATE,
        "evaluate.models: add `cd-flm-again: pretrain`",
        lambda p: (
            p["study"].update(seeds=[1]),
            p["pretrain"]["cells"].update({"cd-flm-again": p["pretrain"]["cells"]["cd-flm"]}),
        ),
    ),
    Case(
        "vocabulary no machine holds",
        VALIDATE,
        "tokenizer.vocab_size",
        lambda p: p["tokenizer"].update(vocab_size=2**40),
    ),
    Case(
        "seq_len 1e9",
        VALIDATE,
        "pretrain.seq_len",
        lambda p: p["pretrain"].update(seq_len=1e9, batch_tokens=2e9),
    ),
    Case(
        "d_model 2**40", VALIDATE, "models.nano.d_model", lambda p: p["models"]["nano"].update(d_model=2**40)
    ),
    # ------------------------------------------------------------------ found by validate, not at stage time
    Case("no tasks", VALIDATE, "evaluate.tasks", lambda p: p["evaluate"].update(tasks=[])),
    Case(
        "unknown task",
        VALIDATE,
        "no_such_task",
        lambda p: p["evaluate"].update(tasks=["nli.fact", "no_such_task"]),
    ),
    Case(
        "tokenizer inside the tokenize stage's output",
        VALIDATE,
        "tokenizer.pretrained",
        lambda p: p.update(tokenizer={"pretrained": "data/tokenizer"}),
        _write("data/tokenizer/tokenizer.json", b"{}"),
    ),
]


def _invoke(case: Case, root, monkeypatch, env: dict[str, str] | None = None):
    text = case.params_text if case.params_text is not None else yaml.safe_dump(smoke_params(case.mutate))
    (root / "params.yaml").write_text(text)
    case.prepare(root)
    monkeypatch.chdir(root)
    for name in (*LAUNCHER_VARIABLES, TORCHRUN_WORKER_MARK):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    before = tree_snapshot(root)
    result = CliRunner().invoke(app, case.argv)
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}\n{result.exception!r}"
    assert case.culprit in result.output, result.output
    assert "Traceback" not in result.output and result.output.count("error:") == 1, result.output
    assert tree_snapshot(root) == before
    return result


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_strict_input_exits_2_names_culprit_and_writes_nothing(case: Case, tmp_path, monkeypatch):
    _invoke(case, tmp_path, monkeypatch)


def test_validate_stays_cheap_on_the_largest_sizes_allowed(tmp_path, monkeypatch):
    """The bounds keep ``validate`` quick even at their limits (it plans every cell)."""
    from pretrainlab.config.schema import MAX_SEQ_LEN

    def biggest(p: dict) -> None:
        p["pretrain"].update(seq_len=MAX_SEQ_LEN, batch_tokens=MAX_SEQ_LEN)

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(smoke_params(biggest)))
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    result = CliRunner().invoke(app, VALIDATE)
    assert result.exit_code in (0, 2), f"{result.output}\n{result.exception!r}"
    assert time.perf_counter() - start < 60, "validate must not hang on a large but allowed seq_len"


# ------------------------------------------------------------------ a launcher's environment left behind
def _first_cell(stage: str) -> list[str]:
    p = smoke_params()
    section = {"pretrain": p["pretrain"]["cells"], "evaluate": p["evaluate"]["models"]}.get(
        stage, p.get(stage)
    )
    return ["--cell", next(iter(section))] if stage in CELL_STAGES else []


LEFTOVERS = [(stage, var) for stage, var in zip(STAGES, [*LAUNCHER_VARIABLES] * 3, strict=False)]


@pytest.mark.parametrize(("stage", "variable"), LEFTOVERS, ids=[f"{s}-{v}" for s, v in LEFTOVERS])
def test_every_stage_refuses_a_launchers_leftover_environment(stage, variable, tmp_path, monkeypatch):
    """Every stage (a new one too: the list is the CLI's), with one of the variables set outside torchrun."""
    case = Case(f"{variable} left set", ["stage", stage, *_first_cell(stage)], variable)
    result = _invoke(case, tmp_path, monkeypatch, env={variable: "1"})
    assert "torchrun" in result.output


def test_torchrun_workers_keep_their_rank_variables():
    worker = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", TORCHRUN_WORKER_MARK: "none"}
    check_environment(worker)  # no error: torchrun's agent started this process
    check_environment({})
