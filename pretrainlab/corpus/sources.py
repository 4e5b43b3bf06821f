"""Read raw documents from the corpus sources named in ``params.yaml`` (``corpus.sources``).

Every reader is a generator of :class:`DocumentRun` (consecutive documents of one origin) so the build
streams: about a megabyte of a file's lines (or one Arrow record batch) is in memory at a time.
``origin`` says where a document came from (``synthworld``, ``files:raw/a.jsonl.gz``,
``hf:roneneldan/TinyStories``); a text is ``None`` for a document whose bytes are not valid UTF-8 — the
build counts it under ``invalid_utf8`` and drops it, so one bad byte never crashes a run. JSON lines
stay unparsed (:class:`JsonLines`) until :func:`texts_of`, so the build parses them in its workers.

Bad input raises :class:`~pretrainlab.errors.UserInputError` naming the key path
(``corpus.sources[1].glob``) or the file and line at fault.
"""

from __future__ import annotations

import glob as globlib
import gzip
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pretrainlab.errors import UserInputError

if TYPE_CHECKING:  # sources are told apart by ``kind``: the build's workers need not import pydantic
    from pretrainlab.config.schema import FilesSource, HFSource, Source, SynthworldSource

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
_JSON_LINES_BYTES = 1 << 20  # read per run of a JSON lines file


class RawDocument(NamedTuple):
    origin: str
    text: str | None  # None: the bytes were not valid UTF-8


@dataclass(frozen=True)
class JsonLines:
    """Lines of a JSON lines file, not parsed yet: :meth:`texts` parses them (picklable, cheap to send)."""

    path: Path
    field: str
    lines: list[bytes]  # without the blank ones
    line_numbers: Sequence[int]  # 1-based, for messages

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, part: slice) -> JsonLines:
        return JsonLines(self.path, self.field, self.lines[part], self.line_numbers[part])

    def texts(self) -> list[str | None]:
        """The ``field`` of each line (None for invalid UTF-8); UserInputError naming file:line if bad."""
        try:  # the common case at C speed: every line an object whose field is a string
            texts = [record[self.field] for record in map(orjson.loads, self.lines)]
            if set(map(type, texts)) <= {str}:
                return texts
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass
        return [
            _json_text(raw, self.field, f"{self.path}:{line_no}")
            for raw, line_no in zip(self.lines, self.line_numbers, strict=True)
        ]


class DocumentRun(NamedTuple):
    """Consecutive documents of one origin: their texts, or JSON lines still to parse."""

    origin: str
    texts: list[str | None] | JsonLines


def texts_of(run: DocumentRun) -> list[str | None]:
    """A run's texts, parsing JSON lines (where the build's workers run it)."""
    return run.texts.texts() if isinstance(run.texts, JsonLines) else run.texts


def iter_documents(source: Source, key: str, root: Path | None = None) -> Iterator[RawDocument]:
    """All documents of one source, in a deterministic order.

    ``key`` is the source's params path (``corpus.sources[0]``) used in error messages; ``root`` is the
    directory ``files`` globs and relative ``hf`` paths are resolved against (default: the cwd).
    """
    for run in iter_runs(source, key, root):
        for text in texts_of(run):
            yield RawDocument(run.origin, text)


def iter_runs(source: Source, key: str, root: Path | None = None) -> Iterator[DocumentRun]:
    """:func:`iter_documents` in runs, JSON lines unparsed."""
    root = Path.cwd() if root is None else Path(root)
    if source.kind == "synthworld":
        return _synthworld(source)
    if source.kind == "files":
        return _files(source, key, root)
    if source.kind == "hf":
        return _hf(source, key, root)
    raise TypeError(f"unknown source kind: {source!r}")


def check_source(source: Source, key: str, root: Path | None = None) -> None:
    """Cheap checks before a build reads anything: a glob matches supported files, a local path exists."""
    root = Path.cwd() if root is None else Path(root)
    if source.kind == "files":
        match_files(source, key, root)
    elif source.kind == "hf":
        looks_local = source.path.startswith((".", "/", "~")) or source.path.count("/") > 1
        if looks_local and not _local_path(source, root).exists():
            raise UserInputError(f"{key}.path: {source.path!r} does not exist (relative to {root})")


