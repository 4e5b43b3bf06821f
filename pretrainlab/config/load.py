"""Read ``params.yaml``, validate all of it, and report every error with its key path.

>>> load_params(Path("params.yaml"))                          # doctest: +SKIP
Params(seed=0, corpus=CorpusConfig(...), ...)
A bad file raises :class:`ParamsError` listing lines such as
``pretrain.cells.cd-flm.budget.tokens: Input should be greater than 0``.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import ValidationError

from pretrainlab.config.checks import cross_field_errors
from pretrainlab.config.schema import Params
from pretrainlab.errors import UserInputError

DEFAULT_PARAMS = Path("params.yaml")
SCHEMA_FILE = Path("params.schema.json")


class ParamsError(UserInputError):
    """One or more problems in a params file; ``errors`` holds ``"key.path: message"`` lines."""

    def __init__(self, path: Path, errors: list[str]):
        self.errors = errors
        listing = "\n".join(f"  - {line}" for line in errors)
        super().__init__(f"{path}: {len(errors)} error(s)\n{listing}")


def key_path(loc: tuple[str | int, ...]) -> str:
    """pydantic's ``("corpus", "sources", 0, "glob")`` -> ``corpus.sources[0].glob``.

    Discriminated-union tags (``synthworld``, ``files``, ``hf``) that pydantic inserts are dropped.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("synthworld", "files", "hf") and out.endswith("]"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise UserInputError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise UserInputError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise UserInputError(f"{path}: the top level must be a mapping of sections (seed, corpus, ...)")
    return raw


def load_params(path: Path = DEFAULT_PARAMS) -> Params:
    """Validate the whole file (shape, then cross-field rules); raise :class:`ParamsError` on any error."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        params = Params.model_validate(raw)
    except ValidationError as error:
        lines = [f"{key_path(e['loc'])}: {e['msg']}" for e in error.errors()]
        raise ParamsError(path, lines) from None
    errors = cross_field_errors(params, base_dir=path.parent)
    if errors:
        raise ParamsError(path, errors)
    return params


def json_schema() -> str:
    """The JSON Schema editors use to complete and check ``params.yaml``."""
    schema = Params.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "pretrainlab params.yaml"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
