"""Where every artifact lives (README: "Artifacts"), relative to the project root.

Names come from params (cell names), so each path is checked to stay inside its output folder.
"""

from __future__ import annotations

from pathlib import Path

from pretrainlab.errors import UserInputError

DATA = Path("data")
CORPUS = DATA / "corpus"
TOKENIZER = DATA / "tokenizer"
TOKENS = DATA / "tokens"
MODELS = DATA / "models"
CHECKPOINTS = DATA / "checkpoints"
METRICS = Path("metrics")
PLOTS = Path("plots")
REPORTS = Path("reports")


def _inside(root: Path, name: str, suffix: str = "") -> Path:
    path = root / f"{name}{suffix}"
    if path.resolve().parent != root.resolve() or name in ("", ".", ".."):
        raise UserInputError(f"{name!r}: unsafe name (it would write outside {root}/)")
    return path


def model_dir(kind: str, name: str) -> Path:
    """``data/models/<kind>/<name>``: a ``save_pretrained`` directory stock transformers loads."""
    return _inside(MODELS / kind, name)


def checkpoint_dir(kind: str, name: str) -> Path:
    """``data/checkpoints/<kind>/<name>``: resumable training state (not a DVC output)."""
    return _inside(CHECKPOINTS / kind, name)


def metrics_file(stage: str, name: str) -> Path:
    return _inside(METRICS / stage, name, ".json")


def plots_file(stage: str, name: str) -> Path:
    return _inside(PLOTS / stage, name, ".csv")
