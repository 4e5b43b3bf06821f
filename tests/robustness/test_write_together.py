"""atomic.write_together: files published as one — all or none, the first (the finished-marker) last."""

from __future__ import annotations

from pathlib import Path

import pytest

from pretrainlab import atomic
from tests.full_disk import FullDisk


def _files(folder: Path, version: str) -> list[tuple[Path, str | bytes]]:
    return [
        (folder / "metrics.json", f'{{"version": "{version}"}}'),
        (folder / "items.parquet", version.encode() * 100),
        (folder / "curve.json", f'{{"curve": "{version}"}}'),
    ]


def test_a_failed_write_leaves_every_previous_file_and_names_the_one_it_was_writing(tmp_path, monkeypatch):
    atomic.write_together(_files(tmp_path, "old"))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_open = open

    def full_at_the_curve(path, mode="r"):
        handle = real_open(path, mode)
        return FullDisk(handle, room=0) if "curve.json" in str(path) else handle

    monkeypatch.setattr(atomic, "open", full_at_the_curve, raising=False)
    with pytest.raises(OSError, match=r"No space left on device.*curve\.json"):
        atomic.write_together(_files(tmp_path, "new"))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary left either


def test_the_first_file_is_renamed_last(tmp_path, monkeypatch):
    renamed = []
    real_replace = atomic.os.replace
    monkeypatch.setattr(
        atomic.os, "replace", lambda src, dst: (renamed.append(Path(dst).name), real_replace(src, dst))
    )
    atomic.write_together(_files(tmp_path, "new"))
    assert renamed == ["curve.json", "items.parquet", "metrics.json"]
    assert (tmp_path / "metrics.json").read_text() == '{"version": "new"}'
