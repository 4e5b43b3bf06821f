"""Security rules, enforced on the source: nothing is unpickled from disk, no config is evaluated as
code, no remote code is trusted, no shell runs interpolated strings; cell names cannot escape the
output folders.

The scan walks the AST of every module in the package, stages, pipelines and benchmarks, so a
comment or a docstring that mentions a forbidden call does not trip it, and an aliased import does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pretrainlab import paths
from pretrainlab.errors import UserInputError
from tests.conftest import ROOT

SCANNED = ("pretrainlab", "stages", "pipelines", "benchmarks")


def python_files() -> list[Path]:
    return sorted(
        p for folder in SCANNED for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts
    )


def _call_name(node: ast.Call) -> str:
    func = node.func
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    else:  # a method of a computed value, e.g. build_model(...).eval(): never the builtin
        parts.append("?")
    return ".".join(reversed(parts))


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _is_const(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def violations(source: str, filename: str = "<src>") -> list[str]:
    """Forbidden patterns in ``source`` as ``file:line: what``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        where = f"{filename}:{node.lineno}"
        leaf = name.rsplit(".", 1)[-1]
        if name in ("eval", "exec", "builtins.eval", "builtins.exec"):
            found.append(f"{where}: {name}() runs a string as code")
        if leaf in ("load", "loads", "Unpickler") and name.split(".")[0] in (
            "pickle",
            "cPickle",
            "dill",
            "joblib",
        ):
            found.append(f"{where}: {name}() unpickles")
        if name == "torch.load" and not _is_const(_keyword(node, "weights_only"), True):
            found.append(f"{where}: torch.load without weights_only=True")
        if name in ("yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load"):
            loader = _keyword(node, "Loader")
            if not (isinstance(loader, ast.Attribute) and loader.attr in ("SafeLoader", "CSafeLoader")):
                found.append(f"{where}: {name} without a safe loader")
        if _is_const(_keyword(node, "trust_remote_code"), True):
            found.append(f"{where}: trust_remote_code=True")
        shell = _keyword(node, "shell")
        if shell is not None and not _is_const(shell, False):
            command = node.args[0] if node.args else _keyword(node, "args")
            if not isinstance(command, ast.Constant):
                found.append(f"{where}: shell=True with a computed command")
        if leaf == "allow_pickle" or _is_const(_keyword(node, "allow_pickle"), True):
            found.append(f"{where}: numpy allow_pickle=True")
    return found


def test_package_follows_the_security_rules():
    problems = [
        v for path in python_files() for v in violations(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert problems == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle\npickle.load(open('x', 'rb'))",
        "import torch\ntorch.load('x.pt')",
        "import torch\ntorch.load('x.pt', weights_only=False)",
        "eval('1 + 1')",
        "exec('x = 1')",
        "import builtins\nbuiltins.eval('1')",
        "import yaml\nyaml.load(text)",
        "import yaml\nyaml.load(text, Loader=yaml.Loader)",
        "from transformers import AutoModel\nAutoModel.from_pretrained('p', trust_remote_code=True)",
        "import subprocess\nsubprocess.run(f'dvc repro {stage}', shell=True)",
        "import numpy as np\nnp.load('x.npy', allow_pickle=True)",
    ],
)
def test_the_scan_catches_each_forbidden_pattern(snippet):
    assert violations(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "import torch\ntorch.load('x.pt', weights_only=True)",
        "import yaml\nyaml.safe_load(text)",
        "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
        "import subprocess\nsubprocess.run(['dvc', 'repro', stage])",
        "import numpy as np\nnp.load('x.npy', allow_pickle=False)",
        "# eval('x') in a comment\n'''torch.load(x) in a docstring'''",
        "build_model(arch).eval()",
        "model.eval()",
    ],
)
def test_the_scan_allows_the_safe_forms(snippet):
    assert violations(snippet) == []


@pytest.mark.parametrize("name", ["../x", "..", ".", "a/b", "/etc/passwd", "x/../../y"])
def test_paths_built_from_cell_names_stay_inside_their_folders(name):
    with pytest.raises(UserInputError):
        paths.model_dir("pretrain", name)
    with pytest.raises(UserInputError):
        paths.metrics_file("evaluate", name)


def test_ordinary_cell_names_map_to_their_folders():
    assert paths.model_dir("adapt", "cd-flm-to-nd-mlm") == Path("data/models/adapt/cd-flm-to-nd-mlm")
    assert paths.metrics_file("pretrain", "cd-flm") == Path("metrics/pretrain/cd-flm.json")
