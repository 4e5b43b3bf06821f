"""Read raw documents from the corpus sources named in ``params.yaml`` (``corpus.sources``).

Every reader is a generator of :class:`RawDocument` so the build streams: at most one file's lines
(or one Arrow record batch) are in memory at a time. ``origin`` says where a document came from
(``synthworld``, ``files:raw/a.jsonl.gz``, ``hf:roneneldan/TinyStories``); ``text`` is ``None`` for a
document whose bytes are not valid UTF-8 — the build counts it under ``invalid_utf8`` and drops it,
so one bad byte never crashes a run.

Bad input raises :class:`~pretrainlab.errors.UserInputError` naming the key path
(``corpus.sources[1].glob``) or the file and line at fault.
"""

from __future__ import annotations

import glob as globlib
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pretrainlab.config.schema import FilesSource, HFSource, Source, SynthworldSource
from pretrainlab.errors import UserInputError

# Suffix -> reader kind. ``.json.gz``/``.json`` are JSON lines, as the HF hub and most dumps use them.
FILE_FORMATS = {
    ".txt": "text",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".jsonl.gz": "jsonl",
    ".json.gz": "jsonl",
    ".parquet": "parquet",
}
_ARROW_BATCH = 1024


class RawDocument(NamedTuple):
    origin: str
    text: str | None  # None: the bytes were not valid UTF-8


def iter_documents(source: Source, key: str, root: Path | None = None) -> Iterator[RawDocument]:
    """All documents of one source, in a deterministic order.

    ``key`` is the source's params path (``corpus.sources[0]``) used in error messages; ``root`` is the
    directory ``files`` globs and relative ``hf`` paths are resolved against (default: the cwd).
    """
    root = Path.cwd() if root is None else Path(root)
    if isinstance(source, SynthworldSource):
        return _synthworld(source)
    if isinstance(source, FilesSource):
        return _files(source, key, root)
    if isinstance(source, HFSource):
        return _hf(source, key, root)
    raise TypeError(f"unknown source kind: {source!r}")


def check_source(source: Source, key: str, root: Path | None = None) -> None:
    """Cheap checks before a build reads anything: a glob matches supported files, a local path exists."""
    root = Path.cwd() if root is None else Path(root)
    if isinstance(source, FilesSource):
        match_files(source, key, root)
    elif isinstance(source, HFSource):
        looks_local = source.path.startswith((".", "/", "~")) or source.path.count("/") > 1
        if looks_local and not _local_path(source, root).exists():
            raise UserInputError(f"{key}.path: {source.path!r} does not exist (relative to {root})")


def _local_path(source: HFSource, root: Path) -> Path:
    path = Path(source.path).expanduser()
    return path if path.is_absolute() else root / path


# ------------------------------------------------------------------------------------ synthworld
def _synthworld(source: SynthworldSource) -> Iterator[RawDocument]:
    # Imported lazily: the generator is a large module that ``files``/``hf`` corpora never need.
    from pretrainlab.synthworld import generate_documents

    for text in generate_documents(documents=source.documents, entities=source.entities, seed=source.seed):
        yield RawDocument("synthworld", text)


