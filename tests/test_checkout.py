"""Tests never depend on a user's outputs in the checkout: projects are built from source only, and a
test that opens what git ignores in the checkout fails (tests/checkout.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.checkout import CheckoutGuard, make_project, source_files
from tests.conftest import GUARD, ROOT


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A repository after `make run`: tracked source, a new file not yet added, ignored outputs, and
    the study's dvc.lock."""
    root = tmp_path / "checkout"
    (root / "stages").mkdir(parents=True)
    (root / "stages" / "corpus.py").write_text("print('corpus')\n")
    (root / ".gitignore").write_text("/data/\n/metrics/\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")  # committed, as DVC advises
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    (root / "stages" / "new_stage.py").write_text("print('work in progress')\n")
    (root / "data" / "tokens").mkdir(parents=True)
    (root / "data" / "tokens" / "train.bin").write_bytes(b"\0" * 8)
    (root / "metrics").mkdir()
    (root / "metrics" / "report.json").write_text("{}")
    return root


def test_source_is_what_git_does_not_ignore(checkout):
    assert source_files(checkout) == [".gitignore", "stages/corpus.py", "stages/new_stage.py"]


def test_projects_never_contain_the_users_outputs(checkout, tmp_path):
    project = make_project(tmp_path / "project", "seed: 0\n", root=checkout)
    assert (project / "stages" / "new_stage.py").is_file()
    assert not (project / "data").exists() and not (project / "metrics").exists()
    assert not (project / "dvc.lock").exists()  # a fresh project has run nothing
    # the fixture's commit succeeds: a fresh repository with everything added
    assert subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True).stdout == b""


def test_guard_flags_reads_lists_and_writes_of_ignored_paths(checkout):
    guard = CheckoutGuard(checkout, source_files(checkout))
    guard.audit("open", (str(checkout / "stages" / "corpus.py"), "r", 0))
    guard.audit("open", (str(checkout / ".venv" / "bin" / "python"), "r", 0))
    guard.audit("os.scandir", (str(checkout / "stages"),))
    assert guard.take() == []
    guard.audit("open", (str(checkout / "data" / "tokens" / "train.bin"), "rb", 0))
    guard.audit("os.listdir", (str(checkout / "metrics"),))
    guard.audit("open", (str(checkout / "dvc.lock"), "r", 0))
    guard.audit("open", (str(checkout / "stages" / "scratch.txt"), "w", 0))
    assert guard.take() == [
        "data/tokens/train.bin (read)",
        "metrics (list)",
        "dvc.lock (read)",
        "stages/scratch.txt (write)",
    ]


def test_the_installed_guard_sees_a_real_open_of_the_checkouts_outputs():
    """The audit hook is live for the whole suite: an open of data/ in the checkout is recorded (the
    file need not exist — the event is raised before the open)."""
    with pytest.raises(OSError):
        open(ROOT / "data" / "no-such-output-for-the-guard-test.bin", "rb")  # noqa: SIM115
    assert GUARD.take() == ["data/no-such-output-for-the-guard-test.bin (read)"]
