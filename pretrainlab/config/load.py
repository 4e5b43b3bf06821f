"""Read ``params.yaml``, validate all of it, and report every error with its key path.

>>> load_params(Path("params.yaml"))                          # doctest: +SKIP
Study(seed=0, corpus=CorpusConfig(...), ...)
A bad file raises :class:`ParamsError` listing lines such as
``pretrain.cells.cd-flm.budget.tokens: Input should be greater than 0``.
"""

from __future__ import annotations

import json
import re
import typing
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from pretrainlab.config import schema
from pretrainlab.config.checks import cross_field_errors
from pretrainlab.config.schema import Study
from pretrainlab.errors import UserInputError

DEFAULT_PARAMS = Path("params.yaml")
SCHEMA_FILE = Path("params.schema.json")


class ParamsError(UserInputError):
    """One or more problems in a params file; ``errors`` holds ``"key.path: message"`` lines."""

    def __init__(self, path: Path, errors: list[str]):
        self.errors = errors
        listing = "\n".join(f"  - {line}" for line in errors)
        super().__init__(f"{path}: {len(errors)} error(s)\n{listing}")


@cache
def union_tags() -> frozenset[str]:
    """Every ``kind`` value of the schema's tagged unions (``synthworld``, ``files``, ``hf``, ``disk``...):
    the tags pydantic inserts into an error's location after a list index."""
    tags: set[str] = set()
    for model in vars(schema).values():
        if isinstance(model, type) and issubclass(model, BaseModel) and "kind" in model.model_fields:
            tags.update(typing.get_args(model.model_fields["kind"].annotation))
    return frozenset(tags)


def key_path(loc: tuple[str | int, ...]) -> str:
    """pydantic's ``("corpus", "sources", 0, "files", "glob")`` -> ``corpus.sources[0].glob``: the
    tagged-union tag pydantic inserts (:func:`union_tags`) is dropped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in union_tags() and out.endswith("]"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


class StrictYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that reads ``6.4e5`` as a number, as YAML 1.2 and DVC do (PyYAML's YAML 1.1
    wants ``6.4e+5`` and would hand the schema a string)."""


StrictYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def duplicate_keys(node: yaml.Node, path: str = "") -> list[str]:
    """``"a.b: given twice (lines 3 and 7)"`` for each key repeated in one mapping, at any depth
    (PyYAML silently keeps the last). A key may still override one that ``<<: *anchor`` brings in."""
    found: list[str] = []
    seen: set[int] = set()

    def walk(node: yaml.Node, path: str) -> None:
        if id(node) in seen:  # an alias: checked where its anchor is
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                where = f"{path}.{key}" if path else key
                if key in first_line:
                    found.append(f"{where}: given twice (lines {first_line[key]} and {line}); keep one")
                first_line.setdefault(key, line)
                walk(value_node, where)

    walk(node, path)
    return found


def parse_yaml(text: str, source: Path) -> object:
    """The one way the project reads a user's YAML: safe, no key given twice, YAML 1.2 exponents.
    Raises :class:`UserInputError` naming ``source`` (and the key path and lines, or the line)."""
    loader = StrictYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if duplicates := duplicate_keys(node):
            raise UserInputError(f"{source}: {'; '.join(duplicates)}")
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UserInputError(f"{source}: not valid YAML{where}: {problem}") from None
    finally:
        loader.dispose()


def read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise UserInputError(f"{path}: params file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UserInputError(f"{path}: not valid YAML: not UTF-8 text ({error.reason})") from None
    raw = parse_yaml(text, path)
    if not isinstance(raw, dict):
        raise UserInputError(f"{path}: the top level must be a mapping of sections (seed, corpus, ...)")
    return raw


def load_params(path: Path = DEFAULT_PARAMS) -> Study:
    """Validate the whole file (shape, then cross-field rules); raise :class:`ParamsError` on any error."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        params = Study.model_validate(raw)
    except ValidationError as error:
        lines = [f"{key_path(e['loc'])}: {e['msg']}" for e in error.errors()]
        raise ParamsError(path, lines) from None
    errors = cross_field_errors(params, base_dir=path.parent)
    if errors:
        raise ParamsError(path, errors)
    return params


def json_schema() -> str:
    """The JSON Schema editors use to complete and check ``params.yaml``."""
    schema = Study.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "pretrainlab params.yaml"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