# ----------------------------------------------------------------------------------------- files
def file_format(path: str) -> str | None:
    """The reader kind for a file name (``text``, ``jsonl``, ``parquet``), or None if unsupported."""
    name = path.lower()
    for suffix in sorted(FILE_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FILE_FORMATS[suffix]
    return None


def match_files(source: FilesSource, key: str, root: Path) -> list[Path]:
    """The files a ``files`` source reads, sorted; every one must be of a supported format."""
    pattern = source.glob
    matches = sorted(
        p
        for p in (Path(m) for m in globlib.glob(pattern, root_dir=root, recursive=True))
        if (root / p).is_file()
    )
    if not matches:
        raise UserInputError(f"{key}.glob: {pattern!r} matches no files (relative to {root})")
    unsupported = [str(p) for p in matches if file_format(str(p)) is None]
    if unsupported:
        shown = ", ".join(unsupported[:5]) + (" ..." if len(unsupported) > 5 else "")
        raise UserInputError(
            f"{key}.glob: {pattern!r} matches files of an unsupported format: {shown} "
            f"(supported: {', '.join(FILE_FORMATS)})"
        )
    return matches


def _files(source: FilesSource, key: str, root: Path) -> Iterator[RawDocument]:
    for relative in match_files(source, key, root):
        path = root / relative
        origin = f"files:{relative.as_posix()}"
        kind = file_format(str(relative))
        if kind == "text":
            yield RawDocument(origin, _decode(path.read_bytes()))
        elif kind == "jsonl":
            for text in _read_json_lines(path, source.text_field, key):
                yield RawDocument(origin, text)
        else:
            for text in _read_parquet(path, source.text_field):
                yield RawDocument(origin, text)


def _decode(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _read_json_lines(path: Path, field: str, key: str) -> Iterator[str | None]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    line_no = 0
    try:
        with opener(path, "rb") as handle:
            for line_no, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:  # orjson refuses invalid UTF-8, lone surrogates, NaN: those take the slow path
                    record = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    line = _decode(raw)
                    if line is None:
                        yield None
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as err:
                        raise UserInputError(f"{path}:{line_no}: not a JSON object ({err.msg})") from err
                    yield _text_of(record, field, f"{path}:{line_no}", escaped=b"\\u" in raw)
                    continue
                yield _text_of(record, field, f"{path}:{line_no}", escaped=False)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise UserInputError(
            f"{path}: truncated or corrupt gzip after line {line_no} ({err}); re-download or recompress it"
        ) from err


def _text_of(record: Any, field: str, where: str, *, escaped: bool) -> str | None:
    if not isinstance(record, dict):
        raise UserInputError(
            f"{where}: expected a JSON object with a {field!r} field, got {type(record).__name__}"
        )
    if field not in record:
        raise UserInputError(
            f"{where}: no text field {field!r} (set text_field); fields present: {sorted(record) or 'none'}"
        )
    text = record[field]
    if text is None:
        return ""
    if not isinstance(text, str):
        raise UserInputError(f"{where}: field {field!r} is {type(text).__name__}, not a string")
    if escaped:
        # ``\ud800``-style escapes decode to lone surrogates, which are not encodable as UTF-8.
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return text


def _read_parquet(path: Path, field: str) -> Iterator[str | None]:
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        if field not in names:
            raise UserInputError(f"{path}: no text field {field!r} (set text_field); fields present: {names}")
        column_type = parquet.schema_arrow.field(field).type
        if not (pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
            raise UserInputError(f"{path}: column {field!r} is {column_type}, not a string column")
        for batch in parquet.iter_batches(batch_size=_ARROW_BATCH, columns=[field]):
            for text in batch.column(0).to_pylist():
                yield "" if text is None else text
    except (pa.ArrowInvalid, OSError) as err:
        raise UserInputError(f"{path}: not a readable parquet file ({err})") from err


# -------------------------------------------------------------------------------------------- hf
def _hf(source: HFSource, key: str, root: Path) -> Iterator[RawDocument]:
    dataset = _open_hf(source, key, root)
    origin = f"hf:{source.path}" + (f"/{source.name}" if source.name else "")
    columns = dataset.column_names
    if columns is not None and source.text_field not in columns:
        raise UserInputError(
            f"{key}.text_field: dataset {source.path!r} has no field {source.text_field!r}; "
            f"fields present: {sorted(columns)}"
        )
    limit = source.max_documents
    count = 0
    for batch in dataset.iter(batch_size=_ARROW_BATCH):
        if source.text_field not in batch:
            raise UserInputError(
                f"{key}.text_field: dataset {source.path!r} has no field {source.text_field!r}; "
                f"fields present: {sorted(batch)}"
            )
        for text in batch[source.text_field]:
            if limit is not None and count >= limit:
                return
            if text is not None and not isinstance(text, str):
                raise UserInputError(
                    f"{key}.text_field: field {source.text_field!r} of {source.path!r} holds "
                    f"{type(text).__name__}, not strings"
                )
            count += 1
            yield RawDocument(origin, text or "")


def _open_hf(source: HFSource, key: str, root: Path) -> Any:
    # Imported here: ``datasets`` takes a second to import and only ``hf`` sources need it.
    import datasets

    local = _local_path(source, root)
    if (local / "state.json").is_file() or (local / "dataset_dict.json").is_file():
        # A ``Dataset.save_to_disk`` directory: ``load_dataset`` cannot read these.
        loaded = datasets.load_from_disk(str(local))
        if isinstance(loaded, datasets.DatasetDict):
            if source.split not in loaded:
                raise UserInputError(
                    f"{key}.split: {source.split!r} not in {local} (splits: {sorted(loaded)})"
                )
            loaded = loaded[source.split]
        return loaded.to_iterable_dataset() if source.streaming else loaded

    path = str(local) if local.exists() else source.path
    try:
        return datasets.load_dataset(
            path, source.name, split=source.split, data_files=source.data_files, streaming=source.streaming
        )
    except ConnectionError as err:
        raise UserInputError(
            f"{key}.path: dataset {source.path!r} is not a local directory, not in the HF cache, and the "
            f"hub is unreachable ({err}). Download it first while online (e.g. `hf download --repo-type "
            f"dataset {source.path}` or `datasets.load_dataset({source.path!r})`), or point path at a local "
            f"directory of json/parquet files"
        ) from err
    except FileNotFoundError as err:
        raise UserInputError(
            f"{key}.path: dataset {source.path!r} not found ({err}); give a hub dataset id or a local "
            f"directory of json/parquet files"
        ) from err
    except ValueError as err:
        if "split" in str(err).lower():
            raise UserInputError(f"{key}.split: {err}") from err
        raise UserInputError(f"{key}: datasets.load_dataset({source.path!r}) failed: {err}") from err
