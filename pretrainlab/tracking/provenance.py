"""Where the code and the pipeline stood when a run was made: the git commit and the hash of dvc.lock,
each when there is one (a study outside git, or before its first ``dvc repro``, has none)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

LOCK = Path("dvc.lock")


def provenance(root: Path = Path(".")) -> dict[str, str]:
    """``{"git_commit": ..., "dvc_lock_sha256": ...}``, either left out when unknown."""
    found = {}
    if commit := git_commit(root):
        found["git_commit"] = commit
    if (root / LOCK).is_file():
        found["dvc_lock_sha256"] = hashlib.sha256((root / LOCK).read_bytes()).hexdigest()
    return found


def git_commit(root: Path) -> str | None:
    """HEAD's commit in the checkout holding ``root``; None without git or a commit."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
