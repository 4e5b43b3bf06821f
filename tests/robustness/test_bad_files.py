"""The bad-input catalogue, files and the file system: a sequence longer than the token stream, files a
user can break (model card, metrics JSON, loss-curve CSV, per-item parquet), and paths the file system
refuses (unreadable, read-only, a missing folder, a folder where a file goes).

Each ends in one line naming the key or the file, exit code 2 (bad input), no traceback, and a tree
that is as it was. Running as root, ``chmod`` refuses nothing, so refusals come from an audit hook
that raises what the kernel would (``EACCES`` on reading, ``EROFS`` on writing under a folder).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pretrainlab.cli import app
from pretrainlab.errors import UserInputError
from pretrainlab.metrics_contract import LossCurve
from pretrainlab.report.study_report import build_report
from tests.report.test_study_report import _graph, _write_study
from tests.robustness.test_bad_input import files_source, saved_model, smoke_params, tree_snapshot

__all__ = ["saved_model"]  # the fixture, shared with the checkpoint cases

# ---------------------------------------------------------------------------------- refusals
_REFUSED: dict[str, tuple[str, Path]] = {}  # "read" / "write" -> the path refused
_WRITE_EVENTS = {"os.mkdir", "os.rename", "os.remove", "os.rmdir"}


def _refuse(event: str, args: tuple) -> None:
    if not _REFUSED or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = Path(os.path.abspath(os.fsdecode(args[0])))
    if event == "open":
        mode, flags = (args[1] if len(args) > 1 else None), (args[2] if len(args) > 2 else 0)
        writes = set(str(mode or "")) & set("wax+") or (
            mode is None and isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        )
    elif event in _WRITE_EVENTS:
        writes = event == "os.mkdir" or os.path.lexists(path)  # the kernel looks the name up first
    else:
        return
    kind, where = _REFUSED.get("write" if writes else "read", ("", Path("/nonexistent")))
    if kind and path.is_relative_to(where):
        code = errno.EROFS if writes else errno.EACCES
        raise OSError(code, os.strerror(code), os.fsdecode(args[0]))  # as given, as the kernel's


sys.addaudithook(_refuse)


@contextmanager
def refusing(reads: Path | None = None, writes: Path | None = None) -> Iterator[None]:
    """Reading under ``reads`` gives EACCES, writing under ``writes`` gives EROFS, inside the block."""
    if reads is not None:
        _REFUSED["read"] = ("read", reads.resolve())
    if writes is not None:
        _REFUSED["write"] = ("write", writes.resolve())
    try:
        yield
    finally:
        _REFUSED.clear()


def _invoke(root: Path, argv: list[str], culprit: str, monkeypatch, **refused: Path) -> str:
    monkeypatch.chdir(root)
    before = tree_snapshot(root)
    with refusing(**refused):
        result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}\n{result.exception!r}"
    assert culprit in result.output, result.output
    assert "Traceback" not in result.output and result.output.count("error:") == 1, result.output
    assert tree_snapshot(root) == before
    return result.output


def _project(root: Path, mutate: Callable[[dict], None] | None = None) -> Path:
    (root / "params.yaml").write_text(yaml.safe_dump(smoke_params(mutate)))
    return root


# ---------------------------------------------------------------------------------- the file system
def test_an_unreadable_params_file_is_named(tmp_path, monkeypatch):
    _project(tmp_path)
    _invoke(tmp_path, ["validate", "params.yaml"], "params.yaml: Permission denied", monkeypatch,
            reads=tmp_path / "params.yaml")  # fmt: skip


def test_an_unreadable_corpus_file_is_named(tmp_path, monkeypatch):
    _project(tmp_path, files_source("raw/*.jsonl"))
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_text(
        '{"text": "a document long enough to be kept by the filters"}\n'
    )
    _invoke(tmp_path, ["stage", "corpus"], "raw/a.jsonl: Permission denied", monkeypatch,
            reads=tmp_path / "raw" / "a.jsonl")  # fmt: skip


def test_a_read_only_output_folder_is_named(tmp_path, monkeypatch):
    _project(tmp_path)
    (tmp_path / "data").mkdir()
    _invoke(tmp_path, ["stage", "corpus"], "data", monkeypatch, writes=tmp_path / "data")


@pytest.mark.parametrize(
    ("out", "culprit"),
    [("no/such/folder/schema.json", "no/such/folder"), ("existing", "existing: Is a directory")],
    ids=["in a missing folder", "naming a folder"],
)
def test_an_output_path_argument_that_cannot_be_written_is_named(out, culprit, tmp_path, monkeypatch):
    (tmp_path / "existing").mkdir()
    output = _invoke(tmp_path, ["schema", "--out", out], culprit, monkeypatch)
    assert "wrote" not in output


def test_a_read_only_schema_destination_is_named(tmp_path, monkeypatch):
    (tmp_path / "out").mkdir()
    _invoke(tmp_path, ["schema", "--out", "out/schema.json"], "out/schema.json: Read-only file system",
            monkeypatch, writes=tmp_path / "out")  # fmt: skip


# ---------------------------------------------------------------------------------- sequence vs stream
@pytest.fixture(scope="module")
def tokenized(tmp_path_factory) -> Path:
    """A project whose corpus and tokenize stages ran on the smoke preset."""
    root = _project(tmp_path_factory.mktemp("tokenized"))
    cwd = Path.cwd()
    os.chdir(root)
    try:
        for stage in ("corpus", "tokenize"):
            result = CliRunner().invoke(app, ["stage", stage])
            assert result.exit_code == 0, result.output
    finally:
        os.chdir(cwd)
    return root


def _longer_than_the_val_stream(p: dict) -> None:
    """One cell, its windows longer than the smoke corpus's validation stream."""
    cell = {**p["pretrain"]["cells"]["cd-flm"], "budget": {"tokens": 1.0e5}}
    p["pretrain"].update(seq_len=8192, batch_tokens=8192, cells={"cd-flm": cell})
    p.update(adapt={}, finetune={})
    p["evaluate"]["models"] = {"cd-flm": "pretrain"}