def _local_path(source: HFSource, root: Path) -> Path:
    path = Path(source.path).expanduser()
    return path if path.is_absolute() else root / path


# ------------------------------------------------------------------------------------ synthworld
def _synthworld(source: SynthworldSource) -> Iterator[DocumentRun]:
    # Imported lazily: the generator is a large module that ``files``/``hf`` corpora never need.
    from pretrainlab.synthworld import generate_documents

    texts = generate_documents(documents=source.documents, entities=source.entities, seed=source.seed)
    while run := list[str | None](islice(texts, _ARROW_BATCH)):
        yield DocumentRun("synthworld", run)


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


def _files(source: FilesSource, key: str, root: Path) -> Iterator[DocumentRun]:
    for relative in match_files(source, key, root):
        path = root / relative
        origin = f"files:{relative.as_posix()}"
        kind = file_format(str(relative))
        if kind == "text":
            yield DocumentRun(origin, [_decode(path.read_bytes())])
        elif kind == "jsonl":
            for lines in _read_json_lines(path, source.text_field):
                yield DocumentRun(origin, lines)
        else:
            for texts in _read_parquet(path, source.text_field):
                yield DocumentRun(origin, texts)


def _decode(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _read_json_lines(path: Path, field: str) -> Iterator[JsonLines]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    line_no = 0  # lines read so far
    try:
        with opener(path, "rb") as handle:
            while lines := handle.readlines(_JSON_LINES_BYTES):
                documents = list(filter(bytes.strip, lines))  # blank lines are no documents
                if len(documents) == len(lines):
                    numbers: Sequence[int] = range(line_no + 1, line_no + 1 + len(lines))
                else:
                    numbers = [n for n, line in enumerate(lines, line_no + 1) if line.strip()]
                line_no += len(lines)
                if documents:
                    yield JsonLines(path, field, documents, numbers)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise UserInputError(
            f"{path}: truncated or corrupt gzip after line {line_no} ({err}); re-download or recompress it"
        ) from err


def _json_text(raw: bytes, field: str, where: str) -> str | None:
    try:  # orjson refuses invalid UTF-8, lone surrogates, NaN: those take the slow path
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        line = _decode(raw)
        if line is None:
            return None
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserInputError(f"{where}: not a JSON object ({err.msg})") from err
        return _text_of(record, field, where, escaped=b"\\u" in raw)
    return _text_of(record, field, where, escaped=False)


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


def _read_parquet(path: Path, field: str) -> Iterator[list[str | None]]:
    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        if field not in names:
            raise UserInputError(f"{path}: no text field {field!r} (set text_field); fields present: {names}")
        column_type = parquet.schema_arrow.field(field).type
        if not (pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
            raise UserInputError(f"{path}: column {field!r} is {column_type}, not a string column")
        for batch in parquet.iter_batches(batch_size=_ARROW_BATCH, columns=[field]):
            yield ["" if text is None else text for text in batch.column(0).to_pylist()]
    except (pa.ArrowInvalid, OSError) as err:
        raise UserInputError(f"{path}: not a readable parquet file ({err})") from err


# -------------------------------------------------------------------------------------------- hf
def _hf(source: HFSource, key: str, root: Path) -> Iterator[DocumentRun]:
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
        texts: list[str | None] = []
        for text in batch[source.text_field]:
            if limit is not None and count >= limit:
                break
            if text is not None and not isinstance(text, str):
                raise UserInputError(
                    f"{key}.text_field: field {source.text_field!r} of {source.path!r} holds "
                    f"{type(text).__name__}, not strings"
                )
            count += 1
            texts.append(text or "")
        if texts:
            yield DocumentRun(origin, texts)
        if limit is not None and count >= limit:
            return


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
