"""The raw inputs a study names outside ``data/``, listed with their sizes and sha256, so that DVC sees
when one changes.

DVC watches only the paths dvc.yaml declares, and the files behind a corpus ``files`` glob, a local
``hf`` dataset folder, a ``tokenizer.pretrained`` folder, an adaptation's or a finetune cell's ``sources`` or
``evaluate.lm_eval.include_path`` are named in params.yaml, not there. The ``inputs`` stage (always
run by ``dvc repro``) writes one manifest per consumer (:data:`MANIFESTS`), each a dependency of the
stage that reads those files: unchanged inputs give a byte-identical manifest, so nothing downstream
reruns; an edited, added or removed file changes it, so its consumer does. A hub dataset id names no
local file and is not listed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pretrainlab.atomic import write_json
from pretrainlab.config.schema import (
    FilesSource,
    HFSource,
    PromptedDiskSource,
    PromptedFilesSource,
    PromptedHFSource,
    PromptedSource,
    Source,
)
from pretrainlab.corpus.sources import match_files

INPUTS = Path("data") / "inputs"
# manifest -> the stage(s) that depend on it (dvc.yaml)
MANIFESTS = {
    "corpus": INPUTS / "corpus.json",  # corpus.sources
    "tokenizer": INPUTS / "tokenizer.json",  # tokenizer.pretrained
    "adapt": INPUTS / "adapt.json",  # adapt.<name>.sources
    "finetune": INPUTS / "finetune.json",  # finetune.<name>.sources
    "evaluate": INPUTS / "evaluate.json",  # evaluate.lm_eval.include_path
}
# Not an output: each raw file's sha256 under its (size, mtime, inode), so an unchanged corpus is not
# read again on every `dvc repro` (a file rewritten with the same size and mtime would be missed).
HASH_CACHE = INPUTS / "sha256-cache.json"
_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HashCache:
    """sha256 of files by (size, mtime, inode), kept in :data:`HASH_CACHE` between runs; a damaged or
    missing cache file only costs the hashing."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.used: dict[str, list[Any]] = {}
        try:
            loaded = json.loads(self.path.read_text())
            self.known = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            self.known = {}

    def sha256(self, file: Path) -> str:
        status = file.stat()
        key, stamp = str(file.resolve()), [status.st_size, status.st_mtime_ns, status.st_ino]
        hit = self.known.get(key)
        digest = hit[1] if isinstance(hit, list) and len(hit) == 2 and hit[0] == stamp else sha256_of(file)
        self.used[key] = [stamp, digest]
        return digest

    def save(self) -> None:
        """Keep the files hashed this run (the others are no longer inputs)."""
        write_json(self.path, self.used)


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


def source_inputs(source: Source | PromptedSource, key: str, root: Path) -> list[Path]:
    """The local files a corpus or finetune source reads (none for synthworld or a hub dataset id)."""
    if isinstance(source, FilesSource | PromptedFilesSource):
        return [root / p for p in match_files(FilesSource(kind="files", glob=source.glob), key, root)]
    if isinstance(source, HFSource | PromptedHFSource | PromptedDiskSource):
        return _files_under(_local(source.path, root))  # read from the folder when one exists
    return []


def folder_inputs(path: str | None, root: Path) -> list[Path]:
    return [] if path is None else _files_under(_local(path, root))


def listing(files: Iterable[Path], root: Path, hashes: HashCache) -> list[dict[str, Any]]:
    """Each file's path (relative to ``root`` when inside it), size and sha256, sorted by path."""
    rows = []
    for path in files:
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        rows.append({"path": shown.as_posix(), "size": path.stat().st_size, "sha256": hashes.sha256(path)})
    return sorted(rows, key=lambda row: row["path"])


def sources_manifest(
    sources: list[Source] | list[PromptedSource], key: str, root: Path, hashes: HashCache
) -> dict[str, list[dict[str, Any]]]:
    """``{"<key>[i]": listing}`` for the sources that read local files."""
    manifest = {}
    for i, source in enumerate(sources):
        if files := source_inputs(source, f"{key}[{i}]", root):
            manifest[f"{key}[{i}]"] = listing(files, root, hashes)
    return manifest