def test_a_sequence_longer_than_the_token_stream_names_the_key_and_the_file(tokenized, tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(tokenized, project)
    _project(project, _longer_than_the_val_stream)
    output = _invoke(project, ["stage", "pretrain", "--cell", "cd-flm"], "pretrain.seq_len", monkeypatch)
    assert "data/tokens/val.bin" in output and "8192" in output, output


# ---------------------------------------------------------------------------------- files a user can break
CARDS = {
    "empty": b"",
    "truncated": b'{"name": "cd-flm", "kind": "pretrain", "arch": "causal',
    "a list": b"[1, 2]",
    "no arch": json.dumps(
        {"name": "cd-flm", "kind": "pretrain", "objective": "full_lm", "seq_len": 64}
    ).encode(),
    "seq_len text": json.dumps(
        {
            "name": "cd-flm",
            "kind": "pretrain",
            "arch": "causal_decoder",
            "objective": "full_lm",
            "seq_len": "64",
        }
    ).encode(),
    "not UTF-8": b"\xff\xfe{}",
}


@pytest.mark.parametrize("card", list(CARDS), ids=list(CARDS))
def test_a_broken_model_card_is_named(card, saved_model, tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(saved_model, project)
    _project(project)
    card_file = project / "data" / "models" / "pretrain" / "cd-flm" / "pretrainlab.json"
    card_file.write_bytes(CARDS[card])
    output = _invoke(project, ["stage", "evaluate", "--cell", "cd-flm"], "pretrainlab.json", monkeypatch)
    assert "dvc checkout" in output, output


def _report(root: Path) -> None:
    models = {"cd-flm": "pretrain", "ed-mlm": "pretrain", "cd-flm-mtf": "finetune"}
    build_report(
        root / "metrics", root / "plots", root / "reports", title="t", models=models, graph=_graph(models)
    )


METRICS = {
    "a list": ("metrics/evaluate/cd-flm.json", b"[]", "not a JSON object"),
    "empty": ("metrics/evaluate/cd-flm.json", b"", "not valid JSON"),
    "NaN accuracy": ("metrics/pretrain/cd-flm.json", None, "val_loss = nan"),
    "a folder": ("metrics/pretrain/ed-mlm.json", "folder", "metrics file unreadable"),
    "text in a number column": ("plots/pretrain/cd-flm.csv", b"step,tokens,train_loss,val_loss,lr\n0,8,x,,0\n", "line 2: `train_loss` is 'x'"),
    "infinity in a curve": ("plots/pretrain/cd-flm.csv", b"step,tokens,train_loss,val_loss,lr\n0,8,inf,,0\n", "not a finite number"),
    "a short row": ("plots/pretrain/ed-mlm.csv", b"step,tokens,train_loss,val_loss,lr\n0,8\n", "no `train_loss` value in a loss curve (line 2)"),
    "corrupt per-item parquet": ("metrics/evaluate/ed-mlm.items.parquet", b"PAR1 not parquet PAR1", "unreadable"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(METRICS), ids=list(METRICS))
def test_a_broken_metrics_or_curve_file_is_named_and_no_report_is_written(case, tmp_path):
    rel, data, message = METRICS[case]
    _write_study(tmp_path)
    path = tmp_path / rel
    if data == "folder":
        path.unlink()
        path.mkdir()
    elif data is None:  # a result a diverged run would hold, written by hand (json allows NaN)
        text = path.read_text()
        assert '"val_loss": 3.3' in text
        path.write_text(text.replace('"val_loss": 3.3', '"val_loss": NaN'))
    else:
        path.write_bytes(data)
    before = tree_snapshot(tmp_path)
    with pytest.raises(UserInputError) as caught:
        _report(tmp_path)
    assert str(path) in str(caught.value) and message in str(caught.value), caught.value
    assert "\n" not in str(caught.value)
    assert tree_snapshot(tmp_path) == before and not (tmp_path / "reports").exists()


def test_a_curve_with_only_an_empty_val_loss_reads():
    """The one empty value the format allows (a step without validation) is not refused."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.csv"
        path.write_text("step,tokens,train_loss,val_loss,lr\n1,8,2.5,,0.001\n2,16,2.0,1.9,0.001\n")
        curve = LossCurve.read(path)
    assert curve.validation_points()[1].tolist() == [1.9]
