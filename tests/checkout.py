"""The checkout as git sees it: tests build their projects from source, never from a user's outputs.

After `make run` the checkout also holds the user's study — `data/`, `metrics/`, `plots/`,
`reports/`, `.dvc/cache` — all git-ignored. A test that copied or read them would pass or fail by
what the user ran before (a copied `data/` left a fixture's `git commit` with nothing to commit).
Two mechanisms keep that class out:

- :func:`make_project` builds every temporary study project from :func:`source_files`: the files git
  does not ignore (tracked, plus new files not yet added, so work in progress is tested too), less
  `dvc.lock`, the record of the user's runs that DVC asks them to commit.
- :class:`CheckoutGuard`, installed by ``tests/conftest.py`` as an audit hook, fails any test that
  opens or lists a path inside the checkout that git ignores (tooling such as `.venv/` and
  `__pycache__/` aside). It also catches a test that writes into the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The record of the user's own runs. DVC asks users to commit it, so git cannot tell it from source.
STUDY_RECORD = frozenset({"dvc.lock", "inputs/dvc.lock"})
# How `dvc repro` at the root names the study's inputs stage (declared in inputs/dvc.yaml).
INPUTS_STAGE = "inputs/dvc.yaml:inputs"
# Ignored by git, yet read by any test run: the interpreter, caches, git's own database.
TOOLING = frozenset({".venv", ".git", ".pytest_cache", ".ruff_cache", ".mypy_cache", "__pycache__"})


def source_files(root: Path = ROOT) -> list[str]:
    """Paths (relative, POSIX) of every existing file in ``root`` that git does not ignore, less the
    study's record (:data:`STUDY_RECORD`)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    paths = set(listed.split("\0")) - STUDY_RECORD - {""}
    return sorted(p for p in paths if (root / p).is_file())


def shipped(rel: str, dest: Path, root: Path = ROOT) -> Path:
    """Write the committed version of ``rel`` to ``dest`` and return it: the file as shipped, whatever the
    user did to the checkout (a newcomer copies a preset over params.yaml before running the suite)."""
    text = subprocess.run(
        ["git", "show", f"HEAD:{rel}"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    dest.write_text(text)
    return dest


def copy_source(dest: Path, root: Path = ROOT) -> None:
    """Copy :func:`source_files` of ``root`` into ``dest`` (symbolic links copied as links)."""
    for rel in source_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target, follow_symlinks=False)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["TOKENIZERS_PARALLELISM"] = "false"
    return env


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def make_project(dest: Path, params: str, root: Path = ROOT) -> Path:
    """A fresh git + DVC project: the checkout's source (:func:`source_files`) and ``params`` as params.yaml."""
    dest.mkdir(parents=True, exist_ok=True)
    copy_source(dest, root)
    (dest / "params.yaml").write_text(params)
    run(["git", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], dest)
    return dest


class CheckoutGuard:
    """Records every open or directory listing of a path in ``root`` that git ignores.

    >>> guard = CheckoutGuard(Path("/repo"), ["dvc.yaml", "stages/pretrain.py"])
    >>> guard.allowed("/repo/stages/pretrain.py"), guard.allowed("/repo/stages"), guard.allowed("/tmp/x")
    (True, True, True)
    >>> guard.allowed("/repo/data/tokens/train.bin"), guard.allowed("/repo/.venv/bin/python")
    (False, True)
    """

    EVENTS = frozenset({"open", "os.listdir", "os.scandir"})

    def __init__(self, root: Path, files: Iterable[str]) -> None:
        self.root = os.path.abspath(root)
        self.files = frozenset(files)
        self.dirs = frozenset(str(parent) for f in self.files for parent in Path(f).parents)
        self.violations: list[str] = []

    def allowed(self, path: str) -> bool:
        path = os.path.abspath(path)
        if path != self.root and not path.startswith(self.root + os.sep):
            return True
        rel = Path(os.path.relpath(path, self.root))
        if TOOLING.intersection(rel.parts) or any(part.endswith(".egg-info") for part in rel.parts):
            return True
        return rel.as_posix() in self.files or str(rel) in self.dirs

    def audit(self, event: str, args: tuple) -> None:
        if event not in self.EVENTS:
            return
        path = args[0] if args else "."
        if path is None:
            path = "."
        if isinstance(path, int):  # a file descriptor: already opened through a checked path
            return
        path = os.fsdecode(path)
        if event == "open" and len(args) > 1 and args[1] is None and not os.path.isabs(path):
            return  # os.open, maybe relative to a dir_fd we cannot see (shutil.rmtree walks that way)
        if not self.allowed(path):
            mode = str(args[1]) if event == "open" and len(args) > 1 else ""
            action = "list" if event != "open" else "write" if set(mode) & set("wax+") else "read"
            self.violations.append(f"{os.path.relpath(os.path.abspath(path), self.root)} ({action})")

    def take(self) -> list[str]:
        """The violations recorded since the last call, emptied."""
        taken, self.violations = self.violations, []
        return taken
