"""A file object that fails as a full disk does, for tests of what a failed write leaves behind."""

from __future__ import annotations

import errno
import os


class FullDisk:
    """Wraps an open file: takes ``room`` bytes, then write() raises ENOSPC ("No space left on device")."""

    def __init__(self, handle, room: int = 0) -> None:
        self._handle, self._room = handle, room

    def write(self, data):
        if len(data) > self._room:
            self._handle.write(data[: self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()
