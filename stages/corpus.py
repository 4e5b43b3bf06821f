"""corpus stage: sources -> cleaned, deduplicated, split Parquet shards + ``data/corpus/stats.json``."""

from __future__ import annotations

from pretrainlab import paths
from pretrainlab.config.schema import CorpusConfig, Strict
from pretrainlab.config.schema import Params as Study
from pretrainlab.corpus.build import build_corpus


class Params(Strict):
    seed: int
    corpus: CorpusConfig


def run(params: Params) -> None:
    build_corpus(params.corpus, params.seed, paths.CORPUS)


def main(study: Study, cell: str | None = None) -> None:
    run(Params(seed=study.seed, corpus=study.corpus))
