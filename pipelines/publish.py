"""After a scheduled run (opt-in): commit ``dvc.lock`` to git and ``dvc push`` the artifacts to the
DVC remote, so another machine can ``git pull && dvc pull`` exactly what this run produced."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from pipelines.repro import dvc_command, dvc_env
from pretrainlab.errors import UserInputError

COMMIT_MESSAGE = "pretrainlab flow: record dvc.lock"


class PublishError(RuntimeError):
    """git commit or dvc push failed; the message carries the command's output."""


def _run(command: list[str], repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=repo, env=dvc_env(), capture_output=True, text=True, check=False)


def check_publishable(repo: Path) -> None:
    """Fail before any stage runs if the commit could never happen."""
    if _run(["git", "rev-parse", "--is-inside-work-tree"], repo).returncode != 0:
        raise UserInputError(f"{repo}: --commit-and-push needs a git repository")


def commit_and_push(repo: Path, log: logging.Logger | None = None) -> str | None:
    """Commit ``dvc.lock`` alone (other staged changes are left staged) and push DVC outputs.

    Returns the new commit's hash, or ``None`` when ``dvc.lock`` did not change.
    """
    log = log or logging.getLogger(__name__)
    commit: str | None = None
    result = _run(["git", "add", "dvc.lock"], repo)
    if result.returncode != 0:
        raise PublishError(f"git add dvc.lock failed:\n{result.stdout}{result.stderr}")
    if _run(["git", "diff", "--cached", "--quiet", "--", "dvc.lock"], repo).returncode != 0:
        result = _run(["git", "commit", "-q", "-m", COMMIT_MESSAGE, "--", "dvc.lock"], repo)
        if result.returncode != 0:
            raise PublishError(f"git commit dvc.lock failed:\n{result.stdout}{result.stderr}")
        commit = _run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
        log.info("committed dvc.lock as %s", commit[:12])
    else:
        log.info("dvc.lock unchanged; nothing to commit")
    result = _run(dvc_command("push"), repo)
    if result.returncode != 0:
        raise PublishError(
            f"dvc push failed (is a default remote set? `dvc remote add -d ...`):\n{result.stdout}{result.stderr}"
        )
    log.info("dvc push: %s", (result.stdout.strip().splitlines() or ["done"])[-1])
    return commit
