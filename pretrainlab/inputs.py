"""The raw inputs a study names outside ``data/``, listed with their sizes and sha256, so that DVC sees
when one changes.

DVC watches only the paths dvc.yaml declares, and the files behind a corpus ``files`` glob, a local
``hf`` dataset folder, a ``tokenizer.pretrained`` folder, an adaptation's own ``sources`` or
``evaluate.lm_eval.include_path`` are named in params.yaml, not there. The ``inputs`` stage (always
run by ``dvc repro``) writes one manifest per consumer (:data:`MANIFESTS`), each a dependency of the
stage that reads those files: unchanged inputs give a byte-identical manifest, so nothing downstream
reruns; an edited, added or removed file changes it, so its consumer does. A hub dataset id names no
local file and is not listed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pretrainlab.config.schema import FilesSource, HFSource, Source
from pretrainlab.corpus.sources import match_files

INPUTS = Path("data") / "inputs"
# manifest -> the stage(s) that depend on it (dvc.yaml)
MANIFESTS = {
    "corpus": INPUTS / "corpus.json",  # corpus.sources
    "tokenizer": INPUTS / "tokenizer.json",  # tokenizer.pretrained
    "adapt": INPUTS / "adapt.json",  # adapt.<name>.sources
    "evaluate": INPUTS / "evaluate.json",  # evaluate.lm_eval.include_path
}
_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _local(path: str, root: Path) -> Path:
    local = Path(path).expanduser()
    return local if local.is_absolute() else root / local


def _files_under(path: Path) -> list[Path]:
    """``path`` itself (a file), every file below it (a folder), or nothing (absent)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return []


def source_inputs(source: Source, key: str, root: Path) -> list[Path]:
    """The local files a corpus source reads (none for synthworld or a hub dataset id)."""
    if isinstance(source, FilesSource):
        return [root / p for p in match_files(source, key, root)]
    if isinstance(source, HFSource):  # read from the folder when one exists (corpus.sources does)
        return _files_under(_local(source.path, root))
    return []


def folder_inputs(path: str | None, root: Path) -> list[Path]:
    return [] if path is None else _files_under(_local(path, root))


def listing(files: Iterable[Path], root: Path) -> list[dict[str, Any]]:
    """Each file's path (relative to ``root`` when inside it), size and sha256, sorted by path."""
    rows = []
    for path in files:
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        rows.append({"path": shown.as_posix(), "size": path.stat().st_size, "sha256": sha256_of(path)})
    return sorted(rows, key=lambda row: row["path"])


def sources_manifest(sources: list[Source], key: str, root: Path) -> dict[str, list[dict[str, Any]]]:
    """``{"<key>[i]": listing}`` for the sources that read local files."""
    manifest = {}
    for i, source in enumerate(sources):
        if files := source_inputs(source, f"{key}[{i}]", root):
            manifest[f"{key}[{i}]"] = listing(files, root)
    return manifest
