"""tokenize stage: train (or reuse) the tokenizer, then encode the corpus into memory-mapped token streams."""

from __future__ import annotations

from pretrainlab import paths
from pretrainlab.config.schema import Params as Study
from pretrainlab.config.schema import Strict, TokenizerConfig
from pretrainlab.tokenization.pipeline import tokenize


class Params(Strict):
    tokenizer: TokenizerConfig


def run(params: Params) -> None:
    tokenize(params.tokenizer, paths.CORPUS, paths.TOKENIZER, paths.TOKENS)


def main(study: Study, cell: str | None = None) -> None:
    run(Params(tokenizer=study.tokenizer))
