"""Write-then-rename, so an interrupted stage never leaves an artifact that looks finished.

>>> with atomic_dir(Path("data/tokenizer")) as tmp:   # doctest: +SKIP
...     (tmp / "tokenizer.json").write_text("...")
# data/tokenizer appears only when the block exits without an exception.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_TMP_PREFIX = ".tmp-"


def temporary_sibling(path: Path) -> Path:
    """A scratch path next to ``path`` (same filesystem, so ``os.replace`` is atomic)."""
    return path.parent / f"{_TMP_PREFIX}{path.name}.{os.getpid()}"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on success replace ``final`` with it."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = final.parent / f"{_TMP_PREFIX}old-{final.name}.{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _fsync_dir(final.parent)


@contextlib.contextmanager
def atomic_file(final: Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary file for writing; on success rename it onto ``final``."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(final)
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)


def write_json(path: Path, payload: Any) -> None:
    """Atomically write ``payload`` as indented, key-sorted JSON."""
    with atomic_file(Path(path)) as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
        handle.write("\n")


def remove_stale_temporaries(folder: Path) -> None:
    """Delete leftovers of interrupted writes (``.tmp-*``) in ``folder``."""
    if folder.is_dir():
        for leftover in folder.glob(f"{_TMP_PREFIX}*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
