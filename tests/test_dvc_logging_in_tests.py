"""DVC called in-process after a test that swapped sys.stdout: its log lines still have a stream.

``import dvc`` binds DVC's log handler to the sys.stdout of that moment; tests/conftest.py imports it
at the session's start. Without that, the first test here (DVC imported under typer's CliRunner, whose
stream is closed afterwards) would break the second: "I/O operation on closed file"."""

from __future__ import annotations

import subprocess

import typer
from typer.testing import CliRunner


def test_dvc_imported_first_under_a_cli_runner():
    app = typer.Typer()

    @app.command()
    def load() -> None:
        import dvc.repo  # noqa: F401

    @app.command()
    def other() -> None:
        """A second command, so typer keeps command names."""

    assert CliRunner().invoke(app, ["load"]).exit_code == 0


def test_dvc_logs_in_a_later_test(tmp_path):
    from dvc.repo import Repo

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    Repo.init(tmp_path).close()  # logs "Initialized DVC repository."
    assert (tmp_path / ".dvc").is_dir()
