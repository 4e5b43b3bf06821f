"""After a scheduled run (opt-in): commit the ``dvc.lock`` files to git and ``dvc push`` the artifacts to the
DVC remote, so another machine can ``git pull && dvc pull`` exactly what this run produced."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from pipelines.repro import dvc_command, dvc_env
from pretrainlab.errors import UserInputError

COMMIT_MESSAGE = "pretrainlab flow: record dvc.lock"
LOCK_FILES = "*dvc.lock"  # a git pathspec: the lock of every dvc.yaml in the repository


class PublishError(RuntimeError):
    """git commit or dvc push failed; the message carries the command's output."""


def _run(command: list[str], repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=repo, env=dvc_env(), capture_output=True, text=True, check=False)


def check_publishable(repo: Path) -> None:
    """Fail before any stage runs if the commit could never happen."""
    if _run(["git", "rev-parse", "--is-inside-work-tree"], repo).returncode != 0:
        raise UserInputError(f"{repo}: --commit-and-push needs a git repository")


def commit_and_push(repo: Path, log: logging.Logger | None = None) -> str | None:
    """Commit the lock files (``dvc.lock``, ``inputs/dvc.lock``) alone (other staged changes are left
    staged) and push DVC outputs.

    Returns the new commit's hash, or ``None`` when no lock file changed.
    """
    log = log or logging.getLogger(__name__)
    commit: str | None = None
    result = _run(["git", "add", "--", LOCK_FILES], repo)
    if result.returncode != 0:
        raise PublishError(f"git add {LOCK_FILES} failed:\n{result.stdout}{result.stderr}")
    if _run(["git", "diff", "--cached", "--quiet", "--", LOCK_FILES], repo).returncode != 0:
        result = _run(["git", "commit", "-q", "-m", COMMIT_MESSAGE, "--", LOCK_FILES], repo)
        if result.returncode != 0:
            raise PublishError(f"git commit {LOCK_FILES} failed:\n{result.stdout}{result.stderr}")
        commit = _run(["git", "rev-parse", "HEAD"], repo).stdout.strip()
        log.info("committed the dvc.lock files as %s", commit[:12])
    else:
        log.info("no dvc.lock changed; nothing to commit")
    result = _run(dvc_command("push"), repo)
    if result.returncode != 0:
        raise PublishError(
            f"dvc push failed (is a default remote set? `dvc remote add -d ...`):\n{result.stdout}{result.stderr}"
        )
    log.info("dvc push: %s", (result.stdout.strip().splitlines() or ["done"])[-1])
    return commit
