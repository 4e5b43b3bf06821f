"""corpus stage: sources -> cleaned, deduplicated, split Parquet shards + ``data/corpus/stats.json``."""

from __future__ import annotations

from pretrainlab import paths
from pretrainlab.config.keys import read
from pretrainlab.config.schema import CorpusConfig, Strict, Study
from pretrainlab.corpus.build import build_corpus
from stages import check_environment


class Params(Strict):
    seed: int
    corpus: CorpusConfig


def run(params: Params) -> None:
    build_corpus(params.corpus, params.seed, paths.CORPUS)


def study_keys(study: Study, cell: str | None = None) -> dict[str, str]:
    """Each Params field and the params.yaml key it is read from; dvc.yaml lists exactly these keys."""
    return {"seed": "seed", "corpus": "corpus"}


def main(study: Study, cell: str | None = None) -> None:
    check_environment()  # before anything runs: a launcher's leftovers end here
    run(Params(**read(study, study_keys(study, cell))))
