"""The in-repo Python files a module runs, found from the source with ``ast`` (nothing is imported).

``import a.b`` runs ``a/__init__.py`` then ``a/b.py``; ``from a.b import c`` also runs ``a/b/c.py``
when ``c`` is a submodule; relative imports resolve against the importing package; modules outside
``root`` (the standard library, torch, ...) are not followed. Imports inside functions count: a
library function may run, so what it imports may run too. Imports under ``if TYPE_CHECKING:`` never run.

An *entry* is a module of which only some functions run, e.g. the ``pretrainlab`` CLI when it
dispatches ``pretrainlab stage``: only its top-level code and those functions (and the module's own
functions they call) run. A module imported at its top level whose names those functions never use
only has its top-level code run (``pretrainlab/cli.py`` registers the Prefect ``flow`` commands, whose
imports run only when a flow command does), so its function-local imports are not followed.

>>> sorted(closure(root, ["stages/tokenize.py"]))                           # doctest: +SKIP
['pretrainlab/__init__.py', 'pretrainlab/config/__init__.py', ..., 'stages/tokenize.py']
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

FULL, TOP_LEVEL = "full", "top-level"  # how much of a module runs: any of its functions, or its import only


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name
    names: tuple[str, ...]  # ``from module import names`` (maybe submodules); () for ``import module``
    bound: tuple[str, ...]  # the names it binds in the importing module
    in_function: str | None  # the outermost function (or method) holding it; None at top level


def module_file(root: Path, module: str) -> str | None:
    """``a.b`` -> ``a/b.py`` or ``a/b/__init__.py`` (relative to ``root``), or None outside the repo."""
    base = Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if (root / candidate).is_file():
            return candidate.as_posix()
    return None


def module_name(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(path: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".")
    if not path.endswith("__init__.py"):
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING")


def imports(root: Path, path: str) -> tuple[Import, ...]:
    """Every import statement of ``root/path`` that can run, with the top-level function holding it."""
    stat = (root / path).stat()
    return _imports(root, path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4096)
def _imports(root: Path, path: str, mtime_ns: int, size: int) -> tuple[Import, ...]:  # keyed by version
    found: list[Import] = []

    def visit(node: ast.AST, function: str | None) -> None:
        if _type_checking(node):
            for statement in node.orelse:  # type: ignore[attr-defined]
                visit(statement, function)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(alias.name, (), (alias.asname or alias.name.split(".")[0],), function))
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            bound = tuple(alias.asname or alias.name for alias in node.names)
            found.append(Import(_absolute(path, node), names, bound, function))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and function is None:
            function = node.name
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse((root / path).read_text(), filename=path), None)
    return tuple(found)


def _files(root: Path, statement: Import) -> Iterator[str]:
    """The repo files an import statement runs: each package on the way, the module, imported submodules."""
    parts = statement.module.split(".")
    for depth in range(1, len(parts) + 1):
        if (file := module_file(root, ".".join(parts[:depth]))) is not None:
            yield file
    for name in statement.names:
        if name != "*" and (file := module_file(root, f"{statement.module}.{name}")) is not None:
            yield file


def _functions_run(tree: ast.Module, entry: Iterable[str]) -> set[str]:
    """``entry`` and the module's own top-level functions they call, transitively."""
    defined = {
        node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    todo, run = list(entry), set()
    while todo:
        name = todo.pop()
        if name in run or name not in defined:
            continue
        run.add(name)
        todo.extend(n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name) and n.id in defined)
    return run


def _entry_imports(root: Path, path: str, functions: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(file, mode) for what an entry module runs when only ``functions`` of it are called."""
    tree = ast.parse((root / path).read_text(), filename=path)
    run = _functions_run(tree, functions)
    used = {
        n.id
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in run
        for n in ast.walk(node)
        if isinstance(n, ast.Name)
    }
    for statement in imports(root, path):
        if statement.in_function is not None and statement.in_function not in run:
            continue
        called = statement.in_function is not None or bool(used.intersection(statement.bound))
        for file in _files(root, statement):
            yield file, FULL if called else TOP_LEVEL


def closure(
    root: Path, modules: Iterable[str], entry: tuple[str, Iterable[str]] | None = None
) -> dict[str, str | None]:
    """Repo files (relative POSIX paths) that running ``modules`` (any of their functions) may run,
    plus what ``entry`` = (path, function names) runs when only those functions of it are called;
    each with a file that imports it (None for the starting points), to show why it is there."""
    mode: dict[str, str] = {}
    importer: dict[str, str | None] = {}
    todo: deque[tuple[str, str, str | None]] = deque()  # breadth first: the nearest importer is named
    for module in modules:  # a module runs its packages' __init__.py first
        todo.extend((f, FULL, None) for f in _files(root, Import(module_name(module), (), (), None)))
    if entry is not None:
        todo.append((entry[0], TOP_LEVEL, None))
        todo.extend((file, how, entry[0]) for file, how in _entry_imports(root, entry[0], entry[1]))
    while todo:
        path, how, parent = todo.popleft()
        importer.setdefault(path, parent)
        if mode.get(path) in (FULL, how):
            continue
        mode[path] = how
        for statement in imports(root, path):
            if how == FULL or statement.in_function is None:
                todo.extend((file, how, path) for file in _files(root, statement))
    return {path: importer[path] for path in mode}
