"""tokenize stage: train (or reuse) the tokenizer, then encode the corpus into memory-mapped token streams."""

from __future__ import annotations

from pretrainlab import paths
from pretrainlab.config.keys import read
from pretrainlab.config.schema import Strict, Study, TokenizerConfig
from pretrainlab.tokenization.pipeline import tokenize
from stages import check_environment


class Params(Strict):
    tokenizer: TokenizerConfig


def run(params: Params) -> None:
    tokenize(params.tokenizer, paths.CORPUS, paths.TOKENIZER, paths.TOKENS)


def study_keys(study: Study, cell: str | None = None) -> dict[str, str]:
    """Each Params field and the params.yaml key it is read from; dvc.yaml lists exactly these keys."""
    return {"tokenizer": "tokenizer"}


def main(study: Study, cell: str | None = None) -> None:
    check_environment()  # before anything runs: a launcher's leftovers end here
    run(Params(**read(study, study_keys(study, cell))))
