"""One flow run per repository at a time.

DVC already keeps two ``dvc repro`` processes from corrupting ``dvc.lock``, but two flow runs over one
checkout would race stage by stage (the second one's stages fail on per-output locks or redo work the
first is doing). A flow run therefore holds an exclusive ``flock`` on ``.dvc/tmp/pretrainlab-flow.lock``
for its whole duration; a second one waits up to ``wait`` seconds, then fails with a message naming the
holder. The kernel drops the lock when the holder exits, so a crashed run never leaves it stale.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

LOCK_NAME = "pretrainlab-flow.lock"
POLL_SECONDS = 0.5


class RepositoryBusyError(RuntimeError):
    """Another flow run holds the repository. The CLI exits with 75 (EX_TEMPFAIL: try again later)."""

    exit_code = 75


def lock_path(repo: Path) -> Path:
    return Path(repo) / ".dvc" / "tmp" / LOCK_NAME


@contextmanager
def hold_repository(repo: Path, *, wait: float = 0.0, owner: str = "") -> Iterator[None]:
    """Hold the repository's flow lock, waiting at most ``wait`` seconds for another run to finish."""
    path = lock_path(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + max(wait, 0.0)
    with open(path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown process"
                    raise RepositoryBusyError(
                        f"{repo}: another pretrainlab flow run holds this repository ({holder}); "
                        f"it was not started. Wait for that run, or pass --wait SECONDS to queue behind it."
                    ) from None
                time.sleep(POLL_SECONDS)
        try:
            handle.seek(0)
            handle.truncate()
            stamp = datetime.now().astimezone().isoformat(timespec="seconds")
            handle.write(f"pid {os.getpid()} since {stamp}{f', {owner}' if owner else ''}")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
