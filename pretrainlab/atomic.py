"""Write-then-rename, so an interrupted stage never leaves an artifact that looks finished.

>>> with atomic_dir(Path("data/tokenizer")) as tmp:   # doctest: +SKIP
...     (tmp / "tokenizer.json").write_text("...")
# data/tokenizer appears only when the block exits without an exception.

A write that fails (a full disk, say) removes its temporary and leaves the previous ``final``, if
any, as it was; the error names ``final``. A process killed mid-write leaves its temporary
(``.tmp-<name>.<pid>``) behind: the next write of the same ``final`` removes it once that process is
gone, so leftovers never pile up next to the outputs.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pretrainlab.errors import NonFiniteResultError

_TMP_PREFIX = ".tmp-"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_dead_temporaries(final: Path) -> None:
    """Delete the temporaries of ``final`` (``.tmp-<name>.<pid>``, ``.tmp-old-<name>.<pid>``) left by
    processes that no longer run (killed mid-write); a live writer's are left alone."""
    _remove_dead_writers(final.parent, final.name)


def remove_dead_temporaries_in(folder: Path) -> None:
    """Delete what dead writers left in ``folder``, whatever output they were writing (a checkpoint
    folder's step directories); a live writer's temporaries are left alone."""
    _remove_dead_writers(Path(folder), None)


def _remove_dead_writers(folder: Path, name: str | None) -> None:
    if not folder.is_dir():
        return
    for leftover in folder.glob(f"{_TMP_PREFIX}*"):
        stem, _, pid = leftover.name[len(_TMP_PREFIX) :].rpartition(".")
        if name is not None and stem.startswith("old-") and stem[4:] == name:
            stem = name
        ours = name is None or stem == name
        if ours and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            _remove(leftover)


def _naming(error: OSError, final: Path, tmp: Path | None = None) -> OSError:
    """A refused write (a full disk, a read-only folder), named by the output being written:
    ``write()`` names no file, and the temporary (or a file inside ``atomic_dir``'s) is named by where
    it was going (``data/tokens/meta.json``), which is what the user knows."""
    if error.errno is None:
        return error
    if error.filename is None:
        return OSError(error.errno, os.strerror(error.errno), str(final))
    failed = Path(os.path.abspath(error.filename))
    if tmp is not None and failed.is_relative_to(os.path.abspath(tmp)):
        return OSError(
            error.errno, os.strerror(error.errno), str(final / failed.relative_to(os.path.abspath(tmp)))
        )
    return error


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on success replace ``final`` with it."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_temporaries(final)
    tmp = temporary_sibling(final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(error, OSError) and (named := _naming(error, final, tmp)) is not error:
            raise named from error
        raise
    if final.exists():
        old = final.parent / f"{_TMP_PREFIX}old-{final.name}.{os.getpid()}"
        os.replace(final, old)
        try:
            os.replace(tmp, final)
        except BaseException:
            os.replace(old, final)  # the previous version stays
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _fsync_dir(final.parent)


@contextlib.contextmanager
def atomic_file(final: Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary file for writing; on success rename it onto ``final``."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_temporaries(final)
    tmp = temporary_sibling(final)
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and (named := _naming(error, final, tmp)) is not error:
            raise named from error
        raise


def write_together(files: Sequence[tuple[Path, str | bytes]]) -> None:
    """Write several files as one publication: every temporary is written in full before any is
    renamed, and the renames run from the last file to the first, so the first (a finished-marker such
    as a metrics file) appears last. A failed write (a full disk, named by the file being written)
    leaves every previous file as it was.
    """
    with contextlib.ExitStack() as stack:
        for path, content in files:
            handle = stack.enter_context(atomic_file(path, "wb" if isinstance(content, bytes) else "w"))
            handle.write(content)


def non_finite_numbers(payload: Any, path: str = "") -> list[str]:
    """Key paths (``held_out.ci95[0]``) of the NaN and infinite floats anywhere in ``payload``."""
    if isinstance(payload, float):
        return [] if math.isfinite(payload) else [f"{path or '<root>'} = {payload}"]
    if isinstance(payload, dict):
        return [
            bad
            for k, v in payload.items()
            for bad in non_finite_numbers(v, f"{path}.{k}" if path else str(k))
        ]
    if isinstance(payload, (list, tuple)):
        return [bad for i, v in enumerate(payload) for bad in non_finite_numbers(v, f"{path}[{i}]")]
    return []


def json_text(payload: Any, final: Path) -> str:
    """``payload`` as indented, key-sorted JSON, the one format of every JSON file the project writes.

    NaN and infinities are refused (JSON has no such numbers and a reader would take ``NaN`` for a
    result): :class:`~pretrainlab.errors.NonFiniteResultError` names ``final`` and each key path.
    """
    if bad := non_finite_numbers(payload):
        raise NonFiniteResultError(
            f"{final}: not written: {', '.join(bad)} (JSON has no NaN or infinity: a diverged run or "
            "an undefined metric); the previous version, if any, is intact"
        )
    return json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: Path, payload: Any) -> None:
    """Atomically write ``payload`` with :func:`json_text` (checked before anything is touched)."""
    text = json_text(payload, Path(path))
    with atomic_file(Path(path)) as handle:
        handle.write(text)


def remove(final: Path) -> None:
    """Delete the output ``final`` (file or directory) and what dead writers left of it; a live
    writer's temporaries stay. A directory is renamed aside first, so a kill mid-delete never leaves
    a partial ``final`` that looks like the real one."""
    final = Path(final)
    remove_dead_temporaries(final)
    if final.is_dir() and not final.is_symlink():
        aside = final.parent / f"{_TMP_PREFIX}old-{final.name}.{os.getpid()}"
        os.replace(final, aside)
        _fsync_dir(final.parent)
        shutil.rmtree(aside, ignore_errors=True)
    elif final.exists() or final.is_symlink():
        final.unlink()
        _fsync_dir(final.parent)
